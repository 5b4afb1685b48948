import Testing

@testable import Nabla

/// `Initializer.resetToPyTorchDefaults` over a network through `apply`: each layer type's
/// distribution, by PyTorch's `reset_parameters()`.
@Suite struct PyTorchDefaultsTests {
    @Test func eachLayerTypeGetsPyTorchsInitialization() {
        var g = SeededGenerator(seed: 7)
        let dense = Dense<Double>(inputSize: 400, outputSize: 300, using: &g)
        let conv = Conv2D<Double>(inputChannels: 16, outputChannels: 32, kernelSize: 3, using: &g)
        let norm = LayerNorm<Double>(normalizedShape: [300])
        let embedding = Embedding<Double>(count: 200, dimension: 50, paddingIndex: 3, using: &g)
        let lstm = LSTM<Double>(inputSize: 300, hiddenSize: 64, using: &g)
        let attention = MultiHeadAttention<Double>(embedDimension: 64, heads: 4, using: &g)
        norm.weight!.value = .zeros(shape: [300])
        let network = Sequential<Double>(Sequential(dense, norm), conv, embedding, lstm, attention)
        network.apply { Initializer.resetToPyTorchDefaults($0, using: &g) }

        func bound(_ values: [Double]) -> Double { values.map(abs).max()! }
        // U(±1/√fanIn): fan-in 400 for the Dense weight and bias, 16·9 for the convolution.
        #expect(bound(dense.weight.value.scalars) <= 1 / 20 && bound(dense.weight.value.scalars) > 0.99 / 20)
        #expect(bound(dense.bias!.value.scalars) <= 1 / 20 && bound(dense.bias!.value.scalars) > 0.9 / 20)
        #expect(bound(conv.weight.value.scalars) <= 1 / 12 && bound(conv.bias!.value.scalars) <= 1 / 12)
        #expect(norm.weight!.value.scalars.allSatisfy { $0 == 1 } && norm.bias!.value.scalars.allSatisfy { $0 == 0 })
        let rows = embedding.weight.value.scalars
        let mean = rows.reduce(0, +) / Double(rows.count)
        let deviation = (rows.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rows.count - 50)).squareRoot()
        #expect(abs(deviation - 1) < 0.05)
        #expect((0..<50).allSatisfy { embedding.weight.value[3, $0] == 0 })
        // Every LSTM parameter in U(±1/8): no orthogonal block is left.
        #expect(lstm.parameters.allSatisfy { bound($0.value.scalars) <= 1 / 8 })
        #expect(lstm.weightHH.value.scalars.contains { abs($0) > 0.1 })
        #expect(attention.inputProjectionBias.value.scalars.allSatisfy { $0 == 0 })
        #expect(bound(attention.inputProjectionWeight.value.scalars) <= (6.0 / (64 + 192)).squareRoot())
    }
}
