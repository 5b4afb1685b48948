// The direct few-channel convolution for one scalar type at one level, for FewChannel.c.
// Expects S, SUFFIX, LEVEL, the vector type V of LANES scalars and its operations (VLOAD,
// VLOAD_N, VSTORE, VSTORE_N, VSET1, VFMA, VADD, VZERO; the _N ones touch only the first n
// lanes, and VLOAD_N zeroes the others), the register blocking (FORWARD_OB output channels ×
// FORWARD_NX vectors, FORWARD_OB 4 or 8 so that blocks of 4, 2 and 1 cover the rest;
// GRADIENT_OB output channels × GRADIENT_TB taps, GRADIENT_TB ≥ 3), and the target attribute
// pushed.
//
// Each image is first copied into zero-padded planes `[channels, paddedHeight·paddedWidth +
// LANES]`, so output (y, x) reads tap (c, i, j) at `plane_c[(y + i)·paddedWidth + x + j]`.
// The forward cuts output rows in vectors along x and stores a row's last vector under a mask,
// so no output beyond a row is touched. The filter gradient first gathers a band of rows of
// every tap's shifted input into contiguous arrays, then runs over whole bands (no row tails);
// a band's last vector is loaded under a mask.

#define FC_NAME2(name, suffix, level) nabla_fewchannel_##name##_##suffix##_##level
#define FC_NAME1(name, suffix, level) FC_NAME2(name, suffix, level)
#define FC(name) FC_NAME1(name, SUFFIX, LEVEL)

/// The padded planes of one image, and the offset of every tap into them.
typedef struct {
    int64_t paddedWidth, planeStride, taps;
    S *planes;
    int64_t *offsets;
} FC(Planes);

/// Allocates the planes (zeroed) and the tap offsets.
static FC(Planes) FC(makePlanes)(const NablaFewChannelShape *s) {
    FC(Planes) p;
    p.paddedWidth = s->width + 2 * s->paddingWidth;
    const int64_t paddedHeight = s->height + 2 * s->paddingHeight;
    p.planeStride = paddedHeight * p.paddedWidth + LANES;
    p.taps = s->channels * s->kernelHeight * s->kernelWidth;
    p.planes = calloc((size_t)(s->channels * p.planeStride), sizeof(S));
    p.offsets = calloc((size_t)p.taps, sizeof(int64_t));
    if (p.planes == NULL || p.offsets == NULL) abort();
    for (int64_t c = 0, k = 0; c < s->channels; c++)
        for (int64_t i = 0; i < s->kernelHeight; i++)
            for (int64_t j = 0; j < s->kernelWidth; j++, k++)
                p.offsets[k] = c * p.planeStride + i * p.paddedWidth + j;
    return p;
}

static void FC(freePlanes)(FC(Planes) *p) {
    free(p->planes);
    free(p->offsets);
}

/// Copies image `image` of `input` inside the padding (which stays zero).
static void FC(loadImage)(const NablaFewChannelShape *s, const FC(Planes) *p, const S *input,
    int64_t image) {
    for (int64_t c = 0; c < s->channels; c++) {
        const S *source = input + (image * s->channels + c) * s->height * s->width;
        S *plane = p->planes + c * p->planeStride + s->paddingHeight * p->paddedWidth
            + s->paddingWidth;
        for (int64_t y = 0; y < s->height; y++)
            __builtin_memcpy(plane + y * p->paddedWidth, source + y * s->width,
                (size_t)s->width * sizeof(S));
    }
}

/// `ob` output channels × `nx` vectors of one output row, from x on: bias, then every tap's
/// weight × shifted input by FMA, in tap order. The last vector keeps `last` lanes
/// (1…LANES). `ob` and `nx` are constants where this is inlined, so the sums stay in registers.
static inline __attribute__((always_inline)) void FC(forwardBlock)(const S *source,
    const int64_t *offsets, int64_t taps, const S *weights, const S *bias, S *target,
    int64_t plane, const int ob, const int nx, int64_t last) {
    V sums[FORWARD_OB][FORWARD_NX];
    for (int o = 0; o < ob; o++) {
        const V start = bias ? VSET1(bias[o]) : VZERO;
        for (int v = 0; v < nx; v++) sums[o][v] = start;
    }
    for (int64_t k = 0; k < taps; k++) {
        const S *tap = source + offsets[k];
        V in[FORWARD_NX];
        for (int v = 0; v < nx; v++) in[v] = VLOAD(tap + v * LANES);
        for (int o = 0; o < ob; o++) {
            const V w = VSET1(weights[o * taps + k]);
            for (int v = 0; v < nx; v++) sums[o][v] = VFMA(w, in[v], sums[o][v]);
        }
    }
    for (int o = 0; o < ob; o++) {
        S *row = target + o * plane;
        for (int v = 0; v + 1 < nx; v++) VSTORE(row + v * LANES, sums[o][v]);
        if (last == LANES) VSTORE(row + (nx - 1) * LANES, sums[o][nx - 1]);
        else VSTORE_N(row + (nx - 1) * LANES, sums[o][nx - 1], last);
    }
}

