// The IDX reader through gzip, at ranks 3 and 1. The first byte picks the mode, the rest is the
// payload: even, the payload is gzipped by zlib into the file (so the reader decompresses a
// valid stream of the payload); odd, the payload is the file as it is (so corrupt, truncated and
// garbled gzip streams are explored too, from the seeds).
//
// Either way the reader sees the payload's bytes after gunzipping, so a finding becomes a
// fixture without its first byte: `tail -c +2 crash-… > Tests/NablaTests/Fixtures/FuzzFindings/idx/<name>.idx`.
import FuzzSupport

let path = Scratch.path("input.idx.gz")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard let mode = input.first else { return 0 }
    if mode & 1 == 0 {
        writeGzip(input.dropFirst(), to: path)
    } else {
        writeFile(input.dropFirst(), to: path)
    }
    readIDX(path)
    return 0
}
