import Testing

@testable import Nabla

/// One layer configuration of the three-way parity table.
struct LayerCase: Sendable, CustomTestStringConvertible {
    let name: String
    let inputShape: [Int]
    /// Builds the layer in `Double` from a seeded generator.
    var checksSecondOrder = true
    var computesInputGradient = true
    /// Where inputs are drawn from: away from kinks for ReLU-like layers.
    var domain = InputDomain.any
    let make: @Sendable (inout SeededGenerator) -> Layer<Double>
    /// The same layer in `Float`.
    let makeFloat: @Sendable (inout SeededGenerator) -> Layer<Float>

    var testDescription: String { name }

    func input(seed: UInt64 = 11) -> Tensor<Double> { domain.sample(inputShape, seed: seed) }
}

extension LayerCase {
    /// Every row of the table.
    static let all: [LayerCase] =
        feedForward + transposedConvolution + activations + normalization + rmsAndInstanceNorm + transformers + groupedConvolutions + resampling + poolingAndShape + containers + attention + recurrent + writingALayer

    static let feedForward: [LayerCase] = [
        .init(name: "Dense(5 → 3)", inputShape: [4, 5]) {
            Dense(inputSize: 5, outputSize: 3, using: &$0)
        } makeFloat: {
            Dense(inputSize: 5, outputSize: 3, using: &$0)
        },
        .init(name: "Dense(5 → 3, bias: false), [2, 3, 5] input", inputShape: [2, 3, 5]) {
            Dense(inputSize: 5, outputSize: 3, bias: false, initialization: .he, using: &$0)
        } makeFloat: {
            Dense(inputSize: 5, outputSize: 3, bias: false, initialization: .he, using: &$0)
        },
        .init(name: "Dense(4 → 6), no input gradient", inputShape: [3, 4], computesInputGradient: false) {
            Dense(inputSize: 4, outputSize: 6, initialization: .pyTorchDefault, using: &$0)
        } makeFloat: {
            Dense(inputSize: 4, outputSize: 6, initialization: .pyTorchDefault, using: &$0)
        },
        .init(name: "Conv2D(2 → 3, 3×3, padding 1)", inputShape: [2, 2, 5, 5]) {
            Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 1, initialization: .he, using: &$0)
        } makeFloat: {
            Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 1, initialization: .he, using: &$0)
        },
        .init(name: "Conv2D(2 → 2, 3×2, stride 2×1, padding 1×0, dilation 1×2, no bias)", inputShape: [2, 2, 5, 6]) {
            Conv2D(inputChannels: 2, outputChannels: 2, kernelHeight: 3, kernelWidth: 2, configuration: oddConvolution, bias: false, using: &$0)
        } makeFloat: {
            Conv2D(inputChannels: 2, outputChannels: 2, kernelHeight: 3, kernelWidth: 2, configuration: oddConvolution, bias: false, using: &$0)
        },
        .init(name: "Conv2D(1 → 4, 3×3), first layer", inputShape: [2, 1, 5, 5], computesInputGradient: false) {
            Conv2D(inputChannels: 1, outputChannels: 4, kernelSize: 3, using: &$0)
        } makeFloat: {
            Conv2D(inputChannels: 1, outputChannels: 4, kernelSize: 3, using: &$0)
        },
        .init(name: "ReLU", inputShape: [3, 4], domain: .awayFromZero) { _ in ReLU() } makeFloat: { _ in ReLU() },
        .init(name: "LeakyReLU(slope: 0.2)", inputShape: [3, 4], domain: .awayFromZero) { _ in
            LeakyReLU(slope: 0.2)
        } makeFloat: { _ in LeakyReLU(slope: 0.2) },
        .init(name: "GELU", inputShape: [3, 4]) { _ in GELU() } makeFloat: { _ in GELU() },
        .init(name: "GELU(approximate: .tanh)", inputShape: [3, 4]) { _ in GELU(approximate: .tanh) } makeFloat: { _ in GELU(approximate: .tanh) },
        .init(name: "Sigmoid", inputShape: [3, 4]) { _ in Sigmoid() } makeFloat: { _ in Sigmoid() },
        .init(name: "Tanh", inputShape: [2, 3, 2]) { _ in Tanh() } makeFloat: { _ in Tanh() },
        .init(name: "Softmax(axis: 1)", inputShape: [3, 4]) { _ in Softmax(axis: 1) } makeFloat: { _ in Softmax(axis: 1) },
        .init(name: "Softmax(axis: 0)", inputShape: [3, 4]) { _ in Softmax(axis: 0) } makeFloat: { _ in Softmax(axis: 0) },
        .init(name: "LogSoftmax(axis: -1)", inputShape: [2, 3, 4]) { _ in LogSoftmax() } makeFloat: { _ in LogSoftmax() },
    ]

    static let oddConvolution = Convolution2DConfiguration(
        strideHeight: 2, strideWidth: 1, paddingHeight: 1, paddingWidth: 0, dilationHeight: 1, dilationWidth: 2)
}

