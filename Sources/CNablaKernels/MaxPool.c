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

#endif
