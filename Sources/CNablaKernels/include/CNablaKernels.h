// Nabla's kernels compiled per instruction set and chosen at run time.
//
// Each kernel exists once per level (the `_avx2` and `_avx512` suffixes), compiled with
// `__attribute__((target(...)))`, so the package needs no compiler flags and still builds for
// baseline x86-64 (and for other architectures, where only the portable Swift code runs). The
// Swift side (`SIMDLevel`) asks `nabla_simd_supported_level` once and calls a level's kernel only
// when the CPU and the operating system support it.
#ifndef CNABLA_KERNELS_H
#define CNABLA_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The instruction-set levels. `NABLA_SIMD_AVX2` means AVX2 and FMA; `NABLA_SIMD_AVX512` means
/// AVX-512 F, DQ, BW and VL besides.
enum {
    NABLA_SIMD_PORTABLE = 0,
    NABLA_SIMD_AVX2 = 1,
    NABLA_SIMD_AVX512 = 2,
};

/// The highest level this CPU and its operating system support (CPUID and XGETBV).
int nabla_simd_supported_level(void);

/// The CPU's features that matter to the levels, as a space-separated list ("sse4.2 avx fma
/// avx2 avx512f …"), written into `buffer` (at most `capacity` bytes, NUL-terminated).
void nabla_simd_feature_names(char *buffer, int64_t capacity);

// MARK: - Winograd F(4×4, 3×3) transforms (see WinogradKernels.swift for the layouts)

/// V [tiles, 36, cv] = Bᵀ d B for the 6×6 patch d of every tile of `images` staged images
/// `[images, stagedHeight, stagedWidth, cv]`; `cv` is a multiple of 8.
#define NABLA_WINOGRAD_INPUT(S, SUFFIX, LEVEL) \
    void nabla_winograd_input_##SUFFIX##_##LEVEL(const S *staging, int64_t images, \
        int64_t tilesHigh, int64_t tilesWide, int64_t stagedHeight, int64_t stagedWidth, \
        int64_t cv, S *transformed);
/// Writes Aᵀ m A of every tile's products M [tiles, 36, ov], plus `bias[o]` unless `bias` is
/// NULL (it then holds `ov` scalars), into the NCHW output `[images, outputChannels,
/// outputHeight, outputWidth]`; edge tiles write only their outputs inside it.
#define NABLA_WINOGRAD_OUTPUT(S, SUFFIX, LEVEL) \
    void nabla_winograd_output_##SUFFIX##_##LEVEL(const S *products, const S *bias, int64_t images, \
        int64_t tilesHigh, int64_t tilesWide, int64_t outputHeight, int64_t outputWidth, \
        int64_t outputChannels, int64_t ov, S *output);
/// dM [tiles, 36, ov] = A dY Aᵀ for the 4×4 gradient tile dY of every tile of the staged
/// gradient `[images, tilesHigh·4, tilesWide·4, ov]`; `ov` is a multiple of 8.
#define NABLA_WINOGRAD_GRADIENT(S, SUFFIX, LEVEL) \
    void nabla_winograd_gradient_##SUFFIX##_##LEVEL(const S *staging, int64_t images, \
        int64_t tilesHigh, int64_t tilesWide, int64_t ov, S *transformed);
/// Copies `images` images of the NCHW `source` `[N, channels, height, width]` into `staging`
/// `[images, stagedHeight, stagedWidth, stagedChannels]`: pixel (y, x) at (y + top, x + left),
/// zeros everywhere else.
#define NABLA_WINOGRAD_STAGE(S, SUFFIX, LEVEL) \
    void nabla_winograd_stage_##SUFFIX##_##LEVEL(const S *source, int64_t images, \
        int64_t channels, int64_t height, int64_t width, int64_t top, int64_t left, \
        int64_t stagedHeight, int64_t stagedWidth, int64_t stagedChannels, S *staging);
/// U [C, 36, O] = G g Gᵀ for every 3×3 filter g = filter[o, c] of `filter` `[O, C, 3, 3]`.
#define NABLA_WINOGRAD_FILTER(S, SUFFIX, LEVEL) \
    void nabla_winograd_filter_##SUFFIX##_##LEVEL(const S *filter, int64_t channels, \
        int64_t outputChannels, S *transformed);
/// The filter gradient `[O, C, 3, 3]` = Gᵀ dU G for every dU = transformed[c, ·, o] of
/// `transformed` `[C, 36, O]`.
#define NABLA_WINOGRAD_FILTER_GRADIENT(S, SUFFIX, LEVEL) \
    void nabla_winograd_filterGradient_##SUFFIX##_##LEVEL(const S *transformed, \
        int64_t channels, int64_t outputChannels, S *filterGradient);
/// `sums[c] += Σ_p staging[p·cv + c]` over `pixels` pixels of a channels-last buffer, each channel
/// summed in pixel order; `cv` is a multiple of 8.
#define NABLA_WINOGRAD_CHANNEL_SUMS(S, SUFFIX, LEVEL) \
    void nabla_winograd_channelSums_##SUFFIX##_##LEVEL(const S *staging, int64_t pixels, \
        int64_t cv, S *sums);
