import CZlib

/// What went wrong reading a data set: each case names the file and the problem, and prints as
/// one line.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    /// The file does not exist or cannot be opened.
    case missingFile(path: String)
    /// zlib could not read the file (a corrupt gzip stream, say).
    case unreadable(path: String, reason: String)
    /// The first four bytes are not the IDX magic number expected.
    case badMagicNumber(path: String, found: UInt32, expected: UInt32)
    /// The file ends before the data its header announces.
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// The file goes on after the data its header announces.
    case trailingBytes(path: String, expectedBytes: Int, actualBytes: Int)
    /// A header's dimensions are not what the data set has (for example images not 28 × 28).
    case unexpectedShape(path: String, found: [Int], expected: String)
    /// Images and labels of one split differ in count.
    case countMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)
    /// A label outside the classes.
    case labelOutOfRange(path: String, index: Int, label: Int, classes: Int)

    public var description: String {
        switch self {
        case .missingFile(let path): "\(path): no such file (install the data set, or pass its folder)"
        case .unreadable(let path, let reason): "\(path): cannot be read: \(reason)"
        case .badMagicNumber(let path, let found, let expected):
            "\(path): not an IDX file of this kind: magic number \(hex(found)), expected \(hex(expected))"
        case .truncated(let path, let expected, let actual):
            "\(path): truncated: the header announces \(expected) bytes, the file has \(actual)"
        case .trailingBytes(let path, let expected, let actual):
            "\(path): \(actual - expected) bytes after the \(expected) the header announces"
        case .unexpectedShape(let path, let found, let expected):
            "\(path): dimensions \(found), expected \(expected)"
        case .countMismatch(let images, let imageCount, let labels, let labelCount):
            "\(images) has \(imageCount) images but \(labels) has \(labelCount) labels"
        case .labelOutOfRange(let path, let index, let label, let classes):
            "\(path): label \(label) at index \(index) is not one of the \(classes) classes"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

/// An IDX file (the MNIST format): a big-endian header of a magic number and dimensions, then
/// unsigned bytes in row-major order.
public struct IDXFile: Sendable {
    /// The dimensions the header gives, outermost first.
    public let dimensions: [Int]
    /// The data, `dimensions.reduce(1, *)` bytes.
    public let bytes: [UInt8]

    /// Reads an IDX file of unsigned bytes with `rank` dimensions (magic number `0x0000080r`),
    /// gzipped or not.
    ///
    /// - Throws: ``DatasetError`` if the file is missing, unreadable, of another kind, truncated
    ///   or longer than its header says.
    public init(contentsOf path: String, rank: Int) throws(DatasetError) {
        let contents = try Self.readDecompressing(path)
        let expectedMagic = UInt32(0x0800 + rank)
        let headerSize = 4 * (1 + rank)
        guard contents.count >= 4 else {
            throw .truncated(path: path, expectedBytes: headerSize, actualBytes: contents.count)
        }
        func word(_ index: Int) -> Int {
            contents[(4 * index)..<(4 * index + 4)].reduce(0) { $0 << 8 | Int($1) }
        }
        let magic = UInt32(word(0))
        guard magic == expectedMagic else {
            throw .badMagicNumber(path: path, found: magic, expected: expectedMagic)
        }
        guard contents.count >= headerSize else {
            throw .truncated(path: path, expectedBytes: headerSize, actualBytes: contents.count)
        }
        let dimensions = (1...rank).map(word)
        // Dimensions are below 2³² each; their product is checked for overflow.
        let (count, overflow) = dimensions.reduce((1, false)) { partial, dimension in
            let product = partial.0.multipliedReportingOverflow(by: dimension)
            return (product.partialValue, partial.1 || product.overflow)
        }
        let expected = headerSize + count
        guard !overflow, contents.count >= expected else {
            throw .truncated(
                path: path, expectedBytes: overflow ? Int.max : expected, actualBytes: contents.count)
        }
        guard contents.count == expected else {
            throw .trailingBytes(path: path, expectedBytes: expected, actualBytes: contents.count)
        }
        self.dimensions = dimensions
        self.bytes = Array(contents[headerSize...])
    }

    /// The whole file, gunzipped if it is gzipped (zlib reads plain files as they are).
    static func readDecompressing(_ path: String) throws(DatasetError) -> [UInt8] {
        guard let file = gzopen(path, "rb") else { throw .missingFile(path: path) }
        defer { gzclose(file) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let read = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if read < 0 {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "zlib error \(code)"
                throw .unreadable(path: path, reason: message)
            }
            if read == 0 { break }
            contents.append(contentsOf: chunk[..<Int(read)])
        }
        // A gzip stream cut short reads as a short file; zlib records the error.
        var code: Int32 = 0
        let message = gzerror(file, &code).map { String(cString: $0) } ?? ""
        if code != Z_OK && code != Z_STREAM_END {
            throw .unreadable(path: path, reason: message.isEmpty ? "zlib error \(code)" : message)
        }
        return contents
    }
}
