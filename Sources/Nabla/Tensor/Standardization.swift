/// The statistics of normalization over groups, the one computation behind the normalization
/// layers' manual paths and the differentiable `standardize` op.
enum Normalization {
    /// `x − mean` over `axes`, and `(variance + epsilon)^(−1/2)`, the mean and the biased
    /// variance, the last three kept at rank.
    ///
    /// One value of each group (the pivot) is subtracted before averaging, so that a constant
    /// group has a deviation of exactly 0 in `Float`, whatever its magnitude.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
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
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func normalize<Scalar>(_ x: Tensor<Scalar>, axes: [Int], epsilon: Scalar)
        -> (normalized: Tensor<Scalar>, inverseDeviation: Tensor<Scalar>)
    {
        let (deviation, inverse, _, _) = standardize(x, axes: axes, epsilon: epsilon)
        return (deviation * inverse, inverse)
    }

    /// ∂L/∂x of `x̂ = (x − mean)·σ⁻¹` over `axes`, from `gHat = ∂L/∂x̂`:
    /// `σ⁻¹·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))`, with `normalized` (x̂) and `inverseDeviation` (σ⁻¹, kept
    /// at rank) from ``normalize(_:axes:epsilon:)``.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func inputGradient<Scalar>(
        _ gHat: Tensor<Scalar>, normalized: Tensor<Scalar>, inverseDeviation: Tensor<Scalar>, axes: [Int]
    ) -> Tensor<Scalar> {
        let centered = gHat - gHat.mean(alongAxes: axes, keepingDimensions: true)
            - normalized * (gHat * normalized).mean(alongAxes: axes, keepingDimensions: true)
        return centered * inverseDeviation
    }
}
