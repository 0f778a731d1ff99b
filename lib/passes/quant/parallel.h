/* Runs a loop over [0, n) in contiguous chunks on the online cores (at most 16 threads, at
 * least `min_chunk` iterations each), the calling thread taking the first chunk. When a
 * thread cannot be started its chunk runs on the calling thread: results never depend on
 * the number of threads as long as `fn` writes only what its iterations own. */
#ifndef OLIVE_PASSES_QUANT_PARALLEL_H
#define OLIVE_PASSES_QUANT_PARALLEL_H

#include <stddef.h>

typedef void (*olive_range_fn)(void *ctx, size_t begin, size_t end);

void olive_quant_parallel(size_t n, size_t min_chunk, olive_range_fn fn, void *ctx);

#endif
