import Testing

@testable import Nabla

/// The one rule that picks a convolution's algorithm, pass by pass (``ConvolutionAlgorithm``):
/// a table of shapes and what each pass gets.
@Suite struct ConvolutionAlgorithmTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let name: String
        let batch: Int, channels: Int, size: Int, outputChannels: Int, kernel: Int
        let configuration: Convolution2DConfiguration
        var groups = 1
        /// The few-channel family's level (its direct-loop limits depend on it).
        var level = SIMDLevel.portable
        /// forward, forward adding bias, input gradient, filter gradient, filter and bias gradient.
        let expected: [ConvolutionAlgorithm]
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        .init(name: "CNN first layer 1→32, 28×28", batch: 64, channels: 1, size: 28, outputChannels: 32, kernel: 3,
              configuration: .init(padding: 1), expected: [.fewChannels, .fewChannels, .fewChannels, .fewChannels, .fewChannels]),
        .init(name: "CNN second layer 32→64, 14×14", batch: 64, channels: 32, size: 14, outputChannels: 64, kernel: 3,
              configuration: .init(padding: 1), expected: [.winograd, .winograd, .winograd, .winograd, .winograd]),
        .init(name: "32→64 at 14×14, one image: under 512 outputs", batch: 1, channels: 32, size: 14, outputChannels: 64, kernel: 3,
              configuration: .init(padding: 1), expected: [.im2col, .im2col, .im2col, .im2col, .im2col]),
        .init(name: "16→16 with padding 3: no Winograd input gradient", batch: 8, channels: 16, size: 28, outputChannels: 16, kernel: 3,
              configuration: .init(padding: 3), expected: [.winograd, .winograd, .im2col, .winograd, .winograd]),
        .init(name: "16→16 5×5", batch: 8, channels: 16, size: 28, outputChannels: 16, kernel: 5,
              configuration: .init(padding: 2), expected: [.im2col, .im2col, .im2col, .im2col, .im2col]),
        .init(name: "32→64 stride 2", batch: 64, channels: 32, size: 14, outputChannels: 64, kernel: 3,
              configuration: .init(stride: 2, padding: 1), expected: [.im2col, .im2col, .im2col, .im2col, .im2col]),
        .init(name: "1→4 at 8×8: direct loops, a small input gradient", batch: 2, channels: 1, size: 8, outputChannels: 4, kernel: 3,
              configuration: .init(padding: 1), expected: [.fewChannels, .fewChannels, .im2col, .fewChannels, .fewChannels]),
        .init(name: "1→8 at 8×8: direct filter gradient only", batch: 2, channels: 1, size: 8, outputChannels: 8, kernel: 3,
              configuration: .init(padding: 1), expected: [.im2col, .im2col, .im2col, .fewChannels, .fewChannels]),
        .init(name: "1→8 at 8×8 with AVX2: direct loops both ways", batch: 2, channels: 1, size: 8, outputChannels: 8, kernel: 3,
              configuration: .init(padding: 1), level: .avx2, expected: [.fewChannels, .fewChannels, .im2col, .fewChannels, .fewChannels]),
        .init(name: "3→128 at 8×8 with AVX-512: direct loops both ways", batch: 2, channels: 3, size: 8, outputChannels: 128, kernel: 3,
              configuration: .init(padding: 1), level: .avx512, expected: [.fewChannels, .fewChannels, .im2col, .fewChannels, .fewChannels]),
        .init(name: "3→128 at 8×8 with AVX2: batched GEMMs", batch: 2, channels: 3, size: 8, outputChannels: 128, kernel: 3,
              configuration: .init(padding: 1), level: .avx2, expected: [.im2col, .im2col, .im2col, .im2col, .im2col]),
        .init(name: "3→32 stride 2 at 32×32: per-image GEMMs", batch: 4, channels: 3, size: 32, outputChannels: 32, kernel: 3,
              configuration: .init(stride: 2, padding: 1), expected: [.fewChannels, .fewChannels, .fewChannels, .fewChannels, .fewChannels]),
        .init(name: "8→16 at 28×28: too many channels for the few-channel path", batch: 8, channels: 8, size: 28, outputChannels: 16, kernel: 3,
              configuration: .init(padding: 1), expected: [.im2col, .im2col, .im2col, .im2col, .im2col]),
        .init(name: "no images", batch: 0, channels: 32, size: 14, outputChannels: 64, kernel: 3,
              configuration: .init(padding: 1), expected: [.im2col, .im2col, .im2col, .im2col, .im2col]),
        .init(name: "depthwise 32 at 28×28", batch: 32, channels: 32, size: 28, outputChannels: 32, kernel: 3,
              configuration: .init(padding: 1), groups: 32, expected: Array(repeating: .depthwise, count: 5)),
        .init(name: "depthwise, channel multiplier 2, stride 2", batch: 4, channels: 8, size: 14, outputChannels: 16, kernel: 3,
              configuration: .init(stride: 2, padding: 1), groups: 8, expected: Array(repeating: .depthwise, count: 5)),
        .init(name: "2 groups of 16→32", batch: 8, channels: 32, size: 14, outputChannels: 64, kernel: 3,
              configuration: .init(padding: 1), groups: 2, expected: Array(repeating: .perGroup, count: 5)),
    ]

    @Test(arguments: rows)
    func eachPassGetsItsAlgorithm(_ row: Row) {
        guard row.level <= SIMDLevel.supported else {
            print("\(row.name) skipped: this CPU supports up to \(SIMDLevel.supported)")
            return
        }
        let geometry = Convolution2DGeometry(
            batch: row.batch, channels: row.channels, height: row.size, width: row.size,
            kernelHeight: row.kernel, kernelWidth: row.kernel, configuration: row.configuration)
        let passes: [ConvolutionAlgorithm.Pass] = [.forward, .forwardAddingBias, .inputGradient, .filterGradient, .filterAndBiasGradient]
        let selected = SIMDLevel.withLevel(row.level) {
            passes.map {
                ConvolutionAlgorithm.select($0, geometry: geometry, outputChannels: row.outputChannels, groups: row.groups)
            }
        }
        #expect(selected == row.expected)
    }
}
