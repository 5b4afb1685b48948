// The recurrent cells' pointwise steps at each level; the Swift side (RecurrentKernels) picks the
// level and keeps the portable loops.
#include "CNablaKernels.h"

// No FMA: every level rounds as the portable Swift loop does.
#pragma STDC FP_CONTRACT OFF

#define NABLA_TEMPLATE "LSTMBackwardLanes.h"
#include "EachLevel.h"
