// The worker pool behind WorkerPool.run in Swift (see WorkerPool.h).
//
// One loop runs at a time. Its caller publishes it in one 64-bit word, `job`: the loop's
// generation (32 bits), its parts (16) and the next unclaimed part (16). Every thread, the caller
// too, claims parts by a compare-and-swap on that word and runs them, and the caller waits until
// `finished` counts them all. A worker that wakes late finds no part left (or a newer
// generation) and claims nothing, so it never reads a finished loop's body or context.
//
// Idle workers spin on `generation` for a while (yielding now and then), then sleep on it with a
// futex; the caller wakes them only when one has announced, in `sleepers`, that it sleeps.
#define _GNU_SOURCE
#include "WorkerPool.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct nabla_worker_pool {
    _Atomic uint64_t job;         // generation << 32 | parts << 16 | next part
    _Atomic uint32_t generation;  // the job's generation, which sleeping workers wait on
    _Atomic uint32_t sleepers;    // workers asleep, or about to be
    _Atomic int64_t finished;     // parts of the current loop that have returned
    _Atomic(nabla_part_body) body;
    _Atomic(void *) context;
    pthread_mutex_t lock;         // held by the thread running a loop
    int32_t workers;
    int64_t spin_nanoseconds;
};

// Whether this thread is a worker or is running a loop: its loops then run serially.
static _Thread_local int inside_loop;

static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static int64_t now_nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t expected) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *word, int count) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

// Claims and runs parts of the loop of `generation` until none is left.
static void run_parts(nabla_worker_pool *pool, uint32_t generation) {
    uint64_t job = atomic_load_explicit(&pool->job, memory_order_acquire);
    for (;;) {
        const int64_t parts = (int64_t)((job >> 16) & 0xFFFF), part = (int64_t)(job & 0xFFFF);
        if ((uint32_t)(job >> 32) != generation || part >= parts) return;
        // Read before the claim: a claim that succeeds proves the loop was not finished, so
        // these were not yet overwritten by the next one.
        const nabla_part_body body = atomic_load_explicit(&pool->body, memory_order_relaxed);
        void *const context = atomic_load_explicit(&pool->context, memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(
                &pool->job, &job, job + 1, memory_order_acquire, memory_order_acquire)) {
            body(context, part);
            atomic_fetch_add_explicit(&pool->finished, 1, memory_order_release);
            job = atomic_load_explicit(&pool->job, memory_order_acquire);
        }
    }
}

// Waits until the generation differs from `seen`: spins, then sleeps.
static uint32_t wait_for_loop(nabla_worker_pool *pool, uint32_t seen) {
    uint32_t generation = atomic_load_explicit(&pool->generation, memory_order_acquire);
    const int64_t deadline = now_nanoseconds() + pool->spin_nanoseconds;
    for (uint32_t spins = 1; generation == seen; spins++) {
        if ((spins & 63) == 0) {
            if (now_nanoseconds() > deadline) break;
            // Let another thread that wants this core run: OpenBLAS's threads, which wait for
            // their own work by yielding, would otherwise wait for the end of this spin.
            sched_yield();
        }
        relax();
        generation = atomic_load_explicit(&pool->generation, memory_order_acquire);
    }
    while (generation == seen) {
        // Announce, then check again (both sequentially consistent, as the caller's store of
        // the generation and load of `sleepers`): either the caller sees a sleeper and wakes
        // it, or this thread sees the new generation. The futex checks the word once more.
        atomic_fetch_add(&pool->sleepers, 1);
        if (atomic_load(&pool->generation) == seen) futex_wait(&pool->generation, seen);
        atomic_fetch_sub(&pool->sleepers, 1);
        generation = atomic_load_explicit(&pool->generation, memory_order_acquire);
    }
    return generation;
}

static void *worker_main(void *argument) {
    nabla_worker_pool *pool = argument;
    inside_loop = 1;
    uint32_t seen = 0;
    for (;;) {
        seen = wait_for_loop(pool, seen);
        run_parts(pool, seen);
    }
    return NULL;
}

nabla_worker_pool *nabla_worker_pool_create(int32_t workers, int32_t spin_microseconds) {
    nabla_worker_pool *pool = calloc(1, sizeof *pool);
    if (pool == NULL) return NULL;
    pthread_mutex_init(&pool->lock, NULL);
    pool->spin_nanoseconds = (int64_t)(spin_microseconds > 0 ? spin_microseconds : 0) * 1000;
    for (int32_t i = 0; i < workers; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, worker_main, pool) != 0) break;
        pthread_detach(thread);
        pool->workers++;
    }
    return pool;
}

int32_t nabla_worker_pool_workers(const nabla_worker_pool *pool) { return pool->workers; }

int32_t nabla_worker_pool_run(nabla_worker_pool *pool, int64_t parts, nabla_part_body body, void *context) {
    if (inside_loop) return 1;
    if (parts < 1 || parts > NABLA_WORKER_POOL_MAX_PARTS || pthread_mutex_trylock(&pool->lock) != 0) return 2;
    inside_loop = 1;
    // Only the thread holding the lock writes these.
    const uint32_t generation = atomic_load_explicit(&pool->generation, memory_order_relaxed) + 1;
    atomic_store_explicit(&pool->finished, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->body, body, memory_order_relaxed);
    atomic_store_explicit(&pool->context, context, memory_order_relaxed);
    atomic_store_explicit(
        &pool->job, (uint64_t)generation << 32 | (uint64_t)parts << 16, memory_order_release);
    atomic_store(&pool->generation, generation);
    if (atomic_load(&pool->sleepers) > 0) {
        futex_wake(&pool->generation, parts - 1 < pool->workers ? (int)(parts - 1) : pool->workers);
    }
    run_parts(pool, generation);
    // The parts other threads claimed: short, unless a worker lost its core.
    for (uint32_t spins = 1; atomic_load_explicit(&pool->finished, memory_order_acquire) < parts; spins++) {
        if ((spins & 0xFFFF) == 0) sched_yield(); else relax();
    }
    inside_loop = 0;
    pthread_mutex_unlock(&pool->lock);
    return 0;
}
