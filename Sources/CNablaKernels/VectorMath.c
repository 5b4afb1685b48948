// exp, tanh, sigmoid, erfc, GELU and GELU's derivative over Float buffers at each level; the
// Swift side (VectorMath.swift) splits buffers across threads and picks the level.
#include "CNablaKernels.h"
#include "Levels.h"

// Never fuse a·b + c into an FMA here: the lanes then round as the portable Swift code does, so
// every level gives the same bits. (With contraction on, tanh, exp and GELU ran 25–30% faster on
// an L1-resident buffer on Zen 5, but their bits would then differ from the portable path's.)
#pragma STDC FP_CONTRACT OFF

NABLA_BEGIN_AVX2
#define LEVEL avx2
#define LANES 8
#include "VectorMathLanes.h"
#undef LANES
#undef LEVEL
NABLA_END_LEVEL

NABLA_BEGIN_AVX512
#define LEVEL avx512
#define LANES 16
#include "VectorMathLanes.h"
#undef LANES
#undef LEVEL
NABLA_END_LEVEL
