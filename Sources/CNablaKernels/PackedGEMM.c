// Nabla's own packed matrix product at each level (see PackedGEMMScalar.h for the algorithm and
// PackedGEMM.swift for when it runs instead of OpenBLAS).
#include "CNablaKernels.h"

#include <stdlib.h>

// Accumulate with FMA.
#pragma STDC FP_CONTRACT ON

#define NABLA_TEMPLATE "PackedGEMMScalar.h"
#include "EachLevel.h"
