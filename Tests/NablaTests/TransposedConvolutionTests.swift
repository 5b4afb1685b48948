import Testing

@testable import Nabla

extension LayerCase {
    /// Rows for ConvTranspose2D: a DCGAN upsampling block (4×4, stride 2, padding 1), odd
    /// strides, dilations and output paddings without bias, and a first layer.
    static let transposedConvolution: [LayerCase] = [
        .init(name: "ConvTranspose2D(3 → 2, 4×4, stride 2, padding 1)", inputShape: [2, 3, 3, 3]) {
            ConvTranspose2D(inputChannels: 3, outputChannels: 2, kernelSize: 4, stride: 2, padding: 1, using: &$0)
        } makeFloat: {
            ConvTranspose2D(inputChannels: 3, outputChannels: 2, kernelSize: 4, stride: 2, padding: 1, using: &$0)
        },
        .init(name: "ConvTranspose2D(2 → 3, 3×2, stride 2×1, padding 1×0, dilation 1×2, output padding 1×0, no bias)", inputShape: [2, 2, 3, 4]) {
            ConvTranspose2D(inputChannels: 2, outputChannels: 3, kernelHeight: 3, kernelWidth: 2, configuration: oddConvolution, outputPadding: (1, 0), bias: false, using: &$0)
        } makeFloat: {
            ConvTranspose2D(inputChannels: 2, outputChannels: 3, kernelHeight: 3, kernelWidth: 2, configuration: oddConvolution, outputPadding: (1, 0), bias: false, using: &$0)
        },
        .init(name: "ConvTranspose2D(2 → 2, 3×3), first layer", inputShape: [1, 2, 3, 3], computesInputGradient: false) {
            ConvTranspose2D(inputChannels: 2, outputChannels: 2, kernelSize: 3, using: &$0)
        } makeFloat: {
            ConvTranspose2D(inputChannels: 2, outputChannels: 2, kernelSize: 3, using: &$0)
        },
    ]
}

/// ConvTranspose2D against its definition, PyTorch's sizes, and its misuse messages.
@Suite struct TransposedConvolutionTests {
    struct Setting: Sendable, CustomTestStringConvertible {
        let kernel: (height: Int, width: Int)
        let configuration: Convolution2DConfiguration
        let outputPadding: (height: Int, width: Int)
        var testDescription: String {
            "\(kernel.height)×\(kernel.width), \(configuration), output padding \(outputPadding.height)×\(outputPadding.width)"
        }
    }

    static let settings: [Setting] = [
        Setting(kernel: (4, 4), configuration: .init(stride: 2, padding: 1), outputPadding: (0, 0)),
        Setting(kernel: (3, 3), configuration: .init(stride: 2, padding: 1), outputPadding: (1, 1)),
        Setting(kernel: (3, 2), configuration: LayerCase.oddConvolution, outputPadding: (1, 0)),
        Setting(kernel: (1, 1), configuration: .init(stride: 3), outputPadding: (2, 0)),
        Setting(kernel: (3, 3), configuration: .init(), outputPadding: (0, 0)),
    ]

