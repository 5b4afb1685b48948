import Testing

@testable import Nabla

// The direct few-channel convolution (FewChannelConvolutionKernels.directForward and
// .directFilterGradient) at every SIMD level this CPU runs, against the portable Swift loops
// and the naive convolution, in Float and Double.
//
// Tolerance. The levels do not give the portable bits: the C kernels fuse every multiply-add
// (FMA, one rounding where the Swift loops round twice), and the filter gradient adds its
// partial sums in another order (per vector lane over all rows and images, then the lanes).
// Both results are sums of n terms each within γ(n)·Σ|term| of the exact sum, so they must agree
// to 2·(n + 2)·ε·Σ|term| per element, where ε = `S.ulpOfOne`, n the number of products summed
// (C·kh·kw for the forward, N·oh·ow for the filter and bias gradients) and Σ|term| the sum of
// the products' magnitudes (the bias's too), computed in Double. NaN and ±∞ must land on the
// same elements as the portable path and the naive convolution.

/// A direct (stride 1) few-channel case; the kernel may be non-square.
struct FewChannelSIMDCase: Sendable, CustomTestStringConvertible {
    var batch: Int, channels: Int, outputChannels: Int
    var height: Int, width: Int, kernelHeight: Int, kernelWidth: Int, padding: Int

    init(
        _ batch: Int, _ channels: Int, _ outputChannels: Int, _ height: Int, _ width: Int,
        kernel: (Int, Int) = (3, 3), padding: Int
    ) {
        (self.batch, self.channels, self.outputChannels) = (batch, channels, outputChannels)
        (self.height, self.width, self.padding) = (height, width, padding)
        (kernelHeight, kernelWidth) = kernel
    }

    var geometry: Convolution2DGeometry {
        Convolution2DGeometry(
            batch: batch, channels: channels, height: height, width: width,
            kernelHeight: kernelHeight, kernelWidth: kernelWidth,
            configuration: .init(padding: padding))
    }
    var seed: UInt64 {
        [batch, channels, outputChannels, height, width, kernelHeight, kernelWidth, padding]
            .reduce(0x9e37_79b9_7f4a_7c15) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
    var testDescription: String {
        "N \(batch) C \(channels) → O \(outputChannels), \(height)×\(width), kernel "
            + "\(kernelHeight)×\(kernelWidth), padding \(padding)"
    }

    /// Odd widths (5, 7, 13, 29), widths shorter than a vector (1, 3), C = 1…4, O from 1 to 33
    /// (never only multiples of 8: the kernels block 4 or 8 output channels, and 1 or 2 in the
    /// gradient), paddings 0…2, kernels 1×1 to 5×5 and non-square (1 to 75 taps: the gradient
    /// blocks 9 taps, then 3, then 1), and an empty batch.
    static let all: [FewChannelSIMDCase] = [
        .init(2, 1, 32, 28, 28, padding: 1),
        .init(3, 1, 13, 5, 7, padding: 1),
        .init(2, 2, 7, 13, 29, padding: 0),
        .init(1, 3, 9, 7, 13, kernel: (5, 5), padding: 2),
        .init(2, 4, 5, 6, 5, kernel: (3, 5), padding: 2),
        .init(1, 1, 17, 3, 3, padding: 1),
        .init(2, 3, 3, 9, 1, kernel: (1, 1), padding: 0),
        .init(1, 2, 33, 4, 17, kernel: (2, 3), padding: 1),
        .init(1, 4, 1, 29, 31, kernel: (5, 3), padding: 2),
        .init(2, 1, 6, 1, 1, padding: 1),
        .init(3, 1, 5, 7, 5, kernel: (1, 1), padding: 2),
        .init(1, 2, 4, 6, 9, kernel: (1, 2), padding: 0),
        .init(0, 3, 8, 7, 7, padding: 1),
    ]
}

@Suite("Few-channel kernels at every SIMD level")
struct FewChannelSIMDTests {

