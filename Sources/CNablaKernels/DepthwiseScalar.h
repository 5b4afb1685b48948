// Depthwise convolution for one scalar type at one level, for Depthwise.c. Expects S, SUFFIX,
// LEVEL, VECTOR_BYTES, SCALAR_BYTES and the target attribute pushed.

#define DW_NAME2(name, suffix, level) nabla_depthwise_##name##_##suffix##_##level
#define DW_NAME1(name, suffix, level) DW_NAME2(name, suffix, level)
#define DW_NAME(name) DW_NAME1(name, SUFFIX, LEVEL)
#define DW_LOCAL2(name, suffix, level) name##_##suffix##_##level
#define DW_LOCAL1(name, suffix, level) DW_LOCAL2(name, suffix, level)
#define LOCAL(name) DW_LOCAL1(name, SUFFIX, LEVEL)
#define LANES (VECTOR_BYTES / SCALAR_BYTES)
#define INLINE static inline __attribute__((always_inline))
#define ROW_BLOCK 4  // output rows summed together

typedef S LOCAL(DepthwiseVector) __attribute__((vector_size(VECTOR_BYTES)));
#if SCALAR_BYTES == 4
typedef int32_t LOCAL(DepthwiseMask) __attribute__((vector_size(VECTOR_BYTES)));
#else
typedef int64_t LOCAL(DepthwiseMask) __attribute__((vector_size(VECTOR_BYTES)));
#endif
#define V LOCAL(DepthwiseVector)
#define M LOCAL(DepthwiseMask)

INLINE V LOCAL(load)(const S *p) {
    V v;
    __builtin_memcpy(&v, p, sizeof(V));
    return v;
}

INLINE void LOCAL(store)(S *p, V v) { __builtin_memcpy(p, &v, sizeof(V)); }

/// Lanes `0 ..< count` all ones, the others zero (0 < count ≤ LANES).
INLINE M LOCAL(firstLanes)(int64_t count) {
    M lane;
    for (int l = 0; l < LANES; l++) lane[l] = l;
    return lane < (M){0} + (__typeof__(lane[0]))count;
}

// The first `count` lanes (0 < count ≤ LANES) from or to memory, the rest untouched (zero when
// loaded): masked moves read and write nothing past them.
#if VECTOR_BYTES == 64 && SCALAR_BYTES == 4
INLINE V LOCAL(loadFirst)(const S *p, int64_t count) {
    return (V)_mm512_maskz_loadu_ps((__mmask16)(0xFFFFu >> (16 - count)), p);
}
INLINE void LOCAL(storeFirst)(S *p, V v, int64_t count) {
    _mm512_mask_storeu_ps(p, (__mmask16)(0xFFFFu >> (16 - count)), (__m512)v);
}
#elif VECTOR_BYTES == 64
INLINE V LOCAL(loadFirst)(const S *p, int64_t count) {
    return (V)_mm512_maskz_loadu_pd((__mmask8)(0xFFu >> (8 - count)), p);
}
INLINE void LOCAL(storeFirst)(S *p, V v, int64_t count) {
    _mm512_mask_storeu_pd(p, (__mmask8)(0xFFu >> (8 - count)), (__m512d)v);
}
#elif SCALAR_BYTES == 4
INLINE V LOCAL(loadFirst)(const S *p, int64_t count) {
    return (V)_mm256_maskload_ps(p, (__m256i)LOCAL(firstLanes)(count));
}
INLINE void LOCAL(storeFirst)(S *p, V v, int64_t count) {
    _mm256_maskstore_ps(p, (__m256i)LOCAL(firstLanes)(count), (__m256)v);
}
#else
INLINE V LOCAL(loadFirst)(const S *p, int64_t count) {
    return (V)_mm256_maskload_pd(p, (__m256i)LOCAL(firstLanes)(count));
}
INLINE void LOCAL(storeFirst)(S *p, V v, int64_t count) {
    _mm256_maskstore_pd(p, (__m256i)LOCAL(firstLanes)(count), (__m256d)v);
}
#endif

