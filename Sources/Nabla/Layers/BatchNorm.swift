/// Batch normalization of the features of `[N, F]` input, or of the channels of `[N, C, …]`
/// input such as NCHW: the statistics are taken over every axis but axis 1, as in PyTorch's
/// `BatchNorm1d` and `BatchNorm2d`.
///
/// In training (see ``LearningPhase``) it normalizes with the batch's mean and biased variance,
/// and updates the running statistics: `running ← (1 − momentum) · running + momentum · batch`,
/// with the batch's unbiased variance, as PyTorch does. In inference it normalizes with the
/// running statistics. Then `y = x̂ · γ + β`. The parameters `weight` (γ, initially 1) and `bias`
/// (β, 0) and the buffers `running_mean` (0) and `running_var` (1) are all `[F]`, with
/// PyTorch's names.
public final class BatchNorm<Scalar: TensorScalar>: Layer<Scalar> {
    public let featureCount: Int
    public let momentum: Scalar
    public let epsilon: Scalar
    /// γ, `[featureCount]`.
    public let weight: Parameter<Scalar>
    /// β, `[featureCount]`.
    public let bias: Parameter<Scalar>
    /// `running_mean`, `[featureCount]`.
    public let runningMean: Buffer<Scalar>
    /// `running_var`, the running unbiased variance, `[featureCount]`.
    public let runningVariance: Buffer<Scalar>
    /// `num_batches_tracked`, `[]`: the training forwards so far, as PyTorch counts them (so its
    /// state dicts load, and ours load into it).
    public let batchesTracked: Buffer<Scalar>
    /// `x − μ` and `σ⁻¹` (the batch's or the running ones, kept at rank) of the last manual
    /// forward, in the input's view (see `checkedView`), whether it was training, and the input
    /// shape.
    private var cache: (
        deviation: Tensor<Scalar>, inverseDeviation: Tensor<Scalar>, training: Bool, shape: [Int]
    )?

    public init(featureCount: Int, momentum: Scalar = 0.1, epsilon: Scalar = 1e-5) {
        let op = "BatchNorm"
        Misuse.check(featureCount > 0, op, "featureCount \(featureCount) must be positive")
        Misuse.check((0...1).contains(momentum), op, "momentum \(momentum) is not in [0, 1]")
        Misuse.check(epsilon >= 0, op, "epsilon \(epsilon) is negative")
        self.featureCount = featureCount
        self.momentum = momentum
        self.epsilon = epsilon
        self.weight = Parameter(name: "weight", value: .ones(shape: [featureCount]))
        self.bias = Parameter(name: "bias", value: .zeros(shape: [featureCount]))
        self.runningMean = Buffer(name: "running_mean", value: .zeros(shape: [featureCount]))
        self.runningVariance = Buffer(name: "running_var", value: .ones(shape: [featureCount]))
        self.batchesTracked = Buffer(name: "num_batches_tracked", value: Tensor(0))
    }

    public override var parameters: [Parameter<Scalar>] { [weight, bias] }
    public override var buffers: [Buffer<Scalar>] { [runningMean, runningVariance, batchesTracked] }

