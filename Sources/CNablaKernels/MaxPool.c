// The 2×2, stride-2 max pool of Float planes at each level; the Swift side (PoolingKernels)
// checks the geometry and picks the level.
#include "CNablaKernels.h"

#if defined(__x86_64__)

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define LEVEL avx2
#define LANES 8
#include "MaxPoolLanes.h"
#undef LANES
#undef LEVEL
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl"))), apply_to = function)
#define LEVEL avx512
#define LANES 16
#include "MaxPoolLanes.h"
#undef LANES
#undef LEVEL
#pragma clang attribute pop

#else

#include <stdlib.h>

// Other architectures: never called (SIMDLevel.supported is `portable` there), only linked.
#define NABLA_MAX_POOL_UNAVAILABLE(LEVEL) \
    void nabla_max_pool_2x2_f32_##LEVEL(const float *source, int64_t planes, int64_t height, \
        int64_t width, int64_t outputHeight, int64_t outputWidth, int64_t strideHeight, \
        float *output, int64_t *indices) { abort(); }
NABLA_MAX_POOL_UNAVAILABLE(avx2)
NABLA_MAX_POOL_UNAVAILABLE(avx512)

#endif
