import Testing

@testable import Nabla
@testable import NablaCommand

@Suite struct NeuralNetworkTests {
    func cnn(_ generator: inout SeededGenerator, useAutodiff: Bool = false) throws -> NeuralNetwork<Double> {
        try NeuralNetwork(NeuralNetworkArchitecture(
            inputShape: [1, 8, 8],
            layers: [
                Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, padding: 1, initialization: .he, using: &generator),
                ReLU(), MaxPool2D(kernelSize: 2), Flatten(),
                Residual(Sequential(Dense(inputSize: 32, outputSize: 32, using: &generator), Tanh())),
                Dropout(probability: 0.25, seed: 3), Dense(inputSize: 32, outputSize: 3, using: &generator),
            ],
            useAutodiff: useAutodiff))
    }

    /// Every layer, nested ones too, on the path the network says; then a per-layer override.
    /// Which path a layer ran shows in whether it recorded a tape.
    @Test func useAutodiffReachesEveryLayer() throws {
        var generator = SeededGenerator(seed: 0)
        let network = try cnn(&generator, useAutodiff: true)
        func leaves(_ layer: Layer<Double>) -> [Layer<Double>] {
            layer.isContainer ? layer.sublayers.flatMap(leaves) : [layer]
        }
        let all = network.layers.flatMap(leaves)
        let batch: Tensor<Double> = randomTensor([2, 1, 8, 8], seed: 1)
        _ = network.forward(batch)
        #expect(all.filter { $0.autodiffTape == nil }.isEmpty)
        network.useAutodiff = false
        _ = network.forward(batch)
        #expect(all.filter { $0.autodiffTape != nil }.isEmpty)
        all[5].useAutodiff = true  // the Tanh inside the Residual
        _ = network.forward(batch)
        let recorded = all.indices.filter { all[$0].autodiffTape != nil }
        #expect(recorded == [5])
    }

    /// The manual and autodiff networks give the same output and gradients (Dropout's masks
    /// replayed).
    @Test func pathsAgree() throws {
        var first = SeededGenerator(seed: 0), second = SeededGenerator(seed: 0)
        let manual = try cnn(&first), autodiff = try cnn(&second, useAutodiff: true)
        let batch: Tensor<Double> = randomTensor([3, 1, 8, 8], seed: 1)
        let upstream: Tensor<Double> = randomTensor([3, 3], seed: 2)
        expectClose(manual.forward(batch), autodiff.forward(batch), rtol: 1e-12, atol: 1e-14)
        manual.backward(upstream)
        autodiff.backward(upstream)
        for (a, b) in zip(manual.parameters, autodiff.parameters) {
            expectClose(a.gradient!, b.gradient!, rtol: 1e-10, atol: 1e-14)
        }
        #expect(manual.namedParameters.map(\.name) == ["0.weight", "0.bias", "4.body.0.weight", "4.body.0.bias", "6.weight", "6.bias"])
    }

    /// predict: inference (Dropout off), no tape, same as a forward in inference.
    @Test func predictIsInference() throws {
        var generator = SeededGenerator(seed: 0)
        let network = try cnn(&generator, useAutodiff: true)
        let batch: Tensor<Double> = randomTensor([2, 1, 8, 8], seed: 1)
        let expected = LearningPhase.inference { network.forward(batch) }
        #expect(network.predict(batch) == expected)
        #expect(network.predict(batch) != network.forward(batch))  // training drops
    }

    /// The layers up to the first with parameters skip their input gradient.
    @Test func firstLayerComputesNoInputGradient() throws {
        let mlp: NeuralNetwork<Float> = ModelKind.mlp.network(seed: 0, useAutodiff: false)
        #expect(mlp.layers.map(\.computesInputGradient) == [false, false, true, true, true, true])
        var generator = SeededGenerator(seed: 0)
        let network = try cnn(&generator)
        #expect(network.layers[0].computesInputGradient == false)
        let flags = network.layers.dropFirst().map(\.computesInputGradient)
        #expect(flags == Array(repeating: true, count: flags.count))
    }

    @Test func shapeMismatchNamesBothLayers() throws {
        var generator = SeededGenerator(seed: 0)
        #expect(throws: ArchitectureError(
            layer: "3 Dense(100 → 10, bias: true)", source: "the output of 2 Flatten()", shape: [1, 128],
            reason: "expected [batch, 100] (any leading axes, then 100)")) {
            try NeuralNetwork<Float>(NeuralNetworkArchitecture(
                inputShape: [1, 8, 8],
                layers: [Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, padding: 1, using: &generator), ReLU(), Flatten(), Dense(inputSize: 100, outputSize: 10, using: &generator)]))
        }
        #expect(throws: ArchitectureError.self) {
            try NeuralNetwork<Float>(NeuralNetworkArchitecture(inputShape: [3, 8, 8], layers: [Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, using: &generator)]))
        }
    }

    @Test func summaryListsLayersShapesAndParameters() throws {
        var generator = SeededGenerator(seed: 0)
        let summary = try cnn(&generator).summary
        #expect(summary.contains("0 Conv2D(1 → 2, kernel 3×3, stride 1×1, padding 1×1, dilation 1×1, bias: true)  [N, 2, 8, 8]"))
        #expect(summary.contains("[N, 32]"))
        let count: Int = 2 * 9 + 2 + 32 * 32 + 32 + 32 * 3 + 3
        #expect(summary.hasSuffix("Input [N, 1, 8, 8]; \(count) parameters"))
    }
}
