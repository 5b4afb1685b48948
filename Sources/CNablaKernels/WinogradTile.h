// The F(4×4, 3×3) tile transforms on one vector of channels, for WinogradScalar.h.
// Expects S (the scalar), V (a vector of S), LANES, and TILE(name) to name the functions.
// The arithmetic is the portable Swift code's, operation for operation (WinogradKernels.swift),
// and Winograd.c turns off contraction into FMA: the results are the same bits.

static inline __attribute__((always_inline)) V TILE(load)(const S *p) {
    V v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void TILE(store)(V v, S *p) {
    __builtin_memcpy(p, &v, sizeof v);
}

/// Bᵀ x for a column x of 6.
static inline __attribute__((always_inline)) void TILE(inputColumn)(
    V d0, V d1, V d2, V d3, V d4, V d5, V *r0, V *r1, V *r2, V *r3, V *r4, V *r5) {
    const S four = 4, five = 5, two = 2;
    const V a = d4 - d2;
    const V b = two * (d3 - d1);
    *r0 = four * d0 - five * d2 + d4;
    *r1 = (d3 + d4) - four * (d1 + d2);
    *r2 = (d4 - d3) + four * (d1 - d2);
    *r3 = a + b;
    *r4 = a - b;
    *r5 = four * d1 - five * d3 + d5;
}

/// Bᵀ d B for the 6×6 patch d of LANES channels at `patch`; result ξ goes to
/// `target + ξ·positionStride`.
static inline __attribute__((always_inline)) void TILE(inputTile)(
    const S *patch, int64_t rowStride, int64_t columnStride, S *target, int64_t positionStride) {
    V s[36];
    for (int j = 0; j < 6; j++) {
        const S *column = patch + j * columnStride;
        TILE(inputColumn)(
            TILE(load)(column), TILE(load)(column + rowStride), TILE(load)(column + 2 * rowStride),
            TILE(load)(column + 3 * rowStride), TILE(load)(column + 4 * rowStride),
            TILE(load)(column + 5 * rowStride), &s[j], &s[6 + j], &s[12 + j], &s[18 + j],
            &s[24 + j], &s[30 + j]);
    }
    for (int i = 0; i < 6; i++) {
        const V *row = s + i * 6;
        V r[6];
        TILE(inputColumn)(row[0], row[1], row[2], row[3], row[4], row[5], &r[0], &r[1], &r[2], &r[3], &r[4], &r[5]);
        S *to = target + i * 6 * positionStride;
        for (int k = 0; k < 6; k++) TILE(store)(r[k], to + k * positionStride);
    }
}

/// Aᵀ x for a column x of 6.
static inline __attribute__((always_inline)) void TILE(outputColumn)(
    V m0, V m1, V m2, V m3, V m4, V m5, V *y0, V *y1, V *y2, V *y3) {
    const S two = 2, four = 4, eight = 8;
    const V sum12 = m1 + m2;
    const V difference12 = m1 - m2;
    const V sum34 = m3 + m4;
    const V difference34 = m3 - m4;
    *y0 = m0 + sum12 + sum34;
    *y1 = difference12 + two * difference34;
    *y2 = sum12 + four * sum34;
    *y3 = difference12 + eight * difference34 + m5;
}

/// Aᵀ m A for the 6×6 products m of LANES channels at `source + ξ·positionStride`; the 4×4
/// results go to `y`, row-major.
static inline __attribute__((always_inline)) void TILE(outputTile)(
    const S *source, int64_t positionStride, V *y) {
    V s[24];
    for (int j = 0; j < 6; j++) {
        const S *column = source + j * positionStride;
        TILE(outputColumn)(
            TILE(load)(column), TILE(load)(column + 6 * positionStride),
            TILE(load)(column + 12 * positionStride), TILE(load)(column + 18 * positionStride),
            TILE(load)(column + 24 * positionStride), TILE(load)(column + 30 * positionStride),
            &s[j], &s[6 + j], &s[12 + j], &s[18 + j]);
    }
    for (int i = 0; i < 4; i++) {
        const V *row = s + i * 6;
        TILE(outputColumn)(row[0], row[1], row[2], row[3], row[4], row[5], &y[i * 4], &y[i * 4 + 1],
            &y[i * 4 + 2], &y[i * 4 + 3]);
    }
}

/// A x for a column x of 4.
static inline __attribute__((always_inline)) void TILE(gradientColumn)(
    V y0, V y1, V y2, V y3, V *r) {
    const S two = 2, four = 4, eight = 8;
    const V even = y0 + y2;
    const V odd = y1 + y3;
    const V even4 = y0 + four * y2;
    const V odd4 = two * y1 + eight * y3;
    r[0] = y0;
    r[1] = even + odd;
    r[2] = even - odd;
    r[3] = even4 + odd4;
    r[4] = even4 - odd4;
    r[5] = y3;
}

/// A y Aᵀ for the 4×4 gradient tile y of LANES channels at `patch`; result ξ goes to
/// `target + ξ·positionStride`.
static inline __attribute__((always_inline)) void TILE(gradientTile)(
    const S *patch, int64_t rowStride, int64_t columnStride, S *target, int64_t positionStride) {
    V s[24];
    for (int j = 0; j < 4; j++) {
        const S *column = patch + j * columnStride;
        V r[6];
        TILE(gradientColumn)(TILE(load)(column), TILE(load)(column + rowStride),
            TILE(load)(column + 2 * rowStride), TILE(load)(column + 3 * rowStride), r);
        for (int i = 0; i < 6; i++) s[i * 4 + j] = r[i];
    }
    for (int i = 0; i < 6; i++) {
        const V *row = s + i * 4;
        V r[6];
        TILE(gradientColumn)(row[0], row[1], row[2], row[3], r);
        S *to = target + i * 6 * positionStride;
        for (int k = 0; k < 6; k++) TILE(store)(r[k], to + k * positionStride);
    }
}

/// Adds LANES channels' bias to each of the 16 results.
static inline __attribute__((always_inline)) void TILE(addBias)(V *y, const S *bias) {
    const V b = TILE(load)(bias);
    for (int p = 0; p < 16; p++) y[p] += b;
}

/// Writes the valid part (`rows` × `columns`, `lanes` channels) of the 4×4 results `y` of
/// LANES channels to the channel planes at `corner`, `corner + plane`, …. A full tile goes
/// through BLOCK × BLOCK transposes, then one store per output row.
static inline __attribute__((always_inline)) void TILE(storeOutputTile)(
    const V *y, S *corner, int64_t plane, int64_t width, int rows, int columns, int lanes) {
    S values[16][LANES];
    __builtin_memcpy(values, y, sizeof values);
    if (rows == 4 && columns == 4 && lanes == LANES) {
        for (int chunk = 0; chunk < LANES / BLOCK; chunk++) {
            for (int group = 0; group < 16 / BLOCK; group++) {
                BV r[BLOCK];
                for (int i = 0; i < BLOCK; i++)
                    __builtin_memcpy(&r[i], &values[group * BLOCK + i][chunk * BLOCK], sizeof(BV));
                TRANSPOSE(r);
                for (int channel = 0; channel < BLOCK; channel++) {
                    S *to = corner + (chunk * BLOCK + channel) * plane;
                    const S *from = (const S *)&r[channel];
                    for (int q = 0; q < BLOCK / 4; q++)
                        __builtin_memcpy(to + (group * BLOCK / 4 + q) * width, from + 4 * q, 4 * sizeof(S));
                }
            }
        }
        return;
    }
    for (int lane = 0; lane < lanes; lane++) {
        S *to = corner + lane * plane;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++) to[r * width + c] = values[r * 4 + c][lane];
    }
}

#include "WinogradTile2.h"
