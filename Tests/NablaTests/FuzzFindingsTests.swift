import Foundation
import Nabla
import Testing

/// Every input the fuzz targets (`make fuzz`, Fuzz/) ever crashed on, replayed from
/// Fixtures/FuzzFindings/<folder>/ (the README.md there says what goes in). A folder with no
/// findings gives its test no cases.
///
/// The read-then-use sequence is Fuzz/Sources/FuzzSupport/FuzzSupport.swift's, repeated here (the
/// test target cannot depend on the fuzz package): keep the two in step.
@Suite struct FuzzFindingsTests {
    static let folders = ["safetensors", "idx", "read-then-use"]

    /// The folder `Fixtures/FuzzFindings/<name>`, found through its README.md.
    static func folder(_ name: String) -> URL? {
        Bundle.module.url(forResource: "README", withExtension: "md", subdirectory: "Fixtures/FuzzFindings/\(name)")?
            .deletingLastPathComponent()
    }

    /// The file names in `Fixtures/FuzzFindings/<name>`, README.md and hidden files aside.
    static func findings(_ name: String) -> [String] {
        guard let folder = Self.folder(name),
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        else { return [] }
        return names.filter { $0 != "README.md" && !$0.hasPrefix(".") }.sorted()
    }

    static func contents(_ folder: String, _ name: String) throws -> [UInt8] {
        let url = try #require(Self.folder(folder)).appendingPathComponent(name)
        return [UInt8](try Data(contentsOf: url))
    }

    /// A new empty folder under the temporary folder, for the files a case writes.
    static func scratchFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-fuzz-findings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `body`'s result, or `nil` after an error of type `E`; an error of another type is an issue.
    static func result<E: Error, T>(_ type: E.Type, _ body: () throws -> T) -> T? {
        do {
            return try body()
        } catch is E {
            return nil
        } catch {
            Issue.record("expected \(E.self) or a result, got \(Swift.type(of: error)): \(error)")
            return nil
        }
    }

    /// The folders exist (else their tests would pass with no cases).
    @Test func foldersExist() {
        for name in Self.folders {
            #expect(Self.folder(name) != nil, "Fixtures/FuzzFindings/\(name)/README.md")
        }
    }

    // MARK: Readers alone

    /// Crash inputs of `fuzz-safetensors`: the reader must reject them with its error.
    @Test(arguments: findings("safetensors"))
    func safeTensors(_ name: String) throws {
        let bytes = try Self.contents("safetensors", name)
        #expect(throws: SafeTensorsError.self) { try SafeTensors(bytes: bytes, path: name) }
    }

    /// Crash inputs of `fuzz-idx-raw` and `fuzz-idx-gzip` (without its mode byte): the reader
    /// must reject them at both ranks with its error.
    @Test(arguments: findings("idx"))
    func idx(_ name: String) throws {
        let folder = try Self.scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent(name).path
        try Data(Self.contents("idx", name)).write(to: URL(fileURLWithPath: path))
        #expect(throws: DatasetError.self, "rank 3") { try IDXFile(contentsOf: path, rank: 3) }
        #expect(throws: DatasetError.self, "rank 1") { try IDXFile(contentsOf: path, rank: 1) }
    }

    // MARK: Read, then use

    /// Crash inputs of `fuzz-read-then-use`: the first byte picks the mode (even: safetensors;
    /// odd: Fashion-MNIST), the rest is the payload. Either the reader rejects the payload with
    /// its error, or everything done with what it read completes.
    @Test(arguments: findings("read-then-use"))
    func readThenUse(_ name: String) throws {
        let input = try Self.contents("read-then-use", name)
        guard let mode = input.first else { return }
        if mode & 1 == 0 {
            try Self.useSafeTensors(Array(input.dropFirst()))
        } else {
            try Self.useFashionMNIST(input.dropFirst())
        }
    }

    /// A description must stay short whatever the shape.
    static func expectShortDescription<Scalar>(_ tensor: Tensor<Scalar>) {
        let length = String(describing: tensor).utf8.count
        #expect(length <= 1 << 20, "the description of a tensor of shape \(tensor.shape) has \(length) bytes")
    }