    @Test(
        "The direct loops at each level match the portable loops and the naive convolution",
        arguments: runnableSIMDLevels, SIMDPoison.allCases)
    func directLoops(level: SIMDLevel, poison: SIMDPoison) {
        for t in FewChannelSIMDCase.all {
            check(level, poison, t, Float.self)
            check(level, poison, t, Double.self)
        }
    }

    /// The direct forward and filter gradient of `t` at `level`, at the portable level, and
    /// naively in Double.
    func check<S: TensorScalar>(_ level: SIMDLevel, _ poison: SIMDPoison, _ t: FewChannelSIMDCase, _: S.Type) {
        let g = t.geometry
        let plane = g.outputHeight * g.outputWidth
        var random = SeededGenerator(seed: t.seed)
        var input: [S] = random.scalars(g.inputCount)
        let filter: [S] = random.scalars(t.outputChannels * g.columnRows)
        let bias: [S] = random.scalars(t.outputChannels)
        let gradient: [S] = random.scalars(t.batch * t.outputChannels * plane)
        if let value = poison.value(S.self), !input.isEmpty { input[input.count / 3] = value }
        func run() -> (forward: [S], filter: [S], bias: [S]) {
            let forward = FewChannelPath.direct.forward(
                g, outputChannels: t.outputChannels, input: input, filter: filter, bias: bias)
            let gradients = FewChannelPath.direct.filterGradient(
                g, outputChannels: t.outputChannels, outputGradient: gradient, input: input)
            return (forward, gradients.filter, gradients.bias)
        }
        let (portable, simd) = atPortableAnd(level, run)

        // Naively in Double: the values and the magnitudes that bound the rounding.
        let (x, w, b, dy) = (input.map(Double.init), filter.map(Double.init), bias.map(Double.init), gradient.map(Double.init))
        let forward = naiveConvolution(g, input: x, filter: w, bias: b, outputChannels: t.outputChannels)
        let forwardMagnitude = naiveConvolution(
            g, input: x.map(\.magnitude), filter: w.map(\.magnitude), bias: b.map(\.magnitude),
            outputChannels: t.outputChannels)
        let filterGradient = naiveFilterGradient(g, outputGradient: dy, input: x, outputChannels: t.outputChannels)
        let filterMagnitude = naiveFilterGradient(
            g, outputGradient: dy.map(\.magnitude), input: x.map(\.magnitude), outputChannels: t.outputChannels)
        var biasGradient = [Double](repeating: 0, count: t.outputChannels)
        var biasMagnitude = biasGradient
        for (index, value) in dy.enumerated() {
            biasGradient[index / max(plane, 1) % t.outputChannels] += value
            biasMagnitude[index / max(plane, 1) % t.outputChannels] += value.magnitude
        }

        let label = "\(level), \(S.self), \(poison), \(t.testDescription)"
        expectAgree(simd.forward, portable.forward, forward, forwardMagnitude, terms: g.columnRows + 1, "forward, \(label)")
        let products = t.batch * plane
        expectAgree(simd.filter, portable.filter, filterGradient, filterMagnitude, terms: products, "filter gradient, \(label)")
        expectAgree(simd.bias, portable.bias, biasGradient, biasMagnitude, terms: products, "bias gradient, \(label)")
        if poison == .nan, !input.isEmpty {
            #expect(simd.forward.contains { $0.isNaN } && simd.filter.contains { $0.isNaN }, "NaN lost, \(label)")
        }
    }

