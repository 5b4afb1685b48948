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

    /// One rule of the format, broken: the file and the error the reader must throw.
    struct Rule: Sendable, CustomTestStringConvertible {
        let rule: String
        let bytes: [UInt8]
        let error: SafeTensorsError
        var testDescription: String { rule }
    }

    /// A one-tensor header `{"a":{…}}` with `fields`, then `data` zero bytes.
    static func oneTensor(_ fields: String, data: Int) -> [UInt8] {
        fixture(header: #"{"a":{"# + fields + "}}", data: Array(repeating: 0, count: data))
    }

    static let path = "w.safetensors"

    /// The reference implementation's rules (Hugging Face's `safetensors` crate: `read_metadata`,
    /// `Metadata::validate` and the format's notes), one row each, in the order it checks them,
    /// with the reference's error kind first in the name.
    static let rules: [Rule] = [
        .init(rule: "HeaderTooSmall: fewer than 8 bytes", bytes: [1, 2, 3], error: .headerTooSmall(path: path, byteCount: 3)),
        .init(rule: "HeaderTooLarge: a header length over 100 MB",
              bytes: withUnsafeBytes(of: UInt64(100_000_001).littleEndian, Array.init) + Array("{}".utf8),
              error: .headerTooLarge(path: path, headerLength: 100_000_001)),
        .init(rule: "HeaderTooLarge: a header length of 2⁶⁴ − 1", bytes: [UInt8](repeating: 255, count: 8),
              error: .headerTooLarge(path: path, headerLength: .max)),
        .init(rule: "InvalidHeaderLength: the header runs past the file", bytes: [200, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8),
              error: .invalidHeaderLength(path: path, headerLength: 200, available: 2)),
        .init(rule: "InvalidHeader: not UTF-8", bytes: fixture(header: #"{"?":1}"#, data: []).enumerated().map { $0.offset == 10 ? 0xFF : $0.element },
              error: .invalidHeader(path: path, reason: "not UTF-8")),
        .init(rule: "InvalidHeaderDeserialization: must start with {", bytes: fixture(header: " {}", data: []),
              error: .invalidHeaderDeserialization(path: path, reason: "the header must start with {")),
        .init(rule: "InvalidHeaderDeserialization: not JSON", bytes: fixture(header: "{nope", data: []),
              error: .invalidHeaderDeserialization(path: path, reason: #"expected '"', found 'n' at byte 1"#)),
        .init(rule: "InvalidHeaderDeserialization: bytes after the object", bytes: fixture(header: "{} x", data: []),
              error: .invalidHeaderDeserialization(path: path, reason: "unexpected 'x' after the header's object at byte 3")),
        .init(rule: "InvalidHeaderDeserialization: an entry without data_offsets", bytes: oneTensor(#""dtype":"F32","shape":[1]"#, data: 4),
              error: .invalidHeaderDeserialization(path: path, reason: "tensor a needs dtype, shape and data_offsets at byte 32")),
        .init(rule: "InvalidHeaderDeserialization: a negative dimension", bytes: oneTensor(#""dtype":"F32","shape":[-1],"data_offsets":[0,0]"#, data: 0),
              error: .invalidHeaderDeserialization(path: path, reason: "tensor a: shape holds -1, not a non-negative integer at byte 29")),
        .init(rule: "InvalidHeaderDeserialization: a fraction", bytes: oneTensor(#""dtype":"F32","shape":[2.5],"data_offsets":[0,8]"#, data: 8),
              error: .invalidHeaderDeserialization(path: path, reason: "tensor a: shape holds 2.5, not a non-negative integer at byte 29")),
        .init(rule: "InvalidHeaderDeserialization: a number past 64 bits",
              bytes: oneTensor(#""dtype":"F32","shape":[18446744073709551618],"data_offsets":[0,8]"#, data: 8),
              error: .invalidHeaderDeserialization(path: path, reason: "tensor a: shape holds 18446744073709551618, which does not fit in 64 bits at byte 29")),
        .init(rule: "InvalidHeaderDeserialization: three data_offsets", bytes: oneTensor(#""dtype":"F32","shape":[1],"data_offsets":[0,4,8]"#, data: 4),
              error: .invalidHeaderDeserialization(path: path, reason: "tensor a: data_offsets must be [begin, end], not 3 numbers at byte 55")),
        .init(rule: "InvalidHeaderDeserialization: metadata that is not strings", bytes: fixture(header: #"{"__metadata__":{"epoch":3}}"#, data: []),
              error: .invalidHeaderDeserialization(path: path, reason: "__metadata__ value of epoch must be a string at byte 25")),
        .init(rule: "InvalidHeaderDeserialization: nested past 128 (serde_json's limit)",
              bytes: oneTensor(#""dtype":"F32","shape":[],"data_offsets":[0,4],"x":"# + String(repeating: "[", count: 200), data: 4),
              error: .invalidHeaderDeserialization(path: path, reason: "nested more than 128 deep at byte 183")),
        .init(rule: "InvalidHeaderDeserialization: an unknown dtype", bytes: oneTensor(#""dtype":"F31","shape":[1],"data_offsets":[0,4]"#, data: 4),
              error: .unknownType(path: path, name: "a", dtype: "F31")),
        .init(rule: "Duplicate keys are disallowed (the format's notes)",
              bytes: fixture(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)),
              error: .duplicateName(path: path, name: "a")),
        .init(rule: "InvalidOffset: a gap before a tensor", bytes: oneTensor(#""dtype":"F32","shape":[1],"data_offsets":[4,8]"#, data: 8),
              error: .invalidOffset(path: path, name: "a", reason: "a gap of 4 bytes before its data_offsets [4, 8]")),
        .init(rule: "InvalidOffset: overlapping tensors",
              bytes: fixture(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)),
              error: .invalidOffset(path: path, name: "b", reason: "its data_offsets [4, 8] overlap a's")),
        .init(rule: "InvalidOffset: offsets that run backwards", bytes: oneTensor(#""dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,0]"#, data: 4),
              error: .invalidOffset(path: path, name: "b", reason: "data_offsets [4, 0] run backwards")),
        .init(rule: "ValidationOverflow: a shape past 64 bits",
              bytes: oneTensor(#""dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]"#, data: 8),
              error: .validationOverflow(path: path, name: "a", shape: [4294967296, 4294967296])),
        .init(rule: "MisalignedSlice: F4 ending mid-byte", bytes: oneTensor(#""dtype":"F4","shape":[3],"data_offsets":[0,2]"#, data: 2),
              error: .misalignedSlice(path: path, name: "a")),
        .init(rule: "TensorInvalidInfo: bytes that disagree with the shape", bytes: oneTensor(#""dtype":"F32","shape":[3],"data_offsets":[0,8]"#, data: 8),
              error: .tensorInvalidInfo(path: path, name: "a", reason: "8 bytes for shape [3] of F32, which needs 12")),
        .init(rule: "MetadataIncompleteBuffer: bytes after the last tensor", bytes: oneTensor(#""dtype":"F32","shape":[1],"data_offsets":[0,4]"#, data: 5),
              error: .metadataIncompleteBuffer(path: path, coveredBytes: 4, dataBytes: 5)),
        .init(rule: "MetadataIncompleteBuffer: offsets past the end", bytes: oneTensor(#""dtype":"F32","shape":[2],"data_offsets":[0,8]"#, data: 4),
              error: .metadataIncompleteBuffer(path: path, coveredBytes: 8, dataBytes: 4)),
        .init(rule: "Nabla: a dtype of the format that Nabla does not convert", bytes: oneTensor(#""dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]"#, data: 2),
              error: .unsupportedType(path: path, name: "a", dtype: "F8_E4M3")),
    ]

    @Test(arguments: rules)
    func brokenRuleThrows(_ row: Rule) {
        #expect(throws: row.error) { try SafeTensors(bytes: row.bytes, path: Self.path) }
    }

    /// What the rules allow: padding, empty tensors sharing an offset, unknown fields (skipped,
    /// as the reference skips them), escapes, `null` metadata, and the dtypes Nabla converts.
    @Test func acceptsWhatTheReferenceAccepts() throws {
        let header = #"{"__metadata__":null,"e\u00e9\ud83d\ude00":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0],"extra":{"k":[1,-2.5e3,true,null]}},"#
            + #""z":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"#
            + #""h":{"dtype":"F16","shape":[],"data_offsets":[4,6]},"i":{"dtype":"I8","shape":[2],"data_offsets":[6,8]},"#
            + #""u":{"dtype":"U64","shape":[1],"data_offsets":[8,16]},"t":{"dtype":"BOOL","shape":[2],"data_offsets":[16,18]}}   "#
        // BF16 1.0 = 0x3F80 and −2.0 = 0xC000; F16 0.5 = 0x3800; I8 −3, 4; U64 2⁵³; BOOL 0, 7.
        let data: [UInt8] = [0x80, 0x3F, 0x00, 0xC0, 0x00, 0x38, 0xFD, 0x04, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 7]
        let file = try SafeTensors(bytes: Self.fixture(header: header, data: data))
        #expect(file.metadata.isEmpty && file.entries.count == 7)
        #expect(file.tensor("eé😀", as: Float.self)?.shape == [0, 3])
        #expect(file.tensor("b", as: Float.self) == Tensor([1, -2]))
        #expect(file.tensor("h", as: Double.self) == Tensor(0.5))
        #expect(file.tensor("i", as: Float.self) == Tensor([-3, 4]))
        #expect(file.tensor("u", as: Double.self) == Tensor([9_007_199_254_740_992]))
        #expect(file.tensor("t", as: Float.self) == Tensor([0, 1]))
    }

    /// JSON's escapes in a name, each decoded (RFC 8259, section 7); a lone surrogate or an
    /// unknown escape is refused.
    @Test func decodesEveryEscape() throws {
        let name = #"q\"b\\s\/\b\f\n\r\t\u0041\ud834\udd1e"#
        let file = try SafeTensors(bytes: Self.oneTensorNamed(name))
        #expect(file.entries.keys.sorted() == ["q\"b\\s/\u{08}\u{0C}\n\r\tA\u{1D11E}"])
        for bad in [#"\ud834x"#, #"\udd1e"#, #"\x"#] {
            #expect(throws: SafeTensorsError.self, "\(bad)") { try SafeTensors(bytes: Self.oneTensorNamed(bad)) }
        }
    }

    static func oneTensorNamed(_ escapedName: String) -> [UInt8] {
        fixture(header: "{\"" + escapedName + #"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])
    }

    /// The writer never writes what the reader refuses: a tensor named `__metadata__`, or an
    /// entry whose bytes disagree with its dtype and shape, stops with a message.
    @Test func writerRefusesWhatTheReaderRefuses() async {
        let reserved = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var file = SafeTensors()
            file.set("__metadata__", Tensor<Float>([1]))
        }
        #expect(standardError(reserved).contains("SafeTensors: the name __metadata__ is the header's metadata, not a tensor"))
        let inconsistent = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var file = SafeTensors()
            file.set("a", Tensor<Float>([1, 2]))
            file.entries["a"]?.shape = [3]
            _ = file.serialized()
        }
        #expect(standardError(inconsistent).contains("SafeTensors: entry a: dtype F32, shape [3] and 8 bytes do not fit together"))
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