    /// `y[n, o, i·s − p + a·d, j·s − p + b·d] += x[n, c, i, j] · W[c, o, a, b] (+ bias[o])`,
    /// cropped to the output: the definition, as a scatter loop.
    static func reference(
        _ x: Tensor<Double>, weight: Tensor<Double>, bias: Tensor<Double>, setting: Setting, outputShape: [Int]
    ) -> Tensor<Double> {
        let c = setting.configuration
        var y = Tensor<Double>.zeros(shape: outputShape)
        for n in 0..<x.shape[0] {
            for o in 0..<outputShape[1] {
                for row in 0..<outputShape[2] { for column in 0..<outputShape[3] { y[n, o, row, column] = bias[o] } }
                for channel in 0..<x.shape[1] {
                    for i in 0..<x.shape[2] {
                        for j in 0..<x.shape[3] {
                            for a in 0..<setting.kernel.height {
                                for b in 0..<setting.kernel.width {
                                    let row = i * c.strideHeight - c.paddingHeight + a * c.dilationHeight
                                    let column = j * c.strideWidth - c.paddingWidth + b * c.dilationWidth
                                    guard (0..<outputShape[2]).contains(row), (0..<outputShape[3]).contains(column) else { continue }
                                    y[n, o, row, column] += x[n, channel, i, j] * weight[channel, o, a, b]
                                }
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    @Test(arguments: settings)
    func forwardMatchesTheDefinitionOnBothPaths(_ setting: Setting) {
        var generator = SeededGenerator(seed: 3)
        let layer = ConvTranspose2D<Double>(
            inputChannels: 2, outputChannels: 3, kernelHeight: setting.kernel.height, kernelWidth: setting.kernel.width,
            configuration: setting.configuration, outputPadding: setting.outputPadding, using: &generator)
        let x: Tensor<Double> = randomTensor([2, 2, 3, 4], seed: 4)
        let c = setting.configuration
        // PyTorch's output size.
        let expectedShape = [
            2, 3,
            (3 - 1) * c.strideHeight - 2 * c.paddingHeight + c.dilationHeight * (setting.kernel.height - 1) + setting.outputPadding.height + 1,
            (4 - 1) * c.strideWidth - 2 * c.paddingWidth + c.dilationWidth * (setting.kernel.width - 1) + setting.outputPadding.width + 1,
        ]
        let expected = Self.reference(x, weight: layer.weight.value, bias: layer.bias!.value, setting: setting, outputShape: expectedShape)
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            let y = layer.forward(x)
            #expect(y.shape == expectedShape)
            expectClose(y, expected, rtol: 1e-12, atol: 1e-12)
        }
    }

    /// The weight gradient from the definition: ∂L/∂W[c, o, a, b] = Σ x[n, c, i, j]·g[n, o, row, column].
    @Test(arguments: settings)
    func backwardIsTheAdjointOfTheDefinition(_ setting: Setting) {
        var generator = SeededGenerator(seed: 5)
        let layer = ConvTranspose2D<Double>(
            inputChannels: 2, outputChannels: 3, kernelHeight: setting.kernel.height, kernelWidth: setting.kernel.width,
            configuration: setting.configuration, outputPadding: setting.outputPadding, using: &generator)
        let x: Tensor<Double> = randomTensor([2, 2, 3, 4], seed: 6)
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            layer.zeroGradients()
            let y = layer.forward(x)
            let g: Tensor<Double> = randomTensor(y.shape, seed: 7)
            let inputGradient = layer.backward(g)!
            // ⟨g, T(x)⟩ is linear in x and in W: each gradient is T applied to unit tensors.
            for index in [0, 5, 17, 47] {
                var unit = Tensor<Double>.zeros(shape: x.shape)
                unit.withUnsafeMutableBufferPointer { $0[index] = 1 }
                let zeroBias = Tensor<Double>.zeros(shape: [3])
                let response = Self.reference(unit, weight: layer.weight.value, bias: zeroBias, setting: setting, outputShape: y.shape)
                let expected = (response * g).sum().scalar
                #expect(abs(inputGradient.scalars[index] - expected) <= 1e-12 * max(1, abs(expected)))
            }
            for index in [0, 5, layer.weight.value.scalarCount - 1] {
                var unit = Tensor<Double>.zeros(shape: layer.weight.value.shape)
                unit.withUnsafeMutableBufferPointer { $0[index] = 1 }
                let response = Self.reference(x, weight: unit, bias: .zeros(shape: [3]), setting: setting, outputShape: y.shape)
                let expected = (response * g).sum().scalar
                #expect(abs(layer.weight.gradient!.scalars[index] - expected) <= 1e-12 * max(1, abs(expected)))
            }
            expectClose(layer.bias!.gradient!, g.sum(alongAxes: [0, 2, 3]), rtol: 1e-12, atol: 1e-12)
        }
    }

    /// A strided convolution maps `stride` sizes to one; `forward(_:outputSize:)` picks the one
    /// asked for, as PyTorch's `output_size`, and a strided Conv2D maps it back.
    @Test(arguments: [(7, 7), (8, 7), (7, 8), (8, 8)])
    func outputSizePicksTheOutputPadding(_ size: (Int, Int)) {
        var generator = SeededGenerator(seed: 1)
        let layer = ConvTranspose2D<Double>(inputChannels: 2, outputChannels: 1, kernelSize: 3, stride: 2, padding: 1, using: &generator)
        let x: Tensor<Double> = randomTensor([1, 2, 4, 4], seed: 2)
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            let y = layer.forward(x, outputSize: size)
            #expect(y.shape == [1, 1, size.0, size.1])
            let g: Tensor<Double> = randomTensor(y.shape, seed: 3)
            #expect(layer.backward(g)!.shape == x.shape)
        }
        #expect(layer.forward(x).shape == [1, 1, 7, 7])
        let conv = Conv2D<Double>(inputChannels: 1, outputChannels: 2, kernelSize: 3, stride: 2, padding: 1, using: &generator)
        #expect(conv.forward(.zeros(shape: [1, 1, size.0, size.1])).shape == x.shape)
    }

    @Test func describesItself() {
        var generator = SeededGenerator(seed: 0)
        let layer = ConvTranspose2D<Float>(inputChannels: 8, outputChannels: 4, kernelSize: 4, stride: 2, padding: 1, using: &generator)
        #expect(layer.description == "ConvTranspose2D(8 → 4, kernel 4×4, stride 2×2, padding 1×1, dilation 1×1, output padding 0×0, bias: true)")
        #expect(layer.weight.value.shape == [8, 4, 4, 4])
        #expect(layer.namedParameters.map(\.name) == ["weight", "bias"])
        // PyTorch's default: U(±1/√(out·kh·kw)) for the weight and the bias.
        let bound: Float = 1 / (4 * 4 * 4 as Float).squareRoot()
        #expect(layer.weight.value.scalars.allSatisfy { abs($0) <= bound })
        #expect(layer.weight.value.scalars.contains { abs($0) > bound / 2 })
        #expect(layer.bias!.value.scalars.allSatisfy { abs($0) <= bound })
    }

    /// NaN in, NaN out, on both paths: in its own window of the output and in the gradients.
    @Test(arguments: [false, true])
    func nanPropagates(autodiff: Bool) {
        var generator = SeededGenerator(seed: 0)
        let layer = ConvTranspose2D<Double>(inputChannels: 1, outputChannels: 1, kernelSize: 2, stride: 2, using: &generator)
        layer.useAutodiff = autodiff
        var x = Tensor<Double>.ones(shape: [1, 1, 2, 2])
        x[0, 0, 0, 0] = .nan
        let y = layer.forward(x)
        #expect(y[0, 0, 0, 0].isNaN && y[0, 0, 1, 1].isNaN && !y[0, 0, 2, 2].isNaN)
        layer.backward(.ones(shape: y.shape))
        #expect(layer.weight.gradient!.scalars.allSatisfy { $0.isNaN })
    }

    @Test(arguments: [false, true])
    func emptyBatch(autodiff: Bool) {
        var generator = SeededGenerator(seed: 0)
        let layer = ConvTranspose2D<Float>(inputChannels: 2, outputChannels: 3, kernelSize: 4, stride: 2, padding: 1, using: &generator)
        layer.useAutodiff = autodiff
        let y = layer.forward(.zeros(shape: [0, 2, 3, 3]))
        #expect(y.shape == [0, 3, 6, 6])
        #expect(layer.backward(.zeros(shape: y.shape))!.shape == [0, 2, 3, 3])
        #expect(layer.weight.gradient!.scalars.allSatisfy { $0 == 0 })
    }

    @Test func wrongChannelsNameTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = ConvTranspose2D<Float>(inputChannels: 3, outputChannels: 2, kernelSize: 4, stride: 2, using: &generator)
                .forward(.zeros(shape: [1, 2, 5, 5]))
        }
        #expect(standardError(result).contains(
            "ConvTranspose2D(3 → 2, kernel 4×4, stride 2×2, padding 0×0, dilation 1×1, output padding 0×0, bias: true): "
                + "input [1, 2, 5, 5]: expected [batch, 3, height, width]"))
    }

