import CZlib
import Foundation

/// An 8-bit grayscale or RGB image, written as PNG (ISO/IEC 15948): one `IHDR`, one `IDAT`
/// holding the zlib stream of the scanlines (each with filter type 0), one `IEND`.
///
/// ```swift
/// let grid = PNGImage(grid: samples, columns: 8)    // samples [64, 1, 28, 28] in [-1, 1]
/// try grid.write(to: "samples.png")
/// ```
public struct PNGImage: Equatable, Sendable {
    /// The samples per pixel.
    public enum Channels: Int, Sendable {
        case gray = 1
        case rgb = 3

        /// PNG's colour type code.
        var colorType: UInt8 { self == .gray ? 0 : 2 }
    }

    public let width: Int
    public let height: Int
    public let channels: Channels
    /// Row-major, `height · width · channels` bytes, the channels of a pixel next to each other.
    public let pixels: [UInt8]

    /// An image of the given pixels.
    ///
    /// - Precondition: `pixels.count == height · width · channels`, width and height in
    ///   `1...2³¹ − 1` (PNG's limit).
    public init(width: Int, height: Int, channels: Channels, pixels: [UInt8]) {
        let limit = Int(Int32.max)
        Misuse.check(
            (1...limit).contains(width) && (1...limit).contains(height), "PNGImage",
            "width \(width) and height \(height): each must be in 1...\(limit)")
        let expected = ShapeSize.elementCount([height, width, channels.rawValue])
        Misuse.check(
            expected != nil && pixels.count == expected, "PNGImage",
            "\(pixels.count) bytes for \(width) × \(height) × \(channels.rawValue): expected height · width · channels")
        (self.width, self.height, self.channels, self.pixels) = (width, height, channels, pixels)
    }

    /// The images `[N, C, H, W]` (C = 1 or 3) tiled row by row in a grid of `columns`, with
    /// `padding` pixels of `background` around and between them, as torchvision's `make_grid`.
    /// Values are mapped linearly from `range` to 0...255 and clamped; NaN becomes 0.
    public init<Scalar: TensorScalar>(
        grid images: Tensor<Scalar>, columns: Int = 8, range: ClosedRange<Scalar> = -1...1,
        padding: Int = 2, background: UInt8 = 0
    ) {
        let op = "PNGImage(grid:)"
        Misuse.check(
            images.rank == 4 && (images.shape[1] == 1 || images.shape[1] == 3) && images.shape[0] > 0
                && images.shape[2] > 0 && images.shape[3] > 0, op,
            "images \(images.shape): expected [N, C, H, W] with C 1 or 3 and N, H, W > 0")
        Misuse.check(columns >= 1 && padding >= 0, op, "columns \(columns) must be ≥ 1 and padding \(padding) ≥ 0")
        Misuse.check(range.upperBound > range.lowerBound, op, "range \(range) must not be empty")
        let (count, depth, tileHeight, tileWidth) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
        let columns = min(columns, count)
        let rows = (count + columns - 1) / columns
        let width = columns * (tileWidth + padding) + padding
        let height = rows * (tileHeight + padding) + padding
        var pixels = [UInt8](repeating: background, count: width * height * depth)
        let scale = 255 / Double(range.upperBound - range.lowerBound)
        let low = Double(range.lowerBound)
        let scalars = images.scalars
        for image in 0..<count {
            let (top, left) = (padding + (image / columns) * (tileHeight + padding), padding + (image % columns) * (tileWidth + padding))
            for channel in 0..<depth {
                let plane = (image * depth + channel) * tileHeight * tileWidth
                for y in 0..<tileHeight {
                    for x in 0..<tileWidth {
                        let value = (Double(scalars[plane + y * tileWidth + x]) - low) * scale
                        let byte = value.isNaN ? 0 : UInt8(min(255, max(0, value.rounded())))
                        pixels[((top + y) * width + left + x) * depth + channel] = byte
                    }
                }
            }
        }
        self.init(width: width, height: height, channels: depth == 1 ? .gray : .rgb, pixels: pixels)
    }

    /// The PNG file's bytes.
    public func encoded() -> [UInt8] {
        let rowBytes = width * channels.rawValue
        var scanlines = [UInt8]()
        scanlines.reserveCapacity(height * (rowBytes + 1))
        for row in 0..<height {
            scanlines.append(0)  // filter type None
            scanlines += pixels[(row * rowBytes)..<((row + 1) * rowBytes)]
        }
        var header = Self.bigEndian(UInt32(width)) + Self.bigEndian(UInt32(height))
        header += [8, channels.colorType, 0, 0, 0]  // bit depth, colour type, compression, filter, interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
            + Self.chunk("IHDR", header) + Self.chunk("IDAT", Self.zlibCompressed(scanlines)) + Self.chunk("IEND", [])
    }

    /// Writes the file atomically: to a temporary file beside `path`, then renamed over it.
    public func write(to path: String) throws(PNGError) {
        do {
            try Data(encoded()).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .cannotWrite(path: path, reason: (error as NSError).localizedDescription)
        }
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        Misuse.check(data.count <= Int(Int32.max), "PNGImage", "a \(type) chunk of \(data.count) bytes exceeds PNG's 2³¹ − 1")
        let typeAndData = Array(type.utf8) + data
        let crc = typeAndData.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, UInt32($0.count))) }
        return bigEndian(UInt32(data.count)) + typeAndData + bigEndian(crc)
    }

    private static func zlibCompressed(_ bytes: [UInt8]) -> [UInt8] {
        var capacity = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = output.withUnsafeMutableBufferPointer { target in
            bytes.withUnsafeBufferPointer { source in
                compress2(target.baseAddress, &capacity, source.baseAddress, uLong(source.count), Z_BEST_COMPRESSION)
            }
        }
        // compressBound is large enough by zlib's contract, and memory failures end the process
        // anyway: a failure here is a broken zlib, not bad input.
        Misuse.check(status == Z_OK, "PNGImage", "zlib's compress2 failed with status \(status)")
        return Array(output.prefix(Int(capacity)))
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}

/// Why a PNG could not be written.
public enum PNGError: Error, Equatable, CustomStringConvertible {
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason): "\(path): cannot write the PNG: \(reason)"
        }
    }
}
