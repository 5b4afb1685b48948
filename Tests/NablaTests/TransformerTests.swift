import Testing

@testable import Nabla

extension LayerCase {
    /// Transformer encoder blocks: post-norm batch-first with dropout, pre-norm sequence-first
    /// GELU with a causal mask, and a two-layer stack with a final norm and key padding.
    static let transformers: [LayerCase] = [
        .init(name: "TransformerEncoderLayer(4, 2 heads, ff 6, dropout 0.2, batchFirst)", inputShape: [2, 3, 4]) {
            TransformerEncoderLayer(dModel: 4, heads: 2, feedForwardSize: 6, dropout: 0.2, batchFirst: true, using: &$0)
        } makeFloat: {
            TransformerEncoderLayer(dModel: 4, heads: 2, feedForwardSize: 6, dropout: 0.2, batchFirst: true, using: &$0)
        },
        .init(name: "TransformerEncoderLayer(4, 1 head, GELU, normFirst, causal), [3, 2, 4]", inputShape: [3, 2, 4]) {
            TransformerEncoderLayer(
                dModel: 4, heads: 1, feedForwardSize: 5, dropout: 0.1, activation: .gelu, normFirst: true, causal: true, using: &$0)
        } makeFloat: {
            TransformerEncoderLayer(
                dModel: 4, heads: 1, feedForwardSize: 5, dropout: 0.1, activation: .gelu, normFirst: true, causal: true, using: &$0)
        },
        .init(name: "TransformerEncoder(2 layers, final norm, key padding), [2, 3, 4]", inputShape: [2, 3, 4]) {
            makeEncoder(&$0)
        } makeFloat: {
            makeEncoder(&$0)
        },
    ]

    static func makeEncoder<Scalar: TensorScalar>(_ generator: inout SeededGenerator) -> Layer<Scalar> {
        let encoder = TransformerEncoder<Scalar>(count: 2, finalNorm: true, using: &generator) {
            TransformerEncoderLayer(dModel: 4, heads: 2, feedForwardSize: 3, dropout: 0.3, batchFirst: true, using: &$0)
        }
        encoder.keyPaddingMask = Tensor(shape: [2, 3], scalars: [0, 0, 1, 0, 0, 0])
        return encoder
    }
}

@Suite struct TransformerTests {
    @Test func namesFollowPyTorch() {
        var g = SeededGenerator(seed: 0)
        let encoder = TransformerEncoder<Float>(count: 2, finalNorm: true, using: &g) {
            TransformerEncoderLayer(dModel: 8, heads: 2, using: &$0)
        }
        let block = ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                     "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                     "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]
        #expect(encoder.namedParameters.map(\.name)
            == block.map { "layers.0." + $0 } + block.map { "layers.1." + $0 } + ["norm.weight", "norm.bias"])
        #expect(encoder.layers[0].linear1.weight.value.shape == [2048, 8])
        // nn.Linear's initialization: the bias too is U(±1/√fanIn).
        let bias = encoder.layers[0].linear2.bias!.value.scalars
        #expect(bias.allSatisfy { abs($0) <= 1 / Float(2048).squareRoot() } && bias.contains { $0 != 0 })
    }

    /// In inference the dropouts are off, and a causal block's output at a position does not
    /// depend on later positions.
    @Test(arguments: [false, true])
    func causalOutputIgnoresTheFuture(normFirst: Bool) {
        var g = SeededGenerator(seed: 1)
        let layer = TransformerEncoderLayer<Double>(
            dModel: 4, heads: 2, feedForwardSize: 8, normFirst: normFirst, batchFirst: true, causal: true, using: &g)
        var x: Tensor<Double> = randomTensor([1, 5, 4], seed: 2)
        let before = LearningPhase.inference { layer.forward(x) }
        x[0, 4, 1] += 10
        let after = LearningPhase.inference { layer.forward(x) }
        expectClose(after.slice(alongAxis: 1, 0..<4), before.slice(alongAxis: 1, 0..<4), rtol: 1e-14, atol: 1e-14)
        #expect(!after.slice(alongAxis: 1, 4..<5).isClose(to: before.slice(alongAxis: 1, 4..<5)))
    }

    @Test func mismatchedLayersAreAnError() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var g = SeededGenerator(seed: 0)
            _ = TransformerEncoder<Float>([
                TransformerEncoderLayer(dModel: 4, heads: 2, using: &g), TransformerEncoderLayer(dModel: 6, heads: 2, using: &g),
            ])
        }
        #expect(standardError(result).contains("TransformerEncoder: layers of dModel [4, 6]"))
    }

    @Test func attentionMaskShapeIsChecked() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var g = SeededGenerator(seed: 0)
            let layer = TransformerEncoderLayer<Float>(dModel: 4, heads: 2, batchFirst: true, using: &g)
            layer.attentionMask = .zeros(shape: [3, 2])
            _ = layer.forward(.zeros(shape: [2, 3, 4]))
        }
        #expect(standardError(result).contains("attention mask [3, 2] for input [2, 3, 4]: expected [3, 3]"))
    }
}
