import Testing

@testable import Nabla

// The few-channel convolution path (FewChannelConvolutionKernels): its direct loops and its
// per-image GEMMs, each against the naive convolution and a naive filter gradient in Double.

/// `dW[o,c,i,j] = Σ_n Σ_y Σ_x g[n,o,y,x] · input[n, c, y·s + i·d − p, x·s + j·d − p]` over
/// taps inside the input: the textbook filter gradient.
func naiveFilterGradient<S: TensorScalar>(
    _ g: Convolution2DGeometry, outputGradient: [S], input: [S], outputChannels: Int
) -> [S] {
    let c = g.configuration
    let (oh, ow) = (g.outputHeight, g.outputWidth)
    var result = [S](repeating: 0, count: outputChannels * g.columnRows)
    for o in 0..<outputChannels {
        for channel in 0..<g.channels {
            for i in 0..<g.kernelHeight {
                for j in 0..<g.kernelWidth {
                    var sum: S = 0
                    for n in 0..<g.batch {
                        for oy in 0..<oh {
                            let y = oy * c.strideHeight + i * c.dilationHeight - c.paddingHeight
                            guard y >= 0 && y < g.height else { continue }
                            for ox in 0..<ow {
                                let x = ox * c.strideWidth + j * c.dilationWidth - c.paddingWidth
                                guard x >= 0 && x < g.width else { continue }
                                sum += outputGradient[((n * outputChannels + o) * oh + oy) * ow + ox]
                                    * input[((n * g.channels + channel) * g.height + y) * g.width + x]
                            }
                        }
                    }
                    result[((o * g.channels + channel) * g.kernelHeight + i) * g.kernelWidth + j] = sum
                }
            }
        }
    }
    return result
}

/// `dX[n, c, y, x]`: every output gradient times its weight, added back to the input element
/// under the tap.
func naiveInputGradient<S: TensorScalar>(
    _ g: Convolution2DGeometry, outputGradient: [S], filter: [S], outputChannels: Int
) -> [S] {
    let c = g.configuration
    let (oh, ow) = (g.outputHeight, g.outputWidth)
    var result = [S](repeating: 0, count: g.inputCount)
    for n in 0..<g.batch {
        for o in 0..<outputChannels {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let value = outputGradient[((n * outputChannels + o) * oh + oy) * ow + ox]
                    for channel in 0..<g.channels {
                        for i in 0..<g.kernelHeight {
                            let y = oy * c.strideHeight + i * c.dilationHeight - c.paddingHeight
                            guard y >= 0 && y < g.height else { continue }
                            for j in 0..<g.kernelWidth {
                                let x = ox * c.strideWidth + j * c.dilationWidth - c.paddingWidth
                                guard x >= 0 && x < g.width else { continue }
                                result[((n * g.channels + channel) * g.height + y) * g.width + x] +=
                                    value * filter[((o * g.channels + channel) * g.kernelHeight + i) * g.kernelWidth + j]
                            }
                        }
                    }
                }
            }
        }
    }
    return result
}

/// `NaiveKernels.convolution2D` plus a bias per output channel.
func naiveConvolution<S: TensorScalar>(
    _ g: Convolution2DGeometry, input: [S], filter: [S], bias: [S], outputChannels: Int
) -> [S] {
    let plane = g.outputHeight * g.outputWidth
    var output = [S](repeating: .nan, count: g.batch * outputChannels * plane)
    input.withUnsafeBufferPointer { input in
        filter.withUnsafeBufferPointer { filter in
            output.withUnsafeMutableBufferPointer {
                NaiveKernels.convolution2D(g, input: input, filter: filter, output: $0)
            }
        }
    }
    for index in output.indices { output[index] += bias[index / plane % outputChannels] }
    return output
}

