import Testing

@testable import Nabla

// The kernels of every SIMD level this CPU runs against the portable Swift ones: the same bits
// where the operations are the same (the Winograd transforms), on shapes with channel and tile
// remainders and with NaN and ±∞ inputs; the forced level is the one that runs; and every run
// gives the same bits. Levels the CPU lacks are printed as skipped.

/// The levels above `portable` that this CPU runs.
let runnableSIMDLevels: [SIMDLevel] = {
    for level in SIMDLevel.allCases where level > SIMDLevel.supported {
        print(
            "SIMD level \(level) skipped: this CPU supports up to \(SIMDLevel.supported) "
                + "(\(SIMDLevel.cpuFeatures))")
    }
    return SIMDLevel.allCases.filter { $0 > .portable && $0 <= SIMDLevel.supported }
}()

/// Whether `a` and `b` hold the same values bit for bit (any NaN matching any NaN).
func sameBits<S: TensorScalar>(_ a: Tensor<S>, _ b: Tensor<S>) -> Bool {
    guard a.shape == b.shape else { return false }
    return zip(a.scalars, b.scalars).allSatisfy { x, y in
        (x.isNaN && y.isNaN) || (x == y && x.sign == y.sign)
    }
}

@Suite("Kernels at every SIMD level")
struct SIMDLevelTests {
    /// Winograd shapes: channels and output channels below, at and between multiples of 8 and
    /// 16 (AVX-512 Float runs 16 channels at once and a last 8 alone), partial edge tiles.
    static let winogradCases: [WinogradTests.Case] = WinogradTests.Case.all + [
        .init(2, 20, 12, 9, 11, padding: 1),
        .init(1, 24, 40, 6, 6, padding: 0),
        .init(3, 16, 8, 7, 5, padding: 2),
    ]

    enum Poison: String, CaseIterable, Sendable { case none, nan, infinity, negativeInfinity }

    @Test(
        "Winograd at each level gives the portable path's bits",
        arguments: runnableSIMDLevels, Poison.allCases)
    func winograd(level: SIMDLevel, poison: Poison) {
        for t in Self.winogradCases {
            check(level, poison, t, Float.self)
            check(level, poison, t, Double.self)
        }
    }

    func check<S: TensorScalar>(
        _ level: SIMDLevel, _ poison: Poison, _ t: WinogradTests.Case, _: S.Type
    ) {
        var generator = SeededGenerator(seed: t.seed)
        var input = Tensor<S>.randomUniform(shape: t.inputShape, in: -1..<1, using: &generator)
        let filter = Tensor<S>.randomUniform(shape: t.filterShape, in: -1..<1, using: &generator)
        let gradient = Tensor<S>.randomUniform(shape: t.outputShape, in: -1..<1, using: &generator)
        let poisoned = poison != .none && input.scalarCount > 0
        if poisoned {
            let value: S = poison == .nan ? .nan : poison == .infinity ? .infinity : -.infinity
            input.withUnsafeMutableBufferPointer { $0[$0.count / 3] = value }
        }
        func run() -> (Tensor<S>, Tensor<S>) {
            (
                WinogradKernels.conv2d(input, filter: filter, geometry: t.geometry),
                WinogradKernels.conv2dBackwardFilter(
                    gradient, input: input, outputChannels: t.outputChannels,
                    geometry: t.geometry)
            )
        }
        let (portable, simd) = BLASThreadsForTests.unchanged {
            (SIMDLevel.withLevel(.portable, run), SIMDLevel.withLevel(level, run))
        }
        #expect(sameBits(simd.0, portable.0), "forward, \(level), \(S.self), \(poison), \(t)")
        #expect(sameBits(simd.1, portable.1), "filter gradient, \(level), \(S.self), \(poison), \(t)")
        if poison == .nan, poisoned {
            #expect(simd.0.scalars.contains { $0.isNaN }, "NaN lost, \(level), \(t)")
        }
    }

    @Test("The forced level is the one that runs", arguments: [SIMDLevel.portable] + runnableSIMDLevels)
    func forcedLevelRuns(level: SIMDLevel) {
        let t = WinogradTests.Case(2, 16, 16, 8, 8, padding: 1)
        var generator = SeededGenerator(seed: 3)
        let input = Tensor<Float>.randomUniform(shape: t.inputShape, in: -1..<1, using: &generator)
        let filter = Tensor<Float>.randomUniform(shape: t.filterShape, in: -1..<1, using: &generator)
        let (_, runs) = KernelLevelLog.recording {
            SIMDLevel.withLevel(level) { WinogradKernels.conv2d(input, filter: filter, geometry: t.geometry) }
        }
        #expect(runs.map(\.family) == [.winogradTransforms])
        #expect(runs.map(\.level) == [min(level, KernelFamily.winogradTransforms.highestLevel)])
    }

    @Test("Every run gives the same bits, at 1 and 2 threads", arguments: [1, 2])
    func deterministic(threads: Int) {
        let t = WinogradTests.Case(9, 16, 24, 10, 10, padding: 1)
        var generator = SeededGenerator(seed: 4)
        let input = Tensor<Float>.randomUniform(shape: t.inputShape, in: -1..<1, using: &generator)
        let filter = Tensor<Float>.randomUniform(shape: t.filterShape, in: -1..<1, using: &generator)
        let gradient = Tensor<Float>.randomUniform(shape: t.outputShape, in: -1..<1, using: &generator)
        BLASThreadsForTests.with(threads) {
            for level in [SIMDLevel.portable] + runnableSIMDLevels {
                func run() -> (Tensor<Float>, Tensor<Float>) {
                    SIMDLevel.withLevel(level) {
                        (
                            WinogradKernels.conv2d(input, filter: filter, geometry: t.geometry),
                            WinogradKernels.conv2dBackwardFilter(
                                gradient, input: input, outputChannels: t.outputChannels,
                                geometry: t.geometry)
                        )
                    }
                }
                let first = run()
                for _ in 0..<3 {
                    let again = run()
                    #expect(sameBits(first.0, again.0) && sameBits(first.1, again.1), "\(level)")
                }
            }
        }
    }

    @Test func supportedLevelMatchesTheCPUFeatures() {
        let features = Set(SIMDLevel.cpuFeatures.split(separator: " ").map(String.init))
        let expected: SIMDLevel =
            ["avx512f", "avx512dq", "avx512bw", "avx512vl", "avx2", "fma"].allSatisfy(features.contains)
            ? .avx512 : ["avx2", "fma"].allSatisfy(features.contains) ? .avx2 : .portable
        #expect(SIMDLevel.supported == expected, "\(SIMDLevel.cpuFeatures)")
    }
}