/// `ob` output channels of one image's output, row by row.
static inline __attribute__((always_inline)) void FC(forwardChannels)(const FC(Planes) *p,
    const S *weights, const S *bias, S *target, int64_t outputHeight, int64_t outputWidth,
    const int ob) {
    const int64_t plane = outputHeight * outputWidth;
    for (int64_t y = 0; y < outputHeight; y++) {
        const S *source = p->planes + y * p->paddedWidth;
        S *row = target + y * outputWidth;
        int64_t x = 0;
        while (x < outputWidth) {
            const int64_t left = outputWidth - x;
            if (FORWARD_NX > 1 && left > (FORWARD_NX - 1) * LANES) {
                const int64_t last = left - (FORWARD_NX - 1) * LANES;
                FC(forwardBlock)(source + x, p->offsets, p->taps, weights, bias, row + x, plane, ob,
                    FORWARD_NX, last < LANES ? last : LANES);
                x += FORWARD_NX * LANES;
            } else {
                FC(forwardBlock)(source + x, p->offsets, p->taps, weights, bias, row + x, plane, ob,
                    1, left < LANES ? left : LANES);
                x += LANES;
            }
        }
    }
}

void FC(forward)(NablaFewChannelShape shape, const S *input, const S *filter, const S *bias,
    S *output) {
    const NablaFewChannelShape *s = &shape;
    const int64_t outputHeight = s->height + 2 * s->paddingHeight - s->kernelHeight + 1;
    const int64_t outputWidth = s->width + 2 * s->paddingWidth - s->kernelWidth + 1;
    const int64_t plane = outputHeight * outputWidth;
    const int64_t channels = s->outputChannels;
    FC(Planes) p = FC(makePlanes)(s);
    for (int64_t image = 0; image < s->images; image++) {
        FC(loadImage)(s, &p, input, image);
        S *target = output + image * channels * plane;
        int64_t o = 0;
#define FC_FORWARD(ob) \
    FC(forwardChannels)(&p, filter + o * p.taps, bias ? bias + o : NULL, target + o * plane, \
        outputHeight, outputWidth, ob); \
    o += ob;
        for (; o + FORWARD_OB <= channels;) { FC_FORWARD(FORWARD_OB) }
        if (FORWARD_OB > 4 && channels - o >= 4) { FC_FORWARD(4) }
        if (channels - o >= 2) { FC_FORWARD(2) }
        if (channels - o >= 1) { FC_FORWARD(1) }
#undef FC_FORWARD
    }
    FC(freePlanes)(&p);
}

/// About this many scalars of gathered taps per band (filter gradient): the band stays in L1
/// while every output channel's gradient streams past it.
#define FC_BAND_SCALARS 8192

/// Rows per band for `taps` taps of `outputWidth` (at least 1, at most `outputHeight`).
static int64_t FC(bandRows)(int64_t taps, int64_t outputHeight, int64_t outputWidth) {
    const int64_t rows = FC_BAND_SCALARS / (taps * outputWidth);
    return rows < 1 ? 1 : rows > outputHeight ? outputHeight : rows;
}

/// Rows [y, y + rows) of every tap's shifted input, each tap's contiguous:
/// `band[k·bandStride + r·outputWidth + x] = plane[(y + r + i)·paddedWidth + x + j]`, so the
/// filter gradient runs over whole bands, not row by row.
static void FC(gatherBand)(const FC(Planes) *p, int64_t y, int64_t rows, int64_t outputWidth,
    S *band, int64_t bandStride) {
    for (int64_t k = 0; k < p->taps; k++) {
        const S *source = p->planes + p->offsets[k] + y * p->paddedWidth;
        S *target = band + k * bandStride;
        for (int64_t r = 0; r < rows; r++) {
            const S *from = source + r * p->paddedWidth;
            S *to = target + r * outputWidth;
            int64_t x = 0;
            for (; x + LANES <= outputWidth; x += LANES) VSTORE(to + x, VLOAD(from + x));
            if (x < outputWidth) VSTORE_N(to + x, VLOAD_N(from + x, outputWidth - x), outputWidth - x);
        }
    }
}

