import CNablaKernels

/// Small matrix products without packing, at an AVX2 or AVX-512 level.
///
/// OpenBLAS packs both operands before every product, which costs more than it saves when `B`
/// is small enough to stay in L1 or L2 and the product is repeated many times, as Winograd's 36
/// products per chunk are. These kernels keep a block of C (6 rows × 2 or 4 vectors) in registers
/// while they stream `B`'s rows and broadcast `A`'s values, reading `A` or `Aᵀ` in place.
/// On the AMD EPYC (Zen 5) this was written on, Float `[128, 32]·[32, 64]` with Winograd's strides
/// ran at 111 GFLOP/s (AVX-512) and 60 (AVX2), against OpenBLAS's 47 (its Haswell kernels).
/// They accumulate with FMA, in a fixed order: the same bits on every run, within a few ulp of
/// OpenBLAS's products.
@usableFromInline
enum SmallGEMM {
    /// C (+)= A·B, where C is `[m, n]` with rows `ldc` apart, B is `[k, n]` with rows `ldb` apart
    /// and A(i, p) = `a[i·aRowStride + p·aDepthStride]`. `accumulate` adds to C instead of
    /// overwriting it.
    ///
    /// - Precondition: `level` is `.avx2` or `.avx512`, and at most ``SIMDLevel/supported``.
    @inlinable
    static func multiply<S: TensorScalar>(
        level: SIMDLevel, m: Int, n: Int, k: Int,
        a: UnsafePointer<S>, aRowStride: Int, aDepthStride: Int,
        b: UnsafePointer<S>, ldb: Int, c: UnsafeMutablePointer<S>, ldc: Int, accumulate: Bool
    ) {
        let (m, n, k) = (Int64(m), Int64(n), Int64(k))
        let (aRowStride, aDepthStride) = (Int64(aRowStride), Int64(aDepthStride))
        let (ldb, ldc, accumulate) = (Int64(ldb), Int64(ldc), Int32(accumulate ? 1 : 0))
        if S.self == Float.self {
            let gemm = level == .avx512 ? nabla_gemm_f32_avx512 : nabla_gemm_f32_avx2
            gemm(
                m, n, k, cast(a, Float.self), aRowStride,
                aDepthStride, cast(b, Float.self), ldb,
                cast(c, Float.self), ldc, accumulate)
        } else {
            let gemm = level == .avx512 ? nabla_gemm_f64_avx512 : nabla_gemm_f64_avx2
            gemm(
                m, n, k, cast(a, Double.self), aRowStride,
                aDepthStride, cast(b, Double.self), ldb,
                cast(c, Double.self), ldc, accumulate)
        }
    }
}
