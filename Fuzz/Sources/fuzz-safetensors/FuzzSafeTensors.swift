// The safetensors reader on the input, as the bytes of a file. Findings go, as they are, to
// Tests/NablaTests/Fixtures/FuzzFindings/safetensors/.
import FuzzSupport
import Nabla

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    if let file = expecting(SafeTensorsError.self, { try SafeTensors(bytes: bytes) }) {
        note("accepted: \(file.entries.count) tensors, metadata \(file.metadata)")
    }
    return 0
}
