import Testing

@testable import Nabla

// The depthwise convolution's C kernels (stride 1, dilation 1) at every SIMD level this CPU runs,
// against the portable Swift path and a direct sum in Double: Float and Double, widths around the
// vector lengths, kernels 1, 3 and 5, paddings 0 to 2, channel multipliers 1 and 2, an empty
// batch, NaN and ±∞; the same bits at 1 and 2 threads; the forced level is the one that runs.
//
// Tolerance: FMA and the vector partial sums round differently from the portable path, so values
// agree within `closeWithSameNonFinite`'s 10⁻⁵ (Float) or 10⁻¹³ (Double) of the largest
// magnitude, with NaN and ±∞ at the same places.

@Suite("Depthwise convolution at every SIMD level")
struct DepthwiseSIMDTests {
    struct Case: CustomStringConvertible, Sendable {
        let batch, channels, multiplier, height, width: Int
        let kernel: (height: Int, width: Int)
        let padding: (height: Int, width: Int)

        var outputChannels: Int { channels * multiplier }
        var geometry: Convolution2DGeometry {
            Convolution2DGeometry(
                batch: batch, channels: channels, height: height, width: width, kernelHeight: kernel.height,
                kernelWidth: kernel.width,
                configuration: .init(
                    strideHeight: 1, strideWidth: 1, paddingHeight: padding.height, paddingWidth: padding.width,
                    dilationHeight: 1, dilationWidth: 1))
        }
        var description: String {
            "N\(batch) C\(channels)×\(multiplier) \(height)×\(width) kernel \(kernel.height)×\(kernel.width) "
                + "padding \(padding.height)×\(padding.width)"
        }
    }

    /// Widths 1 … 33 (tails of every length against 4, 8 and 16 lanes), heights 1 … 6, kernels
    /// 1, 3, 5 and 3×5, paddings 0 … 2, multipliers 1 and 2, one empty batch.
    static let cases: [Case] = {
        var cases: [Case] = []
        let widths = [1, 5, 7, 15, 17, 28, 33]
        for (w, width) in widths.enumerated() {
            for kernel in [1, 3, 5] {
                for padding in 0...2 where width + 2 * padding >= kernel {
                    let height = [1, 2, 3, 4, 6][(w + kernel + padding) % 5]
                    guard height + 2 * padding >= kernel else { continue }
                    cases.append(Case(
                        batch: 2, channels: 3, multiplier: 1 + (w + padding) % 2, height: height, width: width,
                        kernel: (kernel, kernel), padding: (padding, padding)))
                }
            }
        }
        cases.append(Case(batch: 0, channels: 2, multiplier: 2, height: 5, width: 7, kernel: (3, 3), padding: (1, 1)))
        cases.append(Case(batch: 3, channels: 2, multiplier: 2, height: 7, width: 19, kernel: (3, 5), padding: (2, 0)))
        cases.append(Case(batch: 1, channels: 1, multiplier: 3, height: 9, width: 40, kernel: (5, 3), padding: (0, 2)))
        return cases
    }()


    /// The three passes through ``DepthwiseConvolutionKernels`` at the level bound now.
    static func passes<S: TensorScalar>(
        _ t: Case, input: Tensor<S>, filter: Tensor<S>, gradient: Tensor<S>
    ) -> (forward: Tensor<S>, inputGradient: Tensor<S>, filterGradient: Tensor<S>) {
        let g = t.geometry
        let forward = Tensor<S>(unsafeUninitializedShape: gradient.shape) { output in
            input.withUnsafeBufferPointer { x in
                filter.withUnsafeBufferPointer { w in
                    DepthwiseConvolutionKernels.forward(g, outputChannels: t.outputChannels, input: x, filter: w, output: output)
                }
            }
        }
        let inputGradient = Tensor<S>(unsafeUninitializedShape: input.shape) { dx in
            gradient.withUnsafeBufferPointer { dy in
                filter.withUnsafeBufferPointer { w in
                    DepthwiseConvolutionKernels.inputGradient(
                        g, outputChannels: t.outputChannels, outputGradient: dy, filter: w, inputGradient: dx)
                }
            }
        }
        let filterGradient = Tensor<S>(unsafeUninitializedShape: filter.shape) { dw in
            gradient.withUnsafeBufferPointer { dy in
                input.withUnsafeBufferPointer { x in
                    DepthwiseConvolutionKernels.filterGradient(
                        g, outputChannels: t.outputChannels, outputGradient: dy, input: x, filterGradient: dw)
                }
            }
        }
        return (forward, inputGradient, filterGradient)
    }

