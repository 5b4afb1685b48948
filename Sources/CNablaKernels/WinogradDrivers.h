// The chunk loops of one Winograd algorithm F(4×4, r×r) for WinogradScalar.h: input, output and
// gradient transforms over every tile. Expects DRIVER_NAME(base), POSITIONS (α²) and the tile
// functions INPUT_TILE, OUTPUT_TILE and GRADIENT_TILE.

void DRIVER_NAME(input)(const S *staging, int64_t images, int64_t tilesHigh, int64_t tilesWide,
    int64_t stagedHeight, int64_t stagedWidth, int64_t cv, S *transformed) {
    const int64_t rowStride = stagedWidth * cv;
    int64_t tile = 0;
    for (int64_t image = 0; image < images; image++) {
        const S *staged = staging + image * stagedHeight * rowStride;
        for (int64_t ty = 0; ty < tilesHigh; ty++) {
            for (int64_t tx = 0; tx < tilesWide; tx++, tile++) {
                const S *patch = staged + ty * 4 * rowStride + tx * 4 * cv;
                S *target = transformed + tile * POSITIONS * cv;
                for (int64_t c = 0; c < cv;) {
                    if (WIDE_FITS(cv - c)) {
                        WIDE(INPUT_TILE)(patch + c, rowStride, cv, target + c, cv);
                        c += WIDE_LANES;
                    }
#if WIDE_LANES > 8
                    else {
                        EIGHT(INPUT_TILE)(patch + c, rowStride, cv, target + c, cv);
                        c += 8;
                    }
#endif
                }
            }
        }
    }
}

void DRIVER_NAME(output)(const S *products, const S *bias, int64_t images, int64_t tilesHigh,
    int64_t tilesWide, int64_t outputHeight, int64_t outputWidth, int64_t outputChannels,
    int64_t ov, S *output) {
    const int64_t plane = outputHeight * outputWidth;
    int64_t tile = 0;
    for (int64_t image = 0; image < images; image++) {
        S *target = output + image * outputChannels * plane;
        for (int64_t ty = 0; ty < tilesHigh; ty++) {
            const int64_t rowsLeft = outputHeight - ty * 4;
            const int rows = rowsLeft < 4 ? (int)rowsLeft : 4;
            for (int64_t tx = 0; tx < tilesWide; tx++, tile++) {
                const int64_t columnsLeft = outputWidth - tx * 4;
                const int columns = columnsLeft < 4 ? (int)columnsLeft : 4;
                const S *source = products + tile * POSITIONS * ov;
                for (int64_t o = 0; o < outputChannels;) {
                    S *corner = target + o * plane + ty * 4 * outputWidth + tx * 4;
                    const int64_t left = outputChannels - o;
                    if (WIDE_FITS(ov - o)) {
                        __typeof__(WIDE(load)(0)) y[16];
                        WIDE(OUTPUT_TILE)(source + o, ov, y);
                        if (bias) WIDE(addBias)(y, bias + o);
                        WIDE(storeOutputTile)(y, corner, plane, outputWidth, rows, columns,
                            left < WIDE_LANES ? (int)left : WIDE_LANES);
                        o += WIDE_LANES;
                    }
#if WIDE_LANES > 8
                    else {
                        __typeof__(EIGHT(load)(0)) y[16];
                        EIGHT(OUTPUT_TILE)(source + o, ov, y);
                        if (bias) EIGHT(addBias)(y, bias + o);
                        EIGHT(storeOutputTile)(y, corner, plane, outputWidth, rows, columns,
                            left < 8 ? (int)left : 8);
                        o += 8;
                    }
#endif
                }
            }
        }
    }
}

void DRIVER_NAME(gradient)(const S *staging, int64_t images, int64_t tilesHigh,
    int64_t tilesWide, int64_t ov, S *transformed) {
    const int64_t rowStride = tilesWide * 4 * ov;
    int64_t tile = 0;
    for (int64_t image = 0; image < images; image++) {
        const S *staged = staging + image * tilesHigh * 4 * rowStride;
        for (int64_t ty = 0; ty < tilesHigh; ty++) {
            for (int64_t tx = 0; tx < tilesWide; tx++, tile++) {
                const S *patch = staged + ty * 4 * rowStride + tx * 4 * ov;
                S *target = transformed + tile * POSITIONS * ov;
                for (int64_t o = 0; o < ov;) {
                    if (WIDE_FITS(ov - o)) {
                        WIDE(GRADIENT_TILE)(patch + o, rowStride, ov, target + o, ov);
                        o += WIDE_LANES;
                    }
#if WIDE_LANES > 8
                    else {
                        EIGHT(GRADIENT_TILE)(patch + o, rowStride, ov, target + o, ov);
                        o += 8;
                    }
#endif
                }
            }
        }
    }
}
