import Testing

@testable import Nabla

// The C 2×2 max pool at every SIMD level this CPU runs against the portable Swift one and the
// rule (MaxPoolKernelTests.reference): the same values and indices on rows of every width up to
// past two vectors, row strides 1 and 2, ties, NaN and ±∞; the forced level is the one that
// runs; and every run on 1 and 2 threads agrees.

@Suite("Max pooling at every SIMD level")
struct MaxPoolSIMDTests {
    /// Output widths 1…17 and 33 (AVX2 runs 8 windows at once, AVX-512 16), odd input sizes,
    /// and row strides 2 and 1 (overlapping rows).
    static let cases: [MaxPoolKernelTests.Case] =
        [1, 2, 3, 7, 8, 9, 14, 15, 16, 17, 33].map { ow in
            .init(shape: [2, 3, 5, 2 * ow + ow % 2], configuration: .init(kernelSize: 2))
        } + [
            .init(shape: [1, 2, 6, 34], configuration: .init(
                kernelHeight: 2, kernelWidth: 2, strideHeight: 1, strideWidth: 2, paddingHeight: 0, paddingWidth: 0)),
            .init(shape: [64, 4, 14, 14], configuration: .init(kernelSize: 2)),
            .init(shape: [0, 2, 4, 4], configuration: .init(kernelSize: 2)),
        ]

    /// Values from a small set (ties are common) with NaN and ±∞ sprinkled in.
    static func input(_ shape: [Int], seed: UInt64) -> Tensor<Float> {
        var generator = SeededGenerator(seed: seed)
        let values: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 1, 2, 3, -1, 2, 1, 3]
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in
            values[Int.random(in: 0..<values.count, using: &generator)]
        })
    }

    @Test("The C max pool gives the portable values and indices", arguments: runnableSIMDLevels)
    func samePooling(level: SIMDLevel) {
        for t in Self.cases {
            for seed in 1...3 as ClosedRange<UInt64> {
                let x = Self.input(t.shape, seed: seed)
                let portable = SIMDLevel.withLevel(.portable) { maxPool2dWithIndices(x, configuration: t.configuration) }
                let simd = SIMDLevel.withLevel(level) { maxPool2dWithIndices(x, configuration: t.configuration) }
                #expect(sameBits(simd.0, portable.0), "\(level), \(t.testDescription)")
                #expect(simd.1 == portable.1, "indices, \(level), \(t.testDescription)")
                let rule = MaxPoolKernelTests.reference(
                    Tensor(shape: x.shape, scalars: x.scalars.map(Double.init)), t.configuration)
                #expect(simd.1 == rule.indices, "rule, \(level), \(t.testDescription)")
            }
        }
    }

    @Test("The forced level is the one that runs", arguments: [SIMDLevel.portable] + runnableSIMDLevels)
    func forcedLevelRuns(level: SIMDLevel) {
        let x = Self.input([2, 3, 8, 8], seed: 4)
        let (_, runs) = KernelLevelLog.recording {
            SIMDLevel.withLevel(level) { maxPool2dWithIndices(x, configuration: .init(kernelSize: 2)) }
        }
        #expect(runs.map(\.family) == [.maxPooling])
        #expect(runs.map(\.level) == [min(level, KernelFamily.maxPooling.highestLevel)])
    }

    @Test("Every run gives the same bits, at 1 and 2 threads", arguments: [1, 2])
    func deterministic(threads: Int) {
        let x = Self.input([16, 8, 28, 28], seed: 5)
        BLASThreadsForTests.with(threads) {
            for level in [SIMDLevel.portable] + runnableSIMDLevels {
                let first = SIMDLevel.withLevel(level) { maxPool2dWithIndices(x, configuration: .init(kernelSize: 2)) }
                let again = SIMDLevel.withLevel(level) { maxPool2dWithIndices(x, configuration: .init(kernelSize: 2)) }
                #expect(sameBits(first.0, again.0) && first.1 == again.1, "\(level)")
            }
        }
    }
}