/// The two implementations behind ``FewChannelConvolutionKernels``, called directly.
enum FewChannelPath: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case direct, gemm, dispatch
    var testDescription: String { rawValue }

    func forward<S: TensorScalar>(
        _ g: Convolution2DGeometry, outputChannels: Int, input: [S], filter: [S], bias: [S]
    ) -> [S] {
        var output = [S](repeating: .nan, count: g.batch * outputChannels * g.outputHeight * g.outputWidth)
        input.withUnsafeBufferPointer { input in
            filter.withUnsafeBufferPointer { filter in
                bias.withUnsafeBufferPointer { bias in
                    output.withUnsafeMutableBufferPointer { output in
                        switch self {
                        case .direct:
                            FewChannelConvolutionKernels.directForward(
                                g, outputChannels: outputChannels, input: input, filter: filter,
                                bias: bias, output: output)
                        case .gemm:
                            FewChannelConvolutionKernels.gemmForward(
                                g, outputChannels: outputChannels, input: input, filter: filter,
                                bias: bias, output: output)
                        case .dispatch:
                            FewChannelConvolutionKernels.forward(
                                g, input: input, filter: filter, bias: bias, output: output)
                        }
                    }
                }
            }
        }
        return output
    }

    /// The filter gradient and the bias gradient.
    func filterGradient<S: TensorScalar>(
        _ g: Convolution2DGeometry, outputChannels: Int, outputGradient: [S], input: [S]
    ) -> (filter: [S], bias: [S]) {
        var filter = [S](repeating: .nan, count: outputChannels * g.columnRows)
        var bias = [S](repeating: .nan, count: outputChannels)
        outputGradient.withUnsafeBufferPointer { gradient in
            input.withUnsafeBufferPointer { input in
                filter.withUnsafeMutableBufferPointer { filter in
                    bias.withUnsafeMutableBufferPointer { bias in
                        switch self {
                        case .direct:
                            FewChannelConvolutionKernels.directFilterGradient(
                                g, outputChannels: outputChannels, outputGradient: gradient,
                                input: input, filterGradient: filter, biasGradient: bias)
                        case .gemm:
                            // Its contract: both results zeroed first (as filterGradient does).
                            filter.update(repeating: 0)
                            bias.update(repeating: 0)
                            FewChannelConvolutionKernels.gemmFilterGradient(
                                g, outputChannels: outputChannels, outputGradient: gradient,
                                input: input, filterGradient: filter, biasGradient: bias)
                        case .dispatch:
                            FewChannelConvolutionKernels.filterGradient(
                                g, outputGradient: gradient, input: input, filterGradient: filter,
                                biasGradient: bias)
                        }
                    }
                }
            }
        }
        return (filter, bias)
    }

    /// Whether this path supports `g` (the direct loops need stride 1 and no dilation).
    func supports(_ g: Convolution2DGeometry) -> Bool {
        self != .direct || FewChannelConvolutionKernels.supportsDirect(g)
    }
}

struct FewChannelCase: Sendable, CustomTestStringConvertible {
    var batch: Int, channels: Int, outputChannels: Int
    var height: Int, width: Int, kernel: Int, padding: Int
    var stride = 1

