// Crashes hide after a reader says yes. The first byte picks the mode, the rest is the payload:
// even, a safetensors file whose tensors are then read at both precisions, described, written
// and read back, and loaded into layers; odd, Fashion-MNIST's training images and labels files
// (a 2-byte big-endian length of the images file, then the two files), gzipped into a folder,
// loaded, batched and described. Findings go, as they are, to
// Tests/NablaTests/Fixtures/FuzzFindings/read-then-use/.
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    readThenUse(fuzzInput(data, size))
    return 0
}
