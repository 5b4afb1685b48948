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
    func forEachGradient(_ body: (UnsafeBufferPointer<Scalar>) -> Void) {
        for parameter in parameters {
            parameter.gradient?.withUnsafeBufferPointer(body)
        }
    }
    var sumOfSquares = 0.0
    forEachGradient { g in
        for x in g { sumOfSquares += Double(x) * Double(x) }
    }
    var norm = sumOfSquares.squareRoot()
    // Each gradient element becomes `g / divisor · coefficient`, in `Double`.
    var (divisor, coefficient) = (1.0, Double(maxNorm) / (norm + 1e-6))
    if !sumOfSquares.isFinite {
        // A NaN or infinite element, or finite ones whose squares overflow `Double`.
        var largest = 0.0, hasNaN = false
        forEachGradient { g in
            for x in g {
                if x.isNaN { hasNaN = true }
                largest = Swift.max(largest, Double(Swift.abs(x)))
            }
        }
        if hasNaN { return .nan }
        if largest.isInfinite { return .infinity }
        var scaledSum = 0.0
        forEachGradient { g in
            for x in g {
                let scaled = Double(x) / largest
                scaledSum += scaled * scaled
            }
        }
        // The norm is largest · √scaledSum (+∞ if beyond range); the 1e-6 of PyTorch's
        // coefficient is negligible here. Dividing by `largest` first keeps every factor normal.
        norm = largest * scaledSum.squareRoot()
        (divisor, coefficient) = (largest, Double(maxNorm) / scaledSum.squareRoot())
    }
    if coefficient / divisor < 1 {
        for parameter in parameters where parameter.gradient != nil {
            parameter.gradient!.withUnsafeMutableBufferPointer { g in
                for i in g.indices { g[i] = Scalar(Double(g[i]) / divisor * coefficient) }
            }
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
