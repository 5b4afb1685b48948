import CBLAS

/// Dense linear algebra on matrices (rank-2 ``Tensor``s), through LAPACK.
///
/// Every function works on copies and never modifies its arguments. Misuse (a tensor that is not a
/// matrix, a non-square matrix where a square one is needed, mismatched sizes) traps with a
/// message naming the operation and the shapes. Data LAPACK cannot handle (a singular matrix, a
/// matrix that is not positive definite, NaN or infinite input) throws a ``LinearAlgebraError``.
///
/// ```swift
/// let a = Tensor<Double>(shape: [2, 2], scalars: [4, 1, 1, 3])
/// let x = try LinearAlgebra.solve(a, Tensor([1, 2]))   // shape [2]
/// let l = try LinearAlgebra.cholesky(a)                 // L · Lᵀ = a
/// ```
public enum LinearAlgebra {}

// MARK: - Linear systems and inverse

extension LinearAlgebra {
    /// Solves `a · x = b` for `x` by LU factorization with partial pivoting (LAPACK `gesv`).
    ///
    /// With no right-hand sides (`b` of shape `[n, 0]`) there is nothing to solve, and `a` is not
    /// factored, so a singular `a` does not throw.
    ///
    /// - Parameters:
    ///   - a: A square matrix, shape `[n, n]`.
    ///   - b: One right-hand side, shape `[n]`, or `k` of them as columns, shape `[n, k]`.
    /// - Returns: `x`, with the shape of `b`.
    /// - Throws: ``LinearAlgebraError/singular(operation:pivot:)`` if `a` is exactly singular,
    ///   ``LinearAlgebraError/nonFinite(operation:)`` if `a` or `b` holds NaN or infinity,
    ///   ``LinearAlgebraError/overflow(operation:)`` if `x` overflows.
    /// - Precondition: `a` is square and `b` has `n` rows.
    public static func solve<Scalar: TensorScalar>(
        _ a: Tensor<Scalar>, _ b: Tensor<Scalar>
    ) throws -> Tensor<Scalar> {
        let op = "solve"
        let given = { "a \(a.shape) and b \(b.shape)" }
        let n = Misuse.squareOrder(op, a.shape, given: given)
        Misuse.check(
            b.rank == 1 || b.rank == 2, op, "\(given()): b has rank \(b.rank), expected 1 or 2")
        Misuse.check(b.shape[0] == n, op, "\(given()): b has \(b.shape[0]) rows, a has \(n)")
        try checkFinite(op, a, b)
        let columns = b.rank == 2 ? b.shape[1] : 1
        guard n > 0, columns > 0 else { return b }

        var factors = a
        var x = b
        var pivots = [Int32](repeating: 0, count: n)
        let info = factors.withUnsafeMutableBufferPointer { factors in
            x.withUnsafeMutableBufferPointer { x in
                pivots.withUnsafeMutableBufferPointer { pivots in
                    Scalar.lapackeGesv(
                        Misuse.int32(op, "n", n), Misuse.int32(op, "nrhs", columns),
                        factors.baseAddress!, Misuse.int32(op, "lda", n),
                        pivots.baseAddress!, x.baseAddress!, Misuse.int32(op, "ldb", columns))
                }
            }
        }
        try handle(info, op, "gesv") { .singular(operation: op, pivot: $0 - 1) }
        try checkResult(op, x)
        return x
    }

    /// The inverse of a square matrix, by LU factorization (LAPACK `getrf` and `getri`).
    ///
    /// Prefer ``solve(_:_:)`` to multiplying by the inverse: it is faster and more accurate.
    ///
    /// - Parameter a: A square matrix, shape `[n, n]`.
    /// - Returns: `a⁻¹`, shape `[n, n]`.
    /// - Throws: ``LinearAlgebraError/singular(operation:pivot:)`` if `a` is exactly singular,
    ///   ``LinearAlgebraError/nonFinite(operation:)`` if `a` holds NaN or infinity,
    ///   ``LinearAlgebraError/overflow(operation:)`` if the inverse overflows.
    /// - Precondition: `a` is square.
    public static func inverse<Scalar: TensorScalar>(_ a: Tensor<Scalar>) throws -> Tensor<Scalar> {
        let op = "inverse"
        let n = Misuse.squareOrder(op, a.shape, given: { "a \(a.shape)" })
        try checkFinite(op, a)
        guard n > 0 else { return a }

        var inverse = a
        var pivots = [Int32](repeating: 0, count: n)
        let size = Misuse.int32(op, "n", n)
        let (info, routine) = inverse.withUnsafeMutableBufferPointer { matrix in
            pivots.withUnsafeMutableBufferPointer { pivots in
                let info = Scalar.lapackeGetrf(
                    size, size, matrix.baseAddress!, size, pivots.baseAddress!)
                guard info == 0 else { return (info, "getrf") }
                return (
                    Scalar.lapackeGetri(size, matrix.baseAddress!, size, pivots.baseAddress!),
                    "getri"
                )
            }
        }
        try handle(info, op, routine) { .singular(operation: op, pivot: $0 - 1) }
        try checkResult(op, inverse)
        return inverse
    }
}