    /// The three passes summed directly in Double, then rounded to `S`.
    static func reference<S: TensorScalar>(
        _ t: Case, input: Tensor<S>, filter: Tensor<S>, gradient: Tensor<S>
    ) -> (Tensor<S>, Tensor<S>, Tensor<S>) {
        let g = t.geometry
        let (oh, ow, kh, kw) = (g.outputHeight, g.outputWidth, t.kernel.height, t.kernel.width)
        let (xs, ws, gs) = (input.scalars.map(double), filter.scalars.map(double), gradient.scalars.map(double))
        var (y, dx, dw) = (
            [Double](repeating: 0, count: gs.count), [Double](repeating: 0, count: xs.count),
            [Double](repeating: 0, count: ws.count))
        for n in 0..<t.batch { for o in 0..<t.outputChannels { for oy in 0..<oh { for ox in 0..<ow {
            for i in 0..<kh { for j in 0..<kw {
                let (iy, ix) = (oy - t.padding.height + i, ox - t.padding.width + j)
                guard (0..<t.height).contains(iy), (0..<t.width).contains(ix) else { continue }
                let yi = ((n * t.outputChannels + o) * oh + oy) * ow + ox
                let xi = ((n * t.channels + o / t.multiplier) * t.height + iy) * t.width + ix
                let wi = (o * kh + i) * kw + j
                y[yi] += xs[xi] * ws[wi]
                dx[xi] += gs[yi] * ws[wi]
                dw[wi] += gs[yi] * xs[xi]
            } }
        } } } }
        func tensor(_ values: [Double], _ shape: [Int]) -> Tensor<S> {
            Tensor(shape: shape, scalars: values.map { S($0) })
        }
        return (tensor(y, gradient.shape), tensor(dx, input.shape), tensor(dw, filter.shape))
    }

    static func double<S: TensorScalar>(_ x: S) -> Double { Double(x) }

    static func data<S: TensorScalar>(_ t: Case, seed: UInt64, _: S.Type) -> (Tensor<S>, Tensor<S>, Tensor<S>) {
        var generator = SeededGenerator(seed: seed)
        let g = t.geometry
        let input = Tensor<S>.randomUniform(
            shape: [t.batch, t.channels, t.height, t.width], in: -1..<1, using: &generator)
        let filter = Tensor<S>.randomUniform(
            shape: [t.outputChannels, 1, t.kernel.height, t.kernel.width], in: -1..<1, using: &generator)
        let gradient = Tensor<S>.randomUniform(
            shape: [t.batch, t.outputChannels, g.outputHeight, g.outputWidth], in: -1..<1, using: &generator)
        return (input, filter, gradient)
    }

    @Test(
        "Each level matches the portable path and the direct sums within rounding",
        arguments: runnableSIMDLevels, SIMDPoison.allCases)
    func matchesPortable(level: SIMDLevel, poison: SIMDPoison) {
        for (index, t) in Self.cases.enumerated() {
            check(level, poison, t, seed: UInt64(index), Float.self)
            check(level, poison, t, seed: UInt64(index), Double.self)
        }
    }

    func check<S: TensorScalar>(_ level: SIMDLevel, _ poison: SIMDPoison, _ t: Case, seed: UInt64, _: S.Type) {
        var (input, filter, gradient) = Self.data(t, seed: seed, S.self)
        let poisoned = poison != .none && input.scalarCount > 0
        if poisoned, let value = poison.value(S.self) {
            input.withUnsafeMutableBufferPointer { $0[$0.count / 3] = value }
            gradient.withUnsafeMutableBufferPointer { $0[$0.count / 2] = value }
        }
        let portable = SIMDLevel.withLevel(.portable) { Self.passes(t, input: input, filter: filter, gradient: gradient) }
        let simd = SIMDLevel.withLevel(level) { Self.passes(t, input: input, filter: filter, gradient: gradient) }
        let what = "\(level), \(S.self), \(poison), \(t)"
        let tests = SIMDLevelTests()
        do {
            let ok = tests.closeWithSameNonFinite(simd.forward, portable.forward)
            #expect(ok, "forward, \(what)")
        }
        do {
            let ok = tests.closeWithSameNonFinite(simd.inputGradient, portable.inputGradient)
            #expect(ok, "input gradient, \(what)")
        }
        do {
            let ok = tests.closeWithSameNonFinite(simd.filterGradient, portable.filterGradient)
            #expect(ok, "filter gradient, \(what)")
        }
        if poison == .nan, poisoned {
            // Every input is read at stride 1 (a gradient in the padding ring may be read by none).
            let ok = simd.forward.scalars.contains { $0.isNaN }
            #expect(ok, "NaN lost, \(what)")
        }
        if !poisoned {
            let (y, dx, dw) = Self.reference(t, input: input, filter: filter, gradient: gradient)
            let ok = tests.closeWithSameNonFinite(simd.forward, y)
                && tests.closeWithSameNonFinite(simd.inputGradient, dx)
                && tests.closeWithSameNonFinite(simd.filterGradient, dw)
            #expect(ok, "against the direct sums, \(what)")
        }
    }

