/// The mean and covariance of a sample of feature vectors, in `Double`: the Gaussian that the
/// Fréchet distance (the "FID" of Heusel et al. 2017, when the features are Inception's)
/// compares.
///
/// ```swift
/// let real = try GaussianStatistics(features: classifierFeatures(testImages))   // [n, d]
/// let fake = try GaussianStatistics(features: classifierFeatures(samples))
/// let distance = try real.frechetDistance(to: fake)
/// ```
public struct GaussianStatistics: Sendable {
    /// The mean, `[d]`.
    public let mean: Tensor<Double>
    /// The covariance, `[d, d]`, with the unbiased `n − 1` divisor (as `numpy.cov` and
    /// pytorch-fid use).
    public let covariance: Tensor<Double>

    /// A Gaussian given by its moments.
    ///
    /// - Precondition: `mean` is `[d]` and `covariance` `[d, d]`.
    public init(mean: Tensor<Double>, covariance: Tensor<Double>) {
        Misuse.check(
            mean.rank == 1 && covariance.shape == [mean.scalarCount, mean.scalarCount], "GaussianStatistics",
            "mean \(mean.shape) and covariance \(covariance.shape): expected [d] and [d, d]")
        (self.mean, self.covariance) = (mean, covariance)
    }

    /// The sample mean and covariance of the rows of `features`, `[n, d]` with `n ≥ 2`,
    /// accumulated in `Double` around the mean (two passes), so large constant features do not
    /// cancel.
    ///
    /// - Throws: ``LinearAlgebraError/nonFinite(operation:)`` if a feature is NaN or infinite.
    public init<Scalar: TensorScalar>(features: Tensor<Scalar>) throws {
        let op = "GaussianStatistics"
        Misuse.check(
            features.rank == 2 && features.shape[0] >= 2, op,
            "features \(features.shape): expected [n, d] with n ≥ 2 samples")
        let (count, dimension) = (features.shape[0], features.shape[1])
        let values = Tensor<Double>(shape: features.shape, scalars: features.scalars.map(Double.init))
        guard values.scalars.allSatisfy(\.isFinite) else { throw LinearAlgebraError.nonFinite(operation: op) }
        let mean = values.mean(alongAxes: [0])
        let centered = values - mean.reshaped(to: [1, dimension])
        let covariance = matmul(centered, centered, transposeLHS: true) / Double(count - 1)
        self.init(mean: mean, covariance: covariance)
    }

    /// The Fréchet (2-Wasserstein) distance between the two Gaussians, squared, as FID reports
    /// it: `‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½`.
    ///
    /// Both square roots come from symmetric eigendecompositions (LAPACK `syevd`), so the result
    /// is real without the imaginary residue that a general `sqrtm` of `Σ₁Σ₂` leaves. Eigenvalues
    /// that rounding makes slightly negative count as 0, and so does a result below 0.
    ///
    /// - Throws: ``LinearAlgebraError`` if an eigendecomposition fails or meets NaN.
    /// - Precondition: both have the same dimension.
    public func frechetDistance(to other: GaussianStatistics) throws -> Double {
        Misuse.check(
            mean.shape == other.mean.shape, "GaussianStatistics.frechetDistance",
            "dimensions \(mean.shape) and \(other.mean.shape) differ")
        let difference = mean - other.mean
        let rootOfFirst = try Self.symmetricSquareRoot(covariance)
        let product = matmul(matmul(rootOfFirst, other.covariance), rootOfFirst)
        let symmetric = (product + product.transposed()) / 2
        let crossTerm = try LinearAlgebra.symmetricEigen(symmetric).values.scalars.reduce(0) { $0 + max($1, 0).squareRoot() }
        let distance = (difference * difference).sum().scalar + Self.trace(covariance) + Self.trace(other.covariance) - 2 * crossTerm
        return max(distance, 0)
    }

    /// `A^½ = V·diag(√max(λ, 0))·Vᵀ` for a symmetric positive semidefinite `A = V·diag(λ)·Vᵀ`.
    static func symmetricSquareRoot(_ a: Tensor<Double>) throws -> Tensor<Double> {
        let (values, vectors) = try LinearAlgebra.symmetricEigen(a)
        let roots = Tensor(shape: [1, values.scalarCount], scalars: values.scalars.map { max($0, 0).squareRoot() })
        return matmul(vectors * roots, vectors, transposeRHS: true)
    }

    static func trace(_ a: Tensor<Double>) -> Double {
        let n = a.shape[0]
        let scalars = a.scalars
        return (0..<n).reduce(0) { $0 + scalars[$1 * n + $1] }
    }
}
