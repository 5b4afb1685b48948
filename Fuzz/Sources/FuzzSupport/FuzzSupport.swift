// What the fuzz targets share. A finding is a crash (a trap, an ASan report, libFuzzer's OOM or
// timeout) or an error of a type the reader does not declare: each reader's own error type is
// the only acceptable failure, caught by type, never by case (the cases are still changing).
//
// Keep in step with Tests/NablaTests/FuzzFindingsTests.swift, which replays the findings through
// the same sequences.

import CFuzzGzip
import Foundation
import Nabla

/// libFuzzer's input as an array.
public func fuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    Array(UnsafeBufferPointer(start: data, count: size))
}

/// `body`'s result, or `nil` if it threw an `E`; any other error stops the process (a finding).
public func expecting<E: Error, T>(_ type: E.Type, _ body: () throws -> T) -> T? {
    do {
        return try body()
    } catch let error as E {
        note("\(E.self): \(error)")
        return nil
    } catch {
        fatalError("expected \(E.self) or a result, got \(Swift.type(of: error)): \(error)")
    }
}

/// Stops the process with `message` unless `condition` holds (unlike `precondition`, prints the
/// message in release builds too).
public func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// Whether to say what each input did, on stderr: `NABLA_FUZZ_VERBOSE=1 .build/release/<target> <file>`
/// (to check that a seed reaches as far as it should).
public let verbose = getenv("NABLA_FUZZ_VERBOSE") != nil

/// Prints `message` on stderr if ``verbose``.
public func note(_ message: @autoclosure () -> String) {
    if verbose { fputs(message() + "\n", stderr) }
}

// MARK: Scratch files

/// One folder per process, `$NABLA_FUZZ_SCRATCH/<pid>` if that is set (`make fuzz` sets it, and
/// removes it afterwards), else `nabla-fuzz-<pid>` under /dev/shm (memory) if it exists, else
/// under the temporary folder; the same paths are reused for every input. The folder is removed
/// at exit, but not after a crash: then it stays behind (a few kilobytes).
public enum Scratch {
    public static let directory: String = {
        let path: String
        if let parent = getenv("NABLA_FUZZ_SCRATCH").map({ String(cString: $0) }), !parent.isEmpty {
            path = (parent as NSString).appendingPathComponent("\(getpid())")
        } else {
            let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
            path = (base as NSString).appendingPathComponent("nabla-fuzz-\(getpid())")
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            fatalError("fuzz harness: cannot create \(path): \(error)")
        }
        atexit { try? FileManager.default.removeItem(atPath: Scratch.directory) }
        return path
    }()

    /// `name` inside ``directory``.
    public static func path(_ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }
}

/// Replaces the file at `path` with `bytes`.
public func writeFile(_ bytes: ArraySlice<UInt8>, to path: String) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard descriptor >= 0 else { fatalError("fuzz harness: cannot open \(path): errno \(errno)") }
    defer { close(descriptor) }
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
            guard written > 0 else { fatalError("fuzz harness: cannot write \(path): errno \(errno)") }
            offset += written
        }
    }
}

/// Replaces the file at `path` with `bytes` gzipped by zlib (windowBits 15 + 16).
public func writeGzip(_ bytes: ArraySlice<UInt8>, to path: String) {
    let status = bytes.withUnsafeBufferPointer { nabla_fuzz_write_gzip(path, $0.baseAddress, $0.count) }
    guard status == 0 else { fatalError("fuzz harness: cannot gzip into \(path)") }
}

/// `bytes` as a gzip stream of stored (uncompressed) deflate blocks: what zlib inflates to
/// `bytes`, written without zlib, so that Tests/NablaTests/FuzzFindingsTests.swift (which cannot
/// link zlib's deflate) writes the same files. Keep the two copies the same.
public func storedGzip(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
    var output: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]  // deflate, no flags or time, OS unknown
    var start = bytes.startIndex
    repeat {
        let length = min(bytes.endIndex - start, 0xFFFF)
        let last: UInt8 = start + length == bytes.endIndex ? 1 : 0
        output += [last, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8 & 0xFF)]
        output += bytes[start..<(start + length)]
        start += length
    } while start < bytes.endIndex
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? crc >> 1 ^ 0xEDB8_8320 : crc >> 1 }
    }
    for word in [~crc, UInt32(truncatingIfNeeded: bytes.count)] {
        output += (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) }
    }
    return output
}

// MARK: Reading IDX files

/// The IDX reader on the file at `path`, at the two ranks Fashion-MNIST uses (3 for images, 1 for
/// labels); the test replays findings the same way.
public func readIDX(_ path: String) {
    for rank in [3, 1] {
        guard let file = expecting(DatasetError.self, { try IDXFile(contentsOf: path, rank: rank) }) else { continue }
        note("rank \(rank): dimensions \(file.dimensions)")
        // What the reader promises when it says yes.
        require(file.dimensions.count == rank, "rank \(rank) file with dimensions \(file.dimensions)")
        let count = file.dimensions.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
        require(file.bytes.count == count, "dimensions \(file.dimensions) but \(file.bytes.count) bytes")
    }
}

// MARK: Read, then use

/// The largest description accepted of a tensor read from a fuzz input (a few kilobytes): a
/// description must stay short whatever the shape.
let descriptionLimit = 1 << 20

/// `tensor`'s description, which must stay short whatever the shape.
func describe<Scalar>(_ tensor: Tensor<Scalar>, _ what: String) {
    let text = String(describing: tensor)
    require(
        text.utf8.count <= descriptionLimit,
        "\(what): the description of a tensor of shape \(tensor.shape) has \(text.utf8.count) bytes")
}

