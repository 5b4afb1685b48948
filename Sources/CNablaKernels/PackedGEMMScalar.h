// C ← alpha·op(A)·op(B) + beta·C for one scalar type at one level (macros as EachLevel.h sets
// them), for PackedGEMM.c. The algorithm is Goto's (as BLIS writes it), turned for row-major C:
//
//     for each block of NC columns of C                       (jc)
//       for each block of KC steps of the sum                 (pc)
//         pack op(B)[pc ..< pc+KC, jc ..< jc+NC] into NR-column panels, [panel][p][NR] (L2)
//         for each MR rows of C                               (ic)
//           pack op(A)[ic ..< ic+MR, pc ..< pc+KC] into one panel, [p][MR]           (L1)
//           for each NR columns of the block                  (jr)
//             C[MR, NR] (+)= A panel · B panel, in MR × NR/LANES vector registers
//
// Packing reads op(A) and op(B) through their transposes and leading dimensions, so one
// micro-kernel serves all four cases. When C has at most DIRECT_ROWS rows and B is not
// transposed, the kernel reads B's panels in place instead (rows ldb apart), since so few A
// panels would not repay packing B; only a last panel narrower than NR is still packed. Rows and columns past the matrix are packed as zeros and
// their results never stored. Every C element is one FMA chain over p in order, restarted at
// each KC block and added to C then (the first block adds beta·C, or nothing when beta = 0, so
// C is then never read): the same bits whatever the tile, the edge or the thread that computes
// it.

#define PGEMM_NAME2(suffix, level) nabla_packed_gemm_##suffix##_##level
#define PGEMM_NAME1(suffix, level) PGEMM_NAME2(suffix, level)
#define PGEMM_LOCAL2(name, suffix, level) name##_##suffix##_##level
#define PGEMM_LOCAL1(name, suffix, level) PGEMM_LOCAL2(name, suffix, level)
#define LOCAL(name) PGEMM_LOCAL1(name, SUFFIX, LEVEL)
#define LANES (VECTOR_BYTES / SCALAR_BYTES)
// MR rows × NV vectors of accumulators: 6 × 4 of the 32 ZMM registers (6 × 2 of the 16 YMM ones
// at AVX2), leaving registers for NV vectors of B and a broadcast value of A.
#define MR 6
#define NV (VECTOR_BYTES == 64 ? 4 : 2)
#define NR (NV * LANES)
// KC steps of the sum per block: an A panel (MR × KC) stays in L1 (48 KB on Zen 5) while the
// B block (KC × NC) stays in L2 (1 MB per core).
#define KC (SCALAR_BYTES == 4 ? 384 : 256)
#define NC (SCALAR_BYTES == 4 ? 512 : 384)
// Rows of a transposed A packed at once (8 panels, 72 KB of Float in L2), so that it is read in
// runs of 48 scalars.
#define MC (8 * MR)
// At most this many rows of C (16 panels) read an untransposed B in place instead of packing it:
// measured on Zen 5, 1.2–2.5× faster for m ≤ 12, 1.05–1.1× at m = 64.
#ifndef DIRECT_ROWS
#define DIRECT_ROWS (16 * MR)
#endif

typedef S LOCAL(PVector) __attribute__((vector_size(VECTOR_BYTES)));
#define PV LOCAL(PVector)

/// C[rows, vectors·LANES] ← alpha · (A panel · B panel) + (overwrite ? 0 : beta · C), with the
/// A panel packed by packA and row p of the B panel at b + p·ldb (NR for a panel packed by
/// packB); `rows` ≤ MR and `vectors` ≤ NV are constants where this is inlined.
static inline __attribute__((always_inline)) void LOCAL(kernel)(
    int rows, int vectors, int64_t kc, const S *restrict a, const S *restrict b, int64_t ldb,
    S *c, int64_t ldc, S alpha, S beta, int overwrite) {
    PV sum[MR][NV];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) sum[r][v] = (PV){0};
    for (int64_t p = 0; p < kc; p++) {
        PV column[NV];
        for (int v = 0; v < vectors; v++) __builtin_memcpy(&column[v], b + p * ldb + v * LANES, sizeof(PV));
        for (int r = 0; r < rows; r++) {
            const S value = a[p * MR + r];
            for (int v = 0; v < vectors; v++) sum[r][v] += column[v] * value;
        }
    }
    for (int r = 0; r < rows; r++) {
        for (int v = 0; v < vectors; v++) {
            S *to = c + r * ldc + v * LANES;
            PV result = sum[r][v] * alpha;
            if (!overwrite) {
                PV old;
                __builtin_memcpy(&old, to, sizeof(PV));
                result += old * beta;
            }
            __builtin_memcpy(to, &result, sizeof(PV));
        }
    }
}

