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
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
    /// - Returns: The shape of `x`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func batchNorm(
        _ x: Variable<Scalar>, scale: Variable<Scalar>, offset: Variable<Scalar>, axes: [Int],
        epsilon: Scalar = 1e-5, file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let shapes = checkedBatchNormShapes(x, scale, offset, axes, epsilon)
        if let fused = fusedBatchNorm(x, scale: scale, offset: offset, axes: shapes.axes, epsilon: epsilon) {
            return fused.output
        }
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
        let output: Variable<Scalar>, mean: Tensor<Scalar>, variance: Tensor<Scalar>
        if let fused = fusedBatchNorm(x, scale: scale, offset: offset, axes: shapes.axes, epsilon: epsilon) {
            (output, mean, variance) = fused
        } else {
            let (normalized, batchMean, batchVariance) = standardize(
                x, axes: shapes.axes, epsilon: epsilon, training: true)
            (output, mean, variance) = (normalized * gamma + beta, batchMean, batchVariance)
        }
        let count = Scalar(shapes.axes.map { x.shape[$0] }.reduce(1, *))
        running.mean = running.mean * (1 - momentum) + mean.reshaped(to: shapes.compact) * momentum
        running.variance = running.variance * (1 - momentum)
            + variance.reshaped(to: shapes.compact) * (momentum * count / (count - 1))
        return output
    }

    /// Batch normalization in training as one ``affineNormalize(_:scale:offset:shape:epsilon:file:line:)``
    /// when the axes kept are adjacent and followed by positions (`[N, C, H, W]` over `[0, 2, 3]`),
    /// with the batch's mean and biased variance; `nil` otherwise. `[N, F]` over `[0]` stays
    /// unfused: its groups are columns, which the fused kernel would read one value at a time.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private static func fusedBatchNorm(
        _ x: Variable<Scalar>, scale: Variable<Scalar>, offset: Variable<Scalar>, axes: [Int], epsilon: Scalar
    ) -> (output: Variable<Scalar>, mean: Tensor<Scalar>, variance: Tensor<Scalar>)? {
        let kept = x.shape.indices.filter { !axes.contains($0) }
        guard let first = kept.first, let last = kept.last, last - first + 1 == kept.count,
            last + 1 < x.shape.count, x.shape[(last + 1)...].reduce(1, *) > 1
        else { return nil }
        let count = axes.map { x.shape[$0] }.reduce(1, *)
        Misuse.check(
            count > 1, "batchNorm",
            "x \(x.shape) normalized over axes \(axes): training needs more than one value per "
                + "channel, got \(count)")
        let shape = AffineNormalizationShape(
            outer: x.shape[..<first].reduce(1, *), groups: x.shape[first...last].reduce(1, *),
            inner: x.shape[(last + 1)...].reduce(1, *), layout: .perGroup)
        let (output, statistics) = affineNormalize(x, scale: scale, offset: offset, shape: shape, epsilon: epsilon)
        let column = { (index: Int) in statistics.slice(alongAxis: 1, index..<(index + 1)).reshaped(to: [shape.groups]) }
        return (output, column(0) + column(1), column(3))
    }

    /// `standardize(x) ⊙ γ + β` as one op: `x` viewed as `[outer, groups, inner]` (see
    /// ``AffineNormalizationShape``), each group normalized over its `outer · inner` values with
    /// its mean and biased variance, `scale` (γ) and `offset` (β) holding one value per group or
    /// per inner position (any shape of that many values). Forward and backward run two fused
    /// passes each; a backward that a tape records is the closed form of
    /// ``standardize(_:alongAxes:epsilon:file:line:)``'s, in differentiable ops.
    ///
    /// - Returns: The output, of `x`'s shape, and each group's statistics `[groups, 4]`: pivot,
    ///   mean less the pivot, `(variance + ε)^(−1/2)`, biased variance.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func affineNormalize(
        _ x: Variable<Scalar>, scale: Variable<Scalar>, offset: Variable<Scalar>, shape: AffineNormalizationShape,
        epsilon: Scalar, file: StaticString = #fileID, line: UInt = #line
    ) -> (output: Variable<Scalar>, statistics: Tensor<Scalar>) {
        let count = shape.parameterCount
        Misuse.check(
            x.value.scalarCount == shape.outer * shape.groups * shape.inner && scale.value.scalarCount == count
                && offset.value.scalarCount == count, "affineNormalize",
            "x \(x.shape) as [\(shape.outer), \(shape.groups), \(shape.inner)], scale \(scale.shape) and offset "
                + "\(offset.shape): scale and offset must hold \(count) values")
        let (gamma, beta) = (reshaped(scale, to: [count]), reshaped(offset, to: [count]))
        let (value, statistics) = affineNormalizationForward(
            x.value, scale: gamma.value, offset: beta.value, shape: shape, epsilon: epsilon)
        let output = record("affineNormalize", [x, gamma, beta], value, file: file, line: line) { g, needs in
            guard !GraphContext.isRecordingBackward else {
                return affineNormalizationGradients(x, gamma, g, shape: shape, epsilon: epsilon, needs: needs)
            }
            let gradients = affineNormalizationBackward(
                g.value, x: x.value, scale: gamma.value, statistics: statistics, shape: shape, needsInput: needs[0])
            return [gradients.input.map(constant), needs[1] ? constant(gradients.scale) : nil,
                    needs[2] ? constant(gradients.offset) : nil]
        }
        return (output, statistics)
    }

    /// The gradients of ``affineNormalize(_:scale:offset:shape:epsilon:file:line:)`` in
    /// differentiable ops, for a backward that a tape records: with `ĝ = g ⊙ γ`,
    /// `dx = σ⁻¹ ⊙ (ĝ − mean(ĝ) − x̂ ⊙ mean(ĝ ⊙ x̂))`, `dγ = Σ g ⊙ x̂`, `dβ = Σ g`.
    private static func affineNormalizationGradients(
        _ x: Variable<Scalar>, _ gamma: Variable<Scalar>, _ g: Variable<Scalar>, shape: AffineNormalizationShape,
        epsilon: Scalar, needs: [Bool]
    ) -> [Variable<Scalar>?] {
        // Groups that cycle through γ: [outer, cycles, parameters, inner], normalized over 0 and 3.
        let perGroup = shape.layout == .perGroup && shape.parameterCount > 0
        let view = perGroup
            ? [shape.outer, shape.groups / shape.parameterCount, shape.parameterCount, shape.inner]
            : [shape.outer, 1, shape.groups, shape.inner]
        let axes = [0, 3]
        let parameterShape = shape.layout == .perGroup ? [1, 1, shape.parameterCount, 1] : [1, 1, 1, shape.inner]
        let (x3, g3) = (reshape(x, to: view), reshape(g, to: view))
        let normalized = standardize(x3, axes: axes, epsilon: epsilon).normalized
        let gHat = g3 * reshape(gamma, to: parameterShape)
        var gradients: [Variable<Scalar>?] = [nil, nil, nil]
        if needs[0] {
            let inverse = pow(shift(variance(x3, alongAxes: axes, keepingDimensions: true), by: epsilon), -0.5)
            let centered = gHat - mean(gHat, alongAxes: axes, keepingDimensions: true)
                - normalized * mean(gHat * normalized, alongAxes: axes, keepingDimensions: true)
            gradients[0] = reshape(centered * inverse, to: x.shape)
        }
        if needs[1] { gradients[1] = reshape(reduce(g3 * normalized, toShape: parameterShape), to: gamma.shape) }
        if needs[2] { gradients[2] = reshape(reduce(g3, toShape: parameterShape), to: gamma.shape) }
        return gradients
    }

    /// `x` reshaped to `shape`, or `x` itself if it already has that shape.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    private static func reshaped(_ x: Variable<Scalar>, to shape: [Int]) -> Variable<Scalar> {
        x.shape == shape ? x : reshape(x, to: shape)
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
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
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
        let rows = x.value.scalarCount / Swift.max(size, 1)
        let shape = AffineNormalizationShape(outer: 1, groups: rows, inner: size, layout: .perInner)
        return affineNormalize(x, scale: scale, offset: offset, shape: shape, epsilon: epsilon, file: file, line: line).output
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
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
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

    /// `(x − mean) · (variance + epsilon)^(−1/2)` over `axes`, with the biased variance: one op,
    /// whose backward rule is the closed form `dx = σ⁻¹ ⊙ (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))`,
    /// written in differentiable ops (with `x̂` this op's output), so it can be differentiated
    /// again.
    ///
    /// - Parameters:
    ///   - x: Any rank; `axes` must not be empty.
    ///   - axes: The axes each group spans (`[1]` for the rows of a matrix).
    ///   - epsilon: Added to the variance for stability.
    ///   - file: The file that ``Nabla/withAnomalyDetection(_:)`` names as where this op was
    ///     created; the caller's by default.
    ///   - line: The line that goes with `file`; the caller's by default.
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