/// Copies `source` `[height, width]` into `padded` `[paddedHeight, stride]`: element (y, x) at
/// (y + top, x + left) when that lies inside. `top` and `left` may be negative (rows and columns
/// cropped). Everything else in `padded` is left as it was: zero, as the caller cleared the
/// scratch once for all the planes of a geometry (the copies write zeros only past the rows).
static void LOCAL(pad)(const S *source, int64_t height, int64_t width, int64_t top, int64_t left,
    int64_t paddedHeight, int64_t stride, S *padded) {
    const int64_t first = left < 0 ? -left : 0;
    const int64_t end = width < stride - left ? width : stride - left;
    const int64_t firstRow = top > 0 ? top : 0;
    const int64_t endRow = height + top < paddedHeight ? height + top : paddedHeight;
    for (int64_t r = firstRow; r < endRow; r++) {
        S *row = padded + r * stride + left;
        const S *from = source + (r - top) * width;
        int64_t x = first;
        for (; x + LANES <= end; x += LANES) LOCAL(store)(row + x, LOCAL(load)(from + x));
        // The loaded zeros land on padding, or on the next row before it is copied.
        if (x < end) LOCAL(store)(row + x, LOCAL(loadFirst)(from + x, end - x));
    }
}

/// Stores `sum` into the first `count` outputs at `out`, adding what is there when `accumulate`.
INLINE void LOCAL(finish)(S *out, V sum, int64_t count, int accumulate) {
    if (count >= LANES) {
        if (accumulate) sum += LOCAL(load)(out);
        LOCAL(store)(out, sum);
    } else {
        if (accumulate) sum += LOCAL(loadFirst)(out, count);
        LOCAL(storeFirst)(out, sum, count);
    }
}

/// output[oy, ox] (+)= Σ w[i, j] · padded[oy + i, ox + j] over the `kh × kw` taps, where w is
/// `kernel` or, when `flipped`, `kernel` rotated by 180°; `accumulate` adds to `output`
/// `[outputHeight, outputWidth]` instead of overwriting it. ROW_BLOCK output rows at a time
/// share their input rows' loads.
INLINE void LOCAL(correlate)(const S *padded, int64_t stride, const S *kernel, int64_t kh,
    int64_t kw, int flipped, int64_t outputHeight, int64_t outputWidth, int accumulate,
    S *output) {
    S w[kh * kw];
    for (int64_t t = 0; t < kh * kw; t++) w[t] = flipped ? kernel[kh * kw - 1 - t] : kernel[t];
    int64_t oy = 0;
    for (; oy + ROW_BLOCK <= outputHeight; oy += ROW_BLOCK) {
        const S *rows = padded + oy * stride;
        S *out = output + oy * outputWidth;
        for (int64_t ox = 0; ox < outputWidth; ox += LANES) {
            V sums[ROW_BLOCK];
            for (int b = 0; b < ROW_BLOCK; b++) sums[b] = (V){0};
            for (int64_t r = 0; r < kh + ROW_BLOCK - 1; r++)
                for (int64_t j = 0; j < kw; j++) {
                    const V x = LOCAL(load)(rows + r * stride + ox + j);
                    for (int b = 0; b < ROW_BLOCK; b++)
                        if (r - b >= 0 && r - b < kh) sums[b] += x * w[(r - b) * kw + j];
                }
            for (int b = 0; b < ROW_BLOCK; b++)
                LOCAL(finish)(out + b * outputWidth + ox, sums[b], outputWidth - ox, accumulate);
        }
    }
    for (; oy < outputHeight; oy++) {
        const S *rows = padded + oy * stride;
        S *out = output + oy * outputWidth;
        for (int64_t ox = 0; ox < outputWidth; ox += LANES) {
            V sum = (V){0};
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = 0; j < kw; j++)
                    sum += LOCAL(load)(rows + i * stride + ox + j) * w[i * kw + j];
            LOCAL(finish)(out + ox, sum, outputWidth - ox, accumulate);
        }
    }
}