    var geometry: Convolution2DGeometry {
        Convolution2DGeometry(
            batch: batch, channels: channels, height: height, width: width, kernelHeight: kernel,
            kernelWidth: kernel, configuration: .init(stride: stride, padding: padding))
    }
    var seed: UInt64 {
        [batch, channels, outputChannels, height, width, kernel, padding, stride]
            .reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
    var testDescription: String {
        "N \(batch) C \(channels) → O \(outputChannels), \(height)×\(width), kernel \(kernel), "
            + "padding \(padding), stride \(stride)"
    }

    /// C = 1, 2, 3 × O = 1, 5, 32 × (size, kernel, padding) from 1×1 (padded) to 28×28, with the
    /// batch cycling through 0, 1 and 3; plus stride 2 (per-image GEMMs only).
    static let table: [FewChannelCase] = {
        let windows: [(height: Int, width: Int, kernel: Int, padding: Int)] = [
            (1, 1, 1, 0), (1, 1, 3, 1), (1, 1, 5, 2), (1, 1, 1, 2),
            (5, 7, 1, 0), (5, 7, 3, 0), (5, 7, 3, 1), (5, 7, 5, 2), (5, 7, 5, 1),
            (28, 28, 3, 1), (28, 28, 5, 2), (28, 28, 1, 1),
        ]
        var cases: [FewChannelCase] = []
        for channels in [1, 2, 3] {
            for outputChannels in [1, 5, 32] {
                for w in windows {
                    let batch = [0, 1, 3][(cases.count) % 3]
                    cases.append(
                        FewChannelCase(
                            batch: batch, channels: channels, outputChannels: outputChannels,
                            height: w.height, width: w.width, kernel: w.kernel, padding: w.padding))
                }
            }
        }
        cases.append(.init(batch: 2, channels: 3, outputChannels: 5, height: 9, width: 8, kernel: 3, padding: 1, stride: 2))
        cases.append(.init(batch: 1, channels: 1, outputChannels: 32, height: 28, width: 28, kernel: 5, padding: 0, stride: 2))
        return cases
    }()
}

@Suite("Direct convolution (few channels)")
struct DirectConvolutionTests {
    @Test("forward matches the naive convolution with bias", arguments: FewChannelCase.table, FewChannelPath.allCases)
    func forward(_ t: FewChannelCase, path: FewChannelPath) {
        let g = t.geometry
        guard path.supports(g) else { return }
        var random = SeededGenerator(seed: t.seed)
        let input: [Double] = random.scalars(g.inputCount)
        let filter: [Double] = random.scalars(t.outputChannels * g.columnRows)
        let bias: [Double] = random.scalars(t.outputChannels)
        let actual = path.forward(g, outputChannels: t.outputChannels, input: input, filter: filter, bias: bias)
        let expected = naiveConvolution(g, input: input, filter: filter, bias: bias, outputChannels: t.outputChannels)
        expectClose(actual, expected, tolerance: 1e-12)
    }

    @Test("filter and bias gradients match the naive sums", arguments: FewChannelCase.table, FewChannelPath.allCases)
    func filterGradient(_ t: FewChannelCase, path: FewChannelPath) {
        let g = t.geometry
        guard path.supports(g) else { return }
        var random = SeededGenerator(seed: t.seed &+ 1)
        let input: [Double] = random.scalars(g.inputCount)
        let gradient: [Double] = random.scalars(t.batch * t.outputChannels * g.outputHeight * g.outputWidth)
        let actual = path.filterGradient(g, outputChannels: t.outputChannels, outputGradient: gradient, input: input)
        let expected = naiveFilterGradient(g, outputGradient: gradient, input: input, outputChannels: t.outputChannels)
        expectClose(actual.filter, expected, tolerance: 1e-12, "filter")
        let plane = g.outputHeight * g.outputWidth
        var expectedBias = [Double](repeating: 0, count: t.outputChannels)
        for (index, value) in gradient.enumerated() { expectedBias[index / plane % t.outputChannels] += value }
        expectClose(actual.bias, expectedBias, tolerance: 1e-12, "bias")
    }

    @Test("input gradient by per-image GEMMs matches the naive scatter", arguments: FewChannelCase.table)
    func inputGradient(_ t: FewChannelCase) {
        let g = t.geometry
        guard t.batch > 0 else { return }
        var random = SeededGenerator(seed: t.seed &+ 2)
        let filter: Tensor<Double> = random.tensor([t.outputChannels, t.channels, t.kernel, t.kernel])
        let gradient: Tensor<Double> = random.tensor([t.batch, t.outputChannels, g.outputHeight, g.outputWidth])
        let actual = FewChannelConvolutionKernels.conv2dBackwardInput(gradient, filter: filter, geometry: g)
        #expect(actual.shape == g.inputShape)
        let expected = naiveInputGradient(
            g, outputGradient: gradient.scalars, filter: filter.scalars, outputChannels: t.outputChannels)
        expectClose(actual.scalars, expected, tolerance: 1e-12)
        let dispatched = conv2dBackwardInput(
            gradient, filter: filter, inputShape: g.inputShape, configuration: g.configuration)
        expectClose(dispatched.scalars, expected, tolerance: 1e-12)
    }