    /// Every tensor read at both precisions and described, the file written and read back, and
    /// the file loaded into layers.
    static func useSafeTensors(_ bytes: [UInt8]) throws {
        guard let file = result(SafeTensorsError.self, { try SafeTensors(bytes: bytes) }) else { return }
        for name in file.entries.keys.sorted() {
            let shape = try #require(file.entries[name]).shape
            let float = try #require(file.tensor(name, as: Float.self))
            let double = try #require(file.tensor(name, as: Double.self))
            #expect(float.shape == shape && double.shape == shape, "\(name)")
            expectShortDescription(float)
            expectShortDescription(double)
        }
        let again = try SafeTensors(bytes: file.serialized())
        #expect(again.entries == file.entries)
        #expect(again.metadata == file.metadata)
        loadIntoLayers(file)
    }

    /// One small layer of every kind with state, and an input for each.
    static func smallNetwork() -> (Sequential<Float>, [Tensor<Float>]) {
        var g = SeededGenerator(seed: 0)
        let network = Sequential<Float>(
            Dense(inputSize: 4, outputSize: 3, using: &g),
            Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, padding: 1, using: &g),
            BatchNorm(featureCount: 2),
            Embedding(count: 10, dimension: 3, using: &g),
            LSTM(inputSize: 3, hiddenSize: 2, using: &g),
            LayerNorm(normalizedShape: [3]))
        let inputs: [Tensor<Float>] = [
            Tensor(shape: [2, 4], scalars: (0..<8).map { Float($0) / 8 }),
            Tensor(shape: [1, 1, 3, 3], scalars: (0..<9).map { Float($0) / 9 }),
            Tensor(shape: [1, 2, 2, 2], scalars: (0..<8).map { Float($0) / 8 }),
            Tensor(shape: [2], scalars: [0, 9]),
            Tensor(shape: [2, 1, 3], scalars: (0..<6).map { Float($0) / 6 }),
            Tensor(shape: [2, 3], scalars: (0..<6).map { Float($0) / 6 }),
        ]
        return (network, inputs)
    }

    /// Loads `file` into the network without and with a prefix, and into each layer under its own
    /// prefix; what loads runs forward once (inference) and is described.
    static func loadIntoLayers(_ file: SafeTensors) {
        let (network, inputs) = smallNetwork()
        for prefix in ["", "net."] {
            if result(StateLoadingError.self, { try network.loadState(from: file, prefix: prefix) }) != nil {
                for (layer, input) in zip(network.layers, inputs) {
                    expectShortDescription(LearningPhase.inference { layer.forward(input) })
                }
            }
        }
        for (index, (layer, input)) in zip(network.layers, inputs).enumerated() {
            if result(StateLoadingError.self, { try layer.loadState(from: file, prefix: "\(index).") }) != nil {
                expectShortDescription(LearningPhase.inference { layer.forward(input) })
            }
        }
    }

    /// Fashion-MNIST's training files from the payload (a 2-byte big-endian length, that many bytes
    /// of images file, the rest the labels file), gzipped into a folder; the loader, batches of 7
    /// in a seeded order, and descriptions of the images.
    static func useFashionMNIST(_ payload: ArraySlice<UInt8>) throws {
        guard payload.count >= 2 else { return }
        let start = payload.startIndex
        let imageCount = min(Int(payload[start]) << 8 | Int(payload[start + 1]), payload.count - 2)
        let images = payload[(start + 2)..<(start + 2 + imageCount)]
        let labels = payload[(start + 2 + imageCount)...]
        let folder = try scratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(storedGzip(images)).write(to: folder.appendingPathComponent("train-images-idx3-ubyte.gz"))
        try Data(storedGzip(labels)).write(to: folder.appendingPathComponent("train-labels-idx1-ubyte.gz"))
        guard let set = result(DatasetError.self, { try FashionMNIST.load(.train, from: folder.path, as: Float.self) })
        else { return }
        #expect(set.images.shape == [set.count, 1, 28, 28])
        #expect(set.labels.allSatisfy { (0..<10).contains($0) })
        var generator: SeededGenerator? = SeededGenerator(seed: 0)
        let batches = set.batches(of: 7, shuffling: &generator)
        #expect(batches.map(\.labels.count).reduce(0, +) == set.count)
        for batch in batches { expectShortDescription(batch.images) }
        expectShortDescription(set.images)
    }

    /// `bytes` as a gzip stream of stored (uncompressed) deflate blocks, which zlib inflates to
    /// `bytes`: the same as FuzzSupport's `storedGzip`, so a finding replays byte for byte.
    static func storedGzip(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
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
}
