import CBLAS
import RealModule

/// A floating-point type that Nabla can compute with: `Float` or `Double`.
///
/// The static requirements are the raw BLAS and LAPACKE entry points for the type, so generic code
/// dispatches to `cblas_sgemm` or `cblas_dgemm` through the conformance, never through a type test.
/// They take 32-bit sizes exactly as the C functions do and check nothing: call the validating
/// wrappers in ``BLAS`` and ``LinearAlgebra`` instead.
public protocol TensorScalar: BinaryFloatingPoint, Real, SIMDScalar, Codable, Sendable,
    CustomStringConvertible
where Self.RawSignificand: FixedWidthInteger {
    // MARK: BLAS
    static func cblasGemm(
        _ transA: CBLAS_TRANSPOSE, _ transB: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ k: Int32,
        _ alpha: Self, _ a: UnsafePointer<Self>, _ lda: Int32, _ b: UnsafePointer<Self>, _ ldb: Int32,
        _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int32)
    static func cblasGemv(
        _ trans: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ alpha: Self, _ a: UnsafePointer<Self>,
        _ lda: Int32, _ x: UnsafePointer<Self>, _ incx: Int32, _ beta: Self,
        _ y: UnsafeMutablePointer<Self>, _ incy: Int32)
    static func cblasAxpy(
        _ n: Int32, _ alpha: Self, _ x: UnsafePointer<Self>, _ incx: Int32,
        _ y: UnsafeMutablePointer<Self>, _ incy: Int32)
    static func cblasDot(
        _ n: Int32, _ x: UnsafePointer<Self>, _ incx: Int32, _ y: UnsafePointer<Self>, _ incy: Int32
    ) -> Self
    static func cblasOmatcopy(
        _ trans: CBLAS_TRANSPOSE, _ rows: Int32, _ cols: Int32, _ alpha: Self,
        _ a: UnsafePointer<Self>, _ lda: Int32, _ b: UnsafeMutablePointer<Self>, _ ldb: Int32)

    // MARK: LAPACKE (row-major)
    static func lapackeGesv(
        _ n: Int32, _ nrhs: Int32, _ a: UnsafeMutablePointer<Self>, _ lda: Int32,
        _ ipiv: UnsafeMutablePointer<Int32>, _ b: UnsafeMutablePointer<Self>, _ ldb: Int32) -> Int32
    static func lapackeGetrf(
        _ m: Int32, _ n: Int32, _ a: UnsafeMutablePointer<Self>, _ lda: Int32,
        _ ipiv: UnsafeMutablePointer<Int32>) -> Int32
    static func lapackeGetri(
        _ n: Int32, _ a: UnsafeMutablePointer<Self>, _ lda: Int32,
        _ ipiv: UnsafePointer<Int32>) -> Int32
    static func lapackePotrf(
        _ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Self>, _ lda: Int32) -> Int32
    static func lapackeGeqrf(
        _ m: Int32, _ n: Int32, _ a: UnsafeMutablePointer<Self>, _ lda: Int32,
        _ tau: UnsafeMutablePointer<Self>) -> Int32
    static func lapackeOrgqr(
        _ m: Int32, _ n: Int32, _ k: Int32, _ a: UnsafeMutablePointer<Self>, _ lda: Int32,
        _ tau: UnsafePointer<Self>) -> Int32
    static func lapackeGesdd(
        _ jobz: CChar, _ m: Int32, _ n: Int32, _ a: UnsafeMutablePointer<Self>, _ lda: Int32,
        _ s: UnsafeMutablePointer<Self>, _ u: UnsafeMutablePointer<Self>, _ ldu: Int32,
        _ vt: UnsafeMutablePointer<Self>, _ ldvt: Int32) -> Int32
    static func lapackeSyevd(
        _ jobz: CChar, _ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Self>, _ lda: Int32,
        _ w: UnsafeMutablePointer<Self>) -> Int32
}

