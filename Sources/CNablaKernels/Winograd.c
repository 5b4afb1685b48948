// The Winograd F(4×4, 3×3) chunk transforms at each level; the Swift side (WinogradKernels)
// stages, multiplies and picks the level.
#include "CNablaKernels.h"
#include "Levels.h"

// Never fuse a·b + c into an FMA here: the transforms then round as the portable Swift code
// does, so every level gives the same bits.
#pragma STDC FP_CONTRACT OFF

NABLA_BEGIN_AVX2
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
NABLA_END_LEVEL

NABLA_BEGIN_AVX512
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
NABLA_END_LEVEL
