// Direct convolutions with few input channels (a network's first layer), stride 1 and no
// dilation, per level; FewChannelConvolutionKernels.swift picks the level and splits the batch.
#ifndef CNABLA_FEW_CHANNEL_H
#define CNABLA_FEW_CHANNEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The sizes of a few-channel convolution over `images` images: input `[images, channels,
/// height, width]`, filter `[outputChannels, channels, kernelHeight, kernelWidth]`, output
/// `[images, outputChannels, height + 2·paddingHeight − kernelHeight + 1, width + 2·paddingWidth
/// − kernelWidth + 1]`; every size positive except `images` (≥ 0) and the paddings (≥ 0), and
/// both output sizes ≥ 1.
typedef struct {
    int64_t images, channels, height, width;
    int64_t kernelHeight, kernelWidth, paddingHeight, paddingWidth;
    int64_t outputChannels;
} NablaFewChannelShape;

/// output = conv2d(input, filter) + bias (`bias` `[outputChannels]`, or NULL for none), every
/// tap accumulated with FMA in registers. `output` is overwritten.
#define NABLA_FEW_CHANNEL_FORWARD(S, SUFFIX, LEVEL) \
    void nabla_fewchannel_forward_##SUFFIX##_##LEVEL(NablaFewChannelShape shape, \
        const S *input, const S *filter, const S *bias, S *output);
/// sums `[outputChannels, channels·kernelHeight·kernelWidth + 1]` = the filter gradient of the
/// images, each row followed by its bias gradient Σ outputGradient[n, o, ·, ·]. `sums` is
/// overwritten; `outputGradient` is `[images, outputChannels, outputHeight, outputWidth]`.
#define NABLA_FEW_CHANNEL_FILTER_GRADIENT(S, SUFFIX, LEVEL) \
    void nabla_fewchannel_filter_gradient_##SUFFIX##_##LEVEL(NablaFewChannelShape shape, \
        const S *outputGradient, const S *input, S *sums);
#define NABLA_FEW_CHANNEL(S, SUFFIX, LEVEL) \
    NABLA_FEW_CHANNEL_FORWARD(S, SUFFIX, LEVEL) NABLA_FEW_CHANNEL_FILTER_GRADIENT(S, SUFFIX, LEVEL)
NABLA_FEW_CHANNEL(float, f32, avx2)
NABLA_FEW_CHANNEL(float, f32, avx512)
NABLA_FEW_CHANNEL(double, f64, avx2)
NABLA_FEW_CHANNEL(double, f64, avx512)

#ifdef __cplusplus
}
#endif

#endif
