/// Instance normalization, as PyTorch's `nn.InstanceNorm2d`: each image's channel is normalized
/// over its positions with its own mean and biased variance, then `y = x̂ · γ + β` per channel
/// when `affine`.
///
/// With `trackRunningStatistics`, training also updates `running ← (1 − momentum) · running +
/// momentum · s`, `s` the instances' means and unbiased variances averaged over the batch (as
/// PyTorch), and inference (``LearningPhase/inference(_:)``) normalizes with the running values.
///
/// Shapes: the input is `[N, C, H, W]` with `C = featureCount` and at least two positions in
/// training; `weight` (γ, 1) and `bias` (β, 0), and the buffers `running_mean` (0), `running_var`
/// (1) and `num_batches_tracked`, are PyTorch's names, present only when asked for.
public final class InstanceNorm2D<Scalar: TensorScalar>: Layer<Scalar> {
    public let featureCount: Int
    public let epsilon: Scalar
    public let momentum: Scalar
    /// γ, `[featureCount]`, when affine.
    public let weight: Parameter<Scalar>?
    /// β, `[featureCount]`, when affine.
    public let bias: Parameter<Scalar>?
    /// `running_mean`, `running_var` and `num_batches_tracked`, when tracked.
    public let runningMean: Buffer<Scalar>?
    public let runningVariance: Buffer<Scalar>?
    public let batchesTracked: Buffer<Scalar>?
    /// `x̂` and `σ⁻¹` as `[N, C, positions]` and `[N, C, 1]` (or `[1, C, 1]` from the running
    /// statistics) of the last manual forward, whether they were the instances', and its shape.
    private var cache: (normalized: Tensor<Scalar>, inverseDeviation: Tensor<Scalar>, instance: Bool, shape: [Int])?

    public init(
        featureCount: Int, epsilon: Scalar = 1e-5, momentum: Scalar = 0.1, affine: Bool = false,
        trackRunningStatistics: Bool = false
    ) {
        Misuse.check(featureCount > 0, "InstanceNorm2D", "featureCount \(featureCount) must be positive")
        Misuse.check(epsilon >= 0, "InstanceNorm2D", "epsilon \(epsilon) is negative")
        Misuse.check((0...1).contains(momentum), "InstanceNorm2D", "momentum \(momentum) is not in [0, 1]")
        self.featureCount = featureCount
        self.epsilon = epsilon
        self.momentum = momentum
        weight = affine ? Parameter(name: "weight", value: .ones(shape: [featureCount])) : nil
        bias = affine ? Parameter(name: "bias", value: .zeros(shape: [featureCount])) : nil
        runningMean = trackRunningStatistics ? Buffer(name: "running_mean", value: .zeros(shape: [featureCount])) : nil
        runningVariance = trackRunningStatistics ? Buffer(name: "running_var", value: .ones(shape: [featureCount])) : nil
        batchesTracked = trackRunningStatistics ? Buffer(name: "num_batches_tracked", value: Tensor(0)) : nil
    }

    public override var parameters: [Parameter<Scalar>] { [weight, bias].compactMap { $0 } }
    public override var buffers: [Buffer<Scalar>] { [runningMean, runningVariance, batchesTracked].compactMap { $0 } }

