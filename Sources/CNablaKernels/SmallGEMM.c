// Small matrix products without packing, at each level: Winograd's 36 products per chunk are
// [tiles, C]·[C, O] with strided rows, too small for OpenBLAS's packing to pay.
#include "CNablaKernels.h"

// Accumulate with FMA.
#pragma STDC FP_CONTRACT ON

#define NABLA_TEMPLATE "SmallGEMMScalar.h"
#include "EachLevel.h"
