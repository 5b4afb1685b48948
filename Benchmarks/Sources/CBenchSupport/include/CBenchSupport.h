#ifndef NABLA_CBENCHSUPPORT_H
#define NABLA_CBENCHSUPPORT_H

/// Pins glibc's malloc thresholds: blocks up to 32 MiB come from the heap, which is never
/// trimmed. Returns 1 on success, 0 if mallopt refused, and 1 where there is no glibc.
int nabla_bench_pin_malloc_thresholds(void);

/// The single-thread Float multiply-add peak in GFLOP/s at `level` (0 portable SSE: a multiply
/// and an add; 1 AVX2 with FMA; 2 AVX-512), from `steps` steps of 12 independent vector chains.
/// The caller checks that the CPU runs `level`.
double nabla_bench_fma_peak_gflops(int level, long steps);

#endif