    public override var description: String {
        "InstanceNorm2D(\(featureCount), affine: \(weight != nil), trackRunningStatistics: \(runningMean != nil))"
    }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count == 4 && shape[1] == featureCount && shape[2] > 0 && shape[3] > 0 else {
            throw LayerShapeError("expected [batch, \(featureCount), height, width]")
        }
        return shape
    }

    /// Whether this forward normalizes with each instance's statistics (else the running ones).
    private var usesInstanceStatistics: Bool { LearningPhase.current == .training || runningMean == nil }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        typealias Ops = TensorOperations<Scalar>
        let view = checkedView(input.shape)
        let kept = [1, featureCount, 1]
        if usesInstanceStatistics, let weight, let bias {  // one op: each image's channel is a group
            updateRunningStatistics(input.value.reshaped(to: view))
            let shape = AffineNormalizationShape(
                outer: 1, groups: view[0] * view[1], inner: view[2], layout: .perGroup, parameterCount: featureCount)
            return Ops.affineNormalize(input, scale: weight.variable, offset: bias.variable, shape: shape, epsilon: epsilon)
                .output
        }
        let normalized: Variable<Scalar>
        if usesInstanceStatistics {
            updateRunningStatistics(input.value.reshaped(to: view))
            normalized = Ops.standardize(Ops.reshape(input, to: view), alongAxes: [2], epsilon: epsilon)
        } else {
            let inverse = pow(runningVariance!.value.reshaped(to: kept) + epsilon, -0.5)
            normalized = (Ops.reshape(input, to: view) - Ops.constant(runningMean!.value.reshaped(to: kept)))
                * Ops.constant(inverse)
        }
        let output = weight.map { weight in
            normalized * Ops.reshape(weight.variable, to: kept) + Ops.reshape(bias!.variable, to: kept)
        } ?? normalized
        return Ops.reshape(output, to: input.shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let x = input.reshaped(to: checkedView(input.shape))
        let kept = [1, featureCount, 1]
        let normalized: Tensor<Scalar>, inverse: Tensor<Scalar>
        if usesInstanceStatistics {
            updateRunningStatistics(x)
            (normalized, inverse) = Normalization.normalize(x, axes: [2], epsilon: epsilon)
        } else {
            inverse = pow(runningVariance!.value.reshaped(to: kept) + epsilon, -0.5)
            normalized = (x - runningMean!.value.reshaped(to: kept)) * inverse
        }
        cache = (normalized, inverse, usesInstanceStatistics, input.shape)
        guard let weight, let bias else { return normalized.reshaped(to: input.shape) }
        return (normalized * weight.value.reshaped(to: kept) + bias.value.reshaped(to: kept)).reshaped(to: input.shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let (normalized, inverse, instance, shape) = cache else {
            Misuse.fail("\(self)", "backward called before forward")
        }
        LayerShapes.checkGradient(outputGradient.shape, output: shape, self)
        let g = outputGradient.reshaped(to: normalized.shape)
        let kept = [1, featureCount, 1]
        if let weight, let bias {  // dγ = Σ g·x̂ and dβ = Σ g over the batch and the positions
            weight.accumulate((g * normalized).sum(alongAxes: [0, 2]))
            bias.accumulate(g.sum(alongAxes: [0, 2]))
        }
        guard computesInputGradient else { return nil }
        let gHat = weight.map { g * $0.value.reshaped(to: kept) } ?? g
        guard instance else { return (gHat * inverse).reshaped(to: shape) }  // constant running statistics
        return Normalization.inputGradient(gHat, normalized: normalized, inverseDeviation: inverse, axes: [2])
            .reshaped(to: shape)
    }

    /// `[N, C, positions]`, after checking the shape and, in training, that each instance has more
    /// than one position (its variance would be 0; PyTorch refuses it too).
    private func checkedView(_ shape: [Int]) -> [Int] {
        _ = checkedOutputShape(shape)
        let positions = shape[2] * shape[3]
        Misuse.check(
            LearningPhase.current != .training || positions > 1, "\(self)",
            "input \(shape): training needs more than one value per channel, got 1")
        return [shape[0], featureCount, positions]
    }

    /// In training with running statistics: the instances' means and unbiased variances, averaged
    /// over the batch, into the running values.
    private func updateRunningStatistics(_ x: Tensor<Scalar>) {
        guard LearningPhase.current == .training, let runningMean, let runningVariance, let batchesTracked,
              x.shape[0] > 0 else { return }
        let statistics = Normalization.standardize(x, axes: [2], epsilon: epsilon)
        let positions = Scalar(x.shape[2])
        batchesTracked.value += 1
        runningMean.value = runningMean.value * (1 - momentum)
            + statistics.mean.mean(alongAxes: [0, 2]) * momentum
        runningVariance.value = runningVariance.value * (1 - momentum)
            + statistics.variance.mean(alongAxes: [0, 2]) * (momentum * positions / (positions - 1))
    }
}
