import Testing

@testable import Nabla

/// ConvTranspose2D's backward at sizes where the convolution it is the adjoint of runs by
/// im2col: one pass lowers the output gradient for the input gradient, the filter gradient and
/// the bias gradient (`conv2dAndBackwardFilter`). Checked against the naive loops, in Double,
/// on both paths; in Float, the same bits on 1 and 2 threads.
@Suite(.serialized) struct TransposedConvolutionBackwardTests {
    struct Setting: Sendable, CustomTestStringConvertible {
        let kernel: Int
        let configuration: Convolution2DConfiguration
        let outputPadding: Int
        let bias: Bool
        let computesInputGradient: Bool
        var testDescription: String {
            "\(kernel)×\(kernel), \(configuration), output padding \(outputPadding), bias \(bias), "
                + "input gradient \(computesInputGradient)"
        }
    }

    static let settings: [Setting] = [
        Setting(kernel: 4, configuration: .init(stride: 2, padding: 1), outputPadding: 0, bias: true, computesInputGradient: true),
        Setting(kernel: 3, configuration: .init(stride: 2, padding: 1), outputPadding: 1, bias: true, computesInputGradient: true),
        Setting(kernel: 4, configuration: .init(stride: 2, padding: 1), outputPadding: 0, bias: false, computesInputGradient: true),
        Setting(kernel: 4, configuration: .init(stride: 2, padding: 1), outputPadding: 0, bias: true, computesInputGradient: false),
    ]

    static func layer<S: TensorScalar>(
        _ setting: Setting, channels: (input: Int, output: Int), as: S.Type
    ) -> ConvTranspose2D<S> {
        var generator = SeededGenerator(seed: 11)
        let layer = ConvTranspose2D<S>(
            inputChannels: channels.input, outputChannels: channels.output, kernelHeight: setting.kernel,
            kernelWidth: setting.kernel, configuration: setting.configuration,
            outputPadding: (setting.outputPadding, setting.outputPadding), bias: setting.bias, using: &generator)
        layer.computesInputGradient = setting.computesInputGradient
        return layer
    }

    /// The geometry of the convolution the layer is the adjoint of: from its output to its input.
    static func adjointGeometry(_ setting: Setting, output: [Int]) -> Convolution2DGeometry {
        Convolution2DGeometry(
            batch: output[0], channels: output[1], height: output[2], width: output[3],
            kernelHeight: setting.kernel, kernelWidth: setting.kernel, configuration: setting.configuration)
    }

    /// `Σ g[n, c, y, x]` over `n`, `y` and `x`, in order.
    static func naiveChannelSums(_ g: Tensor<Double>) -> [Double] {
        (0..<g.shape[1]).map { c in
            var sum = 0.0
            for n in 0..<g.shape[0] {
                for y in 0..<g.shape[2] { for x in 0..<g.shape[3] { sum += g[n, c, y, x] } }
            }
            return sum
        }
    }

