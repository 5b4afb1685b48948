// The Winograd F(4×4, 3×3) chunk transforms for one scalar type at one level, for Winograd.c.
// Compiled per level and scalar through EachLevel.h.
// Channels come in groups of 8 (the plan's padding); a group is one vector of LANES = 8 scalars
// when 8 scalars fill VECTOR_BYTES or less, else two of 4 (AVX2 Double). With 16-lane AVX-512
// Float vectors, pairs of groups run as one vector and a last odd group as 8 lanes.

#define WINOGRAD_NAME2(base, suffix, level) nabla_winograd_##base##_##suffix##_##level
#define WINOGRAD_NAME1(base, suffix, level) WINOGRAD_NAME2(base, suffix, level)
#define WINOGRAD_NAME(base) WINOGRAD_NAME1(base, SUFFIX, LEVEL)
#define TILE_NAME2(name, lanes, suffix, level) name##_##lanes##_##suffix##_##level
#define TILE_NAME1(name, lanes, suffix, level) TILE_NAME2(name, lanes, suffix, level)

#define WIDE_LANES (VECTOR_BYTES / SCALAR_BYTES)

// Transposes of BLOCK × BLOCK scalars in BLOCK vectors (8 Floats or 4 Doubles): row i lane j
// becomes row j lane i. For moving channels between the NCHW tensors and the channels-last
// scratch.
#if SCALAR_BYTES == 4
#define BLOCK 8
typedef S TILE_NAME1(Block, narrow, SUFFIX, LEVEL) __attribute__((vector_size(32)));
#define BV TILE_NAME1(Block, narrow, SUFFIX, LEVEL)
static inline __attribute__((always_inline)) void TILE_NAME1(transpose, block, SUFFIX, LEVEL)(BV *r) {
    BV t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = __builtin_shufflevector(t[i], t[i + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 1] = __builtin_shufflevector(t[i], t[i + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[i + 2] = __builtin_shufflevector(t[i + 1], t[i + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[i + 3] = __builtin_shufflevector(t[i + 1], t[i + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[i + 4] = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}
#else
#define BLOCK 4
typedef S TILE_NAME1(Block, narrow, SUFFIX, LEVEL) __attribute__((vector_size(32)));
#define BV TILE_NAME1(Block, narrow, SUFFIX, LEVEL)
static inline __attribute__((always_inline)) void TILE_NAME1(transpose, block, SUFFIX, LEVEL)(BV *r) {
    const BV t0 = __builtin_shufflevector(r[0], r[1], 0, 4, 2, 6);
    const BV t1 = __builtin_shufflevector(r[0], r[1], 1, 5, 3, 7);
    const BV t2 = __builtin_shufflevector(r[2], r[3], 0, 4, 2, 6);
    const BV t3 = __builtin_shufflevector(r[2], r[3], 1, 5, 3, 7);
    r[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    r[1] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    r[2] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    r[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}
#endif
#define TRANSPOSE TILE_NAME1(transpose, block, SUFFIX, LEVEL)

/// The first `count` < BLOCK scalars at `p` in a block vector, the rest zero. A copy of constant
/// size per case: a variable-size copy was a call to memcpy per channel of every row's last
/// pixels (3% of a ConvTranspose2D step on a Zen 4).
static inline __attribute__((always_inline)) BV TILE_NAME1(loadPartial, block, SUFFIX, LEVEL)(
    const S *p, int64_t count) {
    BV r = (BV){0};
#define PARTIAL_CASE(n) case n: __builtin_memcpy(&r, p, n * sizeof(S)); break;
    switch (count) {
        PARTIAL_CASE(1) PARTIAL_CASE(2) PARTIAL_CASE(3)
#if BLOCK == 8
        PARTIAL_CASE(4) PARTIAL_CASE(5) PARTIAL_CASE(6) PARTIAL_CASE(7)
#endif
        default: break;
    }
#undef PARTIAL_CASE
    return r;
}
#define LOAD_PARTIAL TILE_NAME1(loadPartial, block, SUFFIX, LEVEL)

// The wide vector: all of VECTOR_BYTES.
#define LANES WIDE_LANES
typedef S TILE_NAME1(Vector, wide, SUFFIX, LEVEL) __attribute__((vector_size(VECTOR_BYTES)));
#define V TILE_NAME1(Vector, wide, SUFFIX, LEVEL)
#define TILE(name) TILE_NAME1(name, wide, SUFFIX, LEVEL)
#include "WinogradTile.h"
#undef TILE
#undef V
#undef LANES

// The narrow vector: 8 scalars, for the last group when wide vectors hold 16.
#if WIDE_LANES > 8
#define LANES 8
typedef S TILE_NAME1(Vector, eight, SUFFIX, LEVEL) __attribute__((vector_size(8 * sizeof(S))));
#define V TILE_NAME1(Vector, eight, SUFFIX, LEVEL)
#define TILE(name) TILE_NAME1(name, eight, SUFFIX, LEVEL)
#include "WinogradTile.h"
#undef TILE
#undef V
#undef LANES
#endif

#define WIDE(name) TILE_NAME1(name, wide, SUFFIX, LEVEL)
#define WIDE_VECTOR TILE_NAME1(Vector, wide, SUFFIX, LEVEL)
#define EIGHT(name) TILE_NAME1(name, eight, SUFFIX, LEVEL)

/// Whether a wide vector fits `left` channels (a multiple of 8): always, unless wide vectors
/// hold 16 and only 8 are left.
#if WIDE_LANES > 8
#define WIDE_FITS(left) ((left) >= WIDE_LANES)
#else
#define WIDE_FITS(left) 1
#endif


void WINOGRAD_NAME(stage)(const S *source, int64_t images, int64_t channels, int64_t height,
    int64_t width, int64_t top, int64_t left, int64_t stagedHeight, int64_t stagedWidth,
    int64_t stagedChannels, S *staging) {
    const int64_t imageCount = stagedHeight * stagedWidth * stagedChannels;
    const int64_t rowCount = stagedWidth * stagedChannels;
    const int64_t plane = height * width;
    for (int64_t image = 0; image < images; image++) {
        S *target = staging + image * imageCount;
        const S *from = source + image * channels * plane;
        // Zeros: the rows above and below, the columns left and right, the channels past
        // `channels`.
        __builtin_memset(target, 0, sizeof(S) * top * rowCount);
        __builtin_memset(target + (top + height) * rowCount, 0,
            sizeof(S) * (stagedHeight - top - height) * rowCount);
        for (int64_t y = 0; y < height; y++) {
            S *row = target + (top + y) * rowCount;
            __builtin_memset(row, 0, sizeof(S) * left * stagedChannels);
            __builtin_memset(row + (left + width) * stagedChannels, 0,
                sizeof(S) * (stagedWidth - left - width) * stagedChannels);
            if (channels < stagedChannels)
                for (int64_t x = 0; x < width; x++)
                    __builtin_memset(row + (left + x) * stagedChannels + channels, 0,
                        sizeof(S) * (stagedChannels - channels));
        }
        // BLOCK channels × BLOCK pixels at a time, transposed in registers; then the rest singly.
        const int64_t blockChannels = channels / BLOCK * BLOCK;
        for (int64_t c = 0; c < blockChannels; c += BLOCK) {
            for (int64_t y = 0; y < height; y++) {
                const S *row = from + c * plane + y * width;
                S *to = target + ((top + y) * stagedWidth + left) * stagedChannels + c;
                int64_t x = 0;
                for (; x + BLOCK <= width; x += BLOCK) {
                    BV r[BLOCK];
                    for (int k = 0; k < BLOCK; k++) __builtin_memcpy(&r[k], row + k * plane + x, sizeof(BV));
                    TRANSPOSE(r);
                    for (int k = 0; k < BLOCK; k++)
                        __builtin_memcpy(to + (x + k) * stagedChannels, &r[k], sizeof(BV));
                }
                if (x < width) {  // the last pixels of the row: a partial block, read exactly
                    const int64_t rest = width - x;
                    BV r[BLOCK];
                    for (int k = 0; k < BLOCK; k++) r[k] = LOAD_PARTIAL(row + k * plane + x, rest);
                    TRANSPOSE(r);
                    for (int k = 0; k < rest; k++)
                        __builtin_memcpy(to + (x + k) * stagedChannels, &r[k], sizeof(BV));
                }
            }
        }
        for (int64_t c = blockChannels; c < channels; c++) {
            for (int64_t y = 0; y < height; y++) {
                const S *row = from + c * plane + y * width;
                S *to = target + ((top + y) * stagedWidth + left) * stagedChannels + c;
                for (int64_t x = 0; x < width; x++) to[x * stagedChannels] = row[x];
            }
        }
    }
}

// F(4×4, 3×3): nabla_winograd_input_…, _output_…, _gradient_….
#define DRIVER_NAME(base) WINOGRAD_NAME(base)
#define POSITIONS 36
#define INPUT_TILE inputTile
#define OUTPUT_TILE outputTile
#define GRADIENT_TILE gradientTile
#include "WinogradDrivers.h"
#undef DRIVER_NAME
#undef POSITIONS
#undef INPUT_TILE
#undef OUTPUT_TILE
#undef GRADIENT_TILE

// F(4×4, 2×2): nabla_winograd_input2_…, _output2_…, _gradient2_….
#define DRIVER_NAME(base) WINOGRAD_NAME1(base##2, SUFFIX, LEVEL)
#define POSITIONS 25
#define INPUT_TILE inputTile2
#define OUTPUT_TILE outputTile2
#define GRADIENT_TILE gradientTile2
#include "WinogradDrivers.h"
#undef DRIVER_NAME
#undef POSITIONS
#undef INPUT_TILE
#undef OUTPUT_TILE
#undef GRADIENT_TILE

/// Stores the 4×4 results `values` of `count` channels o… of a space-to-depth 2×2 convolution's
/// tile (ty, tx) through depth-to-space: channel (2a + b)·channels + c of reduced pixel (u, v)
/// to pixel (2u + a − top, 2v + b − left) of channel c of `target` `[channels, height, width]`,
/// when that is inside it and (u, v) inside the reduced outputHeight × outputWidth.
static inline __attribute__((always_inline)) void WINOGRAD_NAME(storeDepthToSpace)(
    const S *values, int64_t valueStride, int count, int64_t o, int64_t ty, int64_t tx,
    int64_t outputHeight, int64_t outputWidth, int64_t channels, int64_t height, int64_t width,
    int64_t top, int64_t left, S *target) {
    // Channel o + lane is c of phase `phase`, stepped per lane (a division per lane cost more than
    // the stores).
    int64_t phase = o / channels, c = o - phase * channels;
    for (int lane = 0; lane < count; lane++, c++) {
        if (c == channels) c = 0, phase++;
        S *to = target + c * height * width;
        for (int i = 0; i < 4; i++) {
            const int64_t u = ty * 4 + i, y = 2 * u + (phase >> 1) - top;
            if (u >= outputHeight || y < 0 || y >= height) continue;
            for (int j = 0; j < 4; j++) {
                const int64_t v = tx * 4 + j, x = 2 * v + (phase & 1) - left;
                if (v < outputWidth && x >= 0 && x < width)
                    to[y * width + x] = values[(i * 4 + j) * valueStride + lane];
            }
        }
    }
}

typedef S TILE_NAME1(Vector, four, SUFFIX, LEVEL) __attribute__((vector_size(4 * sizeof(S))));
typedef S TILE_NAME1(Vector, pairs, SUFFIX, LEVEL) __attribute__((vector_size(8 * sizeof(S))));

/// Stores elements lo ..< hi of the 8 at `row` at `line + x0 + lo …`: copies of constant size,
/// all 8 at once when they fit (so a partial copy holds at most 7).
static inline __attribute__((always_inline)) void WINOGRAD_NAME(storeColumns)(
    const S *row, S *line, int64_t x0, int lo, int hi) {
    if (lo == 0 && hi == 8) {
        __builtin_memcpy(line + x0, row, 8 * sizeof(S));
        return;
    }
    S *to = line + x0 + lo;
    const S *from = row + lo;
#define COLUMNS_CASE(n) case n: __builtin_memcpy(to, from, n * sizeof(S)); break;
    switch (hi - lo) {
        COLUMNS_CASE(1) COLUMNS_CASE(2) COLUMNS_CASE(3) COLUMNS_CASE(4) COLUMNS_CASE(5)
        COLUMNS_CASE(6) COLUMNS_CASE(7)
        default: break;
    }
#undef COLUMNS_CASE
}

/// One tile of WIDE_LANES channels c… in each of the 4 phases, `channels` a multiple of
/// WIDE_LANES: each phase's 4×4 results transposed to channel-major `tiles`, then row i of phases
/// (a, 0) and (a, 1) interleaved into the 8 pixels 8tx − left … of output row 2(4ty + i) + a − top.
static inline __attribute__((always_inline)) void WINOGRAD_NAME(depthToSpaceTile)(
    const S *source, const S *bias, int64_t ov, int64_t c, int64_t ty, int64_t tx,
    int64_t outputHeight, int64_t outputWidth, int64_t channels, int64_t height, int64_t width,
    int64_t top, int64_t left, S *target) {
    const int64_t x0 = 8 * tx - left;
    int64_t hi = width - x0;
    if (hi > 8) hi = 8;
    if (hi > 2 * (outputWidth - 4 * tx)) hi = 2 * (outputWidth - 4 * tx);
    const int lo = x0 < 0 ? (int)-x0 : 0;
    if (hi <= lo) return;
    S tiles[4][WIDE_LANES][16];
    for (int phase = 0; phase < 4; phase++) {
        WIDE_VECTOR y[16];
        WIDE(outputTile2)(source + phase * channels + c, ov, y);
        if (bias) WIDE(addBias)(y, bias + phase * channels + c);
        WIDE(storeOutputTile)(y, &tiles[phase][0][0], 16, 4, 4, 4, WIDE_LANES);
    }
    for (int i = 0; i < 4 && ty * 4 + i < outputHeight; i++) {
        for (int a = 0; a < 2; a++) {
            const int64_t row = 2 * (ty * 4 + i) + a - top;
            if (row < 0 || row >= height) continue;
            for (int lane = 0; lane < WIDE_LANES; lane++) {
                TILE_NAME1(Vector, four, SUFFIX, LEVEL) even, odd;
                __builtin_memcpy(&even, &tiles[2 * a][lane][4 * i], sizeof even);
                __builtin_memcpy(&odd, &tiles[2 * a + 1][lane][4 * i], sizeof odd);
                const TILE_NAME1(Vector, pairs, SUFFIX, LEVEL) pixels =
                    __builtin_shufflevector(even, odd, 0, 4, 1, 5, 2, 6, 3, 7);
                WINOGRAD_NAME(storeColumns)((const S *)&pixels,
                    target + ((c + lane) * height + row) * width, x0, lo, (int)hi);
            }
        }
    }
}

/// nabla_winograd_output2_… for a space-to-depth 2×2 convolution's input gradient (a transposed
/// convolution's forward), stored through depth-to-space into `output`
/// `[images, channels, height, width]` (see storeDepthToSpace) instead of `[images,
/// outputChannels, outputHeight, outputWidth]`. Channels in whole vectors per phase take
/// depthToSpaceTile; others are stored one by one.
void WINOGRAD_NAME(outputDepthToSpace2)(const S *products, const S *bias, int64_t images,
    int64_t tilesHigh, int64_t tilesWide, int64_t outputHeight, int64_t outputWidth,
    int64_t outputChannels, int64_t ov, int64_t channels, int64_t height, int64_t width,
    int64_t top, int64_t left, S *output) {
    int64_t tile = 0;
    for (int64_t image = 0; image < images; image++) {
        S *target = output + image * channels * height * width;
        for (int64_t ty = 0; ty < tilesHigh; ty++) {
            for (int64_t tx = 0; tx < tilesWide; tx++, tile++) {
                const S *source = products + tile * 25 * ov;
                if (channels % WIDE_LANES == 0) {
                    for (int64_t c = 0; c < channels; c += WIDE_LANES)
                        WINOGRAD_NAME(depthToSpaceTile)(source, bias, ov, c, ty, tx, outputHeight,
                            outputWidth, channels, height, width, top, left, target);
                    continue;
                }
                for (int64_t o = 0; o < outputChannels;) {
                    const int64_t remaining = outputChannels - o;
                    if (WIDE_FITS(ov - o)) {
                        WIDE_VECTOR y[16];
                        WIDE(outputTile2)(source + o, ov, y);
                        if (bias) WIDE(addBias)(y, bias + o);
                        WINOGRAD_NAME(storeDepthToSpace)((const S *)y, WIDE_LANES,
                            remaining < WIDE_LANES ? (int)remaining : WIDE_LANES, o, ty, tx, outputHeight,
                            outputWidth, channels, height, width, top, left, target);
                        o += WIDE_LANES;
                    }
#if WIDE_LANES > 8
                    else {
                        __typeof__(EIGHT(load)(0)) y[16];
                        EIGHT(outputTile2)(source + o, ov, y);
                        if (bias) EIGHT(addBias)(y, bias + o);
                        WINOGRAD_NAME(storeDepthToSpace)((const S *)y, 8, remaining < 8 ? (int)remaining : 8,
                            o, ty, tx, outputHeight, outputWidth, channels, height, width, top,
                            left, target);
                        o += 8;
                    }
#endif
                }
            }
        }
    }
}

/// The taps of BLOCK input channels c… for WIDE_LANES output channels o… of a filter
/// `[O, C, taps]`: `to[j·taps + k]` lane i = filter[o + i, c + j, k]. Output channel o + i's
/// BLOCK·taps scalars are contiguous, so they are read as BLOCK × BLOCK blocks and transposed in
/// registers (a gather one scalar at a time stalled on its stores: 5–13% of a transposed
/// convolution's forward at 2 threads on a Zen 4, as noisy as that machine was). Needs
/// c + BLOCK ≤ C and o + WIDE_LANES ≤ O.
static inline __attribute__((always_inline)) void WIDE(gatherTaps)(
    const S *filter, int64_t channels, int taps, int64_t o, int64_t c, WIDE_VECTOR *to) {
    for (int q = 0; q < taps; q++) {
        BV rows[WIDE_LANES / BLOCK][BLOCK];
        for (int h = 0; h < WIDE_LANES / BLOCK; h++) {
            for (int i = 0; i < BLOCK; i++)
                __builtin_memcpy(&rows[h][i], filter + ((o + h * BLOCK + i) * channels + c) * taps + q * BLOCK,
                    sizeof(BV));
            TRANSPOSE(rows[h]);
        }
        for (int t = 0; t < BLOCK; t++) {
#if WIDE_LANES == BLOCK
            to[q * BLOCK + t] = rows[0][t];
#elif BLOCK == 8
            to[q * BLOCK + t] = __builtin_shufflevector(rows[0][t], rows[1][t], 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                11, 12, 13, 14, 15);
#else
            to[q * BLOCK + t] = __builtin_shufflevector(rows[0][t], rows[1][t], 0, 1, 2, 3, 4, 5, 6, 7);
#endif
        }
    }
}

/// The same taps one scalar at a time, for a last block of output channels (`lanes` of them,
/// zeros past) or of input channels (`count` of them).
static inline __attribute__((always_inline)) void WIDE(gatherTapsSingly)(const S *filter, int64_t channels,
    int taps, int64_t o, int lanes, int64_t c, int count, WIDE_VECTOR *to) {
    for (int j = 0; j < count; j++) {
        for (int k = 0; k < taps; k++) {
            S gathered[WIDE_LANES];
            for (int lane = 0; lane < WIDE_LANES; lane++)
                gathered[lane] = lane < lanes ? filter[((o + lane) * channels + c + j) * taps + k] : 0;
            __builtin_memcpy(&to[j * taps + k], gathered, sizeof(WIDE_VECTOR));
        }
    }
}

/// The taps of `count` ≤ BLOCK input channels c… for `lanes` output channels o…: by register
/// transposes for a whole block, else one scalar at a time.
static inline __attribute__((always_inline)) void WIDE(gatherTapBlock)(const S *filter, int64_t channels,
    int taps, int64_t o, int lanes, int64_t c, int count, WIDE_VECTOR *to) {
    if (count == BLOCK && lanes == WIDE_LANES) WIDE(gatherTaps)(filter, channels, taps, o, c, to);
    else WIDE(gatherTapsSingly)(filter, channels, taps, o, lanes, c, count, to);
}

/// Stores the first `lanes` lanes of u[0 ..< n] at `to`, `to + stride`, ….
static inline __attribute__((always_inline)) void WIDE(storeLanes)(
    const WIDE_VECTOR *u, int n, S *to, int64_t stride, int lanes) {
    for (int j = 0; j < n; j++) {
        if (lanes == WIDE_LANES) __builtin_memcpy(to + j * stride, &u[j], sizeof(WIDE_VECTOR));
        else __builtin_memcpy(to + j * stride, &u[j], sizeof(S) * lanes);
    }
}

/// G x for a column x of 3 (F(4×4, 3×3)), written to `to[0], to[stride], …`: 6 vectors.
static inline __attribute__((always_inline)) void WIDE(filterColumn)(
    WIDE_VECTOR g0, WIDE_VECTOR g1, WIDE_VECTOR g2, WIDE_VECTOR *to, int stride) {
    const S quarter = 0.25, minusSixth = (S)-1 / 6, twelfth = (S)1 / 12, sixth = (S)1 / 6,
            twentyFourth = (S)1 / 24;
    const WIDE_VECTOR outer = g0 + g2;
    const WIDE_VECTOR even = g0 * twentyFourth + g2 * sixth;
    const WIDE_VECTOR odd = g1 * twelfth;
    to[0] = g0 * quarter;
    to[stride] = (outer + g1) * minusSixth;
    to[2 * stride] = (outer - g1) * minusSixth;
    to[3 * stride] = even + odd;
    to[4 * stride] = even - odd;
    to[5 * stride] = g2;
}

/// Gᵀ x for a column x of 6 at `x[0], x[stride], …`, written to `to[0], to[1], to[2]`.
static inline __attribute__((always_inline)) void WIDE(filterColumnTransposed)(
    const WIDE_VECTOR *x, int stride, WIDE_VECTOR *to) {
    const S quarter = 0.25, sixth = (S)1 / 6, twelfth = (S)1 / 12, twentyFourth = (S)1 / 24;
    const WIDE_VECTOR u0 = x[0], u1 = x[stride], u2 = x[2 * stride], u3 = x[3 * stride],
                      u4 = x[4 * stride], u5 = x[5 * stride];
    const WIDE_VECTOR sum12 = u1 + u2;
    const WIDE_VECTOR sum34 = u3 + u4;
    to[0] = u0 * quarter - sum12 * sixth + sum34 * twentyFourth;
    to[1] = (u2 - u1) * sixth + (u3 - u4) * twelfth;
    to[2] = (sum34 - sum12) * sixth + u5;
}

void WINOGRAD_NAME(filter)(const S *filter, int64_t channels, int64_t outputChannels,
    S *transformed) {
    for (int64_t c = 0; c < channels; c += BLOCK) {
        const int count = channels - c < BLOCK ? (int)(channels - c) : BLOCK;
        for (int64_t o = 0; o < outputChannels; o += WIDE_LANES) {
            const int lanes = outputChannels - o < WIDE_LANES ? (int)(outputChannels - o) : WIDE_LANES;
            WIDE_VECTOR taps[9 * BLOCK];
            WIDE(gatherTapBlock)(filter, channels, 9, o, lanes, c, count, taps);
            for (int channel = 0; channel < count; channel++) {
                const WIDE_VECTOR *g = taps + channel * 9;
                S *target = transformed + (c + channel) * 36 * outputChannels + o;
                WIDE_VECTOR gg[18], u[6];
                for (int j = 0; j < 3; j++) WIDE(filterColumn)(g[j], g[3 + j], g[6 + j], gg + j, 3);
                for (int i = 0; i < 6; i++) {
                    WIDE(filterColumn)(gg[i * 3], gg[i * 3 + 1], gg[i * 3 + 2], u, 1);
                    WIDE(storeLanes)(u, 6, target + i * 6 * outputChannels, outputChannels, lanes);
                }
            }
        }
    }
}

void WINOGRAD_NAME(filterGradient)(const S *transformed, int64_t channels, int64_t outputChannels,
    S *filterGradient) {
    for (int64_t c = 0; c < channels; c++) {
        const S *source = transformed + c * 36 * outputChannels;
        for (int64_t o = 0; o < outputChannels; o += WIDE_LANES) {
            const int lanes = outputChannels - o < WIDE_LANES ? (int)(outputChannels - o) : WIDE_LANES;
            WIDE_VECTOR u[6], columns[18], r[3];
            for (int i = 0; i < 6; i++) {
                const S *row = source + i * 6 * outputChannels + o;
                for (int j = 0; j < 6; j++) {
                    u[j] = (WIDE_VECTOR){0};
                    __builtin_memcpy(&u[j], row + j * outputChannels, sizeof(S) * lanes);
                }
                WIDE(filterColumnTransposed)(u, 1, columns + i * 3);
            }
            S taps[9][WIDE_LANES];
            for (int j = 0; j < 3; j++) {
                WIDE(filterColumnTransposed)(columns + j, 3, r);
                __builtin_memcpy(taps[j], &r[0], sizeof(WIDE_VECTOR));
                __builtin_memcpy(taps[3 + j], &r[1], sizeof(WIDE_VECTOR));
                __builtin_memcpy(taps[6 + j], &r[2], sizeof(WIDE_VECTOR));
            }
            for (int lane = 0; lane < lanes; lane++) {
                S *to = filterGradient + ((o + lane) * channels + c) * 9;
                for (int k = 0; k < 9; k++) to[k] = taps[k][lane];
            }
        }
    }
}


/// G x for a column x of 2 (F(4×4, 2×2)), written to `to[0], to[stride], …`: 5 vectors.
static inline __attribute__((always_inline)) void WIDE(filterColumn2)(
    WIDE_VECTOR g0, WIDE_VECTOR g1, WIDE_VECTOR *to, int stride) {
    const S half = 0.5, sixth = (S)1 / 6, third = (S)1 / 3;
    to[0] = g0 * half;
    to[stride] = (g0 + g1) * -half;
    to[2 * stride] = (g1 - g0) * sixth;
    to[3 * stride] = g0 * sixth + g1 * third;
    to[4 * stride] = g1;
}

/// Gᵀ x for a column x of 5 at `x[0], x[stride], …`, written to `to[0], to[1]`.
static inline __attribute__((always_inline)) void WIDE(filterColumnTransposed2)(
    const WIDE_VECTOR *x, int stride, WIDE_VECTOR *to) {
    const S half = 0.5, sixth = (S)1 / 6, third = (S)1 / 3;
    const WIDE_VECTOR u0 = x[0], u1 = x[stride], u2 = x[2 * stride], u3 = x[3 * stride],
                      u4 = x[4 * stride];
    to[0] = (u0 - u1) * half + (u3 - u2) * sixth;
    to[1] = u1 * -half + u2 * sixth + u3 * third + u4;
}

void WINOGRAD_NAME(filter2)(const S *filter, int64_t channels, int64_t outputChannels,
    int64_t firstChannel, int64_t endChannel, S *transformed) {
    for (int64_t c = firstChannel; c < endChannel; c += BLOCK) {
        const int count = endChannel - c < BLOCK ? (int)(endChannel - c) : BLOCK;
        for (int64_t o = 0; o < outputChannels; o += WIDE_LANES) {
            const int lanes = outputChannels - o < WIDE_LANES ? (int)(outputChannels - o) : WIDE_LANES;
            WIDE_VECTOR taps[4 * BLOCK];
            WIDE(gatherTapBlock)(filter, channels, 4, o, lanes, c, count, taps);
            for (int channel = 0; channel < count; channel++) {
                const WIDE_VECTOR *g = taps + channel * 4;
                S *target = transformed + (c + channel) * 25 * outputChannels + o;
                WIDE_VECTOR gg[10], u[5];
                for (int j = 0; j < 2; j++) WIDE(filterColumn2)(g[j], g[2 + j], gg + j, 2);
                for (int i = 0; i < 5; i++) {
                    WIDE(filterColumn2)(gg[i * 2], gg[i * 2 + 1], u, 1);
                    WIDE(storeLanes)(u, 5, target + i * 5 * outputChannels, outputChannels, lanes);
                }
            }
        }
    }
}

void WINOGRAD_NAME(filterGradient2)(const S *transformed, int64_t channels, int64_t outputChannels,
    S *filterGradient) {
    for (int64_t c = 0; c < channels; c++) {
        const S *source = transformed + c * 25 * outputChannels;
        for (int64_t o = 0; o < outputChannels; o += WIDE_LANES) {
            const int lanes = outputChannels - o < WIDE_LANES ? (int)(outputChannels - o) : WIDE_LANES;
            WIDE_VECTOR u[5], columns[10], r[2];
            for (int i = 0; i < 5; i++) {
                const S *row = source + i * 5 * outputChannels + o;
                for (int j = 0; j < 5; j++) {
                    if (lanes == WIDE_LANES) {
                        __builtin_memcpy(&u[j], row + j * outputChannels, sizeof(WIDE_VECTOR));
                    } else {
                        u[j] = (WIDE_VECTOR){0};
                        __builtin_memcpy(&u[j], row + j * outputChannels, sizeof(S) * lanes);
                    }
                }
                WIDE(filterColumnTransposed2)(u, 1, columns + i * 2);
            }
            S taps[4][WIDE_LANES];
            for (int j = 0; j < 2; j++) {
                WIDE(filterColumnTransposed2)(columns + j, 2, r);
                __builtin_memcpy(taps[j], &r[0], sizeof(WIDE_VECTOR));
                __builtin_memcpy(taps[2 + j], &r[1], sizeof(WIDE_VECTOR));
            }
            for (int lane = 0; lane < lanes; lane++) {
                S *to = filterGradient + ((o + lane) * channels + c) * 4;
                for (int k = 0; k < 4; k++) to[k] = taps[k][lane];
            }
        }
    }
}

/// Stages the NCHW input of a stride-2 4×4 convolution as the space-to-depth input of its 2×2
/// convolution: source pixel (y, x) of channel c goes to staged pixel ((y + top) / 2,
/// (x + left) / 2), channel (2·((y + top) % 2) + (x + left) % 2)·channels + c; pixels past the
/// staged size are never read and dropped; everything else is zero.
void WINOGRAD_NAME(stageSpaceToDepth)(const S *source, int64_t images, int64_t channels, int64_t height,
    int64_t width, int64_t top, int64_t left, int64_t stagedHeight, int64_t stagedWidth,
    int64_t stagedChannels, S *staging) {
    const int64_t imageCount = stagedHeight * stagedWidth * stagedChannels;
    const int64_t plane = height * width;
    __builtin_memset(staging, 0, sizeof(S) * images * imageCount);
    // The source columns whose staged column exists: x + left < 2·stagedWidth.
    const int64_t columns = width < 2 * stagedWidth - left ? width : 2 * stagedWidth - left;
    for (int64_t image = 0; image < images; image++) {
        S *target = staging + image * imageCount;
        const S *from = source + image * channels * plane;
        const int64_t blockChannels = channels / BLOCK * BLOCK;
        for (int64_t y = 0; y < height; y++) {
            const int64_t u = (y + top) >> 1;
            if (u >= stagedHeight) break;
            S *row = target + u * stagedWidth * stagedChannels + 2 * ((y + top) & 1) * channels;
            for (int64_t c = 0; c < blockChannels; c += BLOCK) {
                const S *line = from + c * plane + y * width;
                for (int64_t x = 0; x < columns; x += BLOCK) {
                    const int64_t count = columns - x < BLOCK ? columns - x : BLOCK;
                    BV r[BLOCK];
                    if (count == BLOCK) {
                        for (int k = 0; k < BLOCK; k++) __builtin_memcpy(&r[k], line + k * plane + x, sizeof(BV));
                    } else {  // the last pixels of the row: a partial block, read exactly
                        for (int k = 0; k < BLOCK; k++) r[k] = LOAD_PARTIAL(line + k * plane + x, count);
                    }
                    TRANSPOSE(r);
                    for (int k = 0; k < count; k++) {
                        const int64_t column = x + k + left;
                        __builtin_memcpy(row + (column >> 1) * stagedChannels + (column & 1) * channels + c,
                            &r[k], sizeof(BV));
                    }
                }
            }
            for (int64_t c = blockChannels; c < channels; c++) {
                const S *line = from + c * plane + y * width;
                for (int64_t x = 0; x < columns; x++) {
                    const int64_t column = x + left;
                    row[(column >> 1) * stagedChannels + (column & 1) * channels + c] = line[x];
                }
            }
        }
    }
}

void WINOGRAD_NAME(channelSums)(const S *staging, int64_t pixels, int64_t cv, S *sums) {
    for (int64_t c = 0; c < cv; c += WIDE_LANES) {
        WIDE_VECTOR sum = (WIDE_VECTOR){0};
        for (int64_t p = 0; p < pixels; p++) {
            WIDE_VECTOR value;
            __builtin_memcpy(&value, staging + p * cv + c, sizeof value);
            sum += value;
        }
        WIDE_VECTOR total;
        __builtin_memcpy(&total, sums + c, sizeof total);
        total += sum;
        __builtin_memcpy(sums + c, &total, sizeof total);
    }
}

#undef WIDE_FITS
#undef TRANSPOSE
#undef LOAD_PARTIAL
#undef BV
#undef BLOCK
#undef WIDE
#undef WIDE_VECTOR
#undef EIGHT
#undef WIDE_LANES
#undef WINOGRAD_NAME
#undef WINOGRAD_NAME1
#undef WINOGRAD_NAME2
#undef TILE_NAME1
#undef TILE_NAME2