    /// The tensor-level entry points, including the layer's fused bias, agree with the batched
    /// im2col path's results (conv2d + bias, conv2dBackwardFilter + sum) in Float too.
    @Test(arguments: [ScalarType.float, .double])
    func tensorLevelMatchesUnfusedPath(_ scalar: ScalarType) {
        switch scalar {
        case .float: checkTensorLevel(Float.self, tolerance: 1e-5)
        case .double: checkTensorLevel(Double.self, tolerance: 1e-12)
        }
    }

    func checkTensorLevel<S: TensorScalar>(_: S.Type, tolerance: S) {
        var random = SeededGenerator(seed: 11)
        let input: Tensor<S> = random.tensor([4, 1, 28, 28])
        let filter: Tensor<S> = random.tensor([32, 1, 3, 3])
        let bias: Tensor<S> = random.tensor([32])
        let configuration = Convolution2DConfiguration(padding: 1)
        let g = Misuse.convolutionGeometry("test", "", input: input.shape, filter: filter.shape, configuration: configuration)
        #expect(FewChannelConvolutionKernels.handlesForward(g, outputChannels: 32))
        let fused = conv2dAddingBias(input, filter: filter, bias: bias, configuration: configuration)
        let expected = naiveConvolution(
            g, input: input.scalars, filter: filter.scalars, bias: bias.scalars, outputChannels: 32)
        expectClose(fused.scalars, expected, tolerance: tolerance)
        let upstream: Tensor<S> = random.tensor(fused.shape)
        let gradients = conv2dBackwardFilterAndBias(
            upstream, input: input, filterShape: filter.shape, configuration: configuration,
            computesBiasGradient: true)
        expectClose(
            gradients.filter.scalars,
            naiveFilterGradient(g, outputGradient: upstream.scalars, input: input.scalars, outputChannels: 32),
            tolerance: tolerance)
        expectClose(gradients.bias!.scalars, upstream.sum(alongAxes: [0, 2, 3]).scalars, tolerance: tolerance)
        let unfused = conv2dBackwardFilter(upstream, input: input, filterShape: filter.shape, configuration: configuration)
        expectClose(unfused.scalars, gradients.filter.scalars, tolerance: tolerance)
    }

    @Test("an empty batch gives an empty output and zero gradients")
    func emptyBatch() {
        let input = Tensor<Double>(shape: [0, 1, 5, 7], scalars: [])
        let filter = Tensor<Double>.ones(shape: [5, 1, 3, 3])
        let output = conv2dAddingBias(input, filter: filter, bias: .ones(shape: [5]), configuration: .init(padding: 1))
        #expect(output.shape == [0, 5, 5, 7])
        let gradients = conv2dBackwardFilterAndBias(
            Tensor(shape: [0, 5, 5, 7], scalars: []), input: input, filterShape: [5, 1, 3, 3],
            configuration: .init(padding: 1), computesBiasGradient: true)
        #expect(gradients.filter.scalars == [Double](repeating: 0, count: 45))
        #expect(gradients.bias!.scalars == [0, 0, 0, 0, 0])
    }