// MARK: - Factorizations

extension LinearAlgebra {
    /// The Cholesky factor of a symmetric positive-definite matrix (LAPACK `potrf`).
    ///
    /// Only the lower triangle of `a` is read; the upper triangle is taken to mirror it.
    ///
    /// - Parameter a: A symmetric positive-definite matrix, shape `[n, n]`.
    /// - Returns: The lower-triangular `L`, shape `[n, n]`, with `L · Lᵀ = a` and zeros above the
    ///   diagonal.
    /// - Throws: ``LinearAlgebraError/notPositiveDefinite(operation:minor:)`` if `a` is not
    ///   positive definite, ``LinearAlgebraError/nonFinite(operation:)`` if `a` holds NaN or
    ///   infinity.
    /// - Precondition: `a` is square.
    public static func cholesky<Scalar: TensorScalar>(_ a: Tensor<Scalar>) throws -> Tensor<Scalar>
    {
        let op = "cholesky"
        let n = Misuse.squareOrder(op, a.shape, given: { "a \(a.shape)" })
        try checkFinite(op, a)
        guard n > 0 else { return a }

        var factor = a
        let info = factor.withUnsafeMutableBufferPointer { l in
            let size = Misuse.int32(op, "n", n)
            let info = Scalar.lapackePotrf(lapackChar("L"), size, l.baseAddress!, size)
            // potrf leaves the upper triangle as it was.
            for row in 0..<n {
                for column in (row + 1)..<n { l[row * n + column] = 0 }
            }
            return info
        }
        try handle(info, op, "potrf") { .notPositiveDefinite(operation: op, minor: $0) }
        return factor
    }

    /// The reduced QR factorization `a = q · r` (LAPACK `geqrf` and `orgqr`).
    ///
    /// - Parameter a: A matrix, shape `[m, n]`, with any `m` and `n`.
    /// - Returns: With `k = min(m, n)`: `q`, shape `[m, k]`, with orthonormal columns
    ///   (`qᵀ · q = I`), and the upper-triangular `r`, shape `[k, n]`.
    /// - Throws: ``LinearAlgebraError/nonFinite(operation:)`` if `a` holds NaN or infinity.
    /// - Precondition: `a` has rank 2.
    public static func qr<Scalar: TensorScalar>(
        _ a: Tensor<Scalar>
    ) throws -> (q: Tensor<Scalar>, r: Tensor<Scalar>) {
        let op = "qr"
        let (m, n) = Misuse.matrixShape(op, a.shape, given: { "a \(a.shape)" })
        let k = min(m, n)
        try checkFinite(op, a)
        guard k > 0 else {
            return (Tensor(repeating: 0, shape: [m, 0]), Tensor(repeating: 0, shape: [0, n]))
        }

        // geqrf leaves r on and above the diagonal, the reflectors below it.
        var factors = a
        var tau = [Scalar](repeating: 0, count: k)
        let qrInfo = factors.withUnsafeMutableBufferPointer { factors in
            tau.withUnsafeMutableBufferPointer { tau in
                Scalar.lapackeGeqrf(
                    Misuse.int32(op, "m", m), Misuse.int32(op, "n", n), factors.baseAddress!,
                    Misuse.int32(op, "lda", n), tau.baseAddress!)
            }
        }
        try handle(qrInfo, op, "geqrf", positive: nil)

        let r: Tensor<Scalar>
        var q: Tensor<Scalar>
        (r, q) = factors.withUnsafeBufferPointer { factors in
            let r = Tensor<Scalar>(unsafeUninitializedShape: [k, n]) { r in
                for row in 0..<k {
                    for column in 0..<n {
                        r[row * n + column] = column >= row ? factors[row * n + column] : 0
                    }
                }
            }
            // The first k columns hold the reflectors orgqr turns into q.
            let reflectors = Tensor<Scalar>(unsafeUninitializedShape: [m, k]) { q in
                for row in 0..<m {
                    for column in 0..<k { q[row * k + column] = factors[row * n + column] }
                }
            }
            return (r, reflectors)
        }
        let qInfo = q.withUnsafeMutableBufferPointer { q in
            tau.withUnsafeBufferPointer { tau in
                Scalar.lapackeOrgqr(
                    Misuse.int32(op, "m", m), Misuse.int32(op, "k", k), Misuse.int32(op, "k", k),
                    q.baseAddress!, Misuse.int32(op, "lda", k), tau.baseAddress!)
            }
        }
        try handle(qInfo, op, "orgqr", positive: nil)
        return (q, r)
    }