/// Manual vs autodiff vs central differences, and second order, for every layer.
@Suite struct LayerParityTests {
    func layer(_ c: LayerCase) -> Layer<Double> {
        var generator = SeededGenerator(seed: 1)
        let layer = c.make(&generator)
        // Biases start at zero; random ones test their gradients better.
        for parameter in layer.parameters where parameter.name == "bias" {
            parameter.value = randomTensor(parameter.value.shape, seed: 2)
        }
        layer.computesInputGradient = c.computesInputGradient
        return layer
    }

    @Test(arguments: LayerCase.all)
    func threeWayParity(_ c: LayerCase) {
        let report = LayerGradientCheck.check(layer(c), input: c.input(), checksSecondOrder: c.checksSecondOrder)
        #expect(report.manualVersusAutodiff <= 1e-10, "\(c.name): \(report)")
        #expect(report.manualVersusFiniteDifferences <= 1e-7, "\(c.name): \(report)")
        #expect(report.autodiffVersusFiniteDifferences <= 1e-7, "\(c.name): \(report)")
        if c.checksSecondOrder {
            #expect((report.secondOrder ?? .infinity) <= 1e-7, "\(c.name): \(report)")
        }
    }

    /// In `Float`, with the `Double` layer's parameters and random states (so Dropout drops the
    /// same elements): both paths agree with `Double` to float tolerances.
    @Test(arguments: LayerCase.all)
    func floatAgreesWithDouble(_ c: LayerCase) {
        let double = layer(c)
        var generator = SeededGenerator(seed: 1)
        let float = c.makeFloat(&generator)
        float.computesInputGradient = c.computesInputGradient
        for (f, d) in zip(float.parameters, double.parameters) { f.value = converted(d.value) }
        let randomStates = double.randomStates
        let input = c.input()
        func doubleForward() -> Tensor<Double> {
            double.randomStates = randomStates
            return double.forward(input)
        }
        let upstream: Tensor<Double> = randomTensor(doubleForward().shape, seed: 9)
        let expectedInputGradient = double.backward(upstream)
        let expected = double.parameters.map(\.gradient!)
        for autodiff in [false, true] {
            float.useAutodiff = autodiff
            float.zeroGradients()
            float.randomStates = randomStates
            let output = float.forward(converted(input))
            expectClose(output, converted(doubleForward()), rtol: 2e-3, atol: 2e-4)
            let inputGradient = float.backward(converted(upstream))
            #expect((inputGradient == nil) == (expectedInputGradient == nil))
            if let inputGradient, let expectedInputGradient {
                expectClose(inputGradient, converted(expectedInputGradient), rtol: 2e-3, atol: 2e-4)
            }
            for (parameter, gradient) in zip(float.parameters, expected) {
                expectClose(parameter.gradient!, converted(gradient), rtol: 2e-3, atol: 2e-4)
            }
        }
    }

    /// The autodiff path really records each layer's ops on its own tape (a container's layers
    /// on theirs), and the manual path records nothing.
    @Test(arguments: LayerCase.all)
    func autodiffPathRecordsTheLayer(_ c: LayerCase) {
        let layer = layer(c)
        func leaves(_ layer: Layer<Double>) -> [Layer<Double>] {
            layer.isContainer ? layer.sublayers.flatMap(leaves) : [layer]
        }
        layer.useAutodiff = true
        _ = layer.forward(c.input())
        #expect(leaves(layer).allSatisfy { ($0.autodiffTape?.recordedOperationCount ?? 0) > 0 })
        layer.useAutodiff = false
        _ = layer.forward(c.input())
        #expect(leaves(layer).allSatisfy { ($0.autodiffTape == nil) == $0.hasManualBackward })
    }

