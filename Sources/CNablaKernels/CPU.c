// Which levels this CPU runs: CPUID for the instructions, XGETBV for the operating system's
// support of their registers (YMM for AVX2, ZMM and the mask registers for AVX-512).
#include "CNablaKernels.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

typedef struct {
    int sse42, avx, fma, avx2, bmi2, avx512f, avx512dq, avx512bw, avx512vl, ymmState, zmmState;
} Features;

static uint64_t extendedControlRegister(void) {
    uint32_t low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return ((uint64_t)high << 32) | low;
}

static Features detect(void) {
    Features f;
    memset(&f, 0, sizeof f);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    f.sse42 = (c >> 20) & 1;
    f.fma = (c >> 12) & 1;
    f.avx = (c >> 28) & 1;
    const int osxsave = (c >> 27) & 1;
    if (osxsave) {
        const uint64_t xcr0 = extendedControlRegister();
        f.ymmState = (xcr0 & 0x6) == 0x6;      // SSE and AVX state
        f.zmmState = (xcr0 & 0xE6) == 0xE6;    // and opmask, ZMM_Hi256, Hi16_ZMM
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f.avx2 = (b >> 5) & 1;
        f.bmi2 = (b >> 8) & 1;
        f.avx512f = (b >> 16) & 1;
        f.avx512dq = (b >> 17) & 1;
        f.avx512bw = (b >> 30) & 1;
        f.avx512vl = (b >> 31) & 1;
    }
    return f;
}

int nabla_simd_supported_level(void) {
    const Features f = detect();
    if (!(f.avx && f.avx2 && f.fma && f.ymmState)) return NABLA_SIMD_PORTABLE;
    if (f.avx512f && f.avx512dq && f.avx512bw && f.avx512vl && f.zmmState) return NABLA_SIMD_AVX512;
    return NABLA_SIMD_AVX2;
}

void nabla_simd_feature_names(char *buffer, int64_t capacity) {
    if (capacity <= 0) return;
    const Features f = detect();
    const struct { int present; const char *name; } all[] = {
        {f.sse42, "sse4.2"}, {f.avx, "avx"}, {f.fma, "fma"}, {f.avx2, "avx2"}, {f.bmi2, "bmi2"},
        {f.avx512f, "avx512f"}, {f.avx512dq, "avx512dq"}, {f.avx512bw, "avx512bw"},
        {f.avx512vl, "avx512vl"},
    };
    buffer[0] = 0;
    int64_t used = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!all[i].present) continue;
        int written = snprintf(buffer + used, (size_t)(capacity - used), "%s%s", used ? " " : "", all[i].name);
        if (written < 0 || used + written >= capacity) break;
        used += written;
    }
    if (f.avx && !f.ymmState) snprintf(buffer + used, (size_t)(capacity - used), " (no OS support for YMM)");
    else if (f.avx512f && !f.zmmState) snprintf(buffer + used, (size_t)(capacity - used), " (no OS support for ZMM)");
}

#else

int nabla_simd_supported_level(void) { return NABLA_SIMD_PORTABLE; }

void nabla_simd_feature_names(char *buffer, int64_t capacity) {
    if (capacity > 0) buffer[0] = 0;
}

#endif
