// The Winograd F(4×4, 3×3) chunk transforms at each level; the Swift side (WinogradKernels)
// stages, multiplies and picks the level.
#include "CNablaKernels.h"

#if defined(__x86_64__)

// Never fuse a·b + c into an FMA here: the transforms then round as the portable Swift code
// does, so every level gives the same bits.
#pragma STDC FP_CONTRACT OFF

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define LEVEL avx2
#define VECTOR_BYTES 32
#define S float
#define SCALAR_BYTES 4
#define SUFFIX f32
#include "WinogradScalar.h"
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#define S double
#define SCALAR_BYTES 8
#define SUFFIX f64
#include "WinogradScalar.h"
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#undef VECTOR_BYTES
#undef LEVEL
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl"))), apply_to = function)
#define LEVEL avx512
#define VECTOR_BYTES 64
#define S float
#define SCALAR_BYTES 4
#define SUFFIX f32
#include "WinogradScalar.h"
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#define S double
#define SCALAR_BYTES 8
#define SUFFIX f64
#include "WinogradScalar.h"
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#undef VECTOR_BYTES
#undef LEVEL
#pragma clang attribute pop

#endif
