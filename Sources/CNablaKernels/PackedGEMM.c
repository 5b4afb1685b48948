// Nabla's own packed matrix product (see PackedGEMMScalar.h for the algorithm and
// PackedGEMM.swift for when it runs instead of OpenBLAS). Only the AVX-512 level is compiled:
// at AVX2 the same algorithm (6 × 2 vectors of 16 YMM registers) ran at 0.84–1.07× OpenBLAS's
// Haswell kernels on the AMD EPYC (Zen 5) it was measured on, so AVX2 keeps OpenBLAS.
#include "CNablaKernels.h"
#include <stdlib.h>

// Accumulate with FMA.
#pragma STDC FP_CONTRACT ON

#define NABLA_AVX512_ONLY
#define NABLA_TEMPLATE "PackedGEMMScalar.h"
#include "EachLevel.h"
