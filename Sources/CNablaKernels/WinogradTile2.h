// The F(4×4, 2×2) tile transforms on one vector of channels, for WinogradScalar.h (included by
// WinogradTile.h, with its S, V, LANES and TILE(name)). Operation for operation the portable
// Swift code's (WinogradKernels.swift, the f4x4Kernel2 variant): the same bits.

/// Bᵀ x for a column x of 5; Bᵀ = [2 −1 −2 1 0; 0 −2 −1 1 0; 0 2 −3 1 0; 0 −1 0 1 0; 0 2 −1 −2 1].
static inline __attribute__((always_inline)) void TILE(inputColumn2)(
    V d0, V d1, V d2, V d3, V d4, V *r0, V *r1, V *r2, V *r3, V *r4) {
    const S two = 2, three = 3;
    *r0 = two * (d0 - d2) + (d3 - d1);
    *r1 = d3 - (two * d1 + d2);
    *r2 = two * d1 - three * d2 + d3;
    *r3 = d3 - d1;
    *r4 = two * (d1 - d3) + (d4 - d2);
}

/// Bᵀ d B for the 5×5 patch d of LANES channels at `patch`; result ξ goes to
/// `target + ξ·positionStride`.
static inline __attribute__((always_inline)) void TILE(inputTile2)(
    const S *patch, int64_t rowStride, int64_t columnStride, S *target, int64_t positionStride) {
    V s[25];
    for (int j = 0; j < 5; j++) {
        const S *column = patch + j * columnStride;
        TILE(inputColumn2)(
            TILE(load)(column), TILE(load)(column + rowStride), TILE(load)(column + 2 * rowStride),
            TILE(load)(column + 3 * rowStride), TILE(load)(column + 4 * rowStride), &s[j], &s[5 + j],
            &s[10 + j], &s[15 + j], &s[20 + j]);
    }
    for (int i = 0; i < 5; i++) {
        const V *row = s + i * 5;
        V r[5];
        TILE(inputColumn2)(row[0], row[1], row[2], row[3], row[4], &r[0], &r[1], &r[2], &r[3], &r[4]);
        S *to = target + i * 5 * positionStride;
        for (int k = 0; k < 5; k++) TILE(store)(r[k], to + k * positionStride);
    }
}

/// Aᵀ x for a column x of 5; Aᵀ = [1 1 1 1 0; 0 1 −1 2 0; 0 1 1 4 0; 0 1 −1 8 1].
static inline __attribute__((always_inline)) void TILE(outputColumn2)(
    V m0, V m1, V m2, V m3, V m4, V *y0, V *y1, V *y2, V *y3) {
    const S two = 2, four = 4, eight = 8;
    const V sum12 = m1 + m2;
    const V difference12 = m1 - m2;
    *y0 = m0 + sum12 + m3;
    *y1 = difference12 + two * m3;
    *y2 = sum12 + four * m3;
    *y3 = difference12 + eight * m3 + m4;
}

/// Aᵀ m A for the 5×5 products m of LANES channels at `source + ξ·positionStride`; the 4×4
/// results go to `y`, row-major.
static inline __attribute__((always_inline)) void TILE(outputTile2)(
    const S *source, int64_t positionStride, V *y) {
    V s[20];
    for (int j = 0; j < 5; j++) {
        const S *column = source + j * positionStride;
        TILE(outputColumn2)(
            TILE(load)(column), TILE(load)(column + 5 * positionStride),
            TILE(load)(column + 10 * positionStride), TILE(load)(column + 15 * positionStride),
            TILE(load)(column + 20 * positionStride), &s[j], &s[5 + j], &s[10 + j], &s[15 + j]);
    }
    for (int i = 0; i < 4; i++) {
        const V *row = s + i * 5;
        TILE(outputColumn2)(row[0], row[1], row[2], row[3], row[4], &y[i * 4], &y[i * 4 + 1],
            &y[i * 4 + 2], &y[i * 4 + 3]);
    }
}

/// A x for a column x of 4; A = [1 0 0 0; 1 1 1 1; 1 −1 1 −1; 1 2 4 8; 0 0 0 1].
static inline __attribute__((always_inline)) void TILE(gradientColumn2)(
    V y0, V y1, V y2, V y3, V *r) {
    const S two = 2, four = 4, eight = 8;
    const V even = y0 + y2;
    const V odd = y1 + y3;
    r[0] = y0;
    r[1] = even + odd;
    r[2] = even - odd;
    r[3] = y0 + two * y1 + four * y2 + eight * y3;
    r[4] = y3;
}

/// A y Aᵀ for the 4×4 gradient tile y of LANES channels at `patch`; result ξ goes to
/// `target + ξ·positionStride`.
static inline __attribute__((always_inline)) void TILE(gradientTile2)(
    const S *patch, int64_t rowStride, int64_t columnStride, S *target, int64_t positionStride) {
    V s[20];
    for (int j = 0; j < 4; j++) {
        const S *column = patch + j * columnStride;
        V r[5];
        TILE(gradientColumn2)(TILE(load)(column), TILE(load)(column + rowStride),
            TILE(load)(column + 2 * rowStride), TILE(load)(column + 3 * rowStride), r);
        for (int i = 0; i < 5; i++) s[i * 4 + j] = r[i];
    }
    for (int i = 0; i < 5; i++) {
        const V *row = s + i * 4;
        V r[5];
        TILE(gradientColumn2)(row[0], row[1], row[2], row[3], r);
        S *to = target + i * 5 * positionStride;
        for (int k = 0; k < 5; k++) TILE(store)(r[k], to + k * positionStride);
    }
}