extension Float: TensorScalar {
    @inlinable @inline(__always)
    public static func cblasGemm(
        _ transA: CBLAS_TRANSPOSE, _ transB: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ k: Int32,
        _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int32, _ b: UnsafePointer<Float>,
        _ ldb: Int32, _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int32
    ) {
        cblas_sgemm(CblasRowMajor, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
    @inlinable @inline(__always)
    public static func cblasGemv(
        _ trans: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ alpha: Float, _ a: UnsafePointer<Float>,
        _ lda: Int32, _ x: UnsafePointer<Float>, _ incx: Int32, _ beta: Float,
        _ y: UnsafeMutablePointer<Float>, _ incy: Int32
    ) {
        cblas_sgemv(CblasRowMajor, trans, m, n, alpha, a, lda, x, incx, beta, y, incy)
    }
    @inlinable @inline(__always)
    public static func cblasAxpy(
        _ n: Int32, _ alpha: Float, _ x: UnsafePointer<Float>, _ incx: Int32,
        _ y: UnsafeMutablePointer<Float>, _ incy: Int32
    ) {
        cblas_saxpy(n, alpha, x, incx, y, incy)
    }
    @inlinable @inline(__always)
    public static func cblasDot(
        _ n: Int32, _ x: UnsafePointer<Float>, _ incx: Int32, _ y: UnsafePointer<Float>,
        _ incy: Int32
    ) -> Float {
        cblas_sdot(n, x, incx, y, incy)
    }
    @inlinable @inline(__always)
    public static func cblasOmatcopy(
        _ trans: CBLAS_TRANSPOSE, _ rows: Int32, _ cols: Int32, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int32, _ b: UnsafeMutablePointer<Float>, _ ldb: Int32
    ) {
        cblas_somatcopy(CblasRowMajor, trans, rows, cols, alpha, a, lda, b, ldb)
    }

    public static func lapackeGesv(
        _ n: Int32, _ nrhs: Int32, _ a: UnsafeMutablePointer<Float>, _ lda: Int32,
        _ ipiv: UnsafeMutablePointer<Int32>, _ b: UnsafeMutablePointer<Float>, _ ldb: Int32
    ) -> Int32 {
        LAPACKE_sgesv(LAPACK_ROW_MAJOR, n, nrhs, a, lda, ipiv, b, ldb)
    }
    public static func lapackeGetrf(
        _ m: Int32, _ n: Int32, _ a: UnsafeMutablePointer<Float>, _ lda: Int32,
        _ ipiv: UnsafeMutablePointer<Int32>
    ) -> Int32 {
        LAPACKE_sgetrf(LAPACK_ROW_MAJOR, m, n, a, lda, ipiv)
    }
    public static func lapackeGetri(
        _ n: Int32, _ a: UnsafeMutablePointer<Float>, _ lda: Int32, _ ipiv: UnsafePointer<Int32>
    ) -> Int32 {
        LAPACKE_sgetri(LAPACK_ROW_MAJOR, n, a, lda, ipiv)
    }
    public static func lapackePotrf(
        _ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Float>, _ lda: Int32
    ) -> Int32 {
        LAPACKE_spotrf(LAPACK_ROW_MAJOR, uplo, n, a, lda)
    }
    public static func lapackeGeqrf(
        _ m: Int32, _ n: Int32, _ a: UnsafeMutablePointer<Float>, _ lda: Int32,
        _ tau: UnsafeMutablePointer<Float>
    ) -> Int32 {
        LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m, n, a, lda, tau)
    }
    public static func lapackeOrgqr(
        _ m: Int32, _ n: Int32, _ k: Int32, _ a: UnsafeMutablePointer<Float>, _ lda: Int32,
        _ tau: UnsafePointer<Float>
    ) -> Int32 {
        LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m, n, k, a, lda, tau)
    }
    public static func lapackeGesdd(
        _ jobz: CChar, _ m: Int32, _ n: Int32, _ a: UnsafeMutablePointer<Float>, _ lda: Int32,
        _ s: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>, _ ldu: Int32,
        _ vt: UnsafeMutablePointer<Float>, _ ldvt: Int32
    ) -> Int32 {
        LAPACKE_sgesdd(LAPACK_ROW_MAJOR, jobz, m, n, a, lda, s, u, ldu, vt, ldvt)
    }
    public static func lapackeSyevd(
        _ jobz: CChar, _ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Float>, _ lda: Int32,
        _ w: UnsafeMutablePointer<Float>
    ) -> Int32 {
        LAPACKE_ssyevd(LAPACK_ROW_MAJOR, jobz, uplo, n, a, lda, w)
    }
}