    public override var description: String {
        "BatchNorm(\(featureCount), momentum: \(momentum), epsilon: \(epsilon))"
    }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count >= 2 && shape[1] == featureCount else {
            throw LayerShapeError(
                "expected [batch, \(featureCount)] or [batch, \(featureCount), …] "
                    + "(such as [batch, \(featureCount), height, width])")
        }
        return shape
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        let (view, axes) = checkedView(input.shape)
        var running = BatchNormRunningStatistics(
            mean: runningMean.value, variance: runningVariance.value)
        defer { (runningMean.value, runningVariance.value) = (running.mean, running.variance) }
        if LearningPhase.current == .training { batchesTracked.value += 1 }
        let output = TensorOperations.batchNorm(
            TensorOperations.reshape(input, to: view), scale: weight.variable, offset: bias.variable,
            axes: axes, epsilon: epsilon, running: &running, momentum: momentum,
            isTraining: LearningPhase.current == .training)
        return TensorOperations.reshape(output, to: input.shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let (view, axes) = checkedView(input.shape)
        let x = input.reshaped(to: view)
        let kept = view.indices.map { $0 == 1 ? featureCount : 1 }  // [1, F] or [1, F, 1]
        let training = LearningPhase.current == .training
        let deviation: Tensor<Scalar>, inverse: Tensor<Scalar>
        if training {
            let batch = Normalization.standardize(x, axes: axes, epsilon: epsilon)
            (deviation, inverse) = (batch.deviation, batch.inverseDeviation)
            let count = Scalar(x.scalarCount / featureCount)
            batchesTracked.value += 1
            runningMean.value = runningMean.value * (1 - momentum)
                + batch.mean.reshaped(to: [featureCount]) * momentum
            runningVariance.value = runningVariance.value * (1 - momentum)
                + batch.variance.reshaped(to: [featureCount]) * (momentum * count / (count - 1))
        } else {
            deviation = x - runningMean.value.reshaped(to: kept)
            inverse = pow(runningVariance.value.reshaped(to: kept) + epsilon, -0.5)
        }
        cache = (deviation, inverse, training, input.shape)
        // y = x̂·γ + β = (x − μ)·(γ/σ) + β
        let output = deviation * (weight.value.reshaped(to: kept) * inverse) + bias.value.reshaped(to: kept)
        return output.reshaped(to: input.shape)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let (deviation, inverse, training, shape) = cache else {
            Misuse.fail("\(self)", "backward called before forward")
        }
        LayerShapes.checkGradient(outputGradient.shape, output: shape, self)
        let g = outputGradient.reshaped(to: deviation.shape)
        let axes = deviation.rank == 2 ? [0] : [0, 2]
        // With x̂ = (x − μ)·σ⁻¹: dγ = Σ g·x̂ and dβ = Σ g, over every axis but 1.
        let gradientSum = g.sum(alongAxes: axes, keepingDimensions: true)
        let deviationProduct = (g * deviation).sum(alongAxes: axes, keepingDimensions: true)
        weight.accumulate((deviationProduct * inverse).reshaped(to: [featureCount]))
        bias.accumulate(gradientSum.reshaped(to: [featureCount]))
        guard computesInputGradient else { return nil }
        let scale = weight.value.reshaped(to: inverse.shape) * inverse  // γ/σ
        guard training else { return (g * scale).reshaped(to: shape) }  // constant running statistics
        // dx = (γ/σ)·(g − mean(g) − x̂·mean(g·x̂)), where x̂·mean(g·x̂) = (x − μ)·σ⁻²·mean(g·(x − μ)).
        let count = Scalar(g.scalarCount / featureCount)
        let inputGradient = g - gradientSum / count
            - deviation * (deviationProduct * (inverse * inverse) / count)
        return (inputGradient * scale).reshaped(to: shape)
    }

    /// Checks the input's shape, and in training that each feature has more than one value.
    /// Returns the shape both paths view the input as, `[N, F]` or `[N, C, positions]`
    /// (so that each statistic is one reduction over contiguous positions), and the axes the
    /// statistics are taken over in that view.
    private func checkedView(_ shape: [Int]) -> (view: [Int], axes: [Int]) {
        _ = checkedOutputShape(shape)
        let axes = [0] + Array(2..<shape.count)
        let count = axes.map { shape[$0] }.reduce(1, *)
        Misuse.check(
            LearningPhase.current == .inference || count > 1, "\(self)",
            "input \(shape) normalized over axes \(axes): training needs more than one value per "
                + "channel, got \(count)")
        return shape.count == 2
            ? (shape, [0]) : ([shape[0], featureCount, shape.dropFirst(2).reduce(1, *)], [0, 2])
    }
}
