import Testing

@testable import Nabla

// The kernels of every SIMD level this CPU runs against the portable Swift ones, on shapes with
// channel, tile and column remainders and with NaN and ±∞ inputs: the same bits where the
// operations are the same (the Winograd transforms), within a few ulp where FMA and another
// summation order round differently (SmallGEMM, so whole Winograd convolutions); the forced level
// is the one that runs; and every run gives the same bits. Levels the CPU lacks are printed as
// skipped.

/// The levels above `portable` that this CPU runs.
let runnableSIMDLevels: [SIMDLevel] = {
    for level in SIMDLevel.allCases where level > SIMDLevel.supported {
        print(
            "SIMD level \(level) skipped: this CPU supports up to \(SIMDLevel.supported) "
                + "(\(SIMDLevel.cpuFeatures))")
    }
    return SIMDLevel.allCases.filter { $0 > .portable && $0 <= SIMDLevel.supported }
}()

/// A non-finite value the SIMD-level tests plant in an input, or none.
enum SIMDPoison: String, CaseIterable, Sendable {
    case none, nan, infinity, negativeInfinity

    /// NaN, +∞ or −∞ as `S`; `nil` for `none`.
    func value<S: FloatingPoint>(_: S.Type) -> S? {
        switch self {
        case .none: nil
        case .nan: .nan
        case .infinity: .infinity
        case .negativeInfinity: -.infinity
        }
    }
}

