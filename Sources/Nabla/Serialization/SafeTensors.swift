import Foundation

#if !_endian(little)
#error("safetensors data is little-endian; Nabla reads it in place")
#endif

/// What went wrong reading or writing a safetensors file; each case prints as one line.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    case cannotRead(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    /// The file is shorter than its 8-byte header length, or than the header it announces.
    case truncated(path: String, reason: String)
    /// The JSON header is not valid, or an entry lacks `dtype`, `shape` or `data_offsets`.
    case malformedHeader(path: String, reason: String)
    /// A tensor's offsets fall outside the data, overlap another's, or disagree with its shape.
    case badOffsets(path: String, name: String, reason: String)
    case unsupportedType(path: String, name: String, dtype: String)

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason): "\(path): cannot be read: \(reason)"
        case .cannotWrite(let path, let reason): "\(path): cannot be written: \(reason)"
        case .truncated(let path, let reason): "\(path): truncated: \(reason)"
        case .malformedHeader(let path, let reason): "\(path): malformed safetensors header: \(reason)"
        case .badOffsets(let path, let name, let reason): "\(path): tensor \(name): \(reason)"
        case .unsupportedType(let path, let name, let dtype):
            "\(path): tensor \(name) has dtype \(dtype); Nabla reads F32, F64, I32 and I64"
        }
    }
}

/// The safetensors format (Hugging Face), which PyTorch and most of the ecosystem read and write:
/// an 8-byte little-endian header length, a JSON header giving each tensor's `dtype`, `shape` and
/// `data_offsets` (relative to the data, which follows the header) plus optional string
/// `__metadata__`, then the raw little-endian data.
public struct SafeTensors: Sendable {
    /// One stored tensor: its type, shape and raw little-endian bytes.
    public struct Entry: Sendable, Equatable {
        public var dtype: String
        public var shape: [Int]
        public var bytes: [UInt8]
    }

    /// The tensors by name.
    public var entries: [String: Entry]
    /// The header's `__metadata__`.
    public var metadata: [String: String]

    public init(entries: [String: Entry] = [:], metadata: [String: String] = [:]) {
        self.entries = entries
        self.metadata = metadata
    }

    /// Adds `tensor` under `name`, stored as F32 or F64 by its scalar type.
    public mutating func set<Scalar: TensorScalar>(_ name: String, _ tensor: Tensor<Scalar>) {
        // Linux's platforms are little-endian, as the format is: the bytes are the scalars'.
        let bytes = tensor.withUnsafeBufferPointer { [UInt8](UnsafeRawBufferPointer($0)) }
        entries[name] = Entry(dtype: Scalar.self == Float.self ? "F32" : "F64", shape: tensor.shape, bytes: bytes)
    }

    /// The tensor stored under `name`, converted to `Scalar`, or `nil` if there is none.
    public func tensor<Scalar: TensorScalar>(_ name: String, as type: Scalar.Type = Scalar.self) -> Tensor<Scalar>? {
        guard let entry = entries[name] else { return nil }
        guard let size = Self.elementSize(entry.dtype), entry.bytes.count == size * entry.shape.reduce(1, *) else {
            Misuse.fail(
                "SafeTensors", "entry \(name): dtype \(entry.dtype), shape \(entry.shape) and "
                    + "\(entry.bytes.count) bytes do not fit together")
        }
        return Tensor(unsafeUninitializedShape: entry.shape) { output in
            entry.bytes.withUnsafeBytes { raw in
                for index in output.indices {
                    let offset = index * size
                    switch entry.dtype {
                    case "F32": output[index] = Scalar(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
                    case "F64": output[index] = Scalar(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))))
                    case "I32": output[index] = Scalar(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
                    default: output[index] = Scalar(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
                    }
                }
            }
        }
    }

    static func elementSize(_ dtype: String) -> Int? {
        ["F32": 4, "F64": 8, "I32": 4, "I64": 8][dtype]
    }

