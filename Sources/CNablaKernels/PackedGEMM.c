// Nabla's own packed matrix product (see PackedGEMMScalar.h for the algorithm and
// PackedGEMM.swift for when it runs instead of OpenBLAS). Only the AVX-512 level is compiled:
// at AVX2 the same algorithm (6 × 2 vectors of 16 YMM registers) ran at 0.84–1.07× OpenBLAS's
// Haswell kernels on the AMD EPYC (Zen 5) it was measured on, so AVX2 keeps OpenBLAS.
#include "CNablaKernels.h"
#include "Levels.h"

#include <stdlib.h>

// Accumulate with FMA.
#pragma STDC FP_CONTRACT ON

NABLA_BEGIN_AVX512
#define LEVEL avx512
#define VECTOR_BYTES 64
#define S float
#define SCALAR_BYTES 4
#define SUFFIX f32
#include "PackedGEMMScalar.h"
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#define S double
#define SCALAR_BYTES 8
#define SUFFIX f64
#include "PackedGEMMScalar.h"
#undef S
#undef SCALAR_BYTES
#undef SUFFIX
#undef VECTOR_BYTES
#undef LEVEL
NABLA_END_LEVEL
