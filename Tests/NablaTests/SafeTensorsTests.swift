import Foundation
import Testing

@testable import Nabla

@Suite struct SafeTensorsTests {
    /// A file built byte by byte from the format's description: an 8-byte little-endian header
    /// length, the JSON header, then little-endian data.
    static func fixture(header: String, data: [UInt8]) -> [UInt8] {
        let json = Array(header.utf8)
        return (0..<8).map { UInt8((UInt64(json.count) >> (8 * UInt64($0))) & 0xFF) } + json + data
    }

    @Test func readsAHandBuiltFile() throws {
        // 1.0f = 0x3F800000 and −2.0f = 0xC0000000, little-endian; then 0.5 as a Double.
        let bytes = Self.fixture(
            header: #"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[],"data_offsets":[8,16]}}"#,
            data: [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0] + [0, 0, 0, 0, 0, 0, 0xE0, 0x3F])
        let file = try SafeTensors(bytes: bytes)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.tensor("w", as: Float.self) == Tensor(shape: [2, 1], scalars: [1, -2]))
        #expect(file.tensor("w", as: Double.self) == Tensor(shape: [2, 1], scalars: [1, -2]))
        #expect(file.tensor("b", as: Float.self) == Tensor(0.5))
        #expect(file.tensor("missing", as: Float.self) == nil)
    }

    /// The writer's bytes, against the format worked out by hand (sorted keys, no spaces, the
    /// header padded with spaces to a multiple of 8).
    @Test func writesTheFormat() {
        var file = SafeTensors(metadata: ["k": "v"])
        file.set("x", Tensor<Double>([0.5]))
        var header = #"{"__metadata__":{"k":"v"},"x":{"data_offsets":[0,8],"dtype":"F64","shape":[1]}}"#
        header += String(repeating: " ", count: (8 - header.utf8.count % 8) % 8)
        #expect(file.serialized() == Self.fixture(header: header, data: [0, 0, 0, 0, 0, 0, 0xE0, 0x3F]))
    }

    struct Corrupt: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let expected: String
        var testDescription: String { name }
    }

    static let corrupt: [Corrupt] = [
        .init(name: "shorter than the length", bytes: [1, 2, 3], expected: "truncated: 3 bytes"),
        .init(name: "header longer than the file", bytes: [200, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8),
              expected: "truncated: the header announces 200 bytes, 2 follow"),
        .init(name: "huge header length", bytes: [255, 255, 255, 255, 255, 255, 255, 255], expected: "truncated"),
        .init(name: "not JSON", bytes: fixture(header: "{nope", data: []), expected: "malformed safetensors header: not JSON"),
        .init(name: "entry without offsets", bytes: fixture(header: #"{"a":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]),
              expected: "entry a needs dtype, shape and data_offsets"),
        .init(name: "offsets past the end", bytes: fixture(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]),
              expected: "tensor a: offsets [0, 8] outside the 4 data bytes"),
        .init(name: "offsets that disagree with the shape", bytes: fixture(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)),
              expected: "tensor a: 8 bytes for shape [3] of F32"),
        .init(name: "overlapping tensors",
              bytes: fixture(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)),
              expected: "data overlaps"),
        .init(name: "bfloat16", bytes: fixture(header: #"{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#, data: [0, 0]),
              expected: "tensor a has dtype BF16"),
    ]

    @Test(arguments: corrupt)
    func corruptFileThrows(_ c: Corrupt) {
        do {
            _ = try SafeTensors(bytes: c.bytes, path: "weights.safetensors")
            Issue.record("\(c.name): no error")
        } catch {
            #expect(error.description.hasPrefix("weights.safetensors: "), "\(error)")
            #expect(error.description.contains(c.expected), "\(error)")
        }
    }

    /// Writes go to a temporary file that is renamed: no leftovers, and a bad folder throws.
    @Test func writesAtomically() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var file = SafeTensors()
        file.set("a", Tensor<Float>([1, 2, 3]))
        let path = folder.appendingPathComponent("w.safetensors").path
        try file.write(to: path)
        try file.write(to: path)  // over an existing file
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["w.safetensors"])
        #expect(try SafeTensors(contentsOf: path) == file.reloaded())
        #expect(throws: SafeTensorsError.self) { try file.write(to: "/nonexistent-folder/w.safetensors") }
    }
}

extension SafeTensors: Equatable {
    public static func == (lhs: SafeTensors, rhs: SafeTensors) -> Bool {
        lhs.entries == rhs.entries && lhs.metadata == rhs.metadata
    }
    /// The same file through its bytes.
    func reloaded() -> SafeTensors { try! SafeTensors(bytes: serialized()) }
}

/// Saving and loading layers: PyTorch's names, every layer type, and one error listing all
/// mismatches.
@Suite struct LayerStateTests {
    static let builders: [@Sendable (inout SeededGenerator) -> Layer<Float>] = [
        { Dense(inputSize: 4, outputSize: 3, using: &$0) },
        { Sequential(Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, padding: 1, using: &$0), ReLU(), Flatten(), Dense(inputSize: 32, outputSize: 3, using: &$0)) },
        { Residual(Sequential(Dense(inputSize: 4, outputSize: 4, using: &$0), Tanh()), projection: Dense(inputSize: 4, outputSize: 4, bias: false, using: &$0)) },
        { Concatenate([Dense(inputSize: 4, outputSize: 2, using: &$0), Sequential(Dense(inputSize: 4, outputSize: 1, using: &$0), Sigmoid())]) },
        { swishGate(&$0) },
    ]

    @Test(arguments: builders.indices)
    func roundTrip(_ index: Int) throws {
        var first = SeededGenerator(seed: 1), second = SeededGenerator(seed: 2)
        let saved = Self.builders[index](&first), loaded = Self.builders[index](&second)
        var file = SafeTensors()
        saved.saveState(into: &file)
        try loaded.loadState(from: file.reloaded())
        let input: Tensor<Float> = randomTensor(index == 1 ? [2, 1, 4, 4] : [2, 4], seed: 3)
        #expect(loaded.forward(input) == saved.forward(input))
    }

    @Test func namesFollowPyTorchSequential() {
        var generator = SeededGenerator(seed: 0)
        let network = Sequential<Float>(
            Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, using: &generator), ReLU(),
            MaxPool2D(kernelSize: 2), Flatten(), Dense(inputSize: 2, outputSize: 3, using: &generator))
        #expect(network.state.map(\.name) == ["0.weight", "0.bias", "4.weight", "4.bias"])
    }

    @Test func everyMismatchInOneError() {
        var generator = SeededGenerator(seed: 0)
        let layer = Sequential<Float>(Dense(inputSize: 4, outputSize: 3, using: &generator), Dense(inputSize: 3, outputSize: 2, using: &generator))
        var file = SafeTensors()
        layer.saveState(into: &file)
        file.entries["0.bias"] = nil
        file.set("1.weight", Tensor<Float>.zeros(shape: [3, 3]))
        file.set("2.weight", Tensor<Float>.zeros(shape: [1]))
        let before = layer.state.map(\.value)
        #expect(throws: StateLoadingError(
            missing: ["0.bias"], unexpected: ["2.weight"],
            mismatched: [.init(name: "1.weight", expected: [2, 3], found: [3, 3])])) {
            try layer.loadState(from: file)
        }
        #expect(layer.state.map(\.value) == before)  // nothing changed
    }
}
