/* The DEFAULT (MLAS) quantizer over a band of a weight: up to block_size rows of w columns,
 * each column one block. Lanes run across columns, so every column sees exactly the float
 * operations, in the order, that olive_blockq_block applies to its block: same bytes, but the
 * loops are contiguous and vectorize. */
#ifndef OLIVE_PASSES_QUANT_BAND_DEFAULT_H
#define OLIVE_PASSES_QUANT_BAND_DEFAULT_H

#include <stddef.h>
#include <stdint.h>

#include "passes/quant/band_common.h"

/* Quantizes `band` (len rows of w floats, row i at band + i * stride). Returns 0, or -1 when
 * a value is not finite (nothing is written then). Column j's packed block goes to
 * codes + j * code_stride, its scale to scales + j * scale_stride and its zero point code to
 * zps[j]. `fs` and `bs` are scratch of the sizes band_common.h gives. */
int olive_blockq_band_default(const olive_blockq *p, const float *band, size_t stride, size_t len, size_t w, float *fs,
                              uint8_t *bs, uint8_t *codes, size_t code_stride, uint8_t *scales, size_t scale_stride,
                              uint8_t *zps);

#endif