    // MARK: Reading

    /// Reads a safetensors file, checking its header and every tensor's offsets.
    public init(contentsOf path: String) throws(SafeTensorsError) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .cannotRead(path: path, reason: (error as NSError).localizedDescription)
        }
        try self.init(bytes: [UInt8](data), path: path)
    }

    /// Parses the bytes of a safetensors file; `path` names it in errors.
    public init(bytes: [UInt8], path: String = "<memory>") throws(SafeTensorsError) {
        guard bytes.count >= 8 else {
            throw .truncated(path: path, reason: "\(bytes.count) bytes, fewer than the 8-byte header length")
        }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw .truncated(path: path, reason: "the header announces \(headerLength) bytes, \(bytes.count - 8) follow")
        }
        let dataStart = 8 + Int(headerLength)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart])) } catch {
            throw .malformedHeader(path: path, reason: "not JSON")
        }
        guard let header = json as? [String: Any] else {
            throw .malformedHeader(path: path, reason: "not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(name: String, range: Range<Int>)] = []
        let dataCount = bytes.count - dataStart
        for (name, value) in header {
            if name == "__metadata__" {
                guard let values = value as? [String: String] else {
                    throw .malformedHeader(path: path, reason: "__metadata__ must map strings to strings")
                }
                metadata = values
                continue
            }
            guard let fields = value as? [String: Any], let dtype = fields["dtype"] as? String,
                let shape = (fields["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                shape.count == (fields["shape"] as? [Any])?.count, shape.allSatisfy({ $0 >= 0 }),
                let offsets = (fields["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                offsets.count == 2
            else {
                throw .malformedHeader(path: path, reason: "entry \(name) needs dtype, shape and data_offsets")
            }
            guard let size = Self.elementSize(dtype) else {
                throw .unsupportedType(path: path, name: name, dtype: dtype)
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataCount else {
                throw .badOffsets(path: path, name: name, reason: "offsets [\(begin), \(end)] outside the \(dataCount) data bytes")
            }
            let (count, overflow) = shape.reduce((size, false)) {
                let product = $0.0.multipliedReportingOverflow(by: $1)
                return (product.partialValue, $0.1 || product.overflow)
            }
            guard !overflow, end - begin == count else {
                throw .badOffsets(path: path, name: name, reason: "\(end - begin) bytes for shape \(shape) of \(dtype)")
            }
            ranges.append((name, begin..<end))
            entries[name] = Entry(dtype: dtype, shape: shape, bytes: Array(bytes[(dataStart + begin)..<(dataStart + end)]))
        }
        let sorted = ranges.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.range.overlaps(next.range) {
            throw .badOffsets(path: path, name: next.name, reason: "its data overlaps \(previous.name)'s")
        }
        self.init(entries: entries, metadata: metadata)
    }

    // MARK: Writing

    /// The file's bytes: tensors in name order, the header padded with spaces to 8 bytes.
    public func serialized() -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var data: [UInt8] = []
        for name in entries.keys.sorted() {
            let entry = entries[name]!
            header[name] = ["dtype": entry.dtype, "shape": entry.shape, "data_offsets": [data.count, data.count + entry.bytes.count]]
            data += entry.bytes
        }
        // Strings, integers and arrays of them always serialize; a failure is a bug, never an
        // empty header written silently.
        guard let encoded = try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]) else {
            Misuse.fail("SafeTensors", "the header of \(entries.count) tensors could not be written as JSON")
        }
        var json = [UInt8](encoded)
        json += [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8)
        let length = withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init)
        return length + json + data
    }

    /// Writes the file atomically: to a temporary file beside `path`, then renamed over it, so
    /// a crash never leaves a half-written file.
    public func write(to path: String) throws(SafeTensorsError) {
        do {
            try Data(serialized()).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .cannotWrite(path: path, reason: (error as NSError).localizedDescription)
        }
    }
}