    @Test(arguments: settings)
    func backwardMatchesTheNaiveLoopsOnBothPaths(_ setting: Setting) {
        let layer = Self.layer(setting, channels: (6, 8), as: Double.self)
        let x: Tensor<Double> = randomTensor([3, 6, 5, 5], seed: 12)
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            layer.zeroGradients()
            let y = layer.forward(x)
            let g: Tensor<Double> = randomTensor(y.shape, seed: 13)
            let inputGradient = layer.backward(g)
            let geometry = Self.adjointGeometry(setting, output: y.shape)
            // The im2col path, which this suite is about.
            #expect(ConvolutionAlgorithm.select(.filterGradient, geometry: geometry, outputChannels: 6) == .im2col)
            if setting.computesInputGradient {
                let expected = naiveConvolution(
                    geometry, input: g.scalars, filter: layer.weight.value.scalars, bias: [Double](repeating: 0, count: 6),
                    outputChannels: 6)
                expectClose(inputGradient!.scalars, expected, tolerance: 1e-12, "input gradient, autodiff \(autodiff)")
            } else {
                #expect(inputGradient == nil)
            }
            let expectedWeight = naiveFilterGradient(geometry, outputGradient: x.scalars, input: g.scalars, outputChannels: 6)
            expectClose(layer.weight.gradient!.scalars, expectedWeight, tolerance: 1e-12, "weight gradient, autodiff \(autodiff)")
            if setting.bias {
                expectClose(layer.bias!.gradient!.scalars, Self.naiveChannelSums(g), tolerance: 1e-12, "bias gradient, autodiff \(autodiff)")
            }
        }
    }

    /// Large enough that the batch is cut into two spans and the products split over 2 threads:
    /// every gradient has the same bits on 1 and 2, and matches the naive loops in Double.
    @Test(arguments: [false, true])
    func sameBitsOnOneAndTwoThreads(autodiff: Bool) {
        let setting = Self.settings[0]
        let x: Tensor<Float> = randomTensor([8, 16, 8, 8], seed: 14)
        let g: Tensor<Float> = randomTensor([8, 16, 16, 16], seed: 15)
        let weight = Self.layer(setting, channels: (16, 16), as: Float.self).weight.value
        func gradients(threads: Int) -> [[Float]] {
            BLASThreadsForTests.with(threads) {
                let layer = Self.layer(setting, channels: (16, 16), as: Float.self)
                layer.useAutodiff = autodiff
                _ = layer.forward(x)
                let inputGradient = layer.backward(g)!
                return [inputGradient.scalars, layer.weight.gradient!.scalars, layer.bias!.gradient!.scalars]
            }
        }
        let (one, two) = (gradients(threads: 1), gradients(threads: 2))
        let geometry = Self.adjointGeometry(setting, output: g.shape)
        let (xs, gs) = (x.scalars.map(Double.init), g.scalars.map(Double.init))
        let expectedInput = naiveConvolution(
            geometry, input: gs, filter: weight.scalars.map(Double.init), bias: [Double](repeating: 0, count: 16),
            outputChannels: 16)
        let expectedWeight = naiveFilterGradient(geometry, outputGradient: xs, input: gs, outputChannels: 16)
        expectClose(one[0], expectedInput.map(Float.init), tolerance: 1e-5, "input gradient")
        expectClose(one[1], expectedWeight.map(Float.init), tolerance: 1e-5, "weight gradient")
        expectClose(one[2], Self.naiveChannelSums(converted(g, to: Double.self)).map(Float.init), tolerance: 1e-5, "bias gradient")
        // Compared apart from #expect, which would print every scalar on failure.
        let same = zip(one, two).map { $0 == $1 }
        #expect(same == [true, true, true], "input, weight and bias gradients")
    }

    /// A NaN in the output gradient reaches the bias gradient of its channel, the weight
    /// gradient of the taps that read it and the input elements whose windows hold it; nothing else.
    @Test(arguments: [false, true])
    func nanPropagatesToWhatReadsIt(autodiff: Bool) {
        let layer = Self.layer(Self.settings[0], channels: (6, 8), as: Double.self)
        layer.useAutodiff = autodiff
        let y = layer.forward(randomTensor([1, 6, 5, 5], seed: 16))
        var g: Tensor<Double> = randomTensor(y.shape, seed: 17)
        g[0, 2, 3, 4] = .nan
        let inputGradient = layer.backward(g)!
        // Output row 3 = 2·i − 1 + a and column 4 = 2·j − 1 + b: taps a ∈ {0, 2}, b ∈ {1, 3}.
        for channel in 0..<6 {
            for i in 0..<5 {
                for j in 0..<5 {
                    #expect(inputGradient[0, channel, i, j].isNaN == ([1, 2].contains(i) && [1, 2].contains(j)))
                }
            }
            for o in 0..<8 {
                for a in 0..<4 {
                    for b in 0..<4 {
                        let read = o == 2 && [0, 2].contains(a) && [1, 3].contains(b)
                        #expect(layer.weight.gradient![channel, o, a, b].isNaN == read)
                    }
                }
            }
        }
        #expect(layer.bias!.gradient!.scalars.map(\.isNaN) == (0..<8).map { $0 == 2 })
    }

    @Test(arguments: [false, true])
    func emptyBatch(autodiff: Bool) {
        let layer = Self.layer(Self.settings[0], channels: (6, 8), as: Float.self)
        layer.useAutodiff = autodiff
        let y = layer.forward(.zeros(shape: [0, 6, 5, 5]))
        #expect(y.shape == [0, 8, 10, 10])
        #expect(layer.backward(.zeros(shape: y.shape))!.shape == [0, 6, 5, 5])
        #expect(layer.weight.gradient!.scalars.allSatisfy { $0 == 0 })
        #expect(layer.bias!.gradient!.scalars == [Float](repeating: 0, count: 8))
    }
}
