// Batch, layer and group normalization, composed of differentiable ops (mean, square,
// pow), so first and second derivatives flow through the batch statistics.

/// Which statistics ``TensorOperations/batchNorm(_:scale:offset:axes:epsilon:statistics:file:line:)``
/// normalizes with.
public enum BatchNormStatistics<Scalar: TensorScalar>: Sendable {
    /// Training: the mean and variance of the batch, differentiated through.
    case batch
    /// Inference: given running statistics, treated as constants. Each has the statistics shape
    /// (see ``TensorOperations/batchNorm(_:scale:offset:axes:epsilon:statistics:file:line:)``).
    case running(mean: Tensor<Scalar>, variance: Tensor<Scalar>)
}

/// The result of ``TensorOperations/batchNorm(_:scale:offset:axes:epsilon:statistics:file:line:)``.
public struct BatchNormResult<Scalar: TensorScalar>: Sendable {
    /// The normalized, scaled and offset input, of the input's shape.
    public var output: Variable<Scalar>
    /// The mean used, in the statistics shape: the batch mean in training, for a layer to
    /// update its running mean; the running mean in inference.
    public var mean: Tensor<Scalar>
    /// The variance used, in the statistics shape: the biased (population) batch variance in
    /// training (multiply by `n / (n − 1)` for the unbiased one); the running one in inference.
    public var variance: Tensor<Scalar>
}

extension TensorOperations {
    /// Batch normalization: `(x − mean) · (variance + epsilon)^(−1/2) · scale + offset`, with the
    /// statistics taken over `axes`.
    ///
    /// Shapes: the *statistics shape* is `x`'s shape without `axes` (`[F]` for `x` `[N, F]` and
    /// `axes` `[0]`; `[C]` for NCHW `x` and `axes` `[0, 2, 3]`). `scale`, `offset` and running
    /// statistics have either that shape or `x`'s shape with `axes` set to 1 (`[1, C, 1, 1]`).
    ///
    /// - Parameters:
    ///   - x: The input, any rank.
    ///   - scale: The per-feature scale γ.
    ///   - offset: The per-feature offset β.
    ///   - axes: The axes to normalize over; none may be empty.
    ///   - epsilon: Added to the variance for stability.
    ///   - statistics: `.batch` in training, `.running(mean:variance:)` in inference.
    /// - Returns: The output (shape of `x`) and the mean and variance used (statistics shape).
    public static func batchNorm(
        _ x: Variable<Scalar>, scale: Variable<Scalar>, offset: Variable<Scalar>, axes: [Int],
        epsilon: Scalar = 1e-5, statistics: BatchNormStatistics<Scalar> = .batch,
        file: StaticString = #fileID, line: UInt = #line
    ) -> BatchNormResult<Scalar> {
        let op = "batchNorm"
        let axes = Misuse.resolveAxes(op, axes, shape: x.shape)
        Misuse.check(!axes.isEmpty, op, "x \(x.shape): axes are empty")
        Misuse.check(epsilon >= 0, op, "epsilon \(epsilon) is negative")
        let kept = x.shape.indices.map { axes.contains($0) ? 1 : x.shape[$0] }
        let compact = x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] }
        func parameter(_ name: String, _ shape: [Int]) {
            Misuse.check(
                shape == kept || shape == compact, op,
                "x \(x.shape) normalized over axes \(axes) and \(name) \(shape): \(name) must be "
                    + "\(compact) or \(kept)")
        }
        parameter("scale", scale.shape)
        parameter("offset", offset.shape)
        let gamma = reshape(scale, to: kept), beta = reshape(offset, to: kept)

        switch statistics {
        case .batch:
            let (normalized, mean, variance) = standardize(x, axes: axes, epsilon: epsilon)
            return BatchNormResult(
                output: normalized * gamma + beta, mean: mean.value.reshaped(to: compact),
                variance: variance.value.reshaped(to: compact))
        case .running(let mean, let variance):
            parameter("running mean", mean.shape)
            parameter("running variance", variance.shape)
            let inverse = Nabla.pow(variance.reshaped(to: kept) + epsilon, -0.5)
            let normalized = (x - constant(mean.reshaped(to: kept))) * constant(inverse)
            return BatchNormResult(
                output: normalized * gamma + beta, mean: mean.reshaped(to: compact),
                variance: variance.reshaped(to: compact))
        }
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
        return standardize(x, axes: axes, epsilon: epsilon).normalized * scale + offset
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
    /// variance kept at rank.
    private static func standardize(_ x: Variable<Scalar>, axes: [Int], epsilon: Scalar)
        -> (normalized: Variable<Scalar>, mean: Variable<Scalar>, variance: Variable<Scalar>)
    {
        let center = mean(x, alongAxes: axes, keepingDimensions: true)
        let deviation = x - center
        let spread = mean(square(deviation), alongAxes: axes, keepingDimensions: true)
        return (deviation * pow(shift(spread, by: epsilon), -0.5), center, spread)
    }
}
