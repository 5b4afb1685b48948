import CZlib
import Foundation
import Testing

@testable import Nabla
@testable import NablaCommand

/// Issue 17's five reproducers, each as it was reported: a file or a call that crashed, cost
/// hundreds of megabytes, read wrong numbers, or wasted a whole run. Each failed before the fix.
@Suite struct CorruptFileRegressionTests {
    /// A new empty folder, removed after `body`.
    static func withFolder<R>(_ body: (String) throws -> R) rethrows -> R {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try body(folder)
    }

    /// The reported 16 bytes: an IDX header of rank 3 whose dimensions 7 · 1532540863 ·
    /// 859764727 multiply to exactly `Int.max`, so that `headerSize + count` overflowed.
    static let intMaxHeader: [UInt8] = [0x00, 0x00, 0x08, 0x03, 0, 0, 0, 7, 0x5b, 0x58, 0xb7, 0xbf, 0x33, 0x3e, 0xf7, 0xf7]

    /// 1. The reader throws instead of trapping on the overflow.
    @Test func idxDimensionsMultiplyingToIntMax() {
        Self.withFolder { folder in
            let path = folder + "/train-images-idx3-ubyte.gz"
            _ = FileManager.default.createFile(atPath: path, contents: Data(Self.intMaxHeader))
            do {
                _ = try IDXFile(contentsOf: path, rank: 3)
                Issue.record("no error")
            } catch {
                #expect("\(error)" == "\(path): dimensions [7, 1532540863, 859764727] overflow a 64-bit size")
            }
        }
    }

