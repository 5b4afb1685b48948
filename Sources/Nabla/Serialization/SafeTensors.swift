import Foundation

#if !_endian(little)
#error("safetensors data is little-endian; Nabla reads it in place")
#endif

/// What went wrong reading or writing a safetensors file; each case prints as one line that
/// names the file (and the tensor, where there is one).
///
/// The reader is as strict as the reference implementation (Hugging Face's `safetensors`
/// crate); each case names the reference's error kind that it corresponds to. Nabla is stricter
/// in one place: a shape whose nonzero dimensions overflow a 64-bit size is refused even when
/// another dimension is 0 (``validationOverflow(path:name:shape:)``).
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    /// The file cannot be opened or read (the reference's `IoError`).
    case cannotRead(path: String, reason: String)
    /// The file cannot be written (the reference's `IoError`).
    case cannotWrite(path: String, reason: String)
    /// The file is shorter than the 8-byte header length (`HeaderTooSmall`).
    case headerTooSmall(path: String, byteCount: Int)
    /// The header length is over 100,000,000 bytes, the reference's limit (`HeaderTooLarge`).
    case headerTooLarge(path: String, headerLength: UInt64)
    /// The header runs past the end of the file (`InvalidHeaderLength`).
    case invalidHeaderLength(path: String, headerLength: Int, available: Int)
    /// The header is not UTF-8 (`InvalidHeader`).
    case invalidHeader(path: String, reason: String)
    /// The header is not the JSON the format defines (`InvalidHeaderDeserialization`): it does
    /// not start with `{`; it is not JSON; an entry lacks `dtype`, `shape` or `data_offsets`; a
    /// shape or offset is not a non-negative integer that fits in 64 bits; `__metadata__` is not
    /// an object of strings.
    case invalidHeaderDeserialization(path: String, reason: String)
    /// Two tensors (or a tensor and `__metadata__`) have the same name: the format disallows
    /// duplicate keys (the reference keeps the last, which then leaves a gap: `InvalidOffset`).
    case duplicateName(path: String, name: String)
    /// A dtype that the format does not define (`InvalidHeaderDeserialization`).
    case unknownType(path: String, name: String, dtype: String)
    /// The tensors' byte ranges, in order of their offsets, leave a gap, overlap or run backwards
    /// (`InvalidOffset`).
    case invalidOffset(path: String, name: String, reason: String)
    /// The element count of a shape, or its size in bytes, overflows (`ValidationOverflow`).
    case validationOverflow(path: String, name: String, shape: [Int])
    /// A sub-byte dtype whose tensor does not end on a byte (`MisalignedSlice`).
    case misalignedSlice(path: String, name: String)
    /// A tensor's byte range is not its dtype's size times its element count (`TensorInvalidInfo`).
    case tensorInvalidInfo(path: String, name: String, reason: String)
    /// The tensors do not cover the data exactly up to the end of the file
    /// (`MetadataIncompleteBuffer`).
    case metadataIncompleteBuffer(path: String, coveredBytes: Int, dataBytes: Int)
    /// A dtype the format defines but Nabla does not convert to `Float` or `Double` (the 4-, 6-
    /// and 8-bit floats, and C64).
    case unsupportedType(path: String, name: String, dtype: String)

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason): "\(path): cannot be read: \(reason)"
        case .cannotWrite(let path, let reason): "\(path): cannot be written: \(reason)"
        case .headerTooSmall(let path, let count):
            "\(path): truncated: \(count) bytes, fewer than the 8-byte header length"
        case .headerTooLarge(let path, let length):
            "\(path): the header length \(length) is over the format's limit of 100000000 bytes"
        case .invalidHeaderLength(let path, let length, let available):
            "\(path): truncated: the header announces \(length) bytes, \(available) follow"
        case .invalidHeader(let path, let reason): "\(path): the header is \(reason)"
        case .invalidHeaderDeserialization(let path, let reason): "\(path): malformed safetensors header: \(reason)"
        case .duplicateName(let path, let name): "\(path): the header names \(name) twice"
        case .unknownType(let path, let name, let dtype): "\(path): tensor \(name): unknown dtype \(dtype)"
        case .invalidOffset(let path, let name, let reason): "\(path): tensor \(name): \(reason)"
        case .validationOverflow(let path, let name, let shape):
            "\(path): tensor \(name): shape \(shape) overflows a 64-bit size"
        case .misalignedSlice(let path, let name): "\(path): tensor \(name): its bits do not end on a byte"
        case .tensorInvalidInfo(let path, let name, let reason): "\(path): tensor \(name): \(reason)"
        case .metadataIncompleteBuffer(let path, let covered, let count):
            "\(path): the tensors cover \(covered) bytes of data, the file holds \(count)"
        case .unsupportedType(let path, let name, let dtype):
            "\(path): tensor \(name) has dtype \(dtype); Nabla reads BOOL, the integers, F16, BF16, F32 and F64"
        }
    }
}