/// The input, output, gradient, filter and filter-gradient transforms for F(4×4, 2×2): 5×5
/// patches, 25 positions and 2×2 filters instead of 6×6, 36 and 3×3; the filter transform
/// writes input channels `firstChannel..<endChannel` only, so that workers can split it. And
/// the staging of a stride-2 4×4 convolution's NCHW input as its space-to-depth 2×2
/// convolution's, channel (2a + b)·channels + c of staged pixel (u, v) from source pixel
/// (2u + a − top, 2v + b − left), zero elsewhere. outputDepthToSpace2 is output2 for the input
/// gradient of such a convolution, `output` `[images, channels, height, width]`: reduced pixel
/// (u, v) of channel (2a + b)·channels + c to pixel (2u + a − top, 2v + b − left) of channel c,
/// where inside.
#define NABLA_WINOGRAD_2(S, SUFFIX, LEVEL) \
    void nabla_winograd_input2_##SUFFIX##_##LEVEL(const S *staging, int64_t images, \
        int64_t tilesHigh, int64_t tilesWide, int64_t stagedHeight, int64_t stagedWidth, \
        int64_t cv, S *transformed); \
    void nabla_winograd_output2_##SUFFIX##_##LEVEL(const S *products, const S *bias, int64_t images, \
        int64_t tilesHigh, int64_t tilesWide, int64_t outputHeight, int64_t outputWidth, \
        int64_t outputChannels, int64_t ov, S *output); \
    void nabla_winograd_outputDepthToSpace2_##SUFFIX##_##LEVEL(const S *products, const S *bias, \
        int64_t images, int64_t tilesHigh, int64_t tilesWide, int64_t outputHeight, \
        int64_t outputWidth, int64_t outputChannels, int64_t ov, int64_t channels, int64_t height, \
        int64_t width, int64_t top, int64_t left, S *output); \
    void nabla_winograd_gradient2_##SUFFIX##_##LEVEL(const S *staging, int64_t images, \
        int64_t tilesHigh, int64_t tilesWide, int64_t ov, S *transformed); \
    void nabla_winograd_filter2_##SUFFIX##_##LEVEL(const S *filter, int64_t channels, \
        int64_t outputChannels, int64_t firstChannel, int64_t endChannel, S *transformed); \
    void nabla_winograd_filterGradient2_##SUFFIX##_##LEVEL(const S *transformed, \
        int64_t channels, int64_t outputChannels, S *filterGradient); \
    void nabla_winograd_stageSpaceToDepth_##SUFFIX##_##LEVEL(const S *source, int64_t images, \
        int64_t channels, int64_t height, int64_t width, int64_t top, int64_t left, \
        int64_t stagedHeight, int64_t stagedWidth, int64_t stagedChannels, S *staging);
#define NABLA_WINOGRAD(S, SUFFIX, LEVEL) \
    NABLA_WINOGRAD_INPUT(S, SUFFIX, LEVEL) NABLA_WINOGRAD_OUTPUT(S, SUFFIX, LEVEL) \
    NABLA_WINOGRAD_GRADIENT(S, SUFFIX, LEVEL) NABLA_WINOGRAD_STAGE(S, SUFFIX, LEVEL) \
    NABLA_WINOGRAD_FILTER(S, SUFFIX, LEVEL) NABLA_WINOGRAD_FILTER_GRADIENT(S, SUFFIX, LEVEL) \
    NABLA_WINOGRAD_CHANNEL_SUMS(S, SUFFIX, LEVEL) NABLA_WINOGRAD_2(S, SUFFIX, LEVEL)
NABLA_WINOGRAD(float, f32, avx2)
NABLA_WINOGRAD(float, f32, avx512)
NABLA_WINOGRAD(double, f64, avx2)
NABLA_WINOGRAD(double, f64, avx512)

// MARK: - Small matrix products

/// C (+)= A·B for C `[m, n]` with rows `ldc` apart and B `[k, n]` with rows `ldb` apart;
/// A(i, k) = a[i·aRowStride + k·aDepthStride], so A or Aᵀ is read in place. `accumulate` ≠ 0
/// adds to C, 0 overwrites it. Nothing is packed: for products whose B fits in L1 or L2.
#define NABLA_GEMM(S, SUFFIX, LEVEL) \
    void nabla_gemm_##SUFFIX##_##LEVEL(int64_t m, int64_t n, int64_t k, const S *a, \
        int64_t aRowStride, int64_t aDepthStride, const S *b, int64_t ldb, S *c, int64_t ldc, \
        int accumulate);
NABLA_GEMM(float, f32, avx2)
NABLA_GEMM(float, f32, avx512)
NABLA_GEMM(double, f64, avx2)
NABLA_GEMM(double, f64, avx512)

#ifdef __cplusplus
}
#endif

#include "FewChannel.h"
#include "Elementwise.h"
#include "Depthwise.h"
#include "PackedGEMM.h"
#include "WorkerPool.h"

#endif
