// The vector math lanes and their buffer loops at one level, for VectorMath.c. Expects LEVEL,
// LANES (8 or 16) and the target attribute pushed. Operation for operation the portable Swift
// code (VectorMath.swift), with contraction off: the same bits, lane for lane.

#define VM_NAME2(name, level) name##_##level
#define VM_NAME1(name, level) VM_NAME2(name, level)
#define VM(name) VM_NAME1(name, LEVEL)
#define VM_ENTRY2(name, level) nabla_##name##_f32_##level
#define VM_ENTRY1(name, level) VM_ENTRY2(name, level)
#define VM_ENTRY(name) VM_ENTRY1(name, LEVEL)

typedef float VM(Lanes) __attribute__((vector_size(LANES * 4)));
typedef int32_t VM(Ints) __attribute__((vector_size(LANES * 4)));
typedef uint32_t VM(Bits) __attribute__((vector_size(LANES * 4)));
#define V VM(Lanes)
#define VI VM(Ints)
#define VU VM(Bits)
#define INLINE static inline __attribute__((always_inline))

INLINE V VM(splat)(float s) {
    V v;
    for (int i = 0; i < LANES; i++) v[i] = s;
    return v;
}

/// `mask ? a : b`, lane by lane (a mask lane is all ones or all zeros).
INLINE V VM(select)(VI mask, V a, V b) {
    return (V)(((VU)mask & (VU)a) | (~(VU)mask & (VU)b));
}

INLINE V VM(magnitude)(V x) { return (V)((VU)x & 0x7FFFFFFFu); }

/// VectorMath.exp: clamped, then y·2ⁿ in one factor, or in two when some lane's result is
/// subnormal or needs 2¹²⁸.
INLINE V VM(exp)(V x) {
    const VI twoFactorsLanes =
        ((x < -87.33f) & (x >= -104.0f)) | ((x > 88.3762f) & (x <= 88.72283f));
    const int twoFactors = __builtin_reduce_or(twoFactorsLanes) != 0;
    const float lowest = twoFactors ? -104.0f : -87.33f;
    V clamped = VM(select)(x < lowest, VM(splat)(lowest), x);
    clamped = VM(select)(clamped > 88.72283f, VM(splat)(88.72283f), clamped);
    const V shifted = clamped * 1.44269504088896341f + 12582912.0f;
    const V n = shifted - 12582912.0f;
    const V r = clamped - n * 0.693359375f + n * 2.12194440e-4f;
    const V r2 = r * r;
    V p = 1.9875691500e-4f * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const V y = p * r2 + r + 1.0f;
    const VI exponent = (VI)shifted - 0x4B400000;
    V result;
    if (!twoFactors) {
        result = y * (V)((VU)(exponent + 127) << 23);
        result = VM(select)(x < -87.33f, VM(splat)(0.0f), result);
    } else {
        const VI half = exponent >> 1;
        const V first = (V)((VU)(half + 127) << 23);
        const V second = (V)((VU)(exponent - half + 127) << 23);
        result = y * first * second;
    }
    result = VM(select)(x > 88.72283f, VM(splat)(__builtin_inff()), result);
    return VM(select)(x != x, x, result);
}

/// VectorMath.tanh: an odd polynomial up to |x| = 0.625, `1 − 2 / (e^{2|x|} + 1)` above.
INLINE V VM(tanh)(V x) {
    const V z = x * x;
    V p = -5.70498872745e-3f * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    V small = p * z * x + x;
    small = VM(select)(x == 0.0f, x, small);
    const V a = VM(magnitude)(x);
    const V e = VM(exp)(2.0f * VM(select)(a > 9.0f, VM(splat)(9.0f), a));
    const V large = 1.0f - 2.0f / (e + 1.0f);
    const V signedLarge = (V)((VU)large | ((VU)x & 0x80000000u));
    return VM(select)(a > 0.625f, signedLarge, small);
}

/// VectorMath.sigmoid: `1 / (1 + e^{−|x|})` for x ≥ 0, `e^{−|x|} / (1 + e^{−|x|})` below.
INLINE V VM(sigmoid)(V x) {
    const V e = VM(exp)(-VM(magnitude)(x));
    const V numerator = VM(select)(x < 0.0f, e, VM(splat)(1.0f));
    return numerator / (1.0f + e);
}

/// VectorMath.erfc: Numerical Recipes' erfcc, e^{−z²} split at 12 significant bits of z.
INLINE V VM(erfc)(V x) {
    V z = VM(magnitude)(x);
    z = VM(select)(z > 10.5f, VM(splat)(10.5f), z);
    const V t = 1.0f / (1.0f + 0.5f * z);
    V p = 0.17087277f * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const V zh = (V)((VU)z & 0xFFFFF000u);
    const V positive = t * VM(exp)(-zh * zh) * VM(exp)(p - (z - zh) * (z + zh));
    const V result = VM(select)(x < 0.0f, 2.0f - positive, positive);
    return VM(select)(x != x, x, result);
}

