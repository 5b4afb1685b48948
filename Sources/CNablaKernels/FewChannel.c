// The direct few-channel convolution (forward with bias, filter and bias gradients) at each
// level; FewChannelConvolutionKernels.swift splits the batch and picks the level.
#include "CNablaKernels.h"

#include <stdlib.h>

#if defined(__x86_64__)

#include <immintrin.h>

// Every multiply-add is an explicit FMA; nothing else is contracted.
#pragma STDC FP_CONTRACT OFF

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define LEVEL avx2
// 16 registers: 4 channels × 2 vectors of sums forward, 1 channel × 9 taps for the gradient.
#define FORWARD_OB 4
#define FORWARD_NX 2
#define GRADIENT_OB 1
#define GRADIENT_TB 9

static inline __m256i nabla_fewchannel_mask_f32_avx2(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline __m256i nabla_fewchannel_mask_f64_avx2(int64_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}

#define S float
#define SUFFIX f32
#define V __m256
#define LANES 8
#define VLOAD(p) _mm256_loadu_ps(p)
#define VLOAD_N(p, n) _mm256_maskload_ps((p), nabla_fewchannel_mask_f32_avx2(n))
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VSTORE_N(p, v, n) _mm256_maskstore_ps((p), nabla_fewchannel_mask_f32_avx2(n), (v))
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VZERO _mm256_setzero_ps()
#include "FewChannelScalar.h"
#undef S
#undef SUFFIX
#undef V
#undef LANES
#undef VLOAD
#undef VLOAD_N
#undef VSTORE
#undef VSTORE_N
#undef VSET1
#undef VFMA
#undef VADD
#undef VZERO

#define S double
#define SUFFIX f64
#define V __m256d
#define LANES 4
#define VLOAD(p) _mm256_loadu_pd(p)
#define VLOAD_N(p, n) _mm256_maskload_pd((p), nabla_fewchannel_mask_f64_avx2(n))
#define VSTORE(p, v) _mm256_storeu_pd((p), (v))
#define VSTORE_N(p, v, n) _mm256_maskstore_pd((p), nabla_fewchannel_mask_f64_avx2(n), (v))
#define VSET1(x) _mm256_set1_pd(x)
#define VFMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define VADD(a, b) _mm256_add_pd((a), (b))
#define VZERO _mm256_setzero_pd()
#include "FewChannelScalar.h"
#undef S
#undef SUFFIX
#undef V
#undef LANES
#undef VLOAD
#undef VLOAD_N
#undef VSTORE
#undef VSTORE_N
#undef VSET1
#undef VFMA
#undef VADD
#undef VZERO

#undef FORWARD_OB
#undef FORWARD_NX
#undef GRADIENT_OB
#undef GRADIENT_TB
#undef LEVEL
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl"))), apply_to = function)
#define LEVEL avx512
// 32 registers: 8 channels × 2 vectors of sums forward, 2 channels × 9 taps for the gradient.
#define FORWARD_OB 8
#define FORWARD_NX 2
#define GRADIENT_OB 2
#define GRADIENT_TB 9

#define S float
#define SUFFIX f32
#define V __m512
#define LANES 16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VLOAD_N(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1), (p))
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSTORE_N(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1), (v))
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VZERO _mm512_setzero_ps()
#include "FewChannelScalar.h"
#undef S
#undef SUFFIX
#undef V
#undef LANES
#undef VLOAD
#undef VLOAD_N
#undef VSTORE
#undef VSTORE_N
#undef VSET1
#undef VFMA
#undef VADD
#undef VZERO

#define S double
#define SUFFIX f64
#define V __m512d
#define LANES 8
#define VLOAD(p) _mm512_loadu_pd(p)
#define VLOAD_N(p, n) _mm512_maskz_loadu_pd((__mmask8)((1u << (n)) - 1), (p))
#define VSTORE(p, v) _mm512_storeu_pd((p), (v))
#define VSTORE_N(p, v, n) _mm512_mask_storeu_pd((p), (__mmask8)((1u << (n)) - 1), (v))
#define VSET1(x) _mm512_set1_pd(x)
#define VFMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define VADD(a, b) _mm512_add_pd((a), (b))
#define VZERO _mm512_setzero_pd()
#include "FewChannelScalar.h"
#undef S
#undef SUFFIX
#undef V
#undef LANES
#undef VLOAD
#undef VLOAD_N
#undef VSTORE
#undef VSTORE_N
#undef VSET1
#undef VFMA
#undef VADD
#undef VZERO

#undef FORWARD_OB
#undef FORWARD_NX
#undef GRADIENT_OB
#undef GRADIENT_TB
#undef LEVEL
#pragma clang attribute pop

#else

// Other architectures: never called (SIMDLevel.supported is `portable` there), only linked.
#define NABLA_FEW_CHANNEL_UNAVAILABLE(S, SUFFIX, LEVEL) \
    void nabla_fewchannel_forward_##SUFFIX##_##LEVEL(NablaFewChannelShape shape, \
        const S *input, const S *filter, const S *bias, S *output) { abort(); } \
    void nabla_fewchannel_filter_gradient_##SUFFIX##_##LEVEL(NablaFewChannelShape shape, \
        const S *outputGradient, const S *input, S *sums) { abort(); }
NABLA_FEW_CHANNEL_UNAVAILABLE(float, f32, avx2)
NABLA_FEW_CHANNEL_UNAVAILABLE(float, f32, avx512)
NABLA_FEW_CHANNEL_UNAVAILABLE(double, f64, avx2)
NABLA_FEW_CHANNEL_UNAVAILABLE(double, f64, avx512)

#endif
