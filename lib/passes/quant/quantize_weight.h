/* Quantizes one weight B [K, N] into MatMulNBits' tensors, a band of block_size rows at a
 * time (each column of a band is one block), bands shared among the online cores. The bytes
 * do not depend on the number of threads. A mapped weight has its pages dropped once read. */
#ifndef OLIVE_PASSES_QUANT_QUANTIZE_WEIGHT_H
#define OLIVE_PASSES_QUANT_QUANTIZE_WEIGHT_H

#include "core/blob.h"
#include "ir/ir.h"
#include "kernels/blockwise.h"

typedef struct olive_quant_out {
    olive_blob *codes;  /* uint8 [N, k_blocks, blob] */
    olive_blob *scales; /* float or float16 [N, k_blocks] */
    olive_blob *zps;    /* uint8 [N, zp bytes], NULL when symmetric */
} olive_quant_out;

/* Quantizes `t` (2-D float or float16 with all its data; p->half_scales as t is float16).
 * `node` names the MatMul in errors. On failure (a non-finite value, out of memory) *o is
 * left empty. */
int olive_quantize_weight(const olive_blockq *p, const oir_tensor *t, const char *node, olive_quant_out *o);

void olive_quant_out_free(olive_quant_out *o);

#endif
