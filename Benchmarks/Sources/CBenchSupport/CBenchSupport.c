#include "CBenchSupport.h"

#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#include <limits.h>
#endif

int nabla_bench_pin_malloc_thresholds(void) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
#else
    return 1;
#endif
}
