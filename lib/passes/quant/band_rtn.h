/* The RTN quantizer over a band of a weight (band_common.h), vectorized across columns: each
 * column gets exactly the double operations, in order, that olive_blockq_block applies to its
 * block, zero padding included. */
#ifndef OLIVE_PASSES_QUANT_BAND_RTN_H
#define OLIVE_PASSES_QUANT_BAND_RTN_H

#include "passes/quant/band_common.h"

/* As olive_blockq_band_default, for the RTN algorithm. */
int olive_blockq_band_rtn(const olive_blockq *p, const float *band, size_t stride, size_t len, size_t w, float *fs,
                          uint8_t *bs, uint8_t *codes, size_t code_stride, uint8_t *scales, size_t scale_stride,
                          uint8_t *zps);

#endif
