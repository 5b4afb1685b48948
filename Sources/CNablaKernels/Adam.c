// Adam's update (no weight decay, no AMSGrad) at each level; the Swift side (OptimizerKernels)
// picks the level.
#include "CNablaKernels.h"

// No FMA: every level rounds as the portable Swift loop does.
#pragma STDC FP_CONTRACT OFF

#define NABLA_TEMPLATE "AdamLanes.h"
#include "EachLevel.h"
