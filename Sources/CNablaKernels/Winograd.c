// The Winograd F(4×4, 3×3) chunk transforms at each level; the Swift side (WinogradKernels)
// stages, multiplies and picks the level.
#include "CNablaKernels.h"

// Never fuse a·b + c into an FMA here: the transforms then round as the portable Swift code
// does, so every level gives the same bits.
#pragma STDC FP_CONTRACT OFF

#define NABLA_TEMPLATE "WinogradScalar.h"
#include "EachLevel.h"
