// C (+)= A·B for one scalar type at one level, for SmallGEMM.c through EachLevel.h.
//
// A(i, k) = a[i·aRowStride + k·aDepthStride], so A or Aᵀ is read in place; B (k, j) = b[k·ldb + j]
// and C (i, j) = c[i·ldc + j] have contiguous rows. A block of ROWS rows × MAX_VECTORS vectors of
// columns of C stays in registers while k runs: every B row is loaded once per block, every A
// value broadcast once per block, and nothing is packed.

#define GEMM_NAME2(suffix, level) nabla_gemm_##suffix##_##level
#define GEMM_NAME1(suffix, level) GEMM_NAME2(suffix, level)
#define GEMM_LOCAL2(name, suffix, level) name##_##suffix##_##level
#define GEMM_LOCAL1(name, suffix, level) GEMM_LOCAL2(name, suffix, level)
#define LOCAL(name) GEMM_LOCAL1(name, SUFFIX, LEVEL)
#define LANES (VECTOR_BYTES / SCALAR_BYTES)
// Rows of C per block, and vectors of columns: 6 × 2 accumulators of the 16 YMM registers,
// 6 × 4 of the 32 ZMM registers.
#define ROWS 6
#define MAX_VECTORS (VECTOR_BYTES == 64 ? 4 : 2)

typedef S LOCAL(GEMMVector) __attribute__((vector_size(VECTOR_BYTES)));
#define GV LOCAL(GEMMVector)

/// The block of `rows` (≤ ROWS) rows and `vectors` (≤ 4) vectors of columns at (i, j).
static inline __attribute__((always_inline)) void LOCAL(gemmBlock)(
    int rows, int vectors, int64_t k, const S *a, int64_t aRowStride, int64_t aDepthStride,
    const S *b, int64_t ldb, S *c, int64_t ldc, int accumulate) {
    // Every loop over rows and vectors unrolled in full, so `sum` lives in registers: left to
    // the compiler, a 5-row block's array stayed on the stack, cleared by memset on every call
    // (3–7% of a ConvTranspose2D forward+backward on a Zen 4).
    GV sum[ROWS][4];
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) sum[r][v] = (GV){0};
    for (int64_t p = 0; p < k; p++) {
        GV column[4];
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) __builtin_memcpy(&column[v], b + p * ldb + v * LANES, sizeof(GV));
        const S *ap = a + p * aDepthStride;
#pragma clang loop unroll(full)
        for (int r = 0; r < rows; r++) {
            const S value = ap[r * aRowStride];
#pragma clang loop unroll(full)
            for (int v = 0; v < vectors; v++) sum[r][v] += column[v] * value;
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++) {
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) {
            S *to = c + r * ldc + v * LANES;
            if (accumulate) {
                GV old;
                __builtin_memcpy(&old, to, sizeof(GV));
                sum[r][v] += old;
            }
            __builtin_memcpy(to, &sum[r][v], sizeof(GV));
        }
    }
}

/// The same for columns j0 ..< n that do not fill a vector, one scalar at a time.
static void LOCAL(gemmColumnTail)(int64_t m, int64_t n, int64_t j0, int64_t k, const S *a,
    int64_t aRowStride, int64_t aDepthStride, const S *b, int64_t ldb, S *c, int64_t ldc,
    int accumulate) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = j0; j < n; j++) {
            S sum = 0;
            for (int64_t p = 0; p < k; p++) sum += a[i * aRowStride + p * aDepthStride] * b[p * ldb + j];
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
        }
    }
}

#define GEMM_ROWS_CASE(R, V) \
    case R: LOCAL(gemmBlock)(R, V, k, a + i * aRowStride, aRowStride, aDepthStride, b + j, ldb, c + i * ldc + j, ldc, accumulate); break;
#define GEMM_COLUMN_BLOCK(V) \
    for (int64_t i = 0; i < m; i += ROWS) { \
        switch (m - i < ROWS ? (int)(m - i) : ROWS) { \
            GEMM_ROWS_CASE(1, V) GEMM_ROWS_CASE(2, V) GEMM_ROWS_CASE(3, V) GEMM_ROWS_CASE(4, V) \
            GEMM_ROWS_CASE(5, V) GEMM_ROWS_CASE(6, V) \
            default: break; \
        } \
    }

void GEMM_NAME1(SUFFIX, LEVEL)(int64_t m, int64_t n, int64_t k, const S *a, int64_t aRowStride,
    int64_t aDepthStride, const S *b, int64_t ldb, S *c, int64_t ldc, int accumulate) {
    int64_t j = 0;
#if MAX_VECTORS >= 4
    for (; j + 4 * LANES <= n; j += 4 * LANES) { GEMM_COLUMN_BLOCK(4) }
#endif
    for (; j + 2 * LANES <= n; j += 2 * LANES) { GEMM_COLUMN_BLOCK(2) }
    for (; j + LANES <= n; j += LANES) { GEMM_COLUMN_BLOCK(1) }
    if (j < n) LOCAL(gemmColumnTail)(m, n, j, k, a, aRowStride, aDepthStride, b, ldb, c, ldc, accumulate);
}

#undef GEMM_ROWS_CASE
#undef GEMM_COLUMN_BLOCK
#undef GV
#undef LANES
#undef ROWS
#undef MAX_VECTORS
#undef LOCAL
#undef GEMM_LOCAL1
#undef GEMM_LOCAL2
#undef GEMM_NAME1
#undef GEMM_NAME2