#define PGEMM_CASE(R, V) \
    case R * 8 + V: LOCAL(kernel)(R, V, kc, a, b, ldb, c, ldc, alpha, beta, overwrite); break;
#define PGEMM_ROW_CASES(R) PGEMM_CASE(R, 1) PGEMM_CASE(R, 2) PGEMM_CASE(R, 3) PGEMM_CASE(R, 4)

/// The kernel for `rows` ≤ MR rows and `vectors` ≤ NV vectors of C, each pair compiled on its
/// own (pairs with more than NV vectors are never called).
static void LOCAL(edgeKernel)(int rows, int vectors, int64_t kc, const S *restrict a,
    const S *restrict b, int64_t ldb, S *c, int64_t ldc, S alpha, S beta, int overwrite) {
    switch (rows * 8 + vectors) {
        PGEMM_ROW_CASES(1) PGEMM_ROW_CASES(2) PGEMM_ROW_CASES(3)
        PGEMM_ROW_CASES(4) PGEMM_ROW_CASES(5) PGEMM_ROW_CASES(6)
        default: break;
    }
}

/// Packs op(A)[i0 ..< i0+rows, p0 ..< p0+kc] as [p][MR], rows past `rows` zero.
static void LOCAL(packA)(int transpose, const S *a, int64_t lda, int64_t i0, int rows, int64_t p0,
    int64_t kc, S *restrict to) {
    if (transpose) {
        const S *from = a + p0 * lda + i0;
        for (int64_t p = 0; p < kc; p++) {
            int r = 0;
            for (; r < rows; r++) to[p * MR + r] = from[p * lda + r];
            for (; r < MR; r++) to[p * MR + r] = 0;
        }
    } else {
        const S *row[MR];
        for (int r = 0; r < rows; r++) row[r] = a + (i0 + r) * lda + p0;
        if (rows == MR) {
            for (int64_t p = 0; p < kc; p++)
                for (int r = 0; r < MR; r++) to[p * MR + r] = row[r][p];
        } else {
            for (int64_t p = 0; p < kc; p++) {
                int r = 0;
                for (; r < rows; r++) to[p * MR + r] = row[r][p];
                for (; r < MR; r++) to[p * MR + r] = 0;
            }
        }
    }
}

/// Packs op(A)[i0 ..< i0+rows, p0 ..< p0+kc] of a transposed A, rows ≤ MC, as panels
/// [panel][p][MR] of MR rows, reading MC scalars of each row of A at once: one panel at a time
/// read 6 of every 16 Floats of a cache line and came back for the rest later (an LSTM's dW
/// products, 7% of its forward and backward on a Zen 4).
static void LOCAL(packTransposedA)(const S *a, int64_t lda, int64_t i0, int64_t rows, int64_t p0,
    int64_t kc, S *restrict to) {
    const int64_t fullPanels = rows / MR;
    for (int64_t p = 0; p < kc; p++) {
        const S *from = a + (p0 + p) * lda + i0;
        for (int64_t panel = 0; panel < fullPanels; panel++)
            __builtin_memcpy(to + (panel * kc + p) * MR, from + panel * MR, sizeof(S) * MR);
    }
    if (rows > fullPanels * MR)
        LOCAL(packA)(1, a, lda, i0 + fullPanels * MR, (int)(rows - fullPanels * MR), p0, kc,
            to + fullPanels * kc * MR);
}

