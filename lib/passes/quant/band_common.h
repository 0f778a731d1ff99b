/* Helpers of the band quantizers (band_default.h, band_rtn.h): a band is up to block_size
 * rows of w columns of a weight [K, N], row i at band + i * stride; each column is one block. */
#ifndef OLIVE_PASSES_QUANT_BAND_COMMON_H
#define OLIVE_PASSES_QUANT_BAND_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/blockwise.h"

/* The hot loops also get an AVX2 copy, picked at load time on CPUs that have it. Same
 * operations on wider vectors: the bytes do not change. */
/* Not under ThreadSanitizer: the clones' ifunc resolver is instrumented and runs while the
 * library is relocated, before the TSan runtime is initialised, so a program linked against
 * libolive (the Rust binding's tests) crashes at load. gcc defines __SANITIZE_THREAD__ there. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__) && !defined(__SANITIZE_THREAD__)
#define OLIVE_BAND_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define OLIVE_BAND_CLONES
#endif

/* Scratch a band quantizer needs for w columns: floats (8-byte aligned) and bytes. */
static inline size_t olive_blockq_band_scratch_floats(size_t w)
{
    return 6 * w;
}
static inline size_t olive_blockq_band_scratch_bytes(const olive_blockq *p, size_t w)
{
    return (olive_blockq_blob_size(p) + 1) * w;
}

/* Per column, the smallest and largest value, compared in row order as the per-block
 * quantizers do (so the same zero keeps its sign). Returns -1 when a value is not finite
 * (the bounds mean nothing then), else 0. */
int olive_blockq_band_minmax(const float *band, size_t stride, size_t len, size_t w, float *mn, float *mx);

/* out[j * os + i] = in[i * w + j] for i < rows, j < w: packed rows to per-column blocks. */
void olive_blockq_transpose_bytes(const uint8_t *in, size_t rows, size_t w, uint8_t *out, size_t os);

#endif
