// The IDX reader on the input written as a file (zlib reads a file that is not gzipped as it
// is), at ranks 3 and 1. Findings go, as they are, to Tests/NablaTests/Fixtures/FuzzFindings/idx/.
import FuzzSupport

let path = Scratch.path("input.idx")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    writeFile(fuzzInput(data, size)[...], to: path)
    readIDX(path)
    return 0
}