/// `run` at the portable level and at `level`, on the thread count the tests leave unchanged.
func atPortableAnd<R>(_ level: SIMDLevel, _ run: () -> R) -> (portable: R, simd: R) {
    BLASThreadsForTests.unchanged { (SIMDLevel.withLevel(.portable, run), SIMDLevel.withLevel(level, run)) }
}

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
        .init(2, 20, 12, 9, 11, padding: 1, kernel: 2),
        .init(1, 24, 40, 6, 6, padding: 0, kernel: 2),
    ]

    @Test(
        "Winograd at each level matches the portable path within rounding",
        arguments: runnableSIMDLevels, SIMDPoison.allCases)
    func winograd(level: SIMDLevel, poison: SIMDPoison) {
        for t in Self.winogradCases {
            check(level, poison, t, Float.self)
            check(level, poison, t, Double.self)
        }
    }

    func check<S: TensorScalar>(
        _ level: SIMDLevel, _ poison: SIMDPoison, _ t: WinogradTests.Case, _: S.Type
    ) {
        var generator = SeededGenerator(seed: t.seed)
        var input = Tensor<S>.randomUniform(shape: t.inputShape, in: -1..<1, using: &generator)
        let filter = Tensor<S>.randomUniform(shape: t.filterShape, in: -1..<1, using: &generator)
        let gradient = Tensor<S>.randomUniform(shape: t.outputShape, in: -1..<1, using: &generator)
        let poisoned = poison != .none && input.scalarCount > 0
        if poisoned, let value = poison.value(S.self) {
            input.withUnsafeMutableBufferPointer { $0[$0.count / 3] = value }
        }
        let bias = Tensor<S>.randomUniform(shape: [t.outputChannels], in: -1..<1, using: &generator)
        func run() -> (Tensor<S>, Tensor<S>, Tensor<S>, Tensor<S>) {
            let gradients = WinogradKernels.conv2dBackwardFilterAndBias(
                gradient, input: input, outputChannels: t.outputChannels, geometry: t.geometry,
                computesBiasGradient: true)
            return (
                WinogradKernels.conv2d(input, filter: filter, geometry: t.geometry),
                WinogradKernels.conv2d(input, filter: filter, bias: bias, geometry: t.geometry),
                gradients.filter, gradients.bias!
            )
        }
        let (portable, simd) = atPortableAnd(level, run)
        let what = "\(level), \(S.self), \(poison), \(t)"
        do {
            let ok = closeWithSameNonFinite(simd.0, portable.0)
            #expect(ok, "forward, \(what)")
        }
        do {
            let ok = closeWithSameNonFinite(simd.1, portable.1)
            #expect(ok, "forward with bias, \(what)")
        }
        do {
            let ok = closeWithSameNonFinite(simd.2, portable.2)
            #expect(ok, "filter gradient, \(what)")
        }
        // The bias gradient sums each channel in the same order at every level.
        do {
            let ok = sameBits(simd.3, portable.3)
            #expect(ok, "bias gradient, \(what)")
        }
        do {
            let ok = closeWithSameNonFinite(portable.3, gradient.sum(alongAxes: [0, 2, 3]))
            #expect(ok, "bias gradient against the sum over images and positions, \(what)")
        }
        // The fused bias is the same one addition per output as adding it afterwards.
        let added = portable.0 + bias.reshaped(to: [1, t.outputChannels, 1, 1])
        do {
            let ok = sameBits(portable.1, added)
            #expect(ok, "portable forward with bias, \(what)")
        }
        if poison == .nan, poisoned {
            #expect(simd.0.scalars.contains { $0.isNaN }, "NaN lost, \(what)")
        }
    }

    @Test(
        "A non-finite filter tap reaches the same Winograd outputs at each level as on the portable path",
        arguments: runnableSIMDLevels, [SIMDPoison.nan, .infinity, .negativeInfinity])
    func winogradFilterPoison(level: SIMDLevel, poison: SIMDPoison) {
        for t in Self.winogradCases {
            filterPoison(level, poison, t, Float.self)
            filterPoison(level, poison, t, Double.self)
        }
    }

    /// Poisons one tap of a filter channel that the filter transforms' register gather reads
    /// (the first 8 input and 16 output channels), and one that the single gather reads.
    func filterPoison<S: TensorScalar>(
        _ level: SIMDLevel, _ poison: SIMDPoison, _ t: WinogradTests.Case, _: S.Type
    ) {
        var generator = SeededGenerator(seed: t.seed)
        let input = Tensor<S>.randomUniform(shape: t.inputShape, in: -1..<1, using: &generator)
        var filter = Tensor<S>.randomUniform(shape: t.filterShape, in: -1..<1, using: &generator)
        let value = poison.value(S.self)!
        let (outputs, channels, taps) = (t.filterShape[0], t.filterShape[1], t.filterShape[2] * t.filterShape[3])
        filter.withUnsafeMutableBufferPointer { w in
            w[((min(5, outputs - 1) * channels) + min(3, channels - 1)) * taps + taps - 1] = value
            w[((outputs - 1) * channels + channels - 1) * taps] = value
        }
        let (portable, simd) = atPortableAnd(level) { WinogradKernels.conv2d(input, filter: filter, geometry: t.geometry) }
        let ok = closeWithSameNonFinite(simd, portable)
        #expect(ok, "forward with a poisoned filter, \(level), \(S.self), \(poison), \(t)")
        #expect(simd.scalarCount == 0 || simd.scalars.contains { !$0.isFinite }, "non-finite tap lost, \(level), \(S.self), \(poison), \(t)")
    }

    /// Whether `a` and `b` have NaN and ±∞ at the same places and finite values within
    /// 10⁻⁵ (Float) or 10⁻¹³ (Double) of the largest finite magnitude in `b`.
    func closeWithSameNonFinite<S: TensorScalar>(_ a: Tensor<S>, _ b: Tensor<S>) -> Bool {
        guard a.shape == b.shape else { return false }
        let scale = b.scalars.filter(\.isFinite).map(\.magnitude).max() ?? 0
        let tolerance: S = (S.self == Float.self ? 1e-5 : 1e-13) * max(1, scale)
        return zip(a.scalars, b.scalars).allSatisfy { x, y in
            if x.isNaN || y.isNaN { return x.isNaN && y.isNaN }
            if !x.isFinite || !y.isFinite { return x == y }
            return (x - y).magnitude <= tolerance
        }
    }

    @Test(
        "Winograd tile transforms at each level give the portable path's bits",
        arguments: runnableSIMDLevels)
    func winogradTransforms(level: SIMDLevel) {
        for t in Self.winogradCases where t.batch > 0 {
            transforms(level, t, Float.self)
            transforms(level, t, Double.self)
        }
    }

    func transforms<S: TensorScalar>(_ level: SIMDLevel, _ t: WinogradTests.Case, _: S.Type) {
        let plan = WinogradKernels.Plan(
            t.geometry, outputChannels: t.outputChannels, variant: .fastest(forKernel: t.kernel), scalar: S.self)
        var generator = SeededGenerator(seed: t.seed &+ 1)
        func random(_ count: Int) -> [S] {
            var values = (0..<count).map { _ in S(Double.random(in: -2..<2, using: &generator)) }
            if count > 8 { values[count / 2] = .nan; values[count / 3] = .infinity; values[count / 5] = -.infinity }
            return values
        }
        let images = t.batch
        let tiles = images * plan.tilesPerImage
        let staged = random(images * plan.stagedHeight * plan.stagedWidth * plan.paddedChannels)
        let products = random(tiles * plan.positions * plan.paddedOutputChannels)
        let gradient = random(images * plan.tilesHigh * 4 * plan.tilesWide * 4 * plan.paddedOutputChannels)
        let bias = random(plan.paddedOutputChannels)
        let nchw = random(images * t.channels * t.height * t.width)
        let filter = random(t.outputChannels * t.channels * t.kernel * t.kernel)
        let transformedFilterGradient = random(plan.filterCount)
        func run(_ level: SIMDLevel, withBias: Bool) -> ([S], [S], [S], [S], [S], [S]) {
            var transformedFilter = [S](repeating: .nan, count: plan.filterCount)
            var filterGradient = [S](repeating: .nan, count: filter.count)
            filter.withUnsafeBufferPointer { x in
                transformedFilter.withUnsafeMutableBufferPointer { y in
                    WinogradKernels.transformFilter(plan, filter: x.baseAddress!, into: y.baseAddress!, level: level)
                }
            }
            transformedFilterGradient.withUnsafeBufferPointer { x in
                filterGradient.withUnsafeMutableBufferPointer { y in
                    WinogradKernels.untransformFilterGradient(plan, x.baseAddress!, into: y.baseAddress!, level: level)
                }
            }
            var restaged = [S](repeating: .nan, count: staged.count)
            var input = [S](repeating: 0, count: tiles * plan.positions * plan.paddedChannels)
            var output = [S](repeating: 0, count: t.outputShape.reduce(1, *))
            var transformedGradient = [S](repeating: 0, count: products.count)
            staged.withUnsafeBufferPointer { x in
                input.withUnsafeMutableBufferPointer { y in
                    WinogradKernels.transformInput(
                        plan, images: images, staging: x.baseAddress!, into: y.baseAddress!, level: level)
                }
            }
            products.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    bias.withUnsafeBufferPointer { bias in
                        WinogradKernels.transformOutput(
                            plan, images: 0..<images, products: x.baseAddress!,
                            bias: withBias ? bias.baseAddress! : nil, output: y.baseAddress!,
                            level: level)
                    }
                }
            }
            nchw.withUnsafeBufferPointer { x in
                restaged.withUnsafeMutableBufferPointer { y in
                    WinogradKernels.stageChannelsLast(
                        images: 0..<images, source: x.baseAddress!, channels: t.channels,
                        height: t.height, width: t.width, top: t.paddingHeight,
                        left: t.paddingWidth, stagedHeight: plan.stagedHeight,
                        stagedWidth: plan.stagedWidth, stagedChannels: plan.paddedChannels,
                        into: y.baseAddress!, level: level)
                }
            }
            gradient.withUnsafeBufferPointer { x in
                transformedGradient.withUnsafeMutableBufferPointer { y in
                    WinogradKernels.transformGradient(
                        plan, images: images, staging: x.baseAddress!, into: y.baseAddress!, level: level)
                }
            }
            return (input, output, transformedGradient, restaged, transformedFilter, filterGradient)
        }
        for withBias in [false, true] {
            let portable = run(.portable, withBias: withBias), simd = run(level, withBias: withBias)
        func same(_ a: [S], _ b: [S]) -> Bool {
            zip(a, b).allSatisfy { x, y in (x.isNaN && y.isNaN) || (x == y && x.sign == y.sign) }
        }
            let what = "\(level), \(S.self), \(t), bias \(withBias)"
            do {
                let ok = same(simd.4, portable.4)
                #expect(ok, "filter transform, \(what)")
            }
            do {
                let ok = same(simd.5, portable.5)
                #expect(ok, "filter gradient transform, \(what)")
            }
            do {
                let ok = same(simd.0, portable.0)
                #expect(ok, "input transform, \(what)")
            }
            do {
                let ok = same(simd.1, portable.1)
                #expect(ok, "output transform, \(what)")
            }
            do {
                let ok = same(simd.2, portable.2)
                #expect(ok, "gradient transform, \(what)")
            }
            do {
                let ok = same(simd.3, portable.3)
                #expect(ok, "staging, \(what)")
            }
            let nanInputs = nchw.filter(\.isNaN).count
            #expect(simd.3.filter(\.isNaN).count == nanInputs, "unwritten staging, \(what)")
        }
    }

    /// SmallGEMM shapes: rows around the 6-row block, columns around 1, 2 and 4 vectors and
    /// scalar tails, depth 0 and 1.
    static let productShapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (6, 16, 3), (7, 17, 5), (13, 33, 9), (5, 64, 32), (12, 65, 0), (3, 79, 1),
        (19, 8, 16), (2, 4, 7), (25, 130, 11),
    ]

    @Test("SmallGEMM against products summed in Double", arguments: runnableSIMDLevels, [false, true])
    func smallProducts(level: SIMDLevel, transposedA: Bool) {
        for shape in Self.productShapes {
            product(level, shape, transposedA, Float.self)
            product(level, shape, transposedA, Double.self)
        }
    }

    func product<S: TensorScalar>(
        _ level: SIMDLevel, _ shape: (m: Int, n: Int, k: Int), _ transposedA: Bool, _: S.Type
    ) {
        let (m, n, k) = shape
        var generator = SeededGenerator(seed: UInt64(m * 10_000 + n * 100 + k))
        func random(_ count: Int) -> [S] { (0..<count).map { _ in S(Double.random(in: -1..<1, using: &generator)) } }
        // Padded strides, so reading past a row would show.
        let (lda, ldb, ldc) = (k + 3, n + 5, n + 2)
        var a = random(transposedA ? k * (m + 3) : m * lda)
        let b = random(k * ldb)
        let start = random(m * ldc)
        if m * k > 2 { a[1] = .nan }
        let (aRow, aDepth) = transposedA ? (1, m + 3) : (lda, 1)
        for accumulate in [false, true] {
            var c = start
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        SmallGEMM.multiply(
                            level: level, m: m, n: n, k: k, a: a.baseAddress!, aRowStride: aRow,
                            aDepthStride: aDepth, b: b.baseAddress!, ldb: ldb, c: c.baseAddress!,
                            ldc: ldc, accumulate: accumulate)
                    }
                }
            }
            for i in 0..<m {
                for j in 0..<ldc {
                    let got = c[i * ldc + j]
                    guard j < n else {
                        #expect(got == start[i * ldc + j], "wrote past column n: \(shape)")
                        continue
                    }
                    var sum = accumulate ? Double(start[i * ldc + j]) : 0
                    var bound = accumulate ? abs(Double(start[i * ldc + j])) : 0
                    for p in 0..<k {
                        let term = Double(a[i * aRow + p * aDepth]) * Double(b[p * ldb + j])
                        sum += term
                        bound += abs(term)
                    }
                    if sum.isNaN {
                        #expect(got.isNaN, "NaN lost at (\(i), \(j)), \(level), \(shape)")
                    } else {
                        let tolerance = (S.self == Float.self ? 1e-6 : 1e-15) * Double(k + 2) * max(bound, 1e-30)
                        #expect(abs(Double(got) - sum) <= tolerance, "(\(i), \(j)), \(level), \(S.self), \(shape), accumulate \(accumulate)")
                    }
                }
            }
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
        // Once, on the caller's thread (the products at `portable` are OpenBLAS's own entries).
        let transforms = runs.filter { $0.family == .winogradTransforms }
        #expect(transforms.count == 1)
        #expect(transforms.map(\.level) == [min(level, KernelFamily.winogradTransforms.highestLevel)])
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

    /// With more BLAS threads than cores, Winograd takes no more parts than cores, and a large
    /// layer's parts (each with its own transformed filter) stay within the workspace budget.
    @Test("Winograd's parts are bounded by the cores and the workspace", arguments: [SIMDLevel.portable] + runnableSIMDLevels)
    func partsAreBounded(level: SIMDLevel) {
        BLASThreadsForTests.with(64) {
            SIMDLevel.withLevel(level) {
                let small = WinogradTests.Case(64, 16, 16, 8, 8, padding: 1)
                let plan = WinogradKernels.Plan(small.geometry, outputChannels: 16, scalar: Float.self)
                #expect(plan.parts <= BLAS.onlineCores)
                let large = WinogradTests.Case(64, 512, 512, 14, 14, padding: 1)
                let big = WinogradKernels.Plan(large.geometry, outputChannels: 512, scalar: Float.self)
                #expect(big.parts == 1 || big.workspaceCount * 4 <= WinogradKernels.Plan.workspaceBytes)
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