extension Double: TensorScalar {
    @inlinable @inline(__always)
    public static func cblasGemm(
        _ transA: CBLAS_TRANSPOSE, _ transB: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ k: Int32,
        _ alpha: Double, _ a: UnsafePointer<Double>, _ lda: Int32, _ b: UnsafePointer<Double>,
        _ ldb: Int32, _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int32
    ) {
        cblas_dgemm(CblasRowMajor, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }
    @inlinable @inline(__always)
    public static func cblasGemv(
        _ trans: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ alpha: Double,
        _ a: UnsafePointer<Double>, _ lda: Int32, _ x: UnsafePointer<Double>, _ incx: Int32,
        _ beta: Double, _ y: UnsafeMutablePointer<Double>, _ incy: Int32
    ) {
        cblas_dgemv(CblasRowMajor, trans, m, n, alpha, a, lda, x, incx, beta, y, incy)
    }
    @inlinable @inline(__always)
    public static func cblasAxpy(
        _ n: Int32, _ alpha: Double, _ x: UnsafePointer<Double>, _ incx: Int32,
        _ y: UnsafeMutablePointer<Double>, _ incy: Int32
    ) {
        cblas_daxpy(n, alpha, x, incx, y, incy)
    }
    @inlinable @inline(__always)
    public static func cblasDot(
        _ n: Int32, _ x: UnsafePointer<Double>, _ incx: Int32, _ y: UnsafePointer<Double>,
        _ incy: Int32
    ) -> Double {
        cblas_ddot(n, x, incx, y, incy)
    }
    @inlinable @inline(__always)
    public static func cblasOmatcopy(
        _ trans: CBLAS_TRANSPOSE, _ rows: Int32, _ cols: Int32, _ alpha: Double,
        _ a: UnsafePointer<Double>, _ lda: Int32, _ b: UnsafeMutablePointer<Double>, _ ldb: Int32
    ) {
        cblas_domatcopy(CblasRowMajor, trans, rows, cols, alpha, a, lda, b, ldb)
    }

    public static func lapackeGesv(
        _ n: Int32, _ nrhs: Int32, _ a: UnsafeMutablePointer<Double>, _ lda: Int32,
        _ ipiv: UnsafeMutablePointer<Int32>, _ b: UnsafeMutablePointer<Double>, _ ldb: Int32
    ) -> Int32 {
        LAPACKE_dgesv(LAPACK_ROW_MAJOR, n, nrhs, a, lda, ipiv, b, ldb)
    }
    public static func lapackeGetrf(
        _ m: Int32, _ n: Int32, _ a: UnsafeMutablePointer<Double>, _ lda: Int32,
        _ ipiv: UnsafeMutablePointer<Int32>
    ) -> Int32 {
        LAPACKE_dgetrf(LAPACK_ROW_MAJOR, m, n, a, lda, ipiv)
    }
    public static func lapackeGetri(
        _ n: Int32, _ a: UnsafeMutablePointer<Double>, _ lda: Int32, _ ipiv: UnsafePointer<Int32>
    ) -> Int32 {
        LAPACKE_dgetri(LAPACK_ROW_MAJOR, n, a, lda, ipiv)
    }
    public static func lapackePotrf(
        _ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Double>, _ lda: Int32
    ) -> Int32 {
        LAPACKE_dpotrf(LAPACK_ROW_MAJOR, uplo, n, a, lda)
    }
    public static func lapackeGeqrf(
        _ m: Int32, _ n: Int32, _ a: UnsafeMutablePointer<Double>, _ lda: Int32,
        _ tau: UnsafeMutablePointer<Double>
    ) -> Int32 {
        LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, n, a, lda, tau)
    }
    public static func lapackeOrgqr(
        _ m: Int32, _ n: Int32, _ k: Int32, _ a: UnsafeMutablePointer<Double>, _ lda: Int32,
        _ tau: UnsafePointer<Double>
    ) -> Int32 {
        LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, n, k, a, lda, tau)
    }
    public static func lapackeGesdd(
        _ jobz: CChar, _ m: Int32, _ n: Int32, _ a: UnsafeMutablePointer<Double>, _ lda: Int32,
        _ s: UnsafeMutablePointer<Double>, _ u: UnsafeMutablePointer<Double>, _ ldu: Int32,
        _ vt: UnsafeMutablePointer<Double>, _ ldvt: Int32
    ) -> Int32 {
        LAPACKE_dgesdd(LAPACK_ROW_MAJOR, jobz, m, n, a, lda, s, u, ldu, vt, ldvt)
    }
    public static func lapackeSyevd(
        _ jobz: CChar, _ uplo: CChar, _ n: Int32, _ a: UnsafeMutablePointer<Double>, _ lda: Int32,
        _ w: UnsafeMutablePointer<Double>
    ) -> Int32 {
        LAPACKE_dsyevd(LAPACK_ROW_MAJOR, jobz, uplo, n, a, lda, w)
    }
}
