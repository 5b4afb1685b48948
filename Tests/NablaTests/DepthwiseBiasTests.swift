import Testing

@testable import Nabla

/// The depthwise kernels add the bias in the forward and sum the bias gradient in the filter
/// gradient's pass, split over threads as the planes are: against the definition in Double, on
/// the C kernels (stride 1) and the portable loops (stride 2), with the same bits on 1 and 3 threads.
@Suite(.serialized) struct DepthwiseBiasTests {
    typealias Setting = GroupedConvolutionTests.Setting

    static let settings: [Setting] = [
        Setting(channels: 16, outputChannels: 32, groups: 16, kernel: (3, 3), configuration: .init(padding: 1)),
        Setting(channels: 16, outputChannels: 16, groups: 16, kernel: (3, 3), configuration: .init(stride: 2, padding: 1)),
    ]

    @Test(arguments: settings)
    func biasAndItsGradientMatchTheDefinitionOnAnyThreads(_ s: Setting) {
        let x: Tensor<Float> = randomTensor([16, 16, 28, 28], seed: 1)
        let w: Tensor<Float> = randomTensor([s.outputChannels, 1, 3, 3], seed: 2)
        let bias: Tensor<Float> = randomTensor([s.outputChannels], seed: 3)
        #expect(ConvolutionAlgorithm.select(
            .forwardAddingBias, geometry: Convolution2DGeometry(
                batch: 16, channels: 16, height: 28, width: 28, kernelHeight: 3, kernelWidth: 3, configuration: s.configuration),
            outputChannels: s.outputChannels, groups: s.groups) == .depthwise)
        func run(threads: Int) -> (y: Tensor<Float>, filter: Tensor<Float>, bias: Tensor<Float>) {
            BLASThreadsForTests.with(threads) {
                let y = conv2dAddingBias(x, filter: w, bias: bias, configuration: s.configuration, groups: s.groups)
                let g: Tensor<Float> = randomTensor(y.shape, seed: 4)
                let gradients = conv2dBackwardFilterAndBias(
                    g, input: x, filterShape: w.shape, configuration: s.configuration, groups: s.groups,
                    computesBiasGradient: true)
                return (y, gradients.filter, gradients.bias!)
            }
        }
        let (one, three) = (run(threads: 1), run(threads: 3))
        // Compared apart from #expect, which would print every scalar on failure.
        let same = [one.y.scalars == three.y.scalars, one.filter.scalars == three.filter.scalars, one.bias.scalars == three.bias.scalars]
        #expect(same == [true, true, true], "output, filter and bias gradients")

        let g: Tensor<Float> = randomTensor(one.y.shape, seed: 4)
        var (expectedY, expectedW) = ([Double](repeating: 0, count: one.y.scalarCount), [Double](repeating: 0, count: w.scalarCount))
        let (xs, ws, gs) = (x.scalars.map(Double.init), w.scalars.map(Double.init), g.scalars.map(Double.init))
        GroupedConvolutionTests.visitProducts(s, batch: 16, height: 28, width: 28) { yi, xi, wi in
            expectedY[yi] += xs[xi] * ws[wi]
            expectedW[wi] += gs[yi] * xs[xi]
        }
        let plane = one.y.shape[2] * one.y.shape[3]
        var expectedBias = [Double](repeating: 0, count: s.outputChannels)
        for (index, value) in gs.enumerated() {
            let o = index / plane % s.outputChannels
            expectedY[index] += Double(bias.scalars[o])
            expectedBias[o] += value
        }
        expectClose(one.y.scalars, expectedY.map(Float.init), tolerance: 1e-5)
        expectClose(one.filter.scalars, expectedW.map(Float.init), tolerance: 1e-4)
        expectClose(one.bias.scalars, expectedBias.map(Float.init), tolerance: 1e-4)
    }

    /// A NaN in the output gradient reaches its own channel's bias gradient only; a NaN bias
    /// its own channel's outputs only.
    @Test func nanStaysInItsChannel() {
        let s = Self.settings[0]
        let x: Tensor<Float> = randomTensor([2, 16, 8, 8], seed: 5)
        let w: Tensor<Float> = randomTensor([32, 1, 3, 3], seed: 6)
        var bias: Tensor<Float> = randomTensor([32], seed: 7)
        bias[3] = .nan
        let y = conv2dAddingBias(x, filter: w, bias: bias, configuration: s.configuration, groups: s.groups)
        for o in 0..<32 { #expect(y[1, o, 4, 4].isNaN == (o == 3)) }
        var g: Tensor<Float> = randomTensor(y.shape, seed: 8)
        g[1, 5, 2, 7] = .nan
        let gradients = conv2dBackwardFilterAndBias(
            g, input: x, filterShape: w.shape, configuration: s.configuration, groups: s.groups, computesBiasGradient: true)
        #expect(gradients.bias!.scalars.map(\.isNaN) == (0..<32).map { $0 == 5 })
    }
}
