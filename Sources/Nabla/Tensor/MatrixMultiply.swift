/// The matrix product `op(lhs) · op(rhs)`, where `op` transposes when asked, as NumPy's
/// `matmul`.
///
/// Shapes:
/// - Rank ≥ 2: the last two axes are the matrix, `op(lhs)` `[m, k]` and `op(rhs)` `[k, n]`; the
///   transpose flags swap these two axes only. The axes before them are batch axes, which
///   broadcast as in elementwise ops (aligned from the right, a 1 repeats). The result is the
///   broadcast batch shape followed by `[m, n]`: `[B, H, S, D] · [B, H, D, S] → [B, H, S, S]`,
///   `[B, 1, S, D] · [H, D, E] → [B, H, S, E]`, `[B, S, D] · [D, E] → [B, S, E]`.
/// - Rank 1: a vector lhs `[k]` is the row `[1, k]` and a vector rhs `[k]` the column `[k, 1]`;
///   the result loses that axis: `[m, k] · [k] → [m]`, `[B, m, k] · [k] → [B, m]`,
///   `[k] · [k, n] → [n]`, `[k] · [k] → []`. A vector cannot be transposed.
///
/// Any dimension may be 0; a product over an empty `k` is zeros.
///
/// BLAS `gemm` reads the operands in place, never a copy or a transpose: one call per matrix of
/// the result, or one call in all when a batched lhs (not transposed) shares a single rhs.
///
/// ```swift
/// let scores = matmul(queries, keys, transposeRHS: true)  // [B, H, S, D]·[B, H, S, D]ᵀ → [B, H, S, S]
/// ```
public func matmul<Scalar>(
    _ lhs: Tensor<Scalar>, _ rhs: Tensor<Scalar>,
    transposeLHS: Bool = false, transposeRHS: Bool = false
) -> Tensor<Scalar> {
    let shape = Misuse.matmulShape(
        lhs.shape, rhs.shape, transposeLHS: transposeLHS, transposeRHS: transposeRHS)
    let (m, n, k) = (shape.m, shape.n, shape.k)
    let lda = transposeLHS ? m : k, ldb = transposeRHS ? k : n
    let count = shape.batch.reduce(1, *)
    return lhs.withUnsafeBufferPointer { a in
        rhs.withUnsafeBufferPointer { b in
            Tensor(unsafeUninitializedShape: shape.result) { c in
                // A batched lhs times one shared rhs is one GEMM over the stacked rows.
                if !transposeLHS && shape.rhsBatch.allSatisfy({ $0 == 1 }) {
                    BLAS.gemm(
                        transposeB: transposeRHS, m: count * m, n: n, k: k,
                        a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: n)
                    return
                }
                let lhsOffsets = matrixOffsets(shape.lhsBatch, broadcastTo: shape.batch, size: m * k)
                let rhsOffsets = matrixOffsets(shape.rhsBatch, broadcastTo: shape.batch, size: k * n)
                for index in 0..<count {
                    BLAS.gemm(
                        transposeA: transposeLHS, transposeB: transposeRHS, m: m, n: n, k: k,
                        a: UnsafeBufferPointer(rebasing: a[lhsOffsets[index]...]), lda: lda,
                        b: UnsafeBufferPointer(rebasing: b[rhsOffsets[index]...]), ldb: ldb,
                        c: UnsafeMutableBufferPointer(rebasing: c[(index * m * n)...]), ldc: n)
                }
            }
        }
    }
}

/// The offset of the matrix that each index of `batch` (in row-major order) reads from an
/// operand with batch axes `operandBatch` (broadcast to `batch`) and matrices of `size` scalars.
private func matrixOffsets(_ operandBatch: [Int], broadcastTo batch: [Int], size: Int) -> [Int] {
    // Each operand axis's stride, aligned from the right; 0 where it broadcasts.
    var strides = [Int](repeating: 0, count: batch.count)
    var stride = size
    for axis in operandBatch.indices.reversed() {
        let aligned = axis + batch.count - operandBatch.count
        strides[aligned] = operandBatch[axis] == 1 ? 0 : stride
        stride *= operandBatch[axis]
    }
    var offsets = [0]
    for axis in batch.indices {
        offsets = offsets.flatMap { base in (0..<batch[axis]).map { base + $0 * strides[axis] } }
    }
    return offsets
}

/// `input·weightᵀ + bias`, PyTorch's `F.linear`: one GEMM that starts from the bias in every row
/// (MLX's `addmm`), with the weight read transposed in place.
///
/// - Parameters:
///   - input: `[…, inFeatures]`; any leading axes are rows.
///   - weight: `[outFeatures, inFeatures]`.
///   - bias: `[outFeatures]`, or `nil` for none.
/// - Returns: `[…, outFeatures]`.
public func linear<Scalar>(_ input: Tensor<Scalar>, weight: Tensor<Scalar>, bias: Tensor<Scalar>?) -> Tensor<Scalar> {
    let (rows, outFeatures, inFeatures) = Misuse.linearShape(input.shape, weight: weight.shape, bias: bias?.shape)
    return Tensor(unsafeUninitializedShape: input.shape.dropLast() + [outFeatures]) { y in
        for row in 0..<rows {
            let target = UnsafeMutableBufferPointer(rebasing: y[(row * outFeatures)..<((row + 1) * outFeatures)])
            if let bias { _ = bias.withUnsafeBufferPointer { target.initialize(fromContentsOf: $0) } }
            else { target.initialize(repeating: 0) }
        }
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                BLAS.gemm(
                    transposeB: true, m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                    b: w, ldb: inFeatures, beta: 1, c: y, ldc: outFeatures)
            }
        }
    }
}

extension Tensor {
    /// Adds the matrix product `op(lhs)·op(rhs)` to this matrix in place, as PyTorch's `addmm_`:
    /// one GEMM that accumulates (`beta` 1), with no temporary product. The storage is copied
    /// first only if it is shared.
    ///
    /// - Parameters:
    ///   - lhs: `[m, k]`, or `[k, m]` with `transposeLHS`.
    ///   - rhs: `[k, n]`, or `[n, k]` with `transposeRHS`.
    ///   - transposeLHS: Read `lhs` transposed, in place.
    ///   - transposeRHS: Read `rhs` transposed, in place.
    /// - Precondition: this tensor is `[m, n]`.
    public mutating func addMatrixProduct(
        _ lhs: Tensor, _ rhs: Tensor, transposeLHS: Bool = false, transposeRHS: Bool = false
    ) {
        let (m, n, k) = Misuse.addMatrixProductShape(
            shape, lhs.shape, rhs.shape, transposeLHS: transposeLHS, transposeRHS: transposeRHS)
        lhs.withUnsafeBufferPointer { a in
            rhs.withUnsafeBufferPointer { b in
                withUnsafeMutableBufferPointer { c in
                    BLAS.gemm(
                        transposeA: transposeLHS, transposeB: transposeRHS, m: m, n: n, k: k,
                        a: a, lda: transposeLHS ? m : k, b: b, ldb: transposeRHS ? k : n, beta: 1, c: c, ldc: n)
                }
            }
        }
    }
}