/// The input of `fuzz-read-then-use`: the first byte picks the mode (even: a safetensors file;
/// odd: Fashion-MNIST files), the rest is the payload.
public func readThenUse(_ input: [UInt8]) {
    guard let mode = input.first else { return }
    if mode & 1 == 0 {
        readThenUseSafeTensors(Array(input.dropFirst()))
    } else {
        readThenUseFashionMNIST(input.dropFirst())
    }
}

/// A safetensors file, and if the reader accepts it, every tensor read at both precisions and
/// described, the file written and read back (which must succeed and give the same file), and
/// the file loaded into layers of every kind with state.
public func readThenUseSafeTensors(_ bytes: [UInt8]) {
    guard let file = expecting(SafeTensorsError.self, { try SafeTensors(bytes: bytes) }) else { return }
    note("safetensors: \(file.entries.count) tensors, metadata \(file.metadata)")
    for name in file.entries.keys.sorted() {
        guard let float = file.tensor(name, as: Float.self), let double = file.tensor(name, as: Double.self) else {
            fatalError("entry \(name) listed but not returned")
        }
        let shape = file.entries[name]!.shape
        require(float.shape == shape && double.shape == shape, "entry \(name): shape \(shape) changed")
        describe(float, name)
        describe(double, name)
    }
    let written = file.serialized()
    guard let again = expecting(SafeTensorsError.self, { try SafeTensors(bytes: written) }) else {
        fatalError("the reader rejects what the writer wrote from an accepted file")
    }
    require(again.entries == file.entries, "entries changed through serialized()")
    require(again.metadata == file.metadata, "metadata changed through serialized()")
    loadIntoLayers(file)
}

/// One small layer of every kind with state, in a `Sequential` (PyTorch's names `0.weight` …).
func smallNetwork() -> Sequential<Float> {
    var g = SeededGenerator(seed: 0)
    return Sequential<Float>(
        Dense(inputSize: 4, outputSize: 3, using: &g),
        Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, padding: 1, using: &g),
        BatchNorm(featureCount: 2),
        Embedding(count: 10, dimension: 3, using: &g),
        LSTM(inputSize: 3, hiddenSize: 2, using: &g),
        LayerNorm(normalizedShape: [3]))
}

/// Inputs for the layers of ``smallNetwork()``, in order.
let smallInputs: [Tensor<Float>] = [
    Tensor(shape: [2, 4], scalars: (0..<8).map { Float($0) / 8 }),
    Tensor(shape: [1, 1, 3, 3], scalars: (0..<9).map { Float($0) / 9 }),
    Tensor(shape: [1, 2, 2, 2], scalars: (0..<8).map { Float($0) / 8 }),
    Tensor(shape: [2], scalars: [0, 9]),
    Tensor(shape: [2, 1, 3], scalars: (0..<6).map { Float($0) / 6 }),
    Tensor(shape: [2, 3], scalars: (0..<6).map { Float($0) / 6 }),
]

/// Loads `file` into the network without and with a prefix, and into each layer under its own
/// prefix; what loads, runs forward once (inference) and is described.
func loadIntoLayers(_ file: SafeTensors) {
    let network = smallNetwork()
    for prefix in ["", "net."] {
        if expecting(StateLoadingError.self, { try network.loadState(from: file, prefix: prefix) }) != nil {
            note("loaded the network from prefix \"\(prefix)\"")
            for (layer, input) in zip(network.layers, smallInputs) {
                describe(LearningPhase.inference { layer.forward(input) }, "\(layer)")
            }
        }
    }
    for (index, (layer, input)) in zip(network.layers, smallInputs).enumerated() {
        if expecting(StateLoadingError.self, { try layer.loadState(from: file, prefix: "\(index).") }) != nil {
            note("loaded \(layer) from prefix \"\(index).\"")
            describe(LearningPhase.inference { layer.forward(input) }, "\(layer)")
        }
    }
}

/// Fashion-MNIST's training files from the payload: a 2-byte big-endian length, that many bytes
/// of images file, the rest the labels file, both gzipped (``storedGzip(_:)``, as the test does,
/// so that a finding replays byte for byte) into a folder; then the loader, batches of 7 in a
/// seeded order, and descriptions of the images.
public func readThenUseFashionMNIST(_ payload: ArraySlice<UInt8>) {
    guard payload.count >= 2 else { return }
    let start = payload.startIndex
    let imageCount = min(Int(payload[start]) << 8 | Int(payload[start + 1]), payload.count - 2)
    let images = payload[(start + 2)..<(start + 2 + imageCount)]
    let labels = payload[(start + 2 + imageCount)...]
    let folder = Scratch.path("fashion-mnist")
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    writeFile(storedGzip(images)[...], to: folder + "/train-images-idx3-ubyte.gz")
    writeFile(storedGzip(labels)[...], to: folder + "/train-labels-idx1-ubyte.gz")
    guard let set = expecting(DatasetError.self, { try FashionMNIST.load(.train, from: folder, as: Float.self) }) else {
        return
    }
    note("Fashion-MNIST: \(set.count) images, labels \(set.labels.prefix(10))")
    require(set.images.shape == [set.count, 1, 28, 28], "images \(set.images.shape) for \(set.count) labels")
    require(set.labels.allSatisfy { (0..<10).contains($0) }, "labels \(set.labels)")
    var generator: SeededGenerator? = SeededGenerator(seed: 0)
    let batches = set.batches(of: 7, shuffling: &generator)
    require(batches.map(\.labels.count).reduce(0, +) == set.count, "batches lose or add images")
    for batch in batches { describe(batch.images, "batch") }
    describe(set.images, "images")
}
