/* A MatMul weight B [K, N] as the quantizers that work on whole output channels see it: the
 * transpose [N, K] zero-padded to [N, k_blocks * block_size] in float, so group g = n * k_blocks
 * + b (block b of channel n) is block_size contiguous floats. Used by algorithms whose
 * reference transposes the weight first (hqq, k_quant). */
#ifndef OLIVE_PASSES_QUANT_WEIGHT_GROUPS_H
#define OLIVE_PASSES_QUANT_WEIGHT_GROUPS_H

#include <stddef.h>

#include "ir/ir.h"

typedef struct olive_weight_groups {
    float *v; /* n_groups * block_size values */
    size_t k, n, kb, bs, n_groups;
} olive_weight_groups;

/* Loads `t` (2-D float or float16 with all its data). A non-finite value is an
 * OLIVE_EFORMAT error naming the weight, `node` and the value's [row, column]. A mapped
 * weight has its pages dropped once read. */
int olive_weight_groups_load(olive_weight_groups *g, const oir_tensor *t, size_t block_size, const char *node);
void olive_weight_groups_free(olive_weight_groups *g);

/* Stores float `f` as the weight's type (float16 rounds to nearest even) at out[i]. */
void olive_store_as(int half, void *out, size_t i, float f);

#endif
