// The machine's multiply-add peak on one thread, per instruction-set level: independent chains
// of vector multiply-adds, enough of them to hide the latency, timed for a fixed count.
#include "CBenchSupport.h"

#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#pragma STDC FP_CONTRACT ON

// 12 chains of `LANES` Floats: y = y·a + b, 2 FLOPs per lane per step.
#define PEAK_BODY(V, LANES)                                                              \
    V y[12];                                                                             \
    for (int i = 0; i < 12; i++) y[i] = (V){0} + 1.0f + 0.01f * i;                       \
    const V a = (V){0} + 0.999999f, b = (V){0} + 1e-7f;                                   \
    const double start = seconds();                                                      \
    for (long step = 0; step < steps; step++)                                            \
        for (int i = 0; i < 12; i++) y[i] = y[i] * a + b;                                \
    const double elapsed = seconds() - start;                                            \
    float sink = 0;                                                                      \
    for (int i = 0; i < 12; i++) sink += y[i][0];                                        \
    *checksum = sink;                                                                    \
    return 2.0 * LANES * 12 * (double)steps / elapsed / 1e9;

typedef float Float4 __attribute__((vector_size(16)));
static double peakPortable(long steps, float *checksum) { PEAK_BODY(Float4, 4) }

#if defined(__x86_64__)
typedef float Float8 __attribute__((vector_size(32)));
typedef float Float16 __attribute__((vector_size(64)));
__attribute__((target("avx2,fma"))) static double peakAVX2(long steps, float *checksum) {
    PEAK_BODY(Float8, 8)
}
__attribute__((target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl")))
static double peakAVX512(long steps, float *checksum) { PEAK_BODY(Float16, 16) }
#endif

double nabla_bench_fma_peak_gflops(int level, long steps) {
    float checksum = 0;
    double rate = 0;
    switch (level) {
#if defined(__x86_64__)
    case 1: rate = peakAVX2(steps, &checksum); break;
    case 2: rate = peakAVX512(steps, &checksum); break;
#endif
    default: rate = peakPortable(steps, &checksum); break;
    }
    return checksum == checksum ? rate : 0;  // keeps the chains alive
}
