import CZlib
import Glibc

/// What went wrong reading a data set: each case names the file and the problem, and prints as
/// one line.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    /// The file does not exist or cannot be opened.
    case missingFile(path: String)
    /// zlib could not read the file (a corrupt gzip stream, say).
    case unreadable(path: String, reason: String)
    /// The first four bytes are not the IDX magic number expected.
    case badMagicNumber(path: String, found: UInt32, expected: UInt32)
    /// The header's dimensions multiply to more bytes than a 64-bit size can count.
    case sizeOverflow(path: String, dimensions: [Int])
    /// The file ends before the data its header announces.
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// The header of a gzipped file announces more bytes than the file can inflate to: at most
    /// 1032 times its size, deflate's largest ratio.
    case exceedsFile(path: String, expectedBytes: Int, fileBytes: Int)
    /// The file goes on after the `expectedBytes` its header announces (the reader stops there).
    case trailingBytes(path: String, expectedBytes: Int)
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
        case .sizeOverflow(let path, let dimensions):
            "\(path): dimensions \(dimensions) overflow a 64-bit size"
        case .truncated(let path, let expected, let actual):
            "\(path): truncated: the header announces \(expected) bytes, the file has \(actual)"
        case .exceedsFile(let path, let expected, let fileBytes):
            "\(path): the header announces \(expected) bytes, more than a \(fileBytes)-byte gzip file holds"
        case .trailingBytes(let path, let expected):
            "\(path): more bytes than the \(expected) the header announces"
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
    /// The header is read and checked first: the magic number, then the size its dimensions
    /// announce, against the file's size (at most 1032 times it when gzipped, deflate's largest
    /// ratio). The data is then inflated as a stream, never past the size announced, so a file
    /// costs memory for the data it really holds and no more.
    ///
    /// - Parameters:
    ///   - path: The file, gzipped or plain.
    ///   - rank: The number of dimensions, 1 to 255.
    /// - Throws: ``DatasetError`` if the file is missing, unreadable, of another kind, announces
    ///   a size that overflows or that the file cannot hold, is truncated or is longer than its
    ///   header says.
    public init(contentsOf path: String, rank: Int) throws(DatasetError) {
        Misuse.check((1...255).contains(rank), "IDXFile", "rank \(rank) must be 1 to 255")
        let file = try GzipReader(path: path)
        let expectedMagic = UInt32(0x0800 + rank)
        let headerSize = 4 * (1 + rank)
        let magicBytes = try file.read(upTo: 4)
        guard magicBytes.count == 4 else {
            throw .truncated(path: path, expectedBytes: headerSize, actualBytes: magicBytes.count)
        }
        let magic = UInt32(Self.bigEndianWord(magicBytes, 0))
        guard magic == expectedMagic else {
            throw .badMagicNumber(path: path, found: magic, expected: expectedMagic)
        }
        let dimensionBytes = try file.read(upTo: 4 * rank)
        guard dimensionBytes.count == 4 * rank else {
            throw .truncated(path: path, expectedBytes: headerSize, actualBytes: 4 + dimensionBytes.count)
        }
        let dimensions = (0..<rank).map { Self.bigEndianWord(dimensionBytes, $0) }
        guard let count = ShapeSize.elementCount(dimensions),
            case (let expected, false) = headerSize.addingReportingOverflow(count)
        else { throw .sizeOverflow(path: path, dimensions: dimensions) }
        if file.isGzipped {
            // Deflate inflates at most 1032:1.
            guard expected / 1032 <= file.fileSize else {
                throw .exceedsFile(path: path, expectedBytes: expected, fileBytes: file.fileSize)
            }
        } else {
            guard expected <= file.fileSize else {
                throw .truncated(path: path, expectedBytes: expected, actualBytes: file.fileSize)
            }
            guard expected == file.fileSize else { throw .trailingBytes(path: path, expectedBytes: expected) }
        }
        let data = try file.read(upTo: count)
        guard data.count == count else {
            throw .truncated(path: path, expectedBytes: expected, actualBytes: headerSize + data.count)
        }
        guard try file.read(upTo: 1).isEmpty else { throw .trailingBytes(path: path, expectedBytes: expected) }
        self.dimensions = dimensions
        self.bytes = data
    }

    private static func bigEndianWord(_ bytes: [UInt8], _ index: Int) -> Int {
        bytes[(4 * index)..<(4 * index + 4)].reduce(0) { $0 << 8 | Int($1) }
    }
}

/// A file read through zlib's streaming interface: gunzipped if it is gzipped, as it is if not.
private final class GzipReader {
    let path: String
    let handle: gzFile
    /// The size of the file on disk.
    let fileSize: Int
    /// Whether the file is gzipped (zlib reads a plain file as it is); known after the first read.
    var isGzipped: Bool { gzdirect(handle) == 0 }

    init(path: String) throws(DatasetError) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .missingFile(path: path) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw .unreadable(path: path, reason: "not a regular file")
        }
        guard let handle = gzopen(path, "rb") else { throw .missingFile(path: path) }
        self.path = path
        self.handle = handle
        self.fileSize = Int(status.st_size)
        gzbuffer(handle, 1 << 17)
    }

    deinit { gzclose(handle) }

    /// The next `count` bytes, or fewer where the data ends; memory grows with what arrives, in
    /// steps of at most 64 MiB, never to `count` up front.
    func read(upTo count: Int) throws(DatasetError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(count, 64 << 20))
        while bytes.count < count {
            let step = min(count - bytes.count, 1 << 20)
            let start = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: step))
            let read = bytes.withUnsafeMutableBytes {
                gzread(handle, $0.baseAddress! + start, UInt32(step))
            }
            if read < 0 { throw .unreadable(path: path, reason: zlibError()) }
            bytes.removeLast(step - Int(read))
            if Int(read) < step { break }
        }
        if bytes.count < count {
            // A gzip stream cut short reads as a short file; zlib records the error.
            var code: Int32 = 0
            _ = gzerror(handle, &code)
            if code != Z_OK && code != Z_STREAM_END { throw .unreadable(path: path, reason: zlibError()) }
        }
        return bytes
    }

    private func zlibError() -> String {
        var code: Int32 = 0
        let message = gzerror(handle, &code).map { String(cString: $0) } ?? ""
        return message.isEmpty ? "zlib error \(code)" : message
    }
}
