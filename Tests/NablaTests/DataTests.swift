import Foundation
import Testing

@testable import Nabla

/// IDX files and Fashion-MNIST: bad files throw typed errors that name the file; nothing crashes.
@Suite struct IDXFileTests {
    /// A temporary file with `bytes`, removed after `body`.
    func withFile<R>(_ bytes: [UInt8], _ body: (String) throws -> R) rethrows -> R {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString).idx").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try body(path)
    }

    /// An IDX header (big-endian magic and dimensions) followed by `data`.
    func idx(magic: UInt32, dimensions: [UInt32], data: [UInt8]) -> [UInt8] {
        ([magic] + dimensions).flatMap { word in (0..<4).reversed().map { UInt8((word >> (8 * $0)) & 0xFF) } } + data
    }

    @Test func readsAPlainFile() throws {
        let bytes = idx(magic: 0x0803, dimensions: [2, 2, 3], data: Array(0..<12))
        let file = try withFile(bytes) { try IDXFile(contentsOf: $0, rank: 3) }
        #expect(file.dimensions == [2, 2, 3] && file.bytes == Array(0..<12))
    }

    struct BadFile: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let check: @Sendable (DatasetError) -> Bool
        var testDescription: String { name }
    }

    static let badFiles: [BadFile] = {
        let header = IDXFileTests().idx(magic: 0x0801, dimensions: [5], data: [])
        return [
            BadFile(name: "empty", bytes: []) { if case .truncated(_, 8, 0) = $0 { true } else { false } },
            BadFile(name: "images, not labels", bytes: IDXFileTests().idx(magic: 0x0803, dimensions: [1, 1, 1], data: [0])) {
                if case .badMagicNumber(_, 0x0803, 0x0801) = $0 { true } else { false }
            },
            BadFile(name: "header cut", bytes: Array(header.prefix(6))) { if case .truncated(_, 8, 6) = $0 { true } else { false } },
            BadFile(name: "data cut", bytes: header + [1, 2]) { if case .truncated(_, 13, 10) = $0 { true } else { false } },
            BadFile(name: "bytes after the data", bytes: header + [1, 2, 3, 4, 5, 6]) {
                if case .trailingBytes(_, 13) = $0 { true } else { false }
            },
            BadFile(name: "huge dimensions", bytes: IDXFileTests().idx(magic: 0x0801, dimensions: [0xFFFF_FFFF], data: [1])) {
                if case .truncated = $0 { true } else { false }
            },
        ]
    }()

    @Test(arguments: badFiles)
    func badFileThrows(_ bad: BadFile) {
        withFile(bad.bytes) { path in
            do {
                _ = try IDXFile(contentsOf: path, rank: 1)
                Issue.record("\(bad.name): no error")
            } catch let error as DatasetError {
                #expect(bad.check(error), "\(bad.name): \(error)")
                #expect(error.description.hasPrefix(path + ": "), "\(error)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }

    @Test func missingFile() {
        #expect(throws: DatasetError.missingFile(path: "/nonexistent/labels.gz")) {
            try IDXFile(contentsOf: "/nonexistent/labels.gz", rank: 1)
        }
    }

    /// The real gzipped file, cut short or with corrupted bytes: zlib's error, typed.
    @Test func truncatedAndCorruptGzip() throws {
        let path = FashionMNIST.defaultDirectory + "/t10k-labels-idx1-ubyte.gz"
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        _ = withFile(Array(original.prefix(original.count / 2))) { cut in
            #expect(throws: DatasetError.self) { try IDXFile(contentsOf: cut, rank: 1) }
        }
        var corrupt = original
        for index in stride(from: 100, to: corrupt.count - 100, by: 97) { corrupt[index] ^= 0x5A }
        withFile(corrupt) { path in
            do {
                _ = try IDXFile(contentsOf: path, rank: 1)
                Issue.record("corrupt gzip read without error")
            } catch let error as DatasetError {
                #expect(error.description.hasPrefix(path + ": "), "\(error)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }
}

@Suite struct FashionMNISTTests {
    @Test func testSplitLoads() throws {
        let test = try FashionMNIST.load(.test, as: Float.self)
        #expect(test.images.shape == [10000, 1, 28, 28] && test.count == 10000)
        // The test split has 1000 images of each class.
        #expect((0..<10).map { c in test.labels.filter { $0 == c }.count } == Array(repeating: 1000, count: 10))
        let pixels = test.images.scalars
        #expect(pixels.min() == 0 && pixels.max() == 1)
        let limited = try FashionMNIST.load(.train, limit: 100, as: Double.self)
        #expect(limited.images.shape == [100, 1, 28, 28])
    }

    @Test func missingDirectoryNamesTheFile() {
        #expect(throws: DatasetError.missingFile(path: "/nowhere/train-images-idx3-ubyte.gz")) {
            try FashionMNIST.load(.train, from: "/nowhere", as: Float.self)
        }
    }

    /// Seeded shuffles: the same seed gives the same order, each epoch a new one, every image
    /// once, and the last partial batch kept.
    @Test func batches() throws {
        let data = try FashionMNIST.load(.test, limit: 250, as: Float.self)
        var a: SeededGenerator? = SeededGenerator(seed: 3), b: SeededGenerator? = SeededGenerator(seed: 3)
        let first = data.batches(of: 64, shuffling: &a), again = data.batches(of: 64, shuffling: &b)
        #expect(first.map(\.labels) == again.map(\.labels))
        #expect(first.map(\.images.shape[0]) == [64, 64, 64, 58])
        let second = data.batches(of: 64, shuffling: &a)
        #expect(first.map(\.labels) != second.map(\.labels))
        // Every image exactly once: compare sorted pixel sums.
        let sums = { (batches: [LabeledImages<Float>.Batch]) in
            batches.flatMap { batch in (0..<batch.labels.count).map { batch.images.slice(alongAxis: 0, $0..<($0 + 1)).sum().scalar } }.sorted()
        }
        let all = (0..<250).map { data.images.slice(alongAxis: 0, $0..<($0 + 1)).sum().scalar }.sorted()
        #expect(sums(first) == all)
        var none: SeededGenerator? = nil
        #expect(data.batches(of: 100, shuffling: &none)[0].labels == Array(data.labels[..<100]))
    }
}