    /// `simd` and `portable` agree with each other and with `exact` within the rounding of
    /// `terms` summed products whose magnitudes sum to `magnitude`; non-finite values match.
    func expectAgree<S: TensorScalar>(
        _ simd: [S], _ portable: [S], _ exact: [Double], _ magnitude: [Double], terms: Int,
        _ label: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(simd.count == portable.count && simd.count == exact.count, "\(label)")
        let epsilon = Double(S.ulpOfOne)
        var mismatches = 0
        for index in simd.indices {
            let (a, p, e) = (Double(simd[index]), Double(portable[index]), exact[index])
            let bound = 2 * Double(terms + 2) * epsilon * magnitude[index]
            let agrees: Bool
            if !e.isFinite || !magnitude[index].isFinite {
                // A NaN or infinity reached this element: the same non-finite value everywhere.
                agrees = (a.isNaN && p.isNaN && e.isNaN) || (a == p && a == e)
            } else {
                agrees = abs(a - p) <= bound && abs(a - e) <= bound
            }
            if !agrees {
                mismatches += 1
                if mismatches <= 3 {
                    Issue.record("\(label): [\(index)] level \(a), portable \(p), exact \(e), bound \(bound)", sourceLocation: sourceLocation)
                }
            }
        }
    }

    /// A few-channel layer small enough for the direct loops at every level (O·C ≤ 4).
    @Test("The forced level is the one that runs", arguments: [SIMDLevel.portable] + runnableSIMDLevels)
    func forcedLevelRuns(level: SIMDLevel) {
        let g = Convolution2DGeometry(
            batch: 2, channels: 1, height: 9, width: 11, kernelHeight: 3, kernelWidth: 3,
            configuration: .init(padding: 1))
        var random = SeededGenerator(seed: 5)
        let input: Tensor<Float> = random.tensor(g.inputShape)
        let filter: Tensor<Float> = random.tensor([4, 1, 3, 3])
        let bias: Tensor<Float> = random.tensor([4])
        let gradient: Tensor<Float> = random.tensor([2, 4, 9, 11])
        #expect(FewChannelConvolutionKernels.usesDirectForward(g, outputChannels: 4, level: .portable))
        #expect(FewChannelConvolutionKernels.usesDirectFilterGradient(g, outputChannels: 4, level: .portable))
        let (_, runs) = KernelLevelLog.recording {
            SIMDLevel.withLevel(level) {
                _ = FewChannelConvolutionKernels.conv2d(input, filter: filter, bias: bias, geometry: g)
                _ = FewChannelConvolutionKernels.conv2dBackwardFilter(
                    gradient, input: input, filterShape: filter.shape, geometry: g,
                    computesBiasGradient: true)
            }
        }
        let expected = min(level, KernelFamily.fewChannelConvolution.highestLevel)
        #expect(runs.map(\.family) == [.fewChannelConvolution, .fewChannelConvolution])
        #expect(runs.map(\.level) == [expected, expected])
    }

    @Test("Every run gives the same bits, at 1 and 2 threads", arguments: [1, 2])
    func deterministic(threads: Int) {
        // 8·16·27·784 multiply-adds: enough for two parts at 2 threads.
        let g = Convolution2DGeometry(
            batch: 8, channels: 3, height: 28, width: 28, kernelHeight: 3, kernelWidth: 3,
            configuration: .init(padding: 1))
        var random = SeededGenerator(seed: 6)
        let input: Tensor<Float> = random.tensor(g.inputShape)
        let filter: Tensor<Float> = random.tensor([16, 3, 3, 3])
        let bias: Tensor<Float> = random.tensor([16])
        let gradient: Tensor<Float> = random.tensor([8, 16, 28, 28])
        BLASThreadsForTests.with(threads) {
            #expect(FewChannelConvolutionKernels.parts(g, multiplyAdds: 8 * 16 * 27 * 784) == threads)
            for level in [SIMDLevel.portable] + runnableSIMDLevels {
                func run() -> [Tensor<Float>] {
                    SIMDLevel.withLevel(level) {
                        let gradients = FewChannelConvolutionKernels.conv2dBackwardFilter(
                            gradient, input: input, filterShape: filter.shape, geometry: g,
                            computesBiasGradient: true)
                        return [
                            FewChannelConvolutionKernels.conv2d(input, filter: filter, bias: bias, geometry: g),
                            gradients.filter, gradients.bias!,
                        ]
                    }
                }
                let first = run()
                for _ in 0..<3 {
                    #expect(zip(first, run()).allSatisfy { sameBits($0, $1) }, "\(level)")
                }
            }
        }
    }
}