/// ``correlate`` with the kernel sizes as constants for the common kernels.
static void LOCAL(correlateAnySize)(const S *padded, int64_t stride, const S *kernel, int64_t kh,
    int64_t kw, int flipped, int64_t outputHeight, int64_t outputWidth, int accumulate,
    S *output) {
    if (kh == 3 && kw == 3)
        LOCAL(correlate)(padded, stride, kernel, 3, 3, flipped, outputHeight, outputWidth, accumulate, output);
    else if (kh == 5 && kw == 5)
        LOCAL(correlate)(padded, stride, kernel, 5, 5, flipped, outputHeight, outputWidth, accumulate, output);
    else
        LOCAL(correlate)(padded, stride, kernel, kh, kw, flipped, outputHeight, outputWidth, accumulate, output);
}

void DW_NAME(forward)(const S *input, int64_t height, int64_t width, const S *filter,
    int64_t multiplier, int64_t kernelHeight, int64_t kernelWidth, int64_t paddingHeight,
    int64_t paddingWidth, S *scratch, S *output) {
    const int64_t outputHeight = height + 2 * paddingHeight - kernelHeight + 1;
    const int64_t outputWidth = width + 2 * paddingWidth - kernelWidth + 1;
    const int64_t stride = depthwisePaddedStride(outputWidth, kernelWidth);
    LOCAL(pad)(input, height, width, paddingHeight, paddingWidth, outputHeight + kernelHeight - 1,
        stride, scratch);
    const int64_t taps = kernelHeight * kernelWidth, plane = outputHeight * outputWidth;
    for (int64_t m = 0; m < multiplier; m++)
        LOCAL(correlateAnySize)(scratch, stride, filter + m * taps, kernelHeight, kernelWidth, 0,
            outputHeight, outputWidth, 0, output + m * plane);
}

void DW_NAME(inputGradient)(const S *outputGradient, int64_t outputHeight, int64_t outputWidth,
    const S *filter, int64_t multiplier, int64_t kernelHeight, int64_t kernelWidth,
    int64_t paddingHeight, int64_t paddingWidth, S *scratch, S *inputGradient) {
    // The correlation of the output gradient padded by k − 1 − p with the flipped kernel.
    const int64_t height = outputHeight - 2 * paddingHeight + kernelHeight - 1;
    const int64_t width = outputWidth - 2 * paddingWidth + kernelWidth - 1;
    const int64_t stride = depthwisePaddedStride(width, kernelWidth);
    const int64_t taps = kernelHeight * kernelWidth, plane = outputHeight * outputWidth;
    for (int64_t m = 0; m < multiplier; m++) {
        LOCAL(pad)(outputGradient + m * plane, outputHeight, outputWidth,
            kernelHeight - 1 - paddingHeight, kernelWidth - 1 - paddingWidth,
            height + kernelHeight - 1, stride, scratch);
        LOCAL(correlateAnySize)(scratch, stride, filter + m * taps, kernelHeight, kernelWidth, 1,
            height, width, m > 0, inputGradient);
    }
}

/// For each vector of outputs `c` and kernel column `j`: `reads[c·kw + j]`, the lanes whose
/// output reads an input column (not padding, not past the row); `inside[c]` when all lanes do
/// for every kernel column.
INLINE void LOCAL(columnMasks)(int64_t width, int64_t outputWidth, int64_t kw,
    int64_t paddingWidth, M *reads, int *inside) {
    M lane;
    for (int l = 0; l < LANES; l++) lane[l] = l;
    for (int64_t c = 0; c * LANES < outputWidth; c++) {
        inside[c] = 1;
        for (int64_t j = 0; j < kw; j++) {
            const int64_t first = paddingWidth - j, end = width + paddingWidth - j;
            const int64_t upper = (end < outputWidth ? end : outputWidth) - c * LANES;
            const M m = (lane >= (M){0} + (__typeof__(lane[0]))(first - c * LANES))
                & (lane < (M){0} + (__typeof__(lane[0]))(upper < 0 ? 0 : upper > LANES ? LANES : upper));
            reads[c * kw + j] = m;
            for (int l = 0; l < LANES; l++) inside[c] &= m[l] != 0;
        }
    }
}