    /// ∞ in each row's last column, read only by the kernel's last column of taps (no padding):
    /// the other taps' gradients stay finite although vector lanes past the output row read it
    /// (the last column's are ∞ or NaN, ∞ − ∞).
    @Test("An infinite input makes no NaN in filter-gradient taps that never read it", arguments: runnableSIMDLevels)
    func infinityPastTheRow(level: SIMDLevel) {
        for width in [5, 7, 15, 17, 28, 33] {
            infinityPastTheRow(level, width: width, Float.self)
            infinityPastTheRow(level, width: width, Double.self)
        }
    }

    func infinityPastTheRow<S: TensorScalar>(_ level: SIMDLevel, width: Int, _: S.Type) {
        let t = Case(batch: 2, channels: 2, multiplier: 1, height: 4, width: width, kernel: (3, 3), padding: (0, 0))
        var (input, filter, gradient) = Self.data(t, seed: 7, S.self)
        input.withUnsafeMutableBufferPointer { x in
            for row in stride(from: width - 1, to: x.count, by: width) { x[row] = .infinity }
        }
        let dw = SIMDLevel.withLevel(level) { Self.passes(t, input: input, filter: filter, gradient: gradient).filterGradient }
        let ok = dw.scalars.enumerated().allSatisfy { index, value in
            index % 3 == 2 ? !value.isFinite : value.isFinite
        }
        #expect(ok, "\(level), \(S.self), width \(width): \(dw.scalars)")
    }

    /// Large enough to split across threads: the same bits at 1 and 2 threads, at every level.
    @Test("The same bits at 1 and 2 threads", arguments: [SIMDLevel.portable] + runnableSIMDLevels)
    func deterministic(level: SIMDLevel) {
        let t = Case(batch: 16, channels: 32, multiplier: 1, height: 28, width: 28, kernel: (3, 3), padding: (1, 1))
        let (input, filter, gradient) = Self.data(t, seed: 3, Float.self)
        func run() -> (Tensor<Float>, Tensor<Float>, Tensor<Float>) {
            SIMDLevel.withLevel(level) { Self.passes(t, input: input, filter: filter, gradient: gradient) }
        }
        let one = BLASThreadsForTests.with(1, run), two = BLASThreadsForTests.with(2, run)
        let ok = sameBits(one.0, two.0) && sameBits(one.1, two.1) && sameBits(one.2, two.2)
        #expect(ok, "\(level): 1 and 2 threads differ")
    }

    /// The forced level runs, read once per pass; strides and dilations above 1 stay portable.
    @Test("The forced level is the one that runs", arguments: [SIMDLevel.portable] + runnableSIMDLevels)
    func forcedLevel(level: SIMDLevel) {
        let t = Case(batch: 2, channels: 3, multiplier: 2, height: 6, width: 9, kernel: (3, 3), padding: (1, 1))
        let (input, filter, gradient) = Self.data(t, seed: 5, Float.self)
        let (_, runs) = KernelLevelLog.recording {
            SIMDLevel.withLevel(level) { Self.passes(t, input: input, filter: filter, gradient: gradient) }
        }
        #expect(runs.map(\.family) == Array(repeating: .depthwiseConvolution, count: 3))
        #expect(runs.map(\.level) == Array(repeating: level, count: 3))
        let strided = Convolution2DGeometry(
            batch: 1, channels: 2, height: 6, width: 6, kernelHeight: 3, kernelWidth: 3,
            configuration: .init(stride: 2, padding: 1))
        #expect(DepthwiseConvolutionKernels.simdLevel(strided) == .portable)
        let (_, none) = KernelLevelLog.recording {
            SIMDLevel.withLevel(level) { conv2d(input, filter: filter, configuration: .init(stride: 2, padding: 1), groups: 3) }
        }
        #expect(!none.contains { $0.family == .depthwiseConvolution })
    }
}
