import Testing

@testable import Nabla

/// One layer configuration of the three-way parity table.
struct LayerCase: Sendable, CustomTestStringConvertible {
    let name: String
    let inputShape: [Int]
    /// Builds the layer in `Double` from a seeded generator.
    var checksSecondOrder = true
    var computesInputGradient = true
    let make: @Sendable (inout SeededGenerator) -> Layer<Double>

    var testDescription: String { name }

    func input(seed: UInt64 = 11) -> Tensor<Double> { randomTensor(inputShape, seed: seed) }
}

extension LayerCase {
    static let all: [LayerCase] = [
        .init(name: "Dense(5 → 3)", inputShape: [4, 5]) { Dense(inputSize: 5, outputSize: 3, using: &$0) },
        .init(name: "Dense(5 → 3, bias: false), [2, 3, 5] input", inputShape: [2, 3, 5]) {
            Dense(inputSize: 5, outputSize: 3, bias: false, initialization: .he, using: &$0)
        },
        .init(name: "Dense(4 → 6), no input gradient", inputShape: [3, 4], computesInputGradient: false) {
            Dense(inputSize: 4, outputSize: 6, initialization: .pyTorchDefault, using: &$0)
        },
    ]
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

    /// The autodiff path really records the layer's ops on its own tape.
    @Test(arguments: LayerCase.all)
    func autodiffPathRecordsTheLayer(_ c: LayerCase) {
        let layer = layer(c)
        layer.useAutodiff = true
        _ = layer.forward(c.input())
        #expect((layer.autodiffTape?.recordedOperationCount ?? 0) > 0)
        layer.useAutodiff = false
        _ = layer.forward(c.input())
        #expect(layer.autodiffTape == nil)
    }

    /// Gradients accumulate across backward passes on both paths, until cleared.
    @Test(arguments: LayerCase.all)
    func gradientsAccumulate(_ c: LayerCase) {
        let layer = layer(c)
        let input = c.input()
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            layer.zeroGradients()
            let upstream: Tensor<Double> = randomTensor(layer.forward(input).shape, seed: 5)
            layer.backward(upstream)
            let once = layer.parameters.map { $0.gradient! }
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
