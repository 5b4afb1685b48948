/// What the manual paths of the normalization layers share: the statistics of each group,
/// computed as the graph-mode normalization ops compute them.
enum Normalization {
    /// `x − mean` over `axes`, and `(variance + epsilon)^(−1/2)`, the mean and the biased
    /// variance, the last three kept at rank.
    ///
    /// One value of each group (the pivot) is subtracted before averaging, as in the graph-mode
    /// ops (whose values these are, bit for bit), so that a constant group has a deviation of
    /// exactly 0 in `Float`, whatever its magnitude.
    static func standardize<Scalar>(_ x: Tensor<Scalar>, axes: [Int], epsilon: Scalar) -> (
        deviation: Tensor<Scalar>, inverseDeviation: Tensor<Scalar>, mean: Tensor<Scalar>,
        variance: Tensor<Scalar>
    ) {
        let pivot = x.pivot(alongAxes: axes)
        let shifted = x - pivot
        let center = shifted.mean(alongAxes: axes, keepingDimensions: true)
        let deviation = shifted - center
        let variance = square(deviation).mean(alongAxes: axes, keepingDimensions: true)
        return (deviation, pow(variance + epsilon, -0.5), center + pivot, variance)
    }

    /// `x̂ = (x − mean)·σ⁻¹` over `axes`, and `σ⁻¹ = (variance + epsilon)^(−1/2)` kept at rank.
    static func normalize<Scalar>(_ x: Tensor<Scalar>, axes: [Int], epsilon: Scalar)
        -> (normalized: Tensor<Scalar>, inverseDeviation: Tensor<Scalar>)
    {
        let (deviation, inverse, _, _) = standardize(x, axes: axes, epsilon: epsilon)
        return (deviation * inverse, inverse)
    }
}
