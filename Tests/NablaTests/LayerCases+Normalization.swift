import Testing

@testable import Nabla

extension LayerCase {
    /// Rows for BatchNorm, LayerNorm and GroupNorm. Every γ is drawn away from 1, so that a
    /// backward that forgets it fails; the table draws the biases.
    static let normalization: [LayerCase] = [
        .init(name: "BatchNorm(3), [6, 3] input", inputShape: [6, 3]) {
            randomWeight(BatchNorm(featureCount: 3), using: &$0)
        } makeFloat: { _ in BatchNorm(featureCount: 3) },
        .init(name: "BatchNorm(2, momentum: 0.3), NCHW [3, 2, 2, 3] input", inputShape: [3, 2, 2, 3]) {
            randomWeight(BatchNorm(featureCount: 2, momentum: 0.3), using: &$0)
        } makeFloat: { _ in BatchNorm(featureCount: 2, momentum: 0.3) },
        .init(name: "BatchNorm(4), [5, 4] input, no input gradient", inputShape: [5, 4], computesInputGradient: false) {
            randomWeight(BatchNorm(featureCount: 4), using: &$0)
        } makeFloat: { _ in BatchNorm(featureCount: 4) },
        .init(name: "LayerNorm([5]), [2, 3, 5] input", inputShape: [2, 3, 5]) {
            randomWeight(LayerNorm(normalizedShape: [5]), using: &$0)
        } makeFloat: { _ in LayerNorm(normalizedShape: [5]) },
        .init(name: "LayerNorm([3, 4]), [2, 3, 4] input", inputShape: [2, 3, 4]) {
            randomWeight(LayerNorm(normalizedShape: [3, 4]), using: &$0)
        } makeFloat: { _ in LayerNorm(normalizedShape: [3, 4]) },
        .init(name: "LayerNorm([6], elementwiseAffine: false)", inputShape: [3, 6]) { _ in
            LayerNorm(normalizedShape: [6], elementwiseAffine: false)
        } makeFloat: { _ in LayerNorm(normalizedShape: [6], elementwiseAffine: false) },
        .init(name: "LayerNorm([4]), no input gradient", inputShape: [3, 4], computesInputGradient: false) {
            randomWeight(LayerNorm(normalizedShape: [4]), using: &$0)
        } makeFloat: { _ in LayerNorm(normalizedShape: [4]) },
        .init(name: "GroupNorm(2 groups, 4 channels), NCHW [2, 4, 2, 3] input", inputShape: [2, 4, 2, 3]) {
            randomWeight(GroupNorm(groups: 2, channels: 4), using: &$0)
        } makeFloat: { _ in GroupNorm(groups: 2, channels: 4) },
        .init(name: "GroupNorm(3 groups, 3 channels), [2, 3, 4] input", inputShape: [2, 3, 4]) {
            randomWeight(GroupNorm(groups: 3, channels: 3), using: &$0)
        } makeFloat: { _ in GroupNorm(groups: 3, channels: 3) },
        .init(name: "GroupNorm(1 group, 6 channels), [3, 6] input", inputShape: [3, 6]) {
            randomWeight(GroupNorm(groups: 1, channels: 6), using: &$0)
        } makeFloat: { _ in GroupNorm(groups: 1, channels: 6) },
        .init(name: "GroupNorm(2 groups, 6 channels), no input gradient", inputShape: [2, 6, 3], computesInputGradient: false) {
            randomWeight(GroupNorm(groups: 2, channels: 6), using: &$0)
        } makeFloat: { _ in GroupNorm(groups: 2, channels: 6) },
        // Dense in front (mlpack #1923 showed a BatchNorm bug only this way), without bias: in
        // training BatchNorm takes it out with the mean, so its exact gradient is 0, which
        // relative differences cannot check (NormalizationLayerTests chains one by hand).
        .init(name: "Sequential(Dense(4 → 3, bias: false), BatchNorm(3))", inputShape: [6, 4]) {
            Sequential(
                Dense(inputSize: 4, outputSize: 3, bias: false, using: &$0),
                randomWeight(BatchNorm(featureCount: 3), using: &$0))
        } makeFloat: {
            Sequential(Dense(inputSize: 4, outputSize: 3, bias: false, using: &$0), BatchNorm(featureCount: 3))
        },
    ]

    /// `layer` with its `weight` (γ) drawn from [0.5, 1.5).
    static func randomWeight(_ layer: Layer<Double>, using generator: inout SeededGenerator) -> Layer<Double> {
        for parameter in layer.parameters where parameter.name == "weight" {
            parameter.value = .randomUniform(shape: parameter.value.shape, in: 0.5..<1.5, using: &generator)
        }
        return layer
    }
}