// Interleaves the low (PGEMM_LOW) or high (PGEMM_HIGH) halves of two vectors: x0 y0 x1 y1 …
#if LANES == 16
#define PGEMM_LOW(x, y) __builtin_shufflevector(x, y, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define PGEMM_HIGH(x, y) __builtin_shufflevector(x, y, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#elif LANES == 8
#define PGEMM_LOW(x, y) __builtin_shufflevector(x, y, 0, 8, 1, 9, 2, 10, 3, 11)
#define PGEMM_HIGH(x, y) __builtin_shufflevector(x, y, 4, 12, 5, 13, 6, 14, 7, 15)
#else
#define PGEMM_LOW(x, y) __builtin_shufflevector(x, y, 0, 4, 1, 5)
#define PGEMM_HIGH(x, y) __builtin_shufflevector(x, y, 2, 6, 3, 7)
#endif

/// Transposes the LANES × LANES block `v` (vector = row) in place: log₂ LANES rounds of
/// interleaving rows i and i + LANES/2 into rows 2i and 2i + 1, each round moving one bit of the
/// lane index into the row index.
static inline __attribute__((always_inline)) void LOCAL(transpose)(PV v[LANES]) {
    for (int round = LANES; round > 1; round /= 2) {
        PV next[LANES];
        for (int i = 0; i < LANES / 2; i++) {
            next[2 * i] = PGEMM_LOW(v[i], v[i + LANES / 2]);
            next[2 * i + 1] = PGEMM_HIGH(v[i], v[i + LANES / 2]);
        }
        for (int i = 0; i < LANES; i++) v[i] = next[i];
    }
}

/// Packs op(B)[p0 ..< p0+kc, j0 ..< j0+columns] as NR-column panels [panel][p][NR], columns past
/// `columns` zero.
static void LOCAL(packB)(int transpose, const S *b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
    int64_t columns, S *restrict to) {
    for (int64_t jp = 0; jp < columns; jp += NR, to += kc * NR) {
        const int64_t width = columns - jp < NR ? columns - jp : NR;
        if (!transpose) {
            const S *from = b + p0 * ldb + j0 + jp;
            if (width == NR) {
                for (int64_t p = 0; p < kc; p++) __builtin_memcpy(to + p * NR, from + p * ldb, sizeof(S) * NR);
            } else {
                for (int64_t p = 0; p < kc; p++) {
                    int64_t j = 0;
                    for (; j < width; j++) to[p * NR + j] = from[p * ldb + j];
                    for (; j < NR; j++) to[p * NR + j] = 0;
                }
            }
        } else {
            // op(B)(p, j) = b[j·ldb + p]: LANES columns at a time, each read along p.
            const S *from = b + (j0 + jp) * ldb + p0;
            int64_t j = 0;
            for (; j + LANES <= width; j += LANES) {
                const S *column = from + j * ldb;
                int64_t p = 0;
                for (; p + LANES <= kc; p += LANES) {
                    PV block[LANES];
                    for (int l = 0; l < LANES; l++)
                        __builtin_memcpy(&block[l], column + l * ldb + p, sizeof(PV));
                    LOCAL(transpose)(block);
                    for (int l = 0; l < LANES; l++)
                        __builtin_memcpy(to + (p + l) * NR + j, &block[l], sizeof(PV));
                }
                for (; p < kc; p++)
                    for (int l = 0; l < LANES; l++) to[p * NR + j + l] = column[l * ldb + p];
            }
            for (; j < width; j++)
                for (int64_t p = 0; p < kc; p++) to[p * NR + j] = from[j * ldb + p];
            for (; j < NR; j++)
                for (int64_t p = 0; p < kc; p++) to[p * NR + j] = 0;
        }
    }
}

/// Scalars of the workspace: the B block, the A panel and an edge tile, each 64-byte aligned.
static int64_t LOCAL(workspaceCount)(int64_t n) {
    const int64_t columns = n < NC ? n : NC;
    const int64_t panels = (columns + NR - 1) / NR;
    const int64_t align = 64 / SCALAR_BYTES;
    return (KC * panels * NR + align - 1) / align * align + (MC * KC + align - 1) / align * align
        + MR * NR;
}