    /// A NaN input element reaches exactly the outputs whose window covers it, and exactly the
    /// filter taps that ever read it, as in the naive loops.
    @Test(arguments: [
        FewChannelCase(batch: 2, channels: 2, outputChannels: 2, height: 5, width: 7, kernel: 3, padding: 1),
        FewChannelCase(batch: 2, channels: 1, outputChannels: 32, height: 28, width: 28, kernel: 3, padding: 1),
        FewChannelCase(batch: 1, channels: 1, outputChannels: 3, height: 6, width: 9, kernel: 3, padding: 0),
        FewChannelCase(batch: 1, channels: 2, outputChannels: 4, height: 6, width: 9, kernel: 5, padding: 1),
    ], FewChannelPath.allCases)
    func nanPropagation(_ t: FewChannelCase, path: FewChannelPath) {
        let g = t.geometry
        var random = SeededGenerator(seed: t.seed)
        let filter: [Double] = random.scalars(t.outputChannels * g.columnRows)
        let bias: [Double] = random.scalars(t.outputChannels)
        let gradient: [Double] = random.scalars(t.batch * t.outputChannels * g.outputHeight * g.outputWidth)
        // NaN at a corner, at the last column (outside every window of tap j = 0 without
        // padding) and inside.
        for (y, x) in [(0, 0), (g.height - 1, g.width - 1), (g.height / 2, g.width - 1), (2, 3)] {
            var input: [Double] = random.scalars(g.inputCount)
            input[((t.batch - 1) * g.channels + g.channels - 1) * g.height * g.width + y * g.width + x] = .nan
            let output = path.forward(g, outputChannels: t.outputChannels, input: input, filter: filter, bias: bias)
            let expected = naiveConvolution(g, input: input, filter: filter, bias: bias, outputChannels: t.outputChannels)
            #expect(output.map(\.isNaN) == expected.map(\.isNaN), "forward, NaN at \(y), \(x)")
            #expect(expected.contains { $0.isNaN } && expected.contains { !$0.isNaN })
            let gradients = path.filterGradient(g, outputChannels: t.outputChannels, outputGradient: gradient, input: input)
            let expectedFilter = naiveFilterGradient(
                g, outputGradient: gradient, input: input, outputChannels: t.outputChannels)
            #expect(gradients.filter.map(\.isNaN) == expectedFilter.map(\.isNaN), "filter, NaN at \(y), \(x)")
            #expect(!gradients.bias.contains { $0.isNaN })
        }
    }

    /// With more BLAS threads than cores the direct loops split the batch into parts; the
    /// result is the same as the naive loops'.
    @Test func moreThreadsThanCores() {
        BLASThreadsForTests.with(16) {
            // 8·4·9·128·128 ≈ 4.7M multiply-adds forward: 4 parts; 8 output channels for the filter
            // gradient: 8 parts.
            for (outputChannels, path) in [(4, FewChannelPath.direct), (8, .direct), (32, .gemm)] {
                let t = FewChannelCase(batch: 8, channels: 1, outputChannels: outputChannels, height: 128, width: 128, kernel: 3, padding: 1)
                let g = t.geometry
                #expect(FewChannelConvolutionKernels.parts(g, multiplyAdds: 8 * outputChannels * 9 * 128 * 128) > 1)
                var random = SeededGenerator(seed: t.seed)
                let input: [Double] = random.scalars(g.inputCount)
                let filter: [Double] = random.scalars(outputChannels * 9)
                let bias: [Double] = random.scalars(outputChannels)
                let gradient: [Double] = random.scalars(8 * outputChannels * 128 * 128)
                let output = path.forward(g, outputChannels: outputChannels, input: input, filter: filter, bias: bias)
                expectClose(
                    output, naiveConvolution(g, input: input, filter: filter, bias: bias, outputChannels: outputChannels),
                    tolerance: 1e-12)
                let gradients = path.filterGradient(g, outputChannels: outputChannels, outputGradient: gradient, input: input)
                expectClose(
                    gradients.filter,
                    naiveFilterGradient(g, outputGradient: gradient, input: input, outputChannels: outputChannels),
                    tolerance: 1e-12)
            }
        }
    }