    /// The shape rule agrees with the forward.
    @Test(arguments: LayerCase.all)
    func outputShapeMatchesForward(_ c: LayerCase) throws {
        let layer = layer(c)
        #expect(try layer.outputShape(forInput: c.inputShape) == layer.forward(c.input()).shape)
    }

    /// Gradients accumulate across backward passes on both paths, until cleared. The second
    /// forward starts from the first one's random states, so that it draws the same masks.
    @Test(arguments: LayerCase.all)
    func gradientsAccumulate(_ c: LayerCase) {
        let layer = layer(c)
        let input = c.input()
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            layer.zeroGradients()
            let randomStates = layer.randomStates
            let upstream: Tensor<Double> = randomTensor(layer.forward(input).shape, seed: 5)
            layer.backward(upstream)
            let once = layer.parameters.map { $0.gradient! }
            layer.randomStates = randomStates
            _ = layer.forward(input)
            layer.backward(upstream)
            for (parameter, single) in zip(layer.parameters, once) {
                expectClose(parameter.gradient!, single * 2, rtol: 1e-12, atol: 1e-14)
            }
        }
    }
}

@Suite struct DenseTests {
    @Test func describesItself() {
        var generator = SeededGenerator(seed: 0)
        let dense = Dense<Float>(inputSize: 784, outputSize: 256, using: &generator)
        #expect(dense.description == "Dense(784 → 256, bias: true)")
    }

    /// y = x·Wᵀ + b, worked out by hand.
    @Test func forwardByHand() {
        var generator = SeededGenerator(seed: 0)
        let dense = Dense<Double>(inputSize: 2, outputSize: 2, using: &generator)
        dense.weight.value = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        dense.bias!.value = Tensor([10, 20])
        let y = dense.forward(Tensor(shape: [1, 2], scalars: [1, -1]))
        #expect(y.scalars == [9, 19])
    }

    @Test func zeroSizeIsAConfigurationError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = Dense<Float>(inputSize: 0, outputSize: 3, using: &generator)
        }
        #expect(standardError(result).contains("Dense: sizes 0 → 3 must be positive"))
    }

    @Test func wrongInputNamesTheLayerAndShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var generator = SeededGenerator(seed: 0)
            _ = Dense<Float>(inputSize: 4, outputSize: 3, using: &generator).forward(.zeros(shape: [2, 5]))
        }
        #expect(standardError(result).contains("Dense(4 → 3, bias: true): input [2, 5]: expected [batch, 4]"))
    }
}

/// A layer whose input needs no gradient skips that work on both paths.
@Suite struct InputGradientSwitchTests {
    func backwardMultiplyAdds(_ layer: Layer<Double>, _ input: Tensor<Double>, autodiff: Bool, inputGradient: Bool) -> Int {
        layer.useAutodiff = autodiff
        layer.computesInputGradient = inputGradient
        let upstream: Tensor<Double> = randomTensor(layer.forward(input).shape, seed: 3)
        let (result, count) = MultiplyAddCounter.counting { layer.backward(upstream) }
        #expect((result == nil) == !inputGradient)
        return count
    }

    @Test(arguments: [false, true])
    func denseSkipsHalfTheBackward(autodiff: Bool) {
        var generator = SeededGenerator(seed: 0)
        let dense = Dense<Double>(inputSize: 6, outputSize: 4, using: &generator)
        let input: Tensor<Double> = randomTensor([5, 6], seed: 1)
        let full = backwardMultiplyAdds(dense, input, autodiff: autodiff, inputGradient: true)
        let first = backwardMultiplyAdds(dense, input, autodiff: autodiff, inputGradient: false)
        #expect(full == 2 * 5 * 6 * 4 && first == 5 * 6 * 4)
    }

    @Test(arguments: [false, true])
    func conv2DSkipsTheInputGradient(autodiff: Bool) {
        var generator = SeededGenerator(seed: 0)
        let conv = Conv2D<Double>(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 1, using: &generator)
        let input: Tensor<Double> = randomTensor([2, 2, 4, 4], seed: 1)
        let full = backwardMultiplyAdds(conv, input, autodiff: autodiff, inputGradient: true)
        let first = backwardMultiplyAdds(conv, input, autodiff: autodiff, inputGradient: false)
        let perGEMM = 3 * (2 * 9) * (2 * 16)  // O × C·kh·kw × N·oh·ow
        #expect(full == 2 * perGEMM && first == perGEMM)
    }
}
