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

/// The first `n` (0…LANES) scalars at `p`, zeros after; reads nothing past them (a masked load,
/// which also keeps the store-to-load forwarding of a staged copy out of the tail).
INLINE V MP(loadFirst)(const float *p, int64_t n) {
#if LANES == 16
    return (V)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
#else
    const VI iota = {IOTA};
    return (V)_mm256_maskload_ps(p, (__m256i)(iota < (int32_t)n));
#endif
}

/// Stores the first `n` (0…LANES) maxima and indices.
INLINE void MP(storeFirst)(V best, const VL *indexPointer, float *output, int64_t *indices,
    int64_t n) {
    const VL index = *indexPointer;
#if LANES == 16
    typedef int64_t Half __attribute__((vector_size(64)));
    const Half low = __builtin_shufflevector(index, index, 0, 1, 2, 3, 4, 5, 6, 7);
    const Half high = __builtin_shufflevector(index, index, 8, 9, 10, 11, 12, 13, 14, 15);
    const int64_t lowCount = n < 8 ? n : 8, highCount = n - lowCount;
    _mm512_mask_storeu_ps(output, (__mmask16)((1u << n) - 1), (__m512)best);
    _mm512_mask_storeu_epi64(indices, (__mmask8)((1u << lowCount) - 1), (__m512i)low);
    _mm512_mask_storeu_epi64(indices + 8, (__mmask8)((1u << highCount) - 1), (__m512i)high);
#else
    typedef int64_t Half __attribute__((vector_size(32)));
    const VI iota = {IOTA};
    const VI mask = iota < (int32_t)n;
    const Half low = __builtin_shufflevector(index, index, 0, 1, 2, 3);
    const Half high = __builtin_shufflevector(index, index, 4, 5, 6, 7);
    const Half lowMask = __builtin_convertvector(__builtin_shufflevector(mask, mask, 0, 1, 2, 3), Half);
    const Half highMask = __builtin_convertvector(__builtin_shufflevector(mask, mask, 4, 5, 6, 7), Half);
    _mm256_maskstore_ps(output, (__m256i)mask, (__m256)best);
    _mm256_maskstore_epi64((long long *)indices, (__m256i)lowMask, (__m256i)low);
    _mm256_maskstore_epi64((long long *)(indices + 4), (__m256i)highMask, (__m256i)high);
#endif
}

/// The `count` (1…LANES) windows whose upper row starts at `source + first`.
INLINE void MP(windows)(const float *source, int64_t first, int64_t width, float *output,
    int64_t *indices, int64_t count) {
    const float *upper = source + first, *lower = upper + width;
    V u0, u1, l0, l1;
    if (count == LANES) {
        __builtin_memcpy(&u0, upper, sizeof u0);
        __builtin_memcpy(&u1, upper + LANES, sizeof u1);
        __builtin_memcpy(&l0, lower, sizeof l0);
        __builtin_memcpy(&l1, lower + LANES, sizeof l1);
    } else {
        const int64_t n0 = 2 * count < LANES ? 2 * count : LANES, n1 = 2 * count - n0;
        u0 = MP(loadFirst)(upper, n0);
        u1 = MP(loadFirst)(upper + LANES, n1);
        l0 = MP(loadFirst)(lower, n0);
        l1 = MP(loadFirst)(lower + LANES, n1);
    }
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
        MP(storeFirst)(best, &index, output, indices, count);
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
            for (int64_t ox = 0; ox < outputWidth; ox += LANES) {
                const int64_t left = outputWidth - ox;
                MP(windows)(source, top + 2 * ox, width, output + o + ox, indices + o + ox,
                    left < LANES ? left : LANES);
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
