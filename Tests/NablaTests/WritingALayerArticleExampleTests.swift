import Testing

import Nabla

// The Writing a layer article's example layer, as written (ArticleCodeBlockTests checks that
// every Swift block of the article is in this file, LayerCases+WritingALayer.swift or
// Conv2D.swift). Only Nabla's public API: a layer outside the library is written the same way.

/// PyTorch's `nn.PReLU(num_parameters: C)`: `x` where positive, `a[c]·x` elsewhere, with a
/// learned slope per channel (axis 1 of `[N, C, …]`).
final class PReLU<Scalar: TensorScalar>: Layer<Scalar> {
    let channelCount: Int
    /// `[channelCount]`: PyTorch's `weight`, 0.25 at first.
    let weight: Parameter<Scalar>
    private var cachedInput: Tensor<Scalar>?

    init(channelCount: Int, initialSlope: Scalar = 0.25) {
        precondition(channelCount > 0, "PReLU: channelCount \(channelCount) must be positive")
        self.channelCount = channelCount
        self.weight = Parameter(name: "weight", value: Tensor(repeating: initialSlope, shape: [channelCount]))
    }

    override var parameters: [Parameter<Scalar>] { [weight] }
    override var description: String { "PReLU(\(channelCount))" }

    /// The one shape rule, shared by both forwards and by a network's shape inference.
    override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count >= 2, shape[1] == channelCount else {
            throw LayerShapeError("expected [batch, \(channelCount), …]")
        }
        return shape
    }

    /// The slopes shaped to broadcast along axis 1: `[C, 1, 1]` for an NCHW input.
    private func slopeShape(forInput shape: [Int]) -> [Int] {
        [channelCount] + Array(repeating: 1, count: shape.count - 2)
    }

    // 1. The graph-mode forward, in TensorOperations: what the autodiff path differentiates
    //    (to any order, since every op's backward rule is differentiable too).
    override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        _ = checkedOutputShape(input.shape)
        let slope = TensorOperations.reshape(weight.variable, to: slopeShape(forInput: input.shape))
        return TensorOperations.relu(input) - slope * TensorOperations.relu(-input)
    }

    // 2. The manual forward, on tensors: caches what the backward needs.
    override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        cachedInput = input
        let slope = weight.value.reshaped(to: slopeShape(forInput: input.shape))
        return Tensor.broadcasting("PReLU", input, slope) { x, a in x > 0 ? x : a * x }
    }

    // 3. The manual backward: ∂L/∂a[c] = Σ g·min(x, 0) over every axis but 1, and
    //    ∂L/∂x = g where x > 0, a[c]·g elsewhere.
    override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let input = cachedInput else { fatalError("PReLU: backward called before forward") }
        let otherAxes = [0] + Array(2..<input.shape.count)
        weight.accumulate((outputGradient * input.map { min($0, 0) }).sum(alongAxes: otherAxes))
        guard computesInputGradient else { return nil }
        let slope = weight.value.reshaped(to: slopeShape(forInput: input.shape))
        return outputGradient * Tensor.broadcasting("PReLU", input, slope) { x, a in x > 0 ? 1 : a }
    }
}

@Suite struct WritingALayerArticleExampleTests {
    /// Both backward paths against central differences, and second order, through the
    /// library's check.
    @Test func preluPassesTheGradientCheck() {
        var generator = SeededGenerator(seed: 3)
        let prelu = PReLU<Double>(channelCount: 3)
        prelu.weight.value = .randomUniform(shape: [3], in: 0.1..<0.5, using: &generator)
        // Inputs at least 0.1 away from the kink at 0, where finite differences straddle it.
        let input = Tensor<Double>.randomUniform(shape: [2, 3, 4, 4], in: -1..<1, using: &generator)
            .map { $0 < 0 ? $0 - 0.1 : $0 + 0.1 }
        let report = LayerGradientCheck.check(prelu, input: input)
        print(report)

        #expect(report.hasTwoPaths)
        #expect(report.manualVersusAutodiff <= 1e-12, "\(report)")
        #expect(report.manualVersusFiniteDifferences <= 1e-8, "\(report)")
        #expect(report.autodiffVersusFiniteDifferences <= 1e-8, "\(report)")
        #expect((report.secondOrder ?? .infinity) <= 1e-8, "\(report)")
    }

    /// What the layer computes, by hand, and its shape rule inside a network.
    @Test func preluByHand() throws {
        let prelu = PReLU<Float>(channelCount: 2)
        prelu.weight.value = Tensor([0.5, 0.1])
        let x = Tensor<Float>(shape: [1, 2, 2], scalars: [-2, 3, -4, 5])
        #expect(prelu.forward(x).scalars == [-1, 3, -0.4, 5])
        let inputGradient = prelu.backward(.ones(shape: [1, 2, 2]))!
        #expect(inputGradient.scalars == [0.5, 1, 0.1, 1])
        #expect(prelu.weight.gradient!.scalars == [-2, -4])

        var generator = SeededGenerator(seed: 0)
        #expect(throws: ArchitectureError.self) {
            _ = try NeuralNetwork<Float>(NeuralNetworkArchitecture(
                inputShape: [4], layers: [Dense(inputSize: 4, outputSize: 3, using: &generator), PReLU(channelCount: 2)]))
        }
    }

    /// The gradient of a penalty on the input gradient reaches the slopes, through the
    /// graph-mode forward: PReLU works in a WGAN-GP critic.
    @Test func preluInAGradientPenalty() {
        var generator = SeededGenerator(seed: 4)
        let critic = Sequential<Double>(
            Dense(inputSize: 2, outputSize: 4, using: &generator), PReLU(channelCount: 4),
            Dense(inputSize: 4, outputSize: 1, using: &generator))
        let points = Tensor<Double>.randomNormal(shape: [5, 2], using: &generator)
        let (_, gradients) = GradientPenalty.accumulateGradients(of: critic, at: points, weight: 10)
        #expect(gradients[2].shape == [4] && gradients[2].scalars.contains { $0 != 0 })
    }
}