    /// 1, as reported: `nabla train --data thatfolder` exited by a signal with no message.
    @Test func idxIntMaxThroughTheCommandLine() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-int-max-idx").path
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(
                atPath: folder + "/train-images-idx3-ubyte.gz", contents: Data(CorruptFileRegressionTests.intMaxHeader))
            NablaCommand.main(["train", "--data", folder])
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-int-max-idx").path
        #expect(standardError(result).split(separator: "\n") == [
            "Error: \(folder)/train-images-idx3-ubyte.gz: dimensions [7, 1532540863, 859764727] overflow a 64-bit size"
        ])
    }

    /// 2. A labels file of one label followed by 192 MiB of zeros, gzipped (190 KiB): the reader
    /// inflated all of it before it found the trailing bytes. Now it stops after the one label.
    /// Run in a process of its own, whose peak memory is then this read's.
    @Test func idxGzipBombStopsAtTheDeclaredSize() async {
        await #expect(processExitsWith: .success) {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-idx-bomb-\(getpid()).gz").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            let file = gzopen(path, "wb1")!
            let header: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 1, 7]
            _ = header.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
            let zeros = [UInt8](repeating: 0, count: 1 << 20)
            for _ in 0..<192 { _ = zeros.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) } }
            gzclose(file)
            func peakMebibytes() -> Int {
                var usage = rusage()
                getrusage(RUSAGE_SELF.rawValue, &usage)
                return usage.ru_maxrss / 1024
            }
            let before = peakMebibytes()
            var message = "no error"
            do { _ = try IDXFile(contentsOf: path, rank: 1) } catch { message = "\(error)" }
            let grown = peakMebibytes() - before
            print("peak memory grew by \(grown) MiB; \(message)")
            if grown > 32 { exit(4) }
            if !message.contains("more bytes than the 9 the header announces") { exit(3) }
        }
    }

    /// 3. Header numbers that do not fit, or are not integers, were wrapped or truncated by
    /// `NSNumber.intValue` and the file accepted: `[18446744073709551618]` read as `[2]`.
    @Test(arguments: [
        #""shape":[18446744073709551618],"data_offsets":[0,8]"#,
        #""shape":[2.5],"data_offsets":[0,8]"#,
        #""shape":[2],"data_offsets":[18446744073709551616,18446744073709551624]"#,
        #""shape":[2],"data_offsets":[0,8.0]"#,
        #""shape":[2e0],"data_offsets":[0,8]"#,
    ])
    func safeTensorsNumbersThatDoNotFit(_ fields: String) {
        let bytes = SafeTensorsTests.fixture(header: #"{"a":{"dtype":"F32","# + fields + "}}", data: Array(repeating: 0, count: 8))
        do {
            let file = try SafeTensors(bytes: bytes, path: "w.safetensors")
            Issue.record("accepted, with shape \(String(describing: file.entries["a"]?.shape))")
        } catch {
            #expect("\(error)".hasPrefix("w.safetensors: malformed safetensors header: tensor a: "), "\(error)")
            #expect("\(error)".contains("not a non-negative integer") || "\(error)".contains("does not fit in 64 bits"), "\(error)")
        }
    }

    /// 4. Describing a zero-size tensor walked its other axes: `[1 << 32, 0]` allocated 34 GB,
    /// and `[1000000, 0]` printed five million characters. NumPy prints `[]`.
    @Test(arguments: [[1_000_000, 0], [1 << 32, 0], [0, 1 << 20, 1 << 20], [3, 0, 1 << 40]])
    func zeroSizeTensorsPrintShortly(_ shape: [Int]) {
        #expect(Tensor<Float>.zeros(shape: shape).description == "Tensor<Float> \(shape)\n[]")
    }

    /// 4. `[0, 1 << 32, 1 << 32]` of Float overflowed computing strides when printed; its nonzero
    /// dimensions times 4 bytes do not fit in a 64-bit size, so (as in NumPy) it is refused when
    /// made, with a message.
    @Test func zeroSizeTensorWhoseStridesOverflow() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            print(Tensor<Float>.zeros(shape: [0, 1 << 32, 1 << 32]))
        }
        #expect(standardError(result).contains(
            "Tensor: shape [0, 4294967296, 4294967296]: too large: its nonzero dimensions times 4-byte scalars overflow a 64-bit size"))
    }

    /// 4. The reader accepted such shapes from an 80-byte file, since they hold 0 bytes.
    @Test func safeTensorsZeroSizeShapeThatOverflows() {
        let bytes = SafeTensorsTests.fixture(
            header: #"{"a":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}"#, data: [])
        #expect(bytes.count < 100)
        do {
            _ = try SafeTensors(bytes: bytes, path: "w.safetensors")
            Issue.record("accepted")
        } catch {
            #expect("\(error)" == "w.safetensors: tensor a: shape [0, 4294967296, 4294967296] overflows a 64-bit size")
        }
    }

    /// 5. `--save` into a missing folder trained for the whole run, then failed, and the message
    /// named the file rather than the folder. Now it fails before any work, naming the folder.
    @Test(arguments: [
        ["train", "--epochs", "1", "--limit", "64", "--save", "/nonexistent-nabla/w.safetensors"],
        ["train", "--epochs", "1", "--limit", "64", "--plot", "/nonexistent-nabla/curves.svg"],
        ["compare", "--epochs", "1", "--limit", "64", "--plot", "/nonexistent-nabla/curves.svg"],
        ["wgan-gp", "--iterations", "1", "--plot", "/nonexistent-nabla/wgan.svg"],
    ])
    func outputFolderCheckedBeforeWork(_ arguments: [String]) async {
        let result = await #expect(
            processExitsWith: .failure, observing: [\.standardErrorContent, \.standardOutputContent]
        ) { [arguments] in
            NablaCommand.main(arguments)
        }
        let option = arguments[arguments.count - 2]
        #expect(standardError(result).split(separator: "\n") == [
            "Error: \(option): the folder /nonexistent-nabla does not exist"
        ])
        let output = String(decoding: result?.standardOutputContent ?? [], as: UTF8.self)
        // (The exit test's stdout also carries its captured arguments, in binary.)
        for start in ["Training ", "Comparing ", "WGAN-GP on "] {
            #expect(!output.contains(start), "work started before the check: \(output)")
        }
    }
}