/// Adds `ob` output channels × `tb` taps of one band of `count` positions into `lanes` (`ob`
/// rows of `laneRow`, tap t at `t·LANES`): per lane, Σ gradient × tap input; with `withBias`
/// the gradient's own sum at `biasSlot`.
static inline __attribute__((always_inline)) void FC(gradientBlock)(const S *gradient,
    int64_t plane, const S *band, int64_t bandStride, int64_t count, S *lanes, int64_t laneRow,
    int64_t biasSlot, const int ob, const int tb, const int withBias) {
    V sums[GRADIENT_OB][GRADIENT_TB], biasSums[GRADIENT_OB];
    for (int o = 0; o < ob; o++) {
        for (int t = 0; t < tb; t++) sums[o][t] = VLOAD(lanes + o * laneRow + t * LANES);
        if (withBias) biasSums[o] = VLOAD(lanes + o * laneRow + biasSlot);
    }
    int64_t x = 0;
    for (; x + LANES <= count; x += LANES) {
        V gv[GRADIENT_OB];
        for (int o = 0; o < ob; o++) gv[o] = VLOAD(gradient + o * plane + x);
        for (int t = 0; t < tb; t++) {
            const V iv = VLOAD(band + t * bandStride + x);
            for (int o = 0; o < ob; o++) sums[o][t] = VFMA(gv[o], iv, sums[o][t]);
        }
        if (withBias)
            for (int o = 0; o < ob; o++) biasSums[o] = VADD(biasSums[o], gv[o]);
    }
    if (x < count) {
        // Both loads masked: a lane past the band must add 0, not 0 × (NaN or ∞).
        const int64_t n = count - x;
        V gv[GRADIENT_OB];
        for (int o = 0; o < ob; o++) gv[o] = VLOAD_N(gradient + o * plane + x, n);
        for (int t = 0; t < tb; t++) {
            const V iv = VLOAD_N(band + t * bandStride + x, n);
            for (int o = 0; o < ob; o++) sums[o][t] = VFMA(gv[o], iv, sums[o][t]);
        }
        if (withBias)
            for (int o = 0; o < ob; o++) biasSums[o] = VADD(biasSums[o], gv[o]);
    }
    for (int o = 0; o < ob; o++) {
        for (int t = 0; t < tb; t++) VSTORE(lanes + o * laneRow + t * LANES, sums[o][t]);
        if (withBias) VSTORE(lanes + o * laneRow + biasSlot, biasSums[o]);
    }
}

/// `ob` output channels of one band: the taps in blocks of GRADIENT_TB, then 3, then 1; the
/// bias with the first block.
static inline __attribute__((always_inline)) void FC(gradientChannels)(const S *gradient,
    int64_t plane, const S *band, int64_t bandStride, int64_t count, int64_t taps, S *lanes,
    const int ob) {
    const int64_t laneRow = (taps + 1) * LANES, biasSlot = taps * LANES;
    int64_t k = 0;
#define FC_GRADIENT(tb, withBias) \
    FC(gradientBlock)(gradient, plane, band + k * bandStride, bandStride, count, \
        lanes + k * LANES, laneRow, biasSlot - k * LANES, ob, tb, withBias); \
    k += tb;
    if (k + GRADIENT_TB <= taps) { FC_GRADIENT(GRADIENT_TB, 1) }
    else if (k + 3 <= taps) { FC_GRADIENT(3, 1) }
    else { FC_GRADIENT(1, 1) }
    while (k + GRADIENT_TB <= taps) { FC_GRADIENT(GRADIENT_TB, 0) }
    while (k + 3 <= taps) { FC_GRADIENT(3, 0) }
    while (k < taps) { FC_GRADIENT(1, 0) }
#undef FC_GRADIENT
}

void FC(filter_gradient)(NablaFewChannelShape shape, const S *outputGradient, const S *input,
    S *sums) {
    const NablaFewChannelShape *s = &shape;
    const int64_t outputHeight = s->height + 2 * s->paddingHeight - s->kernelHeight + 1;
    const int64_t outputWidth = s->width + 2 * s->paddingWidth - s->kernelWidth + 1;
    const int64_t plane = outputHeight * outputWidth;
    const int64_t channels = s->outputChannels;
    FC(Planes) p = FC(makePlanes)(s);
    // Per output channel, LANES partial sums for every tap and the bias, over all the images.
    const int64_t laneRow = (p.taps + 1) * LANES;
    S *lanes = calloc((size_t)(channels * laneRow), sizeof(S));
    const int64_t bandRows = FC(bandRows)(p.taps, outputHeight, outputWidth);
    const int64_t bandStride = bandRows * outputWidth;
    S *band = malloc((size_t)(p.taps * bandStride) * sizeof(S));
    if (lanes == NULL || band == NULL) abort();
    for (int64_t image = 0; image < s->images; image++) {
        FC(loadImage)(s, &p, input, image);
        for (int64_t y = 0; y < outputHeight; y += bandRows) {
            const int64_t rows = y + bandRows <= outputHeight ? bandRows : outputHeight - y;
            FC(gatherBand)(&p, y, rows, outputWidth, band, bandStride);
            const S *gradient = outputGradient + image * channels * plane + y * outputWidth;
            const int64_t count = rows * outputWidth;
            int64_t o = 0;
            for (; o + GRADIENT_OB <= channels; o += GRADIENT_OB)
                FC(gradientChannels)(gradient + o * plane, plane, band, bandStride, count, p.taps,
                    lanes + o * laneRow, GRADIENT_OB);
            for (; o < channels; o++)
                FC(gradientChannels)(gradient + o * plane, plane, band, bandStride, count, p.taps,
                    lanes + o * laneRow, 1);
        }
    }
    // Each sum's lanes added in lane order.
    for (int64_t i = 0; i < channels * (p.taps + 1); i++) {
        S total = 0;
        for (int l = 0; l < LANES; l++) total += lanes[i * LANES + l];
        sums[i] = total;
    }
    free(band);
    free(lanes);
    FC(freePlanes)(&p);
}

#undef FC_BAND_SCALARS
#undef FC
#undef FC_NAME1
#undef FC_NAME2
