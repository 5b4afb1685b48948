#ifndef NABLA_CBENCHSUPPORT_H
#define NABLA_CBENCHSUPPORT_H

/// Pins glibc's malloc thresholds: blocks up to 32 MiB come from the heap, which is never
/// trimmed. Returns 1 on success, 0 if mallopt refused, and 1 where there is no glibc.
int nabla_bench_pin_malloc_thresholds(void);

#endif