/// VectorMath.gelu: `x · erfc(−x/√2) / 2`, 0 at −∞.
INLINE V VM(gelu)(V x) {
    const V y = x * (VM(erfc)(x * -0.70710678118654752440f) * 0.5f);
    return VM(select)(x == -__builtin_inff(), VM(splat)(0.0f), y);
}

/// VectorMath.geluDerivative: `Φ(x) + x · φ(x)`, 1 at +∞ and 0 at −∞.
INLINE V VM(gelu_derivative)(V x) {
    const V cdf = VM(erfc)(x * -0.70710678118654752440f) * 0.5f;
    V d = cdf + x * VM(exp)(x * x * -0.5f) * 0.39894228040143267794f;
    d = VM(select)(x == __builtin_inff(), VM(splat)(1.0f), d);
    return VM(select)(x == -__builtin_inff(), VM(splat)(0.0f), d);
}

/// The LANES scalars of `p` from `start`, those at `count` and beyond read as `padding`.
INLINE V VM(loadPadded)(const float *p, int64_t start, int64_t count, float padding) {
    V v;
    if (start + LANES <= count) {
        __builtin_memcpy(&v, p + start, sizeof v);
        return v;
    }
    v = VM(splat)(padding);
    for (int64_t i = start; i < count; i++) v[i - start] = p[i];
    return v;
}

/// Stores the lanes of `v` that fall before `count`, from `start`.
INLINE void VM(storePartial)(V v, float *p, int64_t start, int64_t count) {
    if (start + LANES <= count) {
        __builtin_memcpy(p + start, &v, sizeof v);
        return;
    }
    for (int64_t i = start; i < count; i++) p[i] = v[i - start];
}

/// SoftmaxKernels.floatRow over `rows` rows of `columns`: the maximum (NaN if any), then
/// `exp(x − max)` summed in eight lanes block by block of eight (as the portable code does, so
/// the sum rounds alike), then the quotients.
void VM_ENTRY(softmax_rows)(const float *input, float *output, int64_t rows, int64_t columns) {
    typedef float Eight __attribute__((vector_size(32)));
    const float infinity = __builtin_inff();
    for (int64_t row = 0; row < rows; row++) {
        const float *x = input + row * columns;
        float *y = output + row * columns;
        V largest = VM(splat)(-infinity);
        VI hasNaN = {};
        for (int64_t start = 0; start < columns; start += LANES) {
            const V v = VM(loadPadded)(x, start, columns, -infinity);
            largest = VM(select)(v > largest, v, largest);
            hasNaN |= v != v;
        }
        float maximum = largest[0];
        for (int i = 1; i < LANES; i++) maximum = largest[i] > maximum ? largest[i] : maximum;
        if (__builtin_reduce_or(hasNaN)) maximum = __builtin_nanf("");
        Eight sums = {};
        for (int64_t start = 0; start < columns; start += LANES) {
            const V e = VM(exp)(VM(loadPadded)(x, start, columns, -infinity) - maximum);
#if LANES == 8
            sums += e;
#else
            sums += __builtin_shufflevector(e, e, 0, 1, 2, 3, 4, 5, 6, 7);
            sums += __builtin_shufflevector(e, e, 8, 9, 10, 11, 12, 13, 14, 15);
#endif
            VM(storePartial)(e, y, start, columns);
        }
        float sum = -0.0f;
        for (int i = 0; i < 8; i++) sum += sums[i];
        for (int64_t start = 0; start < columns; start += LANES) {
            VM(storePartial)(VM(loadPadded)(y, start, columns, -infinity) / sum, y, start, columns);
        }
    }
}

/// `output[i] = lanes(input[i])`: whole vectors, then the tail zero-padded.
#define VM_BUFFER(name) \
    void VM_ENTRY(name)(const float *input, float *output, int64_t count) { \
        int64_t i = 0; \
        for (; i + LANES <= count; i += LANES) { \
            V v; \
            __builtin_memcpy(&v, input + i, sizeof v); \
            v = VM(name)(v); \
            __builtin_memcpy(output + i, &v, sizeof v); \
        } \
        if (i < count) { \
            V v = {}; \
            for (int64_t j = i; j < count; j++) v[j - i] = input[j]; \
            v = VM(name)(v); \
            for (int64_t j = i; j < count; j++) output[j] = v[j - i]; \
        } \
    }
VM_BUFFER(exp)
VM_BUFFER(tanh)
VM_BUFFER(sigmoid)
VM_BUFFER(erfc)
VM_BUFFER(gelu)
VM_BUFFER(gelu_derivative)

#undef VM_BUFFER
#undef INLINE
#undef V
#undef VI
#undef VU
#undef VM_ENTRY
#undef VM_ENTRY1
#undef VM_ENTRY2
#undef VM
#undef VM_NAME1
#undef VM_NAME2
