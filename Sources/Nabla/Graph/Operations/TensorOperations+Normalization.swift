// Batch, layer and group normalization, composed of differentiable ops (mean, square,
// pow), so first and second derivatives flow through the batch statistics.

/// The running mean and variance of batch normalization, which training updates and inference
/// normalizes with. Both have the statistics shape (see
/// ``TensorOperations/batchNorm(_:scale:offset:axes:epsilon:running:momentum:isTraining:file:line:)``).
public struct BatchNormRunningStatistics<Scalar: TensorScalar>: Sendable {
    /// The running mean, initially 0.
    public var mean: Tensor<Scalar>
    /// The running unbiased variance, initially 1.
    public var variance: Tensor<Scalar>

    /// Statistics of the given shape, with mean 0 and variance 1, as PyTorch starts them.
    public init(shape: [Int]) {
        self.mean = .zeros(shape: shape)
        self.variance = .ones(shape: shape)
    }

    /// Statistics with the given values, which must have the same shape.
    public init(mean: Tensor<Scalar>, variance: Tensor<Scalar>) {
        Misuse.checkSameShape("BatchNormRunningStatistics", mean.shape, variance.shape)
        self.mean = mean
        self.variance = variance
    }
}

extension TensorOperations {
    /// Batch normalization with the batch's statistics: `(x − mean) · (variance + epsilon)^(−1/2)
    /// · scale + offset`, with the mean and biased variance taken over `axes` and differentiated
    /// through.
    ///
    /// Shapes: the *statistics shape* is `x`'s shape without `axes` (`[F]` for `x` `[N, F]` and
    /// `axes` `[0]`; `[C]` for NCHW `x` and `axes` `[0, 2, 3]`). `scale` and `offset` have either
    /// that shape or `x`'s shape with `axes` set to 1 (`[1, C, 1, 1]`).
    ///
    /// - Parameters:
    ///   - x: The input, any rank, with more than one value per feature over `axes`.
    ///   - scale: The per-feature scale γ.
    ///   - offset: The per-feature offset β.
    ///   - axes: The axes to normalize over.
    ///   - epsilon: Added to the variance for stability.
    /// - Returns: The shape of `x`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func batchNorm(
        _ x: Variable<Scalar>, scale: Variable<Scalar>, offset: Variable<Scalar>, axes: [Int],
        epsilon: Scalar = 1e-5, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let shapes = checkedBatchNormShapes(x, scale, offset, axes, epsilon)
        let (normalized, _, _) = standardize(x, axes: shapes.axes, epsilon: epsilon, training: true)
        return normalized * reshape(scale, to: shapes.kept) + reshape(offset, to: shapes.kept)
    }

    /// Batch normalization with running statistics, as PyTorch's `batch_norm`: in training it
    /// normalizes with the batch's statistics and updates `running` (with the unbiased variance);
    /// in inference it normalizes with `running`, treated as constants.
    ///
    /// The update is `running ← (1 − momentum) · running + momentum · batch statistic`.
    /// Shapes are as in ``batchNorm(_:scale:offset:axes:epsilon:file:line:)``; `running` has the
    /// statistics shape.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func batchNorm(
        _ x: Variable<Scalar>, scale: Variable<Scalar>, offset: Variable<Scalar>, axes: [Int],
        epsilon: Scalar = 1e-5, running: inout BatchNormRunningStatistics<Scalar>,
        momentum: Scalar = 0.1, isTraining: Bool,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let op = "batchNorm"
        let shapes = checkedBatchNormShapes(x, scale, offset, axes, epsilon)
        Misuse.check(
            running.mean.shape == shapes.compact, op,
            "x \(x.shape) normalized over axes \(shapes.axes) and running statistics "
                + "\(running.mean.shape): they must be \(shapes.compact)")
        Misuse.check(
            (0...1).contains(momentum), op, "momentum \(momentum) is not in [0, 1]")
        let gamma = reshape(scale, to: shapes.kept), beta = reshape(offset, to: shapes.kept)
        guard isTraining else {
            let inverse = Nabla.pow(running.variance.reshaped(to: shapes.kept) + epsilon, -0.5)
            let centered = x - constant(running.mean.reshaped(to: shapes.kept))
            return centered * constant(inverse) * gamma + beta
        }
        let (normalized, mean, variance) = standardize(
            x, axes: shapes.axes, epsilon: epsilon, training: true)
        let count = Scalar(shapes.axes.map { x.shape[$0] }.reduce(1, *))
        running.mean = running.mean * (1 - momentum) + mean.reshaped(to: shapes.compact) * momentum
        running.variance = running.variance * (1 - momentum)
            + variance.reshaped(to: shapes.compact) * (momentum * count / (count - 1))
        return normalized * gamma + beta
    }

    /// Checks batch normalization's arguments; returns the resolved axes, the statistics shape
    /// kept at rank (`[1, C, 1, 1]`) and compact (`[C]`).
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private static func checkedBatchNormShapes(
        _ x: Variable<Scalar>, _ scale: Variable<Scalar>, _ offset: Variable<Scalar>,
        _ axes: [Int], _ epsilon: Scalar
    ) -> (axes: [Int], kept: [Int], compact: [Int]) {
        let op = "batchNorm"
        let axes = Misuse.resolveAxes(op, axes, shape: x.shape)
        Misuse.check(!axes.isEmpty, op, "x \(x.shape): axes are empty")
        Misuse.check(epsilon >= 0, op, "epsilon \(epsilon) is negative")
        let kept = x.shape.indices.map { axes.contains($0) ? 1 : x.shape[$0] }
        let compact = x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] }
        for (name, shape) in [("scale", scale.shape), ("offset", offset.shape)] {
            Misuse.check(
                shape == kept || shape == compact, op,
                "x \(x.shape) normalized over axes \(axes) and \(name) \(shape): \(name) must be "
                    + "\(compact) or \(kept)")
        }
        return (axes, kept, compact)
    }

    /// Layer normalization over the trailing `axes`, with an elementwise scale and offset.
    ///
    /// - Parameters:
    ///   - x: The input, any rank.
    ///   - scale: γ, of the normalized shape: `x`'s trailing dimensions named by `axes`
    ///     (`[D]` for `x` `[N, T, D]` and `axes` `[-1]`).
    ///   - offset: β, of the normalized shape.
    ///   - axes: Trailing axes, ending with the last one (default `[-1]`).
    ///   - epsilon: Added to the variance for stability.
    /// - Returns: The shape of `x`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func layerNorm(
        _ x: Variable<Scalar>, scale: Variable<Scalar>, offset: Variable<Scalar>,
        axes: [Int] = [-1], epsilon: Scalar = 1e-5,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let op = "layerNorm"
        let axes = Misuse.resolveAxes(op, axes, shape: x.shape)
        let rank = x.shape.count
        Misuse.check(
            !axes.isEmpty && axes == Array((rank - axes.count)..<rank), op,
            "x \(x.shape) and axes \(axes): axes must be the trailing ones")
        Misuse.check(epsilon >= 0, op, "epsilon \(epsilon) is negative")
        let normalizedShape = Array(x.shape.suffix(axes.count))
        for (name, shape) in [("scale", scale.shape), ("offset", offset.shape)] {
            Misuse.check(
                shape == normalizedShape, op,
                "x \(x.shape) normalized over axes \(axes) and \(name) \(shape): \(name) must be "
                    + "\(normalizedShape)")
        }
        // The trailing axes as one row each: one contiguous reduction instead of one per axis.
        let size = normalizedShape.reduce(1, *)
        let rows = reshape(x, to: [x.value.scalarCount / Swift.max(size, 1), size], file: file, line: line)
        let normalized = reshape(standardize(rows, axes: [1], epsilon: epsilon).normalized, to: x.shape)
        return normalized * scale + offset
    }

    /// Group normalization: the channels of `[N, C, …]` input split into `groups`, each
    /// normalized over its channels and all spatial positions, then scaled and offset per channel.
    ///
    /// - Parameters:
    ///   - x: `[N, C, …]` (for example NCHW), `C` divisible by `groups`.
    ///   - groups: The number of channel groups (1 is layer norm over `[C, …]`, `C` is instance norm).
    ///   - scale: γ, `[C]`.
    ///   - offset: β, `[C]`.
    ///   - epsilon: Added to the variance for stability.
    /// - Returns: The shape of `x`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func groupNorm(
        _ x: Variable<Scalar>, groups: Int, scale: Variable<Scalar>, offset: Variable<Scalar>,
        epsilon: Scalar = 1e-5, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let op = "groupNorm"
        Misuse.check(x.shape.count >= 2, op, "x \(x.shape) must be [N, C, …]")
        let (count, channels) = (x.shape[0], x.shape[1])
        Misuse.check(
            groups > 0 && channels % groups == 0, op,
            "x \(x.shape): \(channels) channels do not split into \(groups) groups")
        Misuse.check(epsilon >= 0, op, "epsilon \(epsilon) is negative")
        for (name, shape) in [("scale", scale.shape), ("offset", offset.shape)] {
            Misuse.check(
                shape == [channels], op, "x \(x.shape) and \(name) \(shape): \(name) must be [\(channels)]")
        }
        let perGroup = x.shape.dropFirst().reduce(1, *) / groups
        Misuse.check(perGroup > 0, op, "x \(x.shape): groups are empty")
        let grouped = reshape(x, to: [count, groups, perGroup], file: file, line: line)
        let normalized = reshape(
            standardize(grouped, axes: [2], epsilon: epsilon).normalized, to: x.shape)
        let parameterShape = [1, channels] + [Int](repeating: 1, count: x.shape.count - 2)
        return normalized * reshape(scale, to: parameterShape) + reshape(offset, to: parameterShape)
    }

    /// `(x − mean) · (variance + epsilon)^(−1/2)` over `axes` (resolved), with the mean and biased
    /// variance kept at rank. In `training` (batch normalization), one value per feature is an
    /// error, as in PyTorch: it would normalize to 0.
    /// `(x − mean) · (variance + epsilon)^(−1/2)` over `axes`, with the biased variance: one op,
    /// whose backward rule is the closed form `dx = σ⁻¹ ⊙ (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))`,
    /// written in differentiable ops (with `x̂` this op's output), so it can be differentiated
    /// again.
    ///
    /// - Parameters:
    ///   - x: Any rank; `axes` must not be empty.
    ///   - axes: The axes each group spans (`[1]` for the rows of a matrix).
    /// - Returns: The shape of `x`; each group has mean 0 and (biased) variance `v/(v + ε)`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func standardize(
        _ x: Variable<Scalar>, alongAxes axes: [Int], epsilon: Scalar = 1e-5,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let resolved = Misuse.resolveAxes("standardize", axes, shape: x.shape)
        Misuse.check(
            !resolved.isEmpty && resolved.allSatisfy { x.shape[$0] > 0 }, "standardize",
            "x \(x.shape) and axes \(axes): the groups are empty")
        Misuse.check(epsilon >= 0, "standardize", "epsilon \(epsilon) is negative")
        return standardize(x, axes: resolved, epsilon: epsilon, file: file, line: line).normalized
    }

    /// ``standardize(_:alongAxes:epsilon:file:line:)`` over resolved `axes`, with the mean and
    /// biased variance kept at rank. In `training` (batch normalization), one value per feature
    /// is an error, as in PyTorch: it would normalize to 0.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private static func standardize(
        _ x: Variable<Scalar>, axes: [Int], epsilon: Scalar, training: Bool = false,
        file: StaticString = #fileID, line: UInt = #line
    ) -> (normalized: Variable<Scalar>, mean: Tensor<Scalar>, variance: Tensor<Scalar>) {
        let count = axes.map { x.shape[$0] }.reduce(1, *)
        Misuse.check(
            !training || count > 1, "batchNorm",
            "x \(x.shape) normalized over axes \(axes): training needs more than one value per "
                + "channel, got \(count)")
        // The statistics subtract a pivot first, so a constant group is exactly 0 in Float.
        let statistics = Normalization.standardize(x.value, axes: axes, epsilon: epsilon)
        let value = statistics.deviation * statistics.inverseDeviation
        let normalized = record("standardize", [x], value, file: file, line: line) { y, g, _ in
            // σ⁻¹ as a function of x when a tape records this backward (for higher orders);
            // otherwise the forward's value, the same numbers without the extra passes.
            let inverse = GraphContext.isRecordingBackward
                ? pow(shift(variance(x, alongAxes: axes, keepingDimensions: true), by: epsilon), -0.5)
                : constant(statistics.inverseDeviation)
            let gMean = mean(g, alongAxes: axes, keepingDimensions: true)
            let gyMean = mean(g * y, alongAxes: axes, keepingDimensions: true)
            return [(g - gMean - y * gyMean) * inverse]
        }
        return (normalized, statistics.mean, statistics.variance)
    }
}
