import Foundation
import Testing

@testable import Nabla

/// State dicts written by PyTorch 2.13 (safetensors), loaded into the same layers here: the same
/// outputs as PyTorch's, in eval mode, on both backward paths' forwards. The file and the
/// script that wrote it: Tests/NablaTests/Fixtures, Tests/Fixtures/make_pytorch_fixture.py.
@Suite struct PyTorchFixtureTests {
    static let file: SafeTensors = {
        let url = Bundle.module.url(forResource: "pytorch-layers", withExtension: "safetensors", subdirectory: "Fixtures")!
        return try! SafeTensors(contentsOf: url.path)
    }()

    /// Loads `prefix` into `layer` and checks `output.<name>` for `input.<name>`.
    func check(_ layer: Layer<Float>, prefix: String, _ name: String, output: String? = nil) throws {
        try layer.loadState(from: Self.file, prefix: prefix)
        let input = Self.file.tensor("input.\(name)", as: Float.self)!
        let expected = Self.file.tensor("output.\(output ?? name)", as: Float.self)!
        for autodiff in [false, true] {
            layer.useAutodiff = autodiff
            let actual = LearningPhase.inference { layer.forward(input) }
            expectClose(actual, expected, rtol: 1e-4, atol: 1e-5)
        }
    }

    @Test func convolutionalNetworkWithBatchNorm() throws {
        var g = SeededGenerator(seed: 0)
        let cnn = Sequential<Float>(
            Conv2D(inputChannels: 1, outputChannels: 4, kernelSize: 3, padding: 1, using: &g), BatchNorm(featureCount: 4),
            ReLU(), MaxPool2D(kernelSize: 2),
            Conv2D(inputChannels: 4, outputChannels: 6, kernelSize: 3, padding: 1, using: &g), ReLU(),
            MaxPool2D(kernelSize: 2), Flatten(), Dense(inputSize: 24, outputSize: 5, using: &g), GELU(),
            Dense(inputSize: 5, outputSize: 3, using: &g))
        try check(cnn, prefix: "cnn.", "cnn")
        #expect((cnn.layers[1] as! BatchNorm<Float>).batchesTracked.value.scalar == 3)
    }

    @Test func lstm() throws {
        var g = SeededGenerator(seed: 0)
        try check(LSTM(inputSize: 3, hiddenSize: 4, using: &g), prefix: "lstm.", "lstm")
    }

    @Test func gruBatchFirst() throws {
        var g = SeededGenerator(seed: 0)
        try check(GRU(inputSize: 3, hiddenSize: 4, batchFirst: true, using: &g), prefix: "gru.", "gru")
    }

    @Test func multiHeadAttention() throws {
        var g = SeededGenerator(seed: 0)
        try check(MultiHeadAttention(embedDimension: 6, heads: 2, using: &g), prefix: "attention.", "attention")
        try check(
            MultiHeadAttention(embedDimension: 6, heads: 2, causal: true, using: &g), prefix: "attention.", "attention",
            output: "attention_causal")
    }

    @Test func layerNormDenseTanh() throws {
        var g = SeededGenerator(seed: 0)
        try check(Sequential<Float>(LayerNorm(normalizedShape: [6]), Dense(inputSize: 6, outputSize: 6, using: &g), Tanh()),
                  prefix: "norms.", "norms")
    }

    @Test func embedding() throws {
        var g = SeededGenerator(seed: 0)
        try check(Embedding(count: 10, dimension: 3, using: &g), prefix: "embedding.", "embedding")
    }
}