    /// With more BLAS threads than cores, per-image GEMMs small enough for OpenBLAS's calling
    /// thread are shared among workers (the first layer 1→32 at 28×28): forward, filter and bias
    /// gradients as the naive loops, for batches that split evenly and unevenly.
    @Test(arguments: [8, 5, 19])
    func perImageGemmsSharedAmongWorkers(batch: Int) {
        BLASThreadsForTests.with(16) {
            let t = FewChannelCase(batch: batch, channels: 1, outputChannels: 32, height: 28, width: 28, kernel: 3, padding: 1)
            let g = t.geometry
            #expect(FewChannelConvolutionKernels.imageParts(batch: batch, multiplyAdds: 32 * 784 * 9) == min(16, batch))
            var random = SeededGenerator(seed: t.seed)
            let input: [Double] = random.scalars(g.inputCount)
            let filter: [Double] = random.scalars(32 * 9)
            let bias: [Double] = random.scalars(32)
            let gradient: [Double] = random.scalars(batch * 32 * 784)
            expectClose(
                FewChannelPath.gemm.forward(g, outputChannels: 32, input: input, filter: filter, bias: bias),
                naiveConvolution(g, input: input, filter: filter, bias: bias, outputChannels: 32), tolerance: 1e-12)
            let gradients = FewChannelPath.gemm.filterGradient(g, outputChannels: 32, outputGradient: gradient, input: input)
            expectClose(
                gradients.filter, naiveFilterGradient(g, outputGradient: gradient, input: input, outputChannels: 32),
                tolerance: 1e-12)
            var expectedBias = [Double](repeating: 0, count: 32)
            for (index, value) in gradient.enumerated() { expectedBias[index / 784 % 32] += value }
            expectClose(gradients.bias, expectedBias, tolerance: 1e-12, "bias")
        }
    }

    /// The dispatch takes the direct loops only where they were measured faster, at each level.
    @Test func dispatchFollowsTheMeasuredCrossover() {
        func geometry(channels: Int, stride: Int = 1, size: Int = 28) -> Convolution2DGeometry {
            Convolution2DGeometry(
                batch: 32, channels: channels, height: size, width: size, kernelHeight: 3, kernelWidth: 3,
                configuration: .init(stride: stride, padding: 1))
        }
        typealias Kernels = FewChannelConvolutionKernels
        #expect(Kernels.usesDirectForward(geometry(channels: 1), outputChannels: 4, level: .portable))
        #expect(!Kernels.usesDirectForward(geometry(channels: 1), outputChannels: 32, level: .portable))
        #expect(Kernels.usesDirectFilterGradient(geometry(channels: 1), outputChannels: 8, level: .portable))
        #expect(!Kernels.usesDirectFilterGradient(geometry(channels: 3), outputChannels: 32, level: .portable))
        // With AVX2 and FMA the C loops win up to O·C = 256, with AVX-512 up to 512.
        #expect(Kernels.usesDirectForward(geometry(channels: 4), outputChannels: 64, level: .avx2))
        #expect(!Kernels.usesDirectForward(geometry(channels: 3), outputChannels: 128, level: .avx2))
        #expect(Kernels.usesDirectFilterGradient(geometry(channels: 1), outputChannels: 32, level: .avx2))
        #expect(Kernels.usesDirectForward(geometry(channels: 3), outputChannels: 128, level: .avx512))
        #expect(!Kernels.usesDirectFilterGradient(geometry(channels: 4), outputChannels: 256, level: .avx512))
        for level in SIMDLevel.allCases {
            #expect(!Kernels.usesDirectForward(geometry(channels: 1, stride: 2), outputChannels: 1, level: level))
        }
        // The default level is the family's.
        #expect(
            Kernels.usesDirectForward(geometry(channels: 3), outputChannels: 32)
                == Kernels.usesDirectForward(
                    geometry(channels: 3), outputChannels: 32, level: KernelFamily.fewChannelConvolution.level))
        SIMDLevel.withLevel(.portable) {
            #expect(Kernels.handlesForward(geometry(channels: 3), outputChannels: 64))
            #expect(!Kernels.handlesForward(geometry(channels: 8), outputChannels: 1))
            // Small planes with many output channels stay on the batched GEMM.
            #expect(!Kernels.handlesForward(geometry(channels: 1, size: 8), outputChannels: 32))
            #expect(Kernels.handlesInputGradient(geometry(channels: 1), outputChannels: 32))
            #expect(!Kernels.handlesInputGradient(geometry(channels: 32, size: 14), outputChannels: 64))
        }
    }
}
