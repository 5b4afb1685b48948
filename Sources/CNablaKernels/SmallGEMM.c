// Small matrix products without packing, at each level: Winograd's 36 products per chunk are
// [tiles, C]·[C, O] with strided rows, too small for OpenBLAS's packing to pay.
#include "CNablaKernels.h"
#include "Levels.h"

// Accumulate with FMA.
#pragma STDC FP_CONTRACT ON

#define ROWS 6

NABLA_BEGIN_AVX2
#define LEVEL avx2
#define MAX_VECTORS 2  // 12 accumulators of the 16 YMM registers
#define VECTOR_BYTES 32
#define S float
#define SCALAR_BYTES 4
#define SUFFIX f32
#include "SmallGEMMScalar.h"
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#define S double
#define SCALAR_BYTES 8
#define SUFFIX f64
#include "SmallGEMMScalar.h"
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#undef VECTOR_BYTES
#undef LEVEL
#undef MAX_VECTORS
NABLA_END_LEVEL

NABLA_BEGIN_AVX512
#define LEVEL avx512
#define MAX_VECTORS 4  // 24 accumulators of the 32 ZMM registers
#define VECTOR_BYTES 64
#define S float
#define SCALAR_BYTES 4
#define SUFFIX f32
#include "SmallGEMMScalar.h"
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#define S double
#define SCALAR_BYTES 8
#define SUFFIX f64
#include "SmallGEMMScalar.h"
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#undef VECTOR_BYTES
#undef LEVEL
#undef MAX_VECTORS
NABLA_END_LEVEL
