/* Threads for compute loops (quantizers, converters, kernels).
 *
 * olive_parallel_for runs a loop over [0, n) in contiguous chunks on the online cores (at
 * most OLIVE_MAX_THREADS threads, at least `min_chunk` iterations each), the calling
 * thread taking the first chunk. When a thread cannot be started its chunk runs on the calling
 * thread: results never depend on the number of threads as long as `fn` writes only what its
 * iterations own. */
#ifndef OLIVE_CORE_PARALLEL_H
#define OLIVE_CORE_PARALLEL_H

#include <stddef.h>

#define OLIVE_MAX_THREADS 16

typedef void (*olive_range_fn)(void *ctx, size_t begin, size_t end);

void olive_parallel_for(size_t n, size_t min_chunk, olive_range_fn fn, void *ctx);

/* Runs fn on each of the n (1..OLIVE_MAX_THREADS) items of `size` bytes at `items`:
 * the first on the calling thread, the others on new threads, or on the calling thread after
 * the first, one after another, when a thread cannot be started. Returns once all are done. */
void olive_run_threads(void *(*fn)(void *), void *items, size_t size, size_t n);

#endif
