// The 2×2, stride-2 max pool at one level, for MaxPool.c. Expects LEVEL, LANES (8 or 16) and
// the target attribute pushed. The choices are PoolingKernels.maxPoolUnpadded's, tap for tap.

#define MP_NAME2(name, level) name##_##level
#define MP_NAME1(name, level) MP_NAME2(name, level)
#define MP(name) MP_NAME1(name, LEVEL)

typedef float MP(PoolLanes) __attribute__((vector_size(LANES * 4)));
typedef int32_t MP(PoolInts) __attribute__((vector_size(LANES * 4)));
typedef int64_t MP(PoolOffsets) __attribute__((vector_size(LANES * 8)));
#define V MP(PoolLanes)
#define VI MP(PoolInts)
#define VL MP(PoolOffsets)
#define INLINE static inline __attribute__((always_inline))

#if LANES == 8
#define EVEN 0, 2, 4, 6, 8, 10, 12, 14
#define ODD 1, 3, 5, 7, 9, 11, 13, 15
#define IOTA 0, 1, 2, 3, 4, 5, 6, 7
#else
#define EVEN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define ODD 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#define IOTA 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
#endif

/// Whether `value` replaces `best`: ties keep the first tap, a NaN wins unless one came first.
INLINE VI MP(beats)(V value, V best) { return ~(value <= best) & (best == best); }

INLINE V MP(choose)(VI mask, V a, V b) { return (V)((mask & (VI)a) | (~mask & (VI)b)); }

/// LANES windows whose upper row starts at `upper` (2·LANES scalars) and lower at `lower`.
INLINE void MP(windows)(const float *upper, const float *lower, int64_t first, int64_t width,
    float *output, int64_t *indices, int64_t count) {
    V u0, u1, l0, l1;
    __builtin_memcpy(&u0, upper, sizeof u0);
    __builtin_memcpy(&u1, upper + LANES, sizeof u1);
    __builtin_memcpy(&l0, lower, sizeof l0);
    __builtin_memcpy(&l1, lower + LANES, sizeof l1);
    const V taps[3] = {
        __builtin_shufflevector(u0, u1, ODD), __builtin_shufflevector(l0, l1, EVEN),
        __builtin_shufflevector(l0, l1, ODD),
    };
    V best = __builtin_shufflevector(u0, u1, EVEN);
    VI tap = {};
    for (int t = 0; t < 3; t++) {
        const VI wins = MP(beats)(taps[t], best);
        best = MP(choose)(wins, taps[t], best);
        tap = (wins & (t + 1)) | (~wins & tap);
    }
    const VL iota = {IOTA};
    const VL offsets = __builtin_convertvector(tap & 1, VL) + __builtin_convertvector(tap >> 1, VL) * width;
    const VL index = first + 2 * iota + offsets;
    if (count == LANES) {
        __builtin_memcpy(output, &best, sizeof best);
        __builtin_memcpy(indices, &index, sizeof index);
    } else {
        for (int64_t i = 0; i < count; i++) {
            output[i] = best[i];
            indices[i] = index[i];
        }
    }
}

#define MP_ENTRY2(level) nabla_max_pool_2x2_f32_##level
#define MP_ENTRY1(level) MP_ENTRY2(level)

void MP_ENTRY1(LEVEL)(const float *source, int64_t planes, int64_t height, int64_t width,
    int64_t outputHeight, int64_t outputWidth, int64_t strideHeight, float *output,
    int64_t *indices) {
    const int64_t plane = height * width;
    int64_t o = 0;
    for (int64_t p = 0; p < planes; p++) {
        for (int64_t oy = 0; oy < outputHeight; oy++, o += outputWidth) {
            const int64_t top = p * plane + oy * strideHeight * width;
            int64_t ox = 0;
            for (; ox + LANES <= outputWidth; ox += LANES) {
                const int64_t first = top + 2 * ox;
                MP(windows)(source + first, source + first + width, first, width, output + o + ox,
                    indices + o + ox, LANES);
            }
            if (ox < outputWidth) {  // the last windows, through a zero-padded copy
                const int64_t first = top + 2 * ox, left = outputWidth - ox;
                float upper[2 * LANES] = {0}, lower[2 * LANES] = {0};
                for (int64_t i = 0; i < 2 * left; i++) {
                    upper[i] = source[first + i];
                    lower[i] = source[first + width + i];
                }
                MP(windows)(upper, lower, first, width, output + o + ox, indices + o + ox, left);
            }
        }
    }
}

#undef MP_ENTRY1
#undef MP_ENTRY2
#undef EVEN
#undef ODD
#undef IOTA
#undef INLINE
#undef V
#undef VI
#undef VL
#undef MP
#undef MP_NAME1
#undef MP_NAME2