    /// The reduced singular value decomposition `a = u · diag(s) · vt` (LAPACK `gesdd`).
    ///
    /// - Parameter a: A matrix, shape `[m, n]`, with any `m` and `n`.
    /// - Returns: With `k = min(m, n)`: `u`, shape `[m, k]`, with orthonormal columns; the
    ///   singular values `s`, shape `[k]`, non-negative and in descending order; and `vt`,
    ///   shape `[k, n]`, with orthonormal rows.
    /// - Throws: ``LinearAlgebraError/noConvergence(operation:info:)`` if the iteration does not
    ///   converge, ``LinearAlgebraError/nonFinite(operation:)`` if `a` holds NaN or infinity.
    /// - Precondition: `a` has rank 2.
    public static func svd<Scalar: TensorScalar>(
        _ a: Tensor<Scalar>
    ) throws -> (u: Tensor<Scalar>, s: Tensor<Scalar>, vt: Tensor<Scalar>) {
        let op = "svd"
        let (m, n) = Misuse.matrixShape(op, a.shape, given: { "a \(a.shape)" })
        let k = min(m, n)
        try checkFinite(op, a)
        var u = Tensor<Scalar>(repeating: 0, shape: [m, k])
        var s = Tensor<Scalar>(repeating: 0, shape: [k])
        var vt = Tensor<Scalar>(repeating: 0, shape: [k, n])
        guard k > 0 else { return (u, s, vt) }

        var work = a
        let info = work.withUnsafeMutableBufferPointer { work in
            u.withUnsafeMutableBufferPointer { u in
                s.withUnsafeMutableBufferPointer { s in
                    vt.withUnsafeMutableBufferPointer { vt in
                        Scalar.lapackeGesdd(
                            lapackChar("S"), Misuse.int32(op, "m", m), Misuse.int32(op, "n", n),
                            work.baseAddress!, Misuse.int32(op, "lda", n), s.baseAddress!,
                            u.baseAddress!, Misuse.int32(op, "ldu", k),
                            vt.baseAddress!, Misuse.int32(op, "ldvt", n))
                    }
                }
            }
        }
        try handle(info, op, "gesdd") { .noConvergence(operation: op, info: $0) }
        return (u, s, vt)
    }

    /// The eigenvalues and eigenvectors of a symmetric matrix (LAPACK `syevd`).
    ///
    /// Only the lower triangle of `a` is read; the upper triangle is taken to mirror it.
    ///
    /// - Parameter a: A symmetric matrix, shape `[n, n]`.
    /// - Returns: The eigenvalues, shape `[n]`, in ascending order, and the orthonormal
    ///   eigenvectors as the columns of `vectors`, shape `[n, n]`: column `j` belongs to
    ///   `values[j]`.
    /// - Throws: ``LinearAlgebraError/noConvergence(operation:info:)`` if the iteration does not
    ///   converge, ``LinearAlgebraError/nonFinite(operation:)`` if `a` holds NaN or infinity.
    /// - Precondition: `a` is square.
    public static func symmetricEigen<Scalar: TensorScalar>(
        _ a: Tensor<Scalar>
    ) throws -> (values: Tensor<Scalar>, vectors: Tensor<Scalar>) {
        let op = "symmetricEigen"
        let n = Misuse.squareOrder(op, a.shape, given: { "a \(a.shape)" })
        try checkFinite(op, a)
        var values = Tensor<Scalar>(repeating: 0, shape: [n])
        guard n > 0 else { return (values, a) }

        var vectors = a
        let info = vectors.withUnsafeMutableBufferPointer { vectors in
            values.withUnsafeMutableBufferPointer { values in
                let size = Misuse.int32(op, "n", n)
                return Scalar.lapackeSyevd(
                    lapackChar("V"), lapackChar("L"), size, vectors.baseAddress!, size,
                    values.baseAddress!)
            }
        }
        try handle(info, op, "syevd") { .noConvergence(operation: op, info: $0) }
        return (values, vectors)
    }
}

// MARK: - Determinants

extension LinearAlgebra {
    /// The determinant of a square matrix, from its LU factorization (LAPACK `getrf`).
    ///
    /// A singular matrix has determinant 0; this is not an error. The determinant of a `[0, 0]`
    /// matrix is 1. For large matrices the determinant easily overflows or underflows: use
    /// ``logDeterminant(_:)`` instead.
    ///
    /// - Parameter a: A square matrix, shape `[n, n]`.
    /// - Throws: ``LinearAlgebraError/nonFinite(operation:)`` if `a` holds NaN or infinity.
    /// - Precondition: `a` is square.
    public static func determinant<Scalar: TensorScalar>(_ a: Tensor<Scalar>) throws -> Scalar {
        guard let lu = try luDiagonal("determinant", a) else { return 0 }
        let product = lu.diagonal.reduce(1, *)
        return lu.negate ? -product : product
    }

