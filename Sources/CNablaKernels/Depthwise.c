// Depthwise convolution at stride 1 and dilation 1, at each level: each plane is copied into a
// zero-padded scratch plane with slack past its rows' ends, so every tap of a vector of outputs
// is one unaligned load with no bounds checks; all taps accumulate in registers (FMA) and each
// output vector is stored once.
#include "CNablaKernels.h"

/// Scratch rows are this many scalars apart at least: 64 bytes of Float.
#define DEPTHWISE_ROW_QUANTUM 16

static inline int64_t depthwiseRoundUp(int64_t n) {
    return (n + DEPTHWISE_ROW_QUANTUM - 1) / DEPTHWISE_ROW_QUANTUM * DEPTHWISE_ROW_QUANTUM;
}

/// The distance between the padded plane's rows: loads of whole vectors from any output column
/// below `roundUp(outputWidth)` through the kernel's last column stay inside the row.
static inline int64_t depthwisePaddedStride(int64_t outputWidth, int64_t kernelWidth) {
    return depthwiseRoundUp(depthwiseRoundUp(outputWidth) + kernelWidth - 1);
}

int64_t nabla_depthwise_scratch_count(int64_t outputHeight, int64_t outputWidth,
    int64_t kernelHeight, int64_t kernelWidth) {
    // The rows, and a vector of slack for the last row's rounded-up copy.
    return (outputHeight + kernelHeight - 1) * depthwisePaddedStride(outputWidth, kernelWidth)
        + DEPTHWISE_ROW_QUANTUM;
}

#if defined(__x86_64__)

#include <immintrin.h>

// Accumulate with FMA.
#pragma STDC FP_CONTRACT ON

#define NABLA_TEMPLATE "DepthwiseScalar.h"
#include "EachLevel.h"

#else

#include <stdlib.h>

// Other architectures: never called (SIMDLevel.supported is `portable` there), only linked.
#define NABLA_DEPTHWISE_UNAVAILABLE(S, SUFFIX, LEVEL) \
    void nabla_depthwise_forward_##SUFFIX##_##LEVEL(const S *input, int64_t height, int64_t width, \
        const S *filter, int64_t multiplier, int64_t kernelHeight, int64_t kernelWidth, \
        int64_t paddingHeight, int64_t paddingWidth, S *scratch, S *output) { abort(); } \
    void nabla_depthwise_inputGradient_##SUFFIX##_##LEVEL(const S *outputGradient, \
        int64_t outputHeight, int64_t outputWidth, const S *filter, int64_t multiplier, \
        int64_t kernelHeight, int64_t kernelWidth, int64_t paddingHeight, int64_t paddingWidth, \
        S *scratch, S *inputGradient) { abort(); } \
    void nabla_depthwise_filterGradient_##SUFFIX##_##LEVEL(const S *outputGradient, \
        const S *input, int64_t images, int64_t channels, int64_t multiplier, \
        int64_t firstOutputChannel, int64_t outputChannelCount, int64_t height, int64_t width, \
        int64_t kernelHeight, int64_t kernelWidth, int64_t paddingHeight, int64_t paddingWidth, \
        S *scratch, S *partialSums, S *filterGradient) { abort(); }
NABLA_DEPTHWISE_UNAVAILABLE(float, f32, avx2)
NABLA_DEPTHWISE_UNAVAILABLE(float, f32, avx512)
NABLA_DEPTHWISE_UNAVAILABLE(double, f64, avx2)
NABLA_DEPTHWISE_UNAVAILABLE(double, f64, avx512)

#endif