/// The safetensors format (Hugging Face), which PyTorch and most of the ecosystem read and write:
/// an 8-byte little-endian header length, a JSON header giving each tensor's `dtype`, `shape` and
/// `data_offsets` (relative to the data, which follows the header) plus optional string
/// `__metadata__`, then the raw little-endian data.
///
/// Reading follows the reference implementation's rules, each a ``SafeTensorsError``:
/// - the header length is at most 100,000,000 bytes and fits in the file;
/// - the header is UTF-8 JSON starting with `{`; shapes and offsets are non-negative integers
///   that fit in 64 bits; names are unique; dtypes are the format's;
/// - in order of their offsets, the tensors' byte ranges start at 0 and follow each other with
///   no gap and no overlap, up to the end of the file, and each holds exactly its dtype's size
///   times its shape's element count.
///
/// Nothing is allocated for a tensor before the whole header has been checked against the file,
/// so a file costs at most a few times its own size in memory.
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
    ///
    /// - Precondition: `name` is not `__metadata__`, the header's key for ``metadata``.
    public mutating func set<Scalar: TensorScalar>(_ name: String, _ tensor: Tensor<Scalar>) {
        Self.checkName(name)
        // Linux's platforms are little-endian, as the format is: the bytes are the scalars'.
        let bytes = tensor.withUnsafeBufferPointer { [UInt8](UnsafeRawBufferPointer($0)) }
        entries[name] = Entry(dtype: Scalar.self == Float.self ? "F32" : "F64", shape: tensor.shape, bytes: bytes)
    }

    /// The tensor stored under `name`, converted to `Scalar`, or `nil` if there is none.
    ///
    /// Reads BOOL (as 0 and 1), U8 to U64, I8 to I64, F16, BF16, F32 and F64.
    public func tensor<Scalar: TensorScalar>(_ name: String, as type: Scalar.Type = Scalar.self) -> Tensor<Scalar>? {
        guard let entry = entries[name] else { return nil }
        let dtype = Self.checkEntry(name, entry)
        return Tensor(unsafeUninitializedShape: entry.shape) { output in
            entry.bytes.withUnsafeBytes { raw in dtype.convert(raw, into: output) }
        }
    }

    /// The entry's dtype, which Nabla converts, or a stop if its bytes do not fit its dtype and
    /// shape (an entry changed by hand: the reader never returns one).
    private static func checkEntry(_ name: String, _ entry: Entry) -> DType {
        guard let dtype = DType(rawValue: entry.dtype), dtype.isConvertible,
            let count = ShapeSize.elementCount(entry.shape, scalarByteCount: 8),
            entry.bytes.count == dtype.bitSize / 8 * count
        else {
            Misuse.fail(
                "SafeTensors", "entry \(name): dtype \(entry.dtype), shape \(entry.shape) and "
                    + "\(entry.bytes.count) bytes do not fit together")
        }
        return dtype
    }

    private static func checkName(_ name: String) {
        Misuse.check(
            name != "__metadata__", "SafeTensors", "the name __metadata__ is the header's metadata, not a tensor")
    }

    /// The dtypes of the format, as the reference defines them.
    enum DType: String, CaseIterable {
        case BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ
        case I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64

        var bitSize: Int {
            switch self {
            case .F4: 4
            case .F6_E2M3, .F6_E3M2: 6
            case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3, .F8_E8M0, .F8_E4M3FNUZ, .F8_E5M2FNUZ: 8
            case .I16, .U16, .F16, .BF16: 16
            case .I32, .U32, .F32: 32
            case .C64, .F64, .I64, .U64: 64
            }
        }

        /// Whether Nabla converts it to `Float` and `Double`.
        var isConvertible: Bool {
            switch self {
            case .F4, .F6_E2M3, .F6_E3M2, .F8_E5M2, .F8_E4M3, .F8_E8M0, .F8_E4M3FNUZ, .F8_E5M2FNUZ, .C64: false
            default: true
            }
        }

        /// Converts little-endian scalars of this dtype.
        func convert<Scalar: TensorScalar>(_ raw: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Scalar>) {
            func each<Source>(_ type: Source.Type, _ value: (Source) -> Scalar) {
                for index in output.indices {
                    output[index] = value(raw.loadUnaligned(fromByteOffset: index * MemoryLayout<Source>.size, as: Source.self))
                }
            }
            switch self {
            case .F32 where Scalar.self == Float.self, .F64 where Scalar.self == Double.self:
                UnsafeMutableRawBufferPointer(output).copyMemory(from: raw)
            case .BOOL: each(UInt8.self) { $0 == 0 ? 0 : 1 }
            case .U8: each(UInt8.self) { Scalar($0) }
            case .I8: each(Int8.self) { Scalar($0) }
            case .U16: each(UInt16.self) { Scalar($0) }
            case .I16: each(Int16.self) { Scalar($0) }
            case .U32: each(UInt32.self) { Scalar($0) }
            case .I32: each(Int32.self) { Scalar($0) }
            case .U64: each(UInt64.self) { Scalar($0) }
            case .I64: each(Int64.self) { Scalar($0) }
            case .F16: each(UInt16.self) { Scalar(Float(Float16(bitPattern: $0))) }
            case .BF16: each(UInt16.self) { Scalar(Float(bitPattern: UInt32($0) << 16)) }
            case .F32: each(UInt32.self) { Scalar(Float(bitPattern: $0)) }
            case .F64: each(UInt64.self) { Scalar(Double(bitPattern: $0)) }
            case .F4, .F6_E2M3, .F6_E3M2, .F8_E5M2, .F8_E4M3, .F8_E8M0, .F8_E4M3FNUZ, .F8_E5M2FNUZ, .C64:
                Misuse.fail("SafeTensors", "dtype \(rawValue) is not converted")
            }
        }
    }

    // MARK: Reading

    /// The reference's limit on the header's length.
    static let maximumHeaderLength: UInt64 = 100_000_000

    /// Reads a safetensors file, checking its header and every tensor's offsets.
    ///
    /// - Throws: ``SafeTensorsError`` for a file that cannot be read or breaks a rule of the
    ///   format (see ``SafeTensors``).
    public init(contentsOf path: String) throws(SafeTensorsError) {
        try self.init(bytes: try Self.read(path), path: path)
    }

    /// The whole file, read with one `read` loop into its array (no `Data` in between).
    private static func read(_ path: String) throws(SafeTensorsError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(errno))) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .cannotRead(path: path, reason: "not a regular file") }
        let size = Int(status.st_size)
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let read = Glibc.read(descriptor, buffer.baseAddress! + count, size - count)
                if read < 0 && errno == EINTR { continue }
                if read < 0 { failure = errno }
                if read <= 0 { break }
                count += read
            }
        }
        guard failure == 0 else { throw .cannotRead(path: path, reason: String(cString: strerror(failure))) }
        return bytes
    }

    /// Parses the bytes of a safetensors file; `path` names it in errors.
    ///
    /// - Throws: ``SafeTensorsError`` for bytes that break a rule of the format (see
    ///   ``SafeTensors``).
    public init(bytes: [UInt8], path: String = "<memory>") throws(SafeTensorsError) {
        guard bytes.count >= 8 else { throw .headerTooSmall(path: path, byteCount: bytes.count) }
        let headerLength = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard headerLength <= Self.maximumHeaderLength else {
            throw .headerTooLarge(path: path, headerLength: headerLength)
        }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw .invalidHeaderLength(path: path, headerLength: Int(headerLength), available: bytes.count - 8)
        }
        let dataStart = 8 + Int(headerLength)
        let header = try SafeTensorsHeader(bytes[8..<dataStart], path: path)
        // In order of their offsets, each tensor starts where the previous one ended.
        let ordered = header.tensors.sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var covered = 0
        for (position, tensor) in ordered.enumerated() {
            let name = tensor.name
            guard tensor.begin == covered, tensor.end >= tensor.begin else {
                let reason =
                    tensor.end < tensor.begin ? "data_offsets [\(tensor.begin), \(tensor.end)] run backwards"
                    : tensor.begin > covered ? "a gap of \(tensor.begin - covered) bytes before its data_offsets [\(tensor.begin), \(tensor.end)]"
                    : "its data_offsets [\(tensor.begin), \(tensor.end)] overlap \(ordered[position - 1].name)'s"
                throw .invalidOffset(path: path, name: name, reason: reason)
            }
            covered = tensor.end
            guard let count = ShapeSize.elementCount(tensor.shape, scalarByteCount: 8),
                case (let bits, false) = count.multipliedReportingOverflow(by: tensor.dtype.bitSize)
            else { throw .validationOverflow(path: path, name: name, shape: tensor.shape) }
            guard bits % 8 == 0 else { throw .misalignedSlice(path: path, name: name) }
            guard tensor.end - tensor.begin == bits / 8 else {
                throw .tensorInvalidInfo(
                    path: path, name: name,
                    reason: "\(tensor.end - tensor.begin) bytes for shape \(tensor.shape) of \(tensor.dtype), which needs \(bits / 8)")
            }
        }
        guard covered == bytes.count - dataStart else {
            throw .metadataIncompleteBuffer(path: path, coveredBytes: covered, dataBytes: bytes.count - dataStart)
        }
        if let tensor = ordered.first(where: { !$0.dtype.isConvertible }) {
            throw .unsupportedType(path: path, name: tensor.name, dtype: tensor.dtype.rawValue)
        }
        var entries: [String: Entry] = [:]
        entries.reserveCapacity(ordered.count)
        for tensor in ordered {
            entries[tensor.name] = Entry(
                dtype: tensor.dtype.rawValue, shape: tensor.shape,
                bytes: Array(bytes[(dataStart + tensor.begin)..<(dataStart + tensor.end)]))
        }
        self.init(entries: entries, metadata: header.metadata)
    }

    // MARK: Writing

    /// The file's bytes: tensors in name order, the header padded with spaces to 8 bytes.
    public func serialized() -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var data: [UInt8] = []
        for name in entries.keys.sorted() {
            let entry = entries[name]!
            Self.checkName(name)
            _ = Self.checkEntry(name, entry)
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