/// Adds one image's products to the tap sums `sums` (`kh·kw` vectors): the gradient plane
/// `gradient` `[outputHeight, outputWidth]` times the padded input plane each tap reads.
///
/// `masked`: like the portable path, a tap multiplies only the gradients of outputs that read
/// inside the input, so a NaN or ∞ gradient never meets padding (0 · ∞ would make NaN) and lanes
/// past the row add nothing. Unmasked, padding and lanes past the row add products with a zero
/// factor: the same sums when every value is finite, and a non-finite sum otherwise.
INLINE void LOCAL(accumulatePlane)(V *sums, const S *gradient, const S *padded, int64_t stride,
    int64_t height, int64_t outputHeight, int64_t outputWidth, int64_t kh, int64_t kw,
    int64_t paddingHeight, const M *reads, const int *inside, int masked) {
    V acc[kh * kw];
    for (int64_t t = 0; t < kh * kw; t++) acc[t] = sums[t];
    for (int64_t oy = 0; oy < outputHeight; oy++) {
        const S *rows = padded + oy * stride, *dy = gradient + oy * outputWidth;
        for (int64_t ox = 0, c = 0; ox < outputWidth; ox += LANES, c++) {
            const int64_t count = outputWidth - ox;
            const V g = count >= LANES ? LOCAL(load)(dy + ox) : LOCAL(loadFirst)(dy + ox, count);
            for (int64_t i = 0; i < kh; i++) {
                // Rows of padding: skipped when masked.
                if (masked && (oy + i < paddingHeight || oy + i >= height + paddingHeight)) continue;
                const S *row = rows + i * stride + ox;
                if (!masked || inside[c]) {
                    for (int64_t j = 0; j < kw; j++) acc[i * kw + j] += g * LOCAL(load)(row + j);
                } else {
                    for (int64_t j = 0; j < kw; j++) {
                        const V product = g * LOCAL(load)(row + j);
                        acc[i * kw + j] += (V)((M)product & reads[c * kw + j]);
                    }
                }
            }
        }
    }
    for (int64_t t = 0; t < kh * kw; t++) sums[t] = acc[t];
}

/// Each tap's lanes summed in order.
INLINE void LOCAL(sumLanes)(const V *sums, int64_t taps, S *filterGradient) {
    for (int64_t t = 0; t < taps; t++) {
        S total = 0;
        for (int l = 0; l < LANES; l++) total += sums[t][l];
        filterGradient[t] = total;
    }
}

