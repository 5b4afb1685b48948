// Adam's update (no weight decay, no AMSGrad) at each level; the Swift side (OptimizerKernels)
// picks the level.
#include "CNablaKernels.h"

#if defined(__x86_64__)

// No FMA: every level rounds as the portable Swift loop does.
#pragma STDC FP_CONTRACT OFF

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define LEVEL avx2
#define VECTOR_BYTES 32
#define S float
#define SUFFIX f32
#include "AdamLanes.h"
#undef S
#undef SUFFIX
#define S double
#define SUFFIX f64
#include "AdamLanes.h"
#undef S
#undef SUFFIX
#undef VECTOR_BYTES
#undef LEVEL
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl"))), apply_to = function)
#define LEVEL avx512
#define VECTOR_BYTES 64
#define S float
#define SUFFIX f32
#include "AdamLanes.h"
#undef S
#undef SUFFIX
#define S double
#define SUFFIX f64
#include "AdamLanes.h"
#undef S
#undef SUFFIX
#undef VECTOR_BYTES
#undef LEVEL
#pragma clang attribute pop

#endif
