// Depthwise convolution (stride 1, dilation 1) at the AVX2 and AVX-512 levels; see
// DepthwiseConvolutionKernels.swift for the layouts. Included by CNablaKernels.h.
#ifndef CNABLA_DEPTHWISE_H
#define CNABLA_DEPTHWISE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The scalars of scratch one call below needs, for a correlation with an `outputHeight ×
/// outputWidth` result and a `kernelHeight × kernelWidth` kernel: a zero-padded plane with slack
/// past its rows' ends for 64-byte loads. The same at every level. The caller zeroes the scratch
/// once; the calls below then write only the planes' interiors, so the padding stays zero for
/// every later call with the same sizes and padding.
int64_t nabla_depthwise_scratch_count(int64_t outputHeight, int64_t outputWidth,
    int64_t kernelHeight, int64_t kernelWidth);

/// For one input plane `input` `[height, width]`: the `multiplier` output planes `output`
/// `[multiplier, outputHeight, outputWidth]` (outputHeight = height + 2·paddingHeight −
/// kernelHeight + 1, likewise the width) of its correlation with `filter` `[multiplier,
/// kernelHeight, kernelWidth]` over the input zero-padded by `paddingHeight × paddingWidth`.
/// `scratch` holds `nabla_depthwise_scratch_count(outputHeight, outputWidth, kernelHeight,
/// kernelWidth)` scalars.
#define NABLA_DEPTHWISE_FORWARD(S, SUFFIX, LEVEL) \
    void nabla_depthwise_forward_##SUFFIX##_##LEVEL(const S *input, int64_t height, int64_t width, \
        const S *filter, int64_t multiplier, int64_t kernelHeight, int64_t kernelWidth, \
        int64_t paddingHeight, int64_t paddingWidth, S *scratch, S *output);
/// The input gradient `[height, width]` of one input plane from the gradients `outputGradient`
/// `[multiplier, outputHeight, outputWidth]` of its `multiplier` output planes, read through
/// `filter` `[multiplier, kernelHeight, kernelWidth]`: the adjoint of the forward pass above.
/// `scratch` holds `nabla_depthwise_scratch_count(height, width, kernelHeight, kernelWidth)`.
#define NABLA_DEPTHWISE_INPUT_GRADIENT(S, SUFFIX, LEVEL) \
    void nabla_depthwise_inputGradient_##SUFFIX##_##LEVEL(const S *outputGradient, \
        int64_t outputHeight, int64_t outputWidth, const S *filter, int64_t multiplier, \
        int64_t kernelHeight, int64_t kernelWidth, int64_t paddingHeight, int64_t paddingWidth, \
        S *scratch, S *inputGradient);
/// The filter gradient `[outputChannelCount, kernelHeight, kernelWidth]` of the output channels
/// `firstOutputChannel ..< firstOutputChannel + outputChannelCount`: Σ over the `images` images of
/// the products of output channel o's gradient plane in `outputGradient` `[images, channels ·
/// multiplier, outputHeight, outputWidth]` with the zero-padded plane of input channel
/// o / multiplier in `input` `[images, channels, height, width]` each tap read. `scratch` holds
/// `nabla_depthwise_scratch_count(outputHeight, outputWidth, kernelHeight, kernelWidth)`, and
/// `partialSums` `outputChannelCount · kernelHeight · kernelWidth · 16` scalars.
#define NABLA_DEPTHWISE_FILTER_GRADIENT(S, SUFFIX, LEVEL) \
    void nabla_depthwise_filterGradient_##SUFFIX##_##LEVEL(const S *outputGradient, \
        const S *input, int64_t images, int64_t channels, int64_t multiplier, \
        int64_t firstOutputChannel, int64_t outputChannelCount, int64_t height, int64_t width, \
        int64_t kernelHeight, int64_t kernelWidth, int64_t paddingHeight, int64_t paddingWidth, \
        S *scratch, S *partialSums, S *filterGradient);
#define NABLA_DEPTHWISE(S, SUFFIX, LEVEL) \
    NABLA_DEPTHWISE_FORWARD(S, SUFFIX, LEVEL) NABLA_DEPTHWISE_INPUT_GRADIENT(S, SUFFIX, LEVEL) \
    NABLA_DEPTHWISE_FILTER_GRADIENT(S, SUFFIX, LEVEL)
NABLA_DEPTHWISE(float, f32, avx2)
NABLA_DEPTHWISE(float, f32, avx512)
NABLA_DEPTHWISE(double, f64, avx2)
NABLA_DEPTHWISE(double, f64, avx512)

#ifdef __cplusplus
}
#endif

#endif
