/// The matrix product `op(lhs) · op(rhs)`, where `op` transposes when asked, through one BLAS
/// `gemm` per batch entry and never a transposed copy.
///
/// Shapes: `op(lhs)` is `[m, k]` and `op(rhs)` is `[k, n]`, giving `[m, n]`. Either operand may
/// instead be batched, `[batch, rows, columns]`; a 2-D operand is then shared across the batch
/// and the result is `[batch, m, n]`.
public func matmul<Scalar>(
    _ lhs: Tensor<Scalar>, _ rhs: Tensor<Scalar>,
    transposeLHS: Bool = false, transposeRHS: Bool = false
) -> Tensor<Scalar> {
    let (batch, m, n, k) = Misuse.matmulShape(
        lhs.shape, rhs.shape, transposeLHS: transposeLHS, transposeRHS: transposeRHS)
    let batched = lhs.rank == 3 || rhs.rank == 3
    let lhsStride = lhs.rank == 3 ? m * k : 0, rhsStride = rhs.rank == 3 ? k * n : 0
    let lda = transposeLHS ? m : k, ldb = transposeRHS ? k : n
    return lhs.withUnsafeBufferPointer { a in
        rhs.withUnsafeBufferPointer { b in
            Tensor(unsafeUninitializedShape: batched ? [batch, m, n] : [m, n]) { c in
                // A batched lhs times a shared rhs is one GEMM over the stacked rows.
                if lhs.rank == 3 && rhs.rank == 2 && !transposeLHS {
                    BLAS.gemm(
                        transposeB: transposeRHS, m: batch * m, n: n, k: k,
                        a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: n)
                    return
                }
                for index in 0..<batch {
                    BLAS.gemm(
                        transposeA: transposeLHS, transposeB: transposeRHS, m: m, n: n, k: k,
                        a: UnsafeBufferPointer(rebasing: a[(index * lhsStride)...]), lda: lda,
                        b: UnsafeBufferPointer(rebasing: b[(index * rhsStride)...]), ldb: ldb,
                        c: UnsafeMutableBufferPointer(rebasing: c[(index * m * n)...]), ldc: n)
                }
            }
        }
    }
}
