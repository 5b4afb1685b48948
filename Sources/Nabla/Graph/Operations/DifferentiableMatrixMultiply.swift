// Matrix multiply and its backward rule: two more matrix multiplies with transpose flags, on
// the same BLAS `gemm`, never a transposed copy.

extension TensorOperations {
    /// `op(lhs) · op(rhs)`, with `op` transposing when asked; 2-D or batched 3-D operands, as
    /// ``matmul(_:_:transposeLHS:transposeRHS:)``.
    public static func matmul(
        _ lhs: Variable<Scalar>, _ rhs: Variable<Scalar>,
        transposeLHS: Bool = false, transposeRHS: Bool = false,
        file: StaticString = #fileID, line: UInt = #line
    ) -> Variable<Scalar> {
        let value = Nabla.matmul(lhs.value, rhs.value, transposeLHS: transposeLHS, transposeRHS: transposeRHS)
        return record("matmul", [lhs, rhs], value, file: file, line: line) { g, needs in
            // With C = op(A)·op(B): dop(A) = G·op(B)ᵀ and dop(B) = op(A)ᵀ·G.
            let lhsGradient = !needs[0] ? nil
                : transposeLHS
                    ? matmul(rhs, g, transposeLHS: transposeRHS, transposeRHS: true)
                    : matmul(g, rhs, transposeRHS: !transposeRHS)
            let rhsGradient: Variable<Scalar>?
            if !needs[1] {
                rhsGradient = nil
            } else if rhs.shape.count == 2 && lhs.shape.count == 3 && !transposeLHS {
                // A batch shared one rhs: stack the batch into rows for a single GEMM.
                let rows = lhs.shape[0] * lhs.shape[1]
                let a = reshape(lhs, to: [rows, lhs.shape[2]]), g2 = reshape(g, to: [rows, g.shape[2]])
                rhsGradient = transposeRHS
                    ? matmul(g2, a, transposeLHS: true) : matmul(a, g2, transposeLHS: true)
            } else {
                rhsGradient = transposeRHS
                    ? matmul(g, lhs, transposeLHS: true, transposeRHS: transposeLHS)
                    : matmul(lhs, g, transposeLHS: !transposeLHS)
            }
            // A 2-D operand shared across a batch sums its per-batch gradients.
            return [lhsGradient.map { reduce($0, toShape: lhs.shape) },
                    rhsGradient.map { reduce($0, toShape: rhs.shape) }]
        }
    }
}