/// The filter gradient of output channels `firstOutputChannel ..< + outputChannelCount` for
/// constant kernel sizes. Images outside, channels inside, so the planes are read in memory
/// order; one vector of partial sums per tap and channel (`partialSums`). A channel whose sums
/// are not finite (a NaN or ∞ took part, or a product overflowed) is summed again, masked.
INLINE void LOCAL(filterGradientTaps)(const S *outputGradient, const S *input, int64_t images,
    int64_t channels, int64_t multiplier, int64_t firstOutputChannel, int64_t outputChannelCount,
    int64_t height, int64_t width, int64_t kh, int64_t kw, int64_t paddingHeight,
    int64_t paddingWidth, S *scratch, S *partialSums, S *filterGradient) {
    const int64_t outputHeight = height + 2 * paddingHeight - kh + 1;
    const int64_t outputWidth = width + 2 * paddingWidth - kw + 1;
    const int64_t stride = depthwisePaddedStride(outputWidth, kw);
    const int64_t chunks = (outputWidth + LANES - 1) / LANES, taps = kh * kw;
    const int64_t plane = outputHeight * outputWidth, inputPlane = height * width;
    const int64_t outputChannels = channels * multiplier;
    M reads[chunks * kw];
    int inside[chunks];
    LOCAL(columnMasks)(width, outputWidth, kw, paddingWidth, reads, inside);
    // Each channel's tap sums, `taps` vectors at `partialSums + k·taps·LANES` (copied, as they
    // need not be aligned).
    for (int64_t k = 0; k < outputChannelCount * taps * LANES; k++) partialSums[k] = 0;
    for (int64_t n = 0; n < images; n++) {
        int64_t padded = -1;
        for (int64_t k = 0; k < outputChannelCount; k++) {
            const int64_t o = firstOutputChannel + k, channel = o / multiplier;
            if (channel != padded) {
                LOCAL(pad)(input + (n * channels + channel) * inputPlane, height, width,
                    paddingHeight, paddingWidth, outputHeight + kh - 1, stride, scratch);
                padded = channel;
            }
            V tapSums[taps];
            __builtin_memcpy(tapSums, partialSums + k * taps * LANES, sizeof(tapSums));
            LOCAL(accumulatePlane)(tapSums, outputGradient + (n * outputChannels + o) * plane,
                scratch, stride, height, outputHeight, outputWidth, kh, kw, paddingHeight, reads,
                inside, 0);
            __builtin_memcpy(partialSums + k * taps * LANES, tapSums, sizeof(tapSums));
        }
    }
    for (int64_t k = 0; k < outputChannelCount; k++) {
        V tapSums[taps];
        __builtin_memcpy(tapSums, partialSums + k * taps * LANES, sizeof(tapSums));
        S *target = filterGradient + k * taps;
        LOCAL(sumLanes)(tapSums, taps, target);
        int finite = 1;
        for (int64_t t = 0; t < taps; t++) finite &= target[t] - target[t] == 0;
        if (finite) continue;
        const int64_t o = firstOutputChannel + k, channel = o / multiplier;
        for (int64_t t = 0; t < taps; t++) tapSums[t] = (V){0};
        for (int64_t n = 0; n < images; n++) {
            LOCAL(pad)(input + (n * channels + channel) * inputPlane, height, width,
                paddingHeight, paddingWidth, outputHeight + kh - 1, stride, scratch);
            LOCAL(accumulatePlane)(tapSums, outputGradient + (n * outputChannels + o) * plane,
                scratch, stride, height, outputHeight, outputWidth, kh, kw, paddingHeight, reads,
                inside, 1);
        }
        LOCAL(sumLanes)(tapSums, taps, target);
    }
}

void DW_NAME(filterGradient)(const S *outputGradient, const S *input, int64_t images,
    int64_t channels, int64_t multiplier, int64_t firstOutputChannel, int64_t outputChannelCount,
    int64_t height, int64_t width, int64_t kernelHeight, int64_t kernelWidth,
    int64_t paddingHeight, int64_t paddingWidth, S *scratch, S *partialSums,
    S *filterGradient) {
    if (kernelHeight == 3 && kernelWidth == 3)
        LOCAL(filterGradientTaps)(outputGradient, input, images, channels, multiplier,
            firstOutputChannel, outputChannelCount, height, width, 3, 3, paddingHeight,
            paddingWidth, scratch, partialSums, filterGradient);
    else if (kernelHeight == 5 && kernelWidth == 5)
        LOCAL(filterGradientTaps)(outputGradient, input, images, channels, multiplier,
            firstOutputChannel, outputChannelCount, height, width, 5, 5, paddingHeight,
            paddingWidth, scratch, partialSums, filterGradient);
    else
        LOCAL(filterGradientTaps)(outputGradient, input, images, channels, multiplier,
            firstOutputChannel, outputChannelCount, height, width, kernelHeight, kernelWidth,
            paddingHeight, paddingWidth, scratch, partialSums, filterGradient);
}

#undef V
#undef M
#undef INLINE
#undef ROW_BLOCK
#undef LANES
#undef LOCAL
#undef DW_LOCAL1
#undef DW_LOCAL2
#undef DW_NAME
#undef DW_NAME1
#undef DW_NAME2
