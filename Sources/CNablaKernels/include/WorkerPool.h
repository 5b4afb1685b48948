// A pool of worker threads that wait for parallel loops by spinning for a while before they
// sleep, so that a loop started soon after the last one begins in about a microsecond instead of
// the tens of microseconds a sleeping thread takes to wake.
#ifndef CNABLA_WORKER_POOL_H
#define CNABLA_WORKER_POOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nabla_worker_pool nabla_worker_pool;

/// The body of a parallel loop: runs part `part` of the loop with `context`.
typedef void (*nabla_part_body)(void *context, int64_t part);

/// The most parts one loop may have.
#define NABLA_WORKER_POOL_MAX_PARTS 65535

/// A pool of `workers` threads (0 is allowed: every loop then runs on its caller), which spin
/// for `spin_microseconds` after each loop before they sleep. NULL if the threads could not be
/// created. Pools are never destroyed.
nabla_worker_pool *nabla_worker_pool_create(int32_t workers, int32_t spin_microseconds);

/// Runs `body(context, part)` for every part in 0 ..< parts (at most
/// NABLA_WORKER_POOL_MAX_PARTS) on the calling thread and the pool's workers, and returns 0 when
/// all have returned. Parts are claimed one at a time, so a worker that is slow to wake only
/// leaves more parts to the others.
///
/// Returns, having run nothing, 1 if the calling thread is a worker or is running a loop (the
/// caller should then run the parts itself, one after another), or 2 if another thread is running
/// a loop on the pool or `parts` is out of range (the caller should run them some other way).
int32_t nabla_worker_pool_run(nabla_worker_pool *pool, int64_t parts, nabla_part_body body, void *context);

/// The pool's worker threads.
int32_t nabla_worker_pool_workers(const nabla_worker_pool *pool);

#ifdef __cplusplus
}
#endif

#endif
