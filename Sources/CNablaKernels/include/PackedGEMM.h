// Nabla's own packed matrix product at the AVX-512 level (PackedGEMM.c).
#ifndef CNABLA_PACKED_GEMM_H
#define CNABLA_PACKED_GEMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// C ← alpha·op(A)·op(B) + beta·C on the calling thread, row-major: op(A) is [m, k] (stored
/// [k, m] when `transposeA` ≠ 0) with rows `lda` apart, op(B) is [k, n] (stored [n, k] when
/// `transposeB` ≠ 0) with rows `ldb` apart, C is [m, n] with rows `ldc` apart. With beta = 0, C
/// is only written. Every element of C is summed over k in the same order whatever m and n, so
/// a product split into blocks of rows or columns gives the same bits. Returns 0, or -1 when
/// the packing buffers (about 0.5 MB) could not be allocated.
#define NABLA_PACKED_GEMM(S, SUFFIX, LEVEL) \
    int nabla_packed_gemm_##SUFFIX##_##LEVEL(int transposeA, int transposeB, int64_t m, \
        int64_t n, int64_t k, S alpha, const S *a, int64_t lda, const S *b, int64_t ldb, S beta, \
        S *c, int64_t ldc);
NABLA_PACKED_GEMM(float, f32, avx512)
NABLA_PACKED_GEMM(double, f64, avx512)

#ifdef __cplusplus
}
#endif

#endif
