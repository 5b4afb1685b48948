/// Scales the gradients of `parameters` down so that their global norm is at most `maxNorm`,
/// as PyTorch's `clip_grad_norm_(parameters, max_norm)`, and returns the norm before clipping.
///
/// The global norm is `√(Σ g²)` over the elements of every gradient (a parameter without one is
/// ignored). Where it exceeds `maxNorm`, every gradient is multiplied in place by
/// `maxNorm / (norm + 1e-6)`, PyTorch's coefficient; otherwise nothing is touched.
///
/// The sum of squares is accumulated in `Double` (and, should it overflow with finite gradients,
/// recomputed scaled by the largest magnitude), so finite gradients are always clipped to the
/// right norm, even when the norm itself exceeds the scalar type's range (it is then returned as
/// +∞).
///
/// A NaN or infinite gradient element makes the norm NaN or +∞: then the gradients are left
/// **unchanged** and the non-finite norm is returned, so the caller sees it and can skip the
/// step. (PyTorch would multiply by `maxNorm / ∞ = 0`, silently zeroing every finite gradient,
/// or spread NaN.)
///
/// Allocates nothing: the gradients are scaled where they are (unless something else holds a
/// gradient's storage, which copy-on-write then copies).
@discardableResult
@_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
public func clipGradients<Scalar: TensorScalar>(of parameters: [Parameter<Scalar>], maxNorm: Scalar) -> Scalar {
    Misuse.check(
        maxNorm >= 0 && maxNorm.isFinite, "clipGradients", "maxNorm \(maxNorm) must be finite and ≥ 0")
    // The norm and the scale, with the gradients' storage released before the in-place scaling
    // (a second reference would make it copy).
    // Each gradient element becomes `g / divisor · coefficient`, in `Double`; no scale for NaN or ∞.
    func normAndScale() -> (norm: Double, scale: (divisor: Double, coefficient: Double)?) {
        let gradients = parameters.compactMap(\.gradient)
        var sumOfSquares = 0.0
        for gradient in gradients { gradient.accumulateSquares(into: &sumOfSquares) }
        let norm = sumOfSquares.squareRoot()
        guard sumOfSquares.isFinite else {
            // A NaN or infinite element, or finite ones whose squares overflow `Double`.
            let magnitudes = gradients.map { $0.largestMagnitude() }
            if magnitudes.contains(where: \.hasNaN) { return (.nan, nil) }
            let largest = magnitudes.map(\.largest).max() ?? 0
            if largest.isInfinite { return (.infinity, nil) }
            var scaledSum = 0.0
            for gradient in gradients { gradient.accumulateSquares(into: &scaledSum, dividedBy: largest) }
            // The norm is largest · √scaledSum (+∞ if beyond range); the 1e-6 of PyTorch's
            // coefficient is negligible here. Dividing by `largest` first keeps every factor normal.
            return (largest * scaledSum.squareRoot(), (largest, Double(maxNorm) / scaledSum.squareRoot()))
        }
        return (norm, (1, Double(maxNorm) / (norm + 1e-6)))
    }
    let (norm, scale) = normAndScale()
    if let (divisor, coefficient) = scale, coefficient / divisor < 1 {
        for parameter in parameters where parameter.gradient != nil {
            parameter.gradient!.scaleInDouble(dividingBy: divisor, multiplyingBy: coefficient)
        }
    }
    return Scalar(norm)
}

extension Optimizer {
    /// Clips the gradients of ``parameters`` to the global norm `maxNorm` and returns the norm
    /// before clipping: see ``clipGradients(of:maxNorm:)``.
    @discardableResult
    public final func clipGradients(maxNorm: Scalar) -> Scalar {
        Nabla.clipGradients(of: parameters, maxNorm: maxNorm)
    }
}
