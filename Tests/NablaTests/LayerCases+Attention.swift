import Testing

@testable import Nabla

extension LayerCase {
    /// Rows for MultiHeadAttention: one head and several, causal and not, and a first layer.
    static let attention: [LayerCase] = [
        .init(name: "MultiHeadAttention(E 4, 1 head)", inputShape: [2, 5, 4]) {
            attentionLayer(4, heads: 1, causal: false, &$0)
        } makeFloat: {
            attentionLayer(4, heads: 1, causal: false, &$0)
        },
        .init(name: "MultiHeadAttention(E 4, 1 head, causal)", inputShape: [2, 5, 4]) {
            attentionLayer(4, heads: 1, causal: true, &$0)
        } makeFloat: {
            attentionLayer(4, heads: 1, causal: true, &$0)
        },
        .init(name: "MultiHeadAttention(E 6, 2 heads)", inputShape: [3, 5, 6]) {
            attentionLayer(6, heads: 2, causal: false, &$0)
        } makeFloat: {
            attentionLayer(6, heads: 2, causal: false, &$0)
        },
        .init(name: "MultiHeadAttention(E 6, 3 heads, causal)", inputShape: [2, 6, 6]) {
            attentionLayer(6, heads: 3, causal: true, &$0)
        } makeFloat: {
            attentionLayer(6, heads: 3, causal: true, &$0)
        },
        .init(
            name: "MultiHeadAttention(E 4, 2 heads, causal), no input gradient", inputShape: [2, 5, 4],
            computesInputGradient: false
        ) {
            attentionLayer(4, heads: 2, causal: true, &$0)
        } makeFloat: {
            attentionLayer(4, heads: 2, causal: true, &$0)
        },
        .init(name: "PositionEmbedding(maxLength 6, dimension 4), [2, 5, 4] input", inputShape: [2, 5, 4]) {
            PositionEmbedding(maxLength: 6, dimension: 4, using: &$0)
        } makeFloat: {
            PositionEmbedding(maxLength: 6, dimension: 4, using: &$0)
        },
        .init(name: "PositionEmbedding(maxLength 3, dimension 2), [3, 2] input, no input gradient", inputShape: [3, 2], computesInputGradient: false) {
            PositionEmbedding(maxLength: 3, dimension: 2, using: &$0)
        } makeFloat: {
            PositionEmbedding(maxLength: 3, dimension: 2, using: &$0)
        },
    ]
}

/// A MultiHeadAttention layer for checks: its biases, which start at zero, are random (the parity
/// table randomizes only parameters named `bias`), and the projections are doubled so that the
/// attention is far from uniform.
func attentionLayer<Scalar: TensorScalar>(
    _ embedDimension: Int, heads: Int, causal: Bool, _ generator: inout SeededGenerator
) -> MultiHeadAttention<Scalar> {
    let layer = MultiHeadAttention<Scalar>(
        embedDimension: embedDimension, heads: heads, causal: causal, using: &generator)
    layer.inputProjectionWeight.value *= 2
    for bias in [layer.inputProjectionBias, layer.outputProjectionBias] {
        bias.value = .randomUniform(shape: bias.value.shape, in: -0.5..<0.5, using: &generator)
    }
    return layer
}
