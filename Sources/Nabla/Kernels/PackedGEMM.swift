import CNablaKernels

/// Nabla's own packed matrix product, which ``BLAS/gemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``
/// runs instead of OpenBLAS at the AVX-512 level.
///
/// OpenBLAS 0.3.21 runs its Haswell (AVX2) kernels here, on purpose (`OPENBLAS_CORETYPE`), which
/// leaves half of an AVX-512 core's multiply-adds unused. This is the same algorithm (Goto's, as
/// BLIS writes it; see `PackedGEMMScalar.h`) with 512-bit vectors:
///
/// - op(B) is packed in blocks of KC × NC (384 × 512 Float, 256 × 384 Double: they fit the 1 MB
///   L2 of a Zen 5 core) as panels NR = 64 Float or 32 Double columns wide, transposed 16 × 16
///   or 8 × 8 in registers when `transposeB`;
///   (for at most 96 rows of C and an untransposed B, B's panels are read in place instead:
///   so few rows would not repay packing it);
/// - op(A) is packed 6 rows × KC at a time (L1), then multiplied by every B panel of the block
///   (a transposed A 48 rows at a time, so that its rows are read in runs of 48 scalars);
/// - a micro-kernel keeps C's 6 × NR tile in 24 ZMM accumulators and runs one FMA per value;
///   narrower last panels use fewer vectors, and a panel ending inside a vector goes through a
///   small tile.
///
/// On the AMD EPYC (Zen 5) it was written on, one core ran Float products of Nabla's shapes at
/// 190–250 GFLOP/s against OpenBLAS's 100–130 (Double 90–115 against 50–60). At AVX2 the same
/// code only matched OpenBLAS, so that level (like `portable`) keeps OpenBLAS.
///
/// The output is split into blocks of rows (or of columns, when C is wider than tall) over
/// ``parts(m:n:k:)`` threads, and K is never split: every element of C is summed in one order,
/// so results are the same bits on every run and for every thread count.
@usableFromInline
enum PackedGEMM {
    /// The fewest multiply-adds `m·n·k` for which this kernel beats OpenBLAS: below, the
    /// packing buffers' allocation and OpenBLAS's small-matrix paths win (measured at 8³ and 16³).
    static let smallestProduct = 1 << 14
    /// The narrowest C for which this kernel beats OpenBLAS: narrower products leave most of
    /// the 16 lanes of a vector unused, while OpenBLAS switches to other kernels.
    static let narrowestOutput = 16
    /// The multiply-adds each thread takes at least: 2¹⁹, about 3 µs on one core. ``WorkerPool``
    /// starts a part in about 0.25 µs, so an LSTM step's 1.3 M multiply-adds run on 2 threads
    /// (with Dispatch, whose workers took 50–100 µs to wake, this was 2²³). A product inside a
    /// part of another parallel loop runs its parts one after another on that thread.
    static let multiplyAddsPerPart = 1 << 19

    /// Whether `BLAS.gemm` runs a product of these sizes here at `level`: at AVX-512, for
    /// products large and wide enough, and never with `alpha == 0` (OpenBLAS then only scales
    /// C, reading neither A nor B).
    static func runs<S: TensorScalar>(level: SIMDLevel, m: Int, n: Int, k: Int, alpha: S) -> Bool {
        level == .avx512 && alpha != 0 && n >= narrowestOutput && m * n * k >= smallestProduct
    }

    /// The threads a product takes: at most `BLAS.threadCount` and the online cores, at least
    /// ``multiplyAddsPerPart`` multiply-adds each, and no more than its blocks of 6 rows or 64
    /// columns.
    static func parts(m: Int, n: Int, k: Int) -> Int {
        let blocks = m >= n ? (m + 5) / 6 : (n + 63) / 64
        return max(1, min(BLAS.threadCount, BLAS.onlineCores, m * n * k / multiplyAddsPerPart, blocks))
    }

    /// `c ← alpha · op(a) · op(b) + beta · c` at the AVX-512 level, with the shapes and leading
    /// dimensions of `BLAS.gemm` (already checked there): `op(a)` is `[m, k]` (stored `[k, m]`
    /// with `transposeA`), `op(b)` is `[k, n]` (stored `[n, k]` with `transposeB`), `c` is
    /// `[m, n]`. With `beta == 0`, `c` is only written.
    ///
    /// `parts` overrides ``parts(m:n:k:)``, for tests of the split.
    ///
    /// - Precondition: `m`, `n`, `k` ≥ 1 and ``SIMDLevel/supported`` is `.avx512`.
    static func multiply<S: TensorScalar>(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: S,
        a: UnsafePointer<S>, lda: Int, b: UnsafePointer<S>, ldb: Int,
        beta: S, c: UnsafeMutablePointer<S>, ldc: Int, parts: Int? = nil
    ) {
        let parts = parts ?? Self.parts(m: m, n: n, k: k)
        // Part p of P takes rows (or columns) in whole blocks: blocks·p/P ..< blocks·(p+1)/P.
        let byRows = m >= n
        let (size, block) = byRows ? (m, 6) : (n, 64)
        let blocks = (size + block - 1) / block
        let pointers = UncheckedSendable((a, b, c))
        let run: @Sendable (Int) -> Void = { part in
            let start = min(size, blocks * part / parts * block)
            let end = min(size, blocks * (part + 1) / parts * block)
            guard start < end else { return }
            let (a, b, c) = pointers.value
            let status: Int32
            if byRows {
                status = call(
                    transposeA, transposeB, end - start, n, k, alpha,
                    a + (transposeA ? start : start * lda), lda, b, ldb, beta, c + start * ldc, ldc)
            } else {
                status = call(
                    transposeA, transposeB, m, end - start, k, alpha, a, lda,
                    b + (transposeB ? start * ldb : start), ldb, beta, c + start, ldc)
            }
            precondition(status == 0, "gemm: out of memory for the packing buffers")
        }
        WorkerPool.run(parts: parts, run)
    }

    /// The C kernel for `S` on the calling thread.
    static func call<S: TensorScalar>(
        _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: S,
        _ a: UnsafePointer<S>, _ lda: Int, _ b: UnsafePointer<S>, _ ldb: Int, _ beta: S,
        _ c: UnsafeMutablePointer<S>, _ ldc: Int
    ) -> Int32 {
        let (ta, tb) = (Int32(transposeA ? 1 : 0), Int32(transposeB ? 1 : 0))
        let (m, n, k) = (Int64(m), Int64(n), Int64(k))
        let (lda, ldb, ldc) = (Int64(lda), Int64(ldb), Int64(ldc))
        if S.self == Float.self {
            return nabla_packed_gemm_f32_avx512(
                ta, tb, m, n, k, unsafeBitCast(alpha, to: Float.self), cast(a, Float.self), lda, cast(b, Float.self), ldb,
                unsafeBitCast(beta, to: Float.self), cast(c, Float.self), ldc)
        } else {
            return nabla_packed_gemm_f64_avx512(
                ta, tb, m, n, k, unsafeBitCast(alpha, to: Double.self), cast(a, Double.self), lda, cast(b, Double.self),
                ldb, unsafeBitCast(beta, to: Double.self), cast(c, Double.self), ldc)
        }
    }
}
