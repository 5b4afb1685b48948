// The fused value-and-gradient passes of the losses: one loop fills each element's term and
// gradient, and the terms are summed pairwise (as Tensor.sum()).

extension Tensor {
    /// Fills a loss's per-element terms and gradient in one pass: `body(i, x)` returns the term
    /// and gradient of element `i`, whose value is `x`. Returns the sum of the terms and the
    /// gradient, of this tensor's shape.
    @inlinable
    func lossTerms(_ body: (Int, Scalar) -> (term: Scalar, gradient: Scalar)) -> (sum: Scalar, gradient: Tensor) {
        var terms = Tensor(repeating: 0, shape: shape)
        let gradient = withUnsafeBufferPointer { x in
            terms.withUnsafeMutableBufferPointer { termBuffer in
                Tensor(unsafeUninitializedShape: shape) { gradientBuffer in
                    for i in gradientBuffer.indices { (termBuffer[i], gradientBuffer[i]) = body(i, x[i]) }
                }
            }
        }
        return (terms.withUnsafeBufferPointer { ReductionKernels.sum($0) }, gradient)
    }

    /// ``lossTerms(_:)`` over this tensor and `other`, element by element: `body(x, y)` for the
    /// elements of both at the same position.
    ///
    /// - Precondition: `other` has this tensor's shape (the losses check it first).
    @inlinable
    func lossTerms(pairedWith other: Tensor, _ body: (Scalar, Scalar) -> (term: Scalar, gradient: Scalar))
        -> (sum: Scalar, gradient: Tensor)
    {
        Misuse.checkSameShape("lossTerms", shape, other.shape)
        return other.withUnsafeBufferPointer { y in lossTerms { i, x in body(x, y[i]) } }
    }

    /// For a `[rows, classes]` matrix, each row's maximum (NaN if the row holds one) and
    /// `log Σ exp(x − maximum)` over the row: the two halves of a stable log-softmax.
    @inlinable
    func rowMaximaAndLogSums() -> (maxima: [Scalar], logSums: [Scalar]) {
        Misuse.check(rank == 2 && shape[1] > 0, "rowMaximaAndLogSums", "shape \(shape): need [rows, classes ≥ 1]")
        return withUnsafeBufferPointer { LossKernels.rowMaximaAndLogSums($0, rows: shape[0], classes: shape[1]) }
    }
}
