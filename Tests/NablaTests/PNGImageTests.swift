import CZlib
import Foundation
import Testing

@testable import Nabla

/// The PNG encoder against the format's definition (ISO/IEC 15948): the signature, chunks whose
/// CRC-32 is recomputed here bit by bit, and an `IDAT` that zlib inflates back to the scanlines.
struct PNGImageTests {
    /// CRC-32 as PNG defines it (reflected polynomial 0xEDB88320), one bit at a time.
    static func crc32BitByBit(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    struct Chunk {
        var type: String
        var data: [UInt8]
    }

    /// Splits a PNG file into chunks, checking the signature, each length and each CRC.
    static func chunks(of file: [UInt8]) -> [Chunk] {
        #expect(Array(file.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func word(_ at: Int) -> UInt32 { file[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        var chunks: [Chunk] = []
        var at = 8
        while at + 12 <= file.count {
            let length = Int(word(at))
            let typeAndData = Array(file[(at + 4)..<(at + 8 + length)])
            #expect(word(at + 8 + length) == crc32BitByBit(typeAndData), "CRC of chunk \(chunks.count)")
            chunks.append(Chunk(type: String(decoding: typeAndData.prefix(4), as: UTF8.self), data: Array(typeAndData.dropFirst(4))))
            at += 12 + length
        }
        #expect(at == file.count, "bytes after the last chunk")
        return chunks
    }

    static func inflate(_ stream: [UInt8], expectedCount: Int) -> [UInt8] {
        var count = uLong(expectedCount)
        var output = [UInt8](repeating: 0, count: expectedCount + 1)
        let status = output.withUnsafeMutableBufferPointer { target in
            stream.withUnsafeBufferPointer { uncompress(target.baseAddress, &count, $0.baseAddress, uLong($0.count)) }
        }
        #expect(status == Z_OK)
        return Array(output.prefix(Int(count)))
    }

    @Test(arguments: [(PNGImage.Channels.gray, UInt8(0)), (.rgb, 2)])
    func encodesChunksThatInflateToTheScanlines(channels: PNGImage.Channels, colorType: UInt8) {
        let (width, height) = (5, 3)
        let pixels = (0..<(width * height * channels.rawValue)).map { UInt8(($0 * 37) % 256) }
        let file = PNGImage(width: width, height: height, channels: channels, pixels: pixels).encoded()
        let chunks = Self.chunks(of: file)
        #expect(chunks.map(\.type) == ["IHDR", "IDAT", "IEND"])
        #expect(chunks[0].data == [0, 0, 0, 5, 0, 0, 0, 3, 8, colorType, 0, 0, 0])
        #expect(chunks[2].data.isEmpty)
        // IEND's CRC is the same in every PNG file.
        #expect(Array(file.suffix(4)) == [0xAE, 0x42, 0x60, 0x82])
        let rowBytes = width * channels.rawValue
        let scanlines = Self.inflate(chunks[1].data, expectedCount: height * (rowBytes + 1))
        let expected = (0..<height).flatMap { [0] + pixels[($0 * rowBytes)..<(($0 + 1) * rowBytes)] }
        #expect(scanlines == expected)
    }

    /// The grid's layout and value mapping, worked out by hand: two 2 × 2 tiles side by side with
    /// one pixel of padding.
    @Test func tilesImagesAndMapsTheirRange() {
        let images = Tensor<Double>(shape: [2, 1, 2, 2], scalars: [-1, 0, 1, 3, -5, .nan, 0.5, -0.5])
        let grid = PNGImage(grid: images, columns: 4, padding: 1, background: 9)
        #expect(grid.width == 7 && grid.height == 4 && grid.channels == .gray)
        // -1 → 0, 0 → 127.5 → 128, 1 → 255, 3 → clamped 255, -5 → 0, NaN → 0, ±0.5 → 191.25, 63.75.
        #expect(grid.pixels == [
            9, 9, 9, 9, 9, 9, 9,
            9, 0, 128, 9, 0, 0, 9,
            9, 255, 255, 9, 191, 64, 9,
            9, 9, 9, 9, 9, 9, 9,
        ])
    }

    @Test func gridWrapsAfterItsColumns() {
        let images = Tensor<Float>(repeating: 1, shape: [5, 3, 4, 6])
        let grid = PNGImage(grid: images, columns: 2)
        #expect(grid.width == 2 * (6 + 2) + 2 && grid.height == 3 * (4 + 2) + 2 && grid.channels == .rgb)
        #expect(grid.pixels.filter { $0 == 255 }.count == 5 * 3 * 4 * 6)
    }

    @Test func writesAtomicallyAndNamesAMissingFolder() throws {
        let image = PNGImage(width: 1, height: 1, channels: .gray, pixels: [7])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nabla-png-\(UUID()).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try image.write(to: path)
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) == image.encoded())
        #expect(throws: PNGError.self) { try image.write(to: "/nonexistent-nabla/x.png") }
    }
}
