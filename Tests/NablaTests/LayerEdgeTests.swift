import Testing

@testable import Nabla

/// Layers at the edges: NaN inputs and empty batches, on both paths.
@Suite struct LayerEdgeTests {
    static let activations: [@Sendable () -> Layer<Double>] = [
        { ReLU() }, { LeakyReLU(slope: 0.1) }, { Sigmoid() }, { Tanh() }, { GELU() },
        { GELU(approximate: .tanh) }, { Softmax() }, { LogSoftmax() },
    ]

    /// A NaN input element gives a NaN output and a NaN input gradient there, on both paths.
    @Test(arguments: activations.indices)
    func nanInputGivesNaNGradient(_ index: Int) {
        let layer = Self.activations[index]()
        let input = Tensor<Double>(shape: [2, 3], scalars: [0.5, .nan, -0.5, 1, 2, -3])
        let upstream = Tensor<Double>(shape: [2, 3], scalars: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            let output = layer.forward(input)
            let gradient = layer.backward(upstream)!
            #expect(output[0, 1].isNaN, "\(layer) autodiff \(autodiff)")
            #expect(gradient[0, 1].isNaN, "\(layer) autodiff \(autodiff)")
            #expect(!output[1, 0].isNaN && !gradient[1, 0].isNaN, "\(layer) autodiff \(autodiff)")
        }
    }

    /// An empty batch runs on both paths: empty outputs and input gradients, zero parameter
    /// gradients.
    @Test func emptyBatch() {
        var generator = SeededGenerator(seed: 0)
        let layers: [(Layer<Double>, [Int])] = [
            (Dense(inputSize: 3, outputSize: 2, using: &generator), [0, 3]),
            (Conv2D(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 1, using: &generator), [0, 2, 4, 4]),
            (Sequential(Dense(inputSize: 3, outputSize: 4, using: &generator), ReLU()), [0, 3]),
        ]
        for (layer, shape) in layers {
            for autodiff in [false, true] {
                layer.useAutodiff = autodiff
                layer.zeroGradients()
                let output = layer.forward(.zeros(shape: shape))
                #expect(output.scalarCount == 0 && output.shape[0] == 0)
                let gradient = layer.backward(.zeros(shape: output.shape))
                #expect(gradient?.shape == shape)
                #expect(layer.parameters.allSatisfy { $0.gradient == .zeros(shape: $0.value.shape) })
            }
        }
    }
}

@Suite struct ParameterTests {
    /// An optimizer step updates the value in place once no graph holds it; a graph that still
    /// does keeps the values it saw.
    @Test func updateIsInPlace() {
        let parameter = Parameter<Float>(name: "weight", value: .ones(shape: [4]))
        do { _ = parameter.variable }  // a graph used it, then was dropped
        let address = parameter.value.withUnsafeBufferPointer { $0.baseAddress }
        parameter.update { values in for i in values.indices { values[i] -= 0.5 } }
        #expect(parameter.value.withUnsafeBufferPointer { $0.baseAddress } == address)
        #expect(parameter.value.scalars == [0.5, 0.5, 0.5, 0.5])
        let held = parameter.variable
        parameter.update { values in for i in values.indices { values[i] -= 0.5 } }
        #expect(held.value.scalars == [0.5, 0.5, 0.5, 0.5] && parameter.value.scalars == [0, 0, 0, 0])
        #expect(parameter.variable !== held)
    }

    @Test func valueKeepsItsShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let parameter = Parameter<Float>(name: "weight", value: .ones(shape: [4]))
            parameter.value = .ones(shape: [5])
        }
        #expect(standardError(result).contains("Parameter weight: lhs [5] and rhs [4]: shapes differ"))
    }
}

/// Shape rules throw what a layer expects, without running it.
@Suite struct LayerShapeRuleTests {
    @Test func mismatchesThrow() {
        var generator = SeededGenerator(seed: 0)
        let cases: [(Layer<Float>, [Int], String)] = [
            (Dense(inputSize: 784, outputSize: 10, using: &generator), [32, 1, 28, 28], "expected [batch, 784]"),
            (Conv2D(inputChannels: 3, outputChannels: 8, kernelSize: 3, using: &generator), [2, 1, 28, 28], "expected [batch, 3, height, width]"),
            (Conv2D(inputChannels: 1, outputChannels: 8, kernelSize: 5, using: &generator), [2, 1, 3, 3], "the dilated kernel 5×5 does not fit the padded input 3×3"),
            (MaxPool2D(kernelSize: 4), [1, 1, 3, 3], "window is larger than the padded input 3×3"),
            (Sequential(Flatten(), Dense(inputSize: 100, outputSize: 2, using: &generator)), [2, 1, 28, 28],
             "(1) Dense(100 → 2, bias: true): input [2, 784]: expected [batch, 100]"),
        ]
        for (layer, shape, expected) in cases {
            #expect(throws: LayerShapeError.self) { try layer.outputShape(forInput: shape) }
            do { _ = try layer.outputShape(forInput: shape) } catch {
                #expect(error.reason.contains(expected), "\(error)")
            }
        }
    }
}
