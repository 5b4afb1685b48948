// Adam's update without weight decay or AMSGrad for one scalar type at one level, for Adam.c.
// Expects S, SUFFIX (f32 or f64), LEVEL, VECTOR_BYTES and the target attribute pushed. The
// operations are OptimizerKernels.adamWithoutDecay's, in its order, contraction off.

#define ADAM_NAME2(suffix, level) nabla_adam_##suffix##_##level
#define ADAM_NAME1(suffix, level) ADAM_NAME2(suffix, level)
#define ADAM_TYPE2(suffix, level) AdamLanes_##suffix##_##level
#define ADAM_TYPE1(suffix, level) ADAM_TYPE2(suffix, level)
#define V ADAM_TYPE1(SUFFIX, LEVEL)
#define ADAM_STEP2(suffix, level) adamStep_##suffix##_##level
#define ADAM_STEP1(suffix, level) ADAM_STEP2(suffix, level)
#define ADAM_STEP ADAM_STEP1(SUFFIX, LEVEL)
#define LANES ((int64_t)(VECTOR_BYTES / sizeof(S)))

typedef S V __attribute__((vector_size(VECTOR_BYTES)));

/// One vector of the update, in registers: returns the new parameters.
static inline __attribute__((always_inline)) V ADAM_STEP(V p, V d, V *m,
    V *v, S stepSize, S correction2Root, S beta1, S beta2, S epsilon) {
    const S oneMinusBeta1 = 1 - beta1, oneMinusBeta2 = 1 - beta2;
    const V first = beta1 * *m + oneMinusBeta1 * d;
    const V second = beta2 * *v + oneMinusBeta2 * d * d;
    *m = first;
    *v = second;
    return p - stepSize * first / (__builtin_elementwise_sqrt(second) / correction2Root + epsilon);
}

void ADAM_NAME1(SUFFIX, LEVEL)(S *parameters, const S *gradient, S *firstMoment,
    S *secondMoment, int64_t count, S stepSize, S correction2Root, S beta1, S beta2, S epsilon) {
    int64_t i = 0;
    for (; i + LANES <= count; i += LANES) {
        V p, d, m, v;
        __builtin_memcpy(&p, parameters + i, sizeof p);
        __builtin_memcpy(&d, gradient + i, sizeof d);
        __builtin_memcpy(&m, firstMoment + i, sizeof m);
        __builtin_memcpy(&v, secondMoment + i, sizeof v);
        p = ADAM_STEP(p, d, &m, &v, stepSize, correction2Root, beta1, beta2, epsilon);
        __builtin_memcpy(parameters + i, &p, sizeof p);
        __builtin_memcpy(firstMoment + i, &m, sizeof m);
        __builtin_memcpy(secondMoment + i, &v, sizeof v);
    }
    if (i < count) {  // the tail, zero-padded: each lane rounds as in a whole vector
        V p = {}, d = {}, m = {}, v = {};
        for (int64_t j = i; j < count; j++) {
            p[j - i] = parameters[j];
            d[j - i] = gradient[j];
            m[j - i] = firstMoment[j];
            v[j - i] = secondMoment[j];
        }
        p = ADAM_STEP(p, d, &m, &v, stepSize, correction2Root, beta1, beta2, epsilon);
        for (int64_t j = i; j < count; j++) {
            parameters[j] = p[j - i];
            firstMoment[j] = m[j - i];
            secondMoment[j] = v[j - i];
        }
    }
}

#undef LANES
#undef V
#undef ADAM_STEP
#undef ADAM_STEP1
#undef ADAM_STEP2
#undef ADAM_TYPE1
#undef ADAM_TYPE2
#undef ADAM_NAME1
#undef ADAM_NAME2