int PGEMM_NAME1(SUFFIX, LEVEL)(int transposeA, int transposeB, int64_t m, int64_t n, int64_t k,
    S alpha, const S *a, int64_t lda, const S *b, int64_t ldb, S beta, S *c, int64_t ldc) {
    if (m <= 0 || n <= 0 || k <= 0) return 0;
    const int64_t count = LOCAL(workspaceCount)(n);
    S *workspace = aligned_alloc(64, (size_t)((count * SCALAR_BYTES + 63) / 64 * 64));
    if (!workspace) return -1;
    const int64_t align = 64 / SCALAR_BYTES;
    const int64_t columns = n < NC ? n : NC;
    S *packedB = workspace;
    S *packedA = packedB + (KC * ((columns + NR - 1) / NR) * NR + align - 1) / align * align;
    S *tile = packedA + (MC * KC + align - 1) / align * align;
    // A few rows of C use each B panel only a few times: then op(B) = B is read in place, and
    // only a last panel narrower than NR is packed.
    const int direct = !transposeB && m <= DIRECT_ROWS;
    for (int64_t jc = 0; jc < n; jc += NC) {
        const int64_t nc = n - jc < NC ? n - jc : NC;
        const int64_t fullColumns = nc / NR * NR;
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = k - pc < KC ? k - pc : KC;
            const int overwrite = pc == 0 && beta == 0;
            const S blockBeta = pc == 0 ? beta : 1;
            if (!direct)
                LOCAL(packB)(transposeB, b, ldb, pc, kc, jc, nc, packedB);
            else if (fullColumns < nc)
                LOCAL(packB)(0, b, ldb, pc, kc, jc + fullColumns, nc - fullColumns, packedB);
            for (int64_t ic = 0; ic < m; ic += MR) {
                const int rows = m - ic < MR ? (int)(m - ic) : MR;
                // A transposed A is packed MC rows at a time; else each panel just before its
                // products, while it is in L1.
                if (!transposeA)
                    LOCAL(packA)(0, a, lda, ic, rows, pc, kc, packedA);
                else if (ic % MC == 0)
                    LOCAL(packTransposedA)(a, lda, ic, m - ic < MC ? m - ic : MC, pc, kc, packedA);
                const S *panelA = transposeA ? packedA + (ic % MC) / MR * kc * MR : packedA;
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const int inPlace = direct && jr < fullColumns;
                    const S *panel = inPlace ? b + pc * ldb + jc + jr
                        : direct ? packedB : packedB + (jr / NR) * kc * NR;
                    const int64_t panelStride = inPlace ? ldb : NR;
                    S *to = c + ic * ldc + jc + jr;
                    if (rows == MR && nc - jr >= NR) {
                        LOCAL(kernel)(MR, NV, kc, panelA, panel, panelStride, to, ldc, alpha, blockBeta, overwrite);
                        continue;
                    }
                    const int64_t width = nc - jr < NR ? nc - jr : NR;
                    const int vectors = (int)((width + LANES - 1) / LANES);
                    if (width % LANES == 0) {
                        LOCAL(edgeKernel)(rows, vectors, kc, panelA, panel, panelStride, to, ldc, alpha, blockBeta, overwrite);
                        continue;
                    }
                    // A last panel that ends inside a vector (always packed): through the tile,
                    // by the same arithmetic.
                    for (int64_t i = 0; i < MR * NR; i++) tile[i] = 0;
                    if (!overwrite)
                        for (int r = 0; r < rows; r++)
                            for (int64_t j = 0; j < width; j++) tile[r * NR + j] = to[r * ldc + j];
                    LOCAL(edgeKernel)(rows, vectors, kc, panelA, panel, NR, tile, NR, alpha, blockBeta, overwrite);
                    for (int r = 0; r < rows; r++)
                        for (int64_t j = 0; j < width; j++) to[r * ldc + j] = tile[r * NR + j];
                }
            }
        }
    }
    free(workspace);
    return 0;
}

#undef PGEMM_CASE
#undef PGEMM_ROW_CASES
#undef PGEMM_LOW
#undef PGEMM_HIGH
#undef PV
#undef KC
#undef NC
#undef DIRECT_ROWS
#undef NR
#undef NV
#undef MR
#undef MC
#undef LANES
#undef LOCAL
#undef PGEMM_LOCAL1
#undef PGEMM_LOCAL2
#undef PGEMM_NAME1
#undef PGEMM_NAME2