    @Test func outputPaddingAsLargeAsTheStrideIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = ConvTranspose2D<Float>(inputChannels: 3, outputChannels: 2, kernelSize: 3, stride: 2, outputPadding: 2, using: &generator)
        }
        #expect(standardError(result).contains(
            "ConvTranspose2D: channels 3 → 2, kernel 3×3, stride 2×2, padding 0×0, dilation 1×1, output padding 2×2: "
                + "each output padding must be at least 0 and smaller than its stride"))
    }

    @Test func unreachableOutputSizeIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = ConvTranspose2D<Float>(inputChannels: 2, outputChannels: 1, kernelSize: 3, stride: 2, padding: 1, using: &generator)
                .forward(.zeros(shape: [1, 2, 4, 4]), outputSize: (9, 7))
        }
        #expect(standardError(result).contains(
            "input [1, 2, 4, 4] with stride 2×2, padding 1×1, dilation 1×1: output size 9×7 is out of reach: "
                + "the sizes it can give are 7...8 × 7...8"))
    }

    @Test func paddingThatLeavesNoOutputIsAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = ConvTranspose2D<Float>(inputChannels: 1, outputChannels: 1, kernelSize: 1, padding: 1, using: &generator)
                .forward(.zeros(shape: [1, 1, 2, 2]))
        }
        #expect(standardError(result).contains("input [1, 1, 2, 2]: with stride 1×1, padding 1×1, dilation 1×1 the output would be 0×0"))
    }
}