    /// The sign and the natural logarithm of the absolute value of the determinant of a square
    /// matrix, so that `determinant = sign · exp(logAbs)` without overflow (LAPACK `getrf`).
    ///
    /// - Parameter a: A square matrix, shape `[n, n]`.
    /// - Returns: `sign` is 1 or -1, and `logAbs` is finite; for a singular matrix, `sign` is 0 and
    ///   `logAbs` is `-infinity`.
    /// - Throws: ``LinearAlgebraError/nonFinite(operation:)`` if `a` holds NaN or infinity.
    /// - Precondition: `a` is square.
    public static func logDeterminant<Scalar: TensorScalar>(
        _ a: Tensor<Scalar>
    ) throws -> (sign: Scalar, logAbs: Scalar) {
        guard let lu = try luDiagonal("logDeterminant", a) else { return (0, -.infinity) }
        var sign: Scalar = lu.negate ? -1 : 1
        var logAbs: Scalar = 0
        for pivot in lu.diagonal {
            if pivot < 0 { sign = -sign }
            logAbs += Scalar.log(abs(pivot))
        }
        return (sign, logAbs)
    }

    /// The diagonal of `U` in the LU factorization of `a`, and whether the row swaps flip the
    /// sign of the determinant; `nil` if `a` is exactly singular.
    static func luDiagonal<Scalar: TensorScalar>(
        _ op: String, _ a: Tensor<Scalar>
    ) throws -> (diagonal: [Scalar], negate: Bool)? {
        let n = Misuse.squareOrder(op, a.shape, given: { "a \(a.shape)" })
        try checkFinite(op, a)
        guard n > 0 else { return ([], false) }

        var factors = a
        var pivots = [Int32](repeating: 0, count: n)
        let size = Misuse.int32(op, "n", n)
        let info = factors.withUnsafeMutableBufferPointer { factors in
            pivots.withUnsafeMutableBufferPointer { pivots in
                Scalar.lapackeGetrf(size, size, factors.baseAddress!, size, pivots.baseAddress!)
            }
        }
        // A positive info marks an exactly zero pivot: a singular matrix.
        if info > 0 { return nil }
        try handle(info, op, "getrf", positive: nil)
        // Pivots count rows from 1; each pivots[i] ≠ i + 1 is one row swap.
        let swaps = pivots.indices.count(where: { Int(pivots[$0]) != $0 + 1 })
        let diagonal = factors.withUnsafeBufferPointer { f in (0..<n).map { f[$0 * n + $0] } }
        return (diagonal, swaps % 2 == 1)
    }
}

// MARK: - Data checks and LAPACK results

extension LinearAlgebra {
    /// Throws ``LinearAlgebraError/nonFinite(operation:)`` unless every scalar is finite.
    ///
    /// Besides giving meaningless results, LAPACKE answers NaN input with a bad-argument code.
    static func checkFinite<Scalar: TensorScalar>(
        _ op: String, _ tensors: Tensor<Scalar>...
    ) throws {
        for tensor in tensors where !tensor.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) }) {
            throw LinearAlgebraError.nonFinite(operation: op)
        }
    }

    /// Throws ``LinearAlgebraError/overflow(operation:)`` unless every scalar is finite.
    static func checkResult<Scalar: TensorScalar>(_ op: String, _ result: Tensor<Scalar>) throws {
        guard result.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) }) else {
            throw LinearAlgebraError.overflow(operation: op)
        }
    }

    /// Acts on a LAPACKE `info`: a negative one is a bad argument, a bug in Nabla, and traps;
    /// a positive one throws `positive(info)`, or traps if `positive` is `nil` (the routine
    /// never returns one).
    static func handle(
        _ info: Int32, _ op: String, _ routine: String,
        positive: ((Int) -> LinearAlgebraError)?
    ) throws {
        switch info {
        case 0:
            return
        case Int32(LAPACK_WORK_MEMORY_ERROR), Int32(LAPACK_TRANSPOSE_MEMORY_ERROR):
            Misuse.fail(op, "LAPACKE \(routine) could not allocate its workspace (info \(info))")
        case ..<0:
            Misuse.fail(op, "LAPACKE \(routine) rejected its argument \(-info) (info \(info))")
        default:
            guard let positive else {
                Misuse.fail(op, "LAPACKE \(routine) returned unexpected info \(info)")
            }
            throw positive(Int(info))
        }
    }

    /// A LAPACK option character such as `"L"`.
    static func lapackChar(_ character: Unicode.Scalar) -> CChar {
        CChar(truncatingIfNeeded: character.value)
    }
}
