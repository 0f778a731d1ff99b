/* What the calibrated weight quantizers (gptq, awq) share: which MatMuls they take, and how
 * their codes become a com.microsoft MatMulNBits in the quantize pass's layout (blockwise.h):
 * B uint8 [N, k_blocks, block_size * bits / 8] (4 bits: low nibble first), scales float
 * [N, k_blocks], zero points uint8 [N, ceil(k_blocks * bits / 8)] when asymmetric (absent:
 * the implicit 2^(bits-1)); node "<name>_Q<bits>", tensors "<weight>_Q<bits>",
 * "<weight>_scales", "<weight>_zero_points" (and "<weight>_g_idx" with act-order). */
#ifndef OLIVE_PASSES_CALIBRATE_NBITS_WRITER_H
#define OLIVE_PASSES_CALIBRATE_NBITS_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* The weight of node `n` when it is a MatMul of the default domain reading an activation and a
 * constant 2-D float32 initializer with all its data; else NULL. */
oir_tensor *olive_calib_matmul_weight(const oir_graph *g, const oir_node *n);

/* Replaces the MatMul at g->nodes[at], of weight w [K, N], by MatMulNBits from codes [N][K]
 * (0..2^bits - 1), scales and zeros [N][ceil(K / block)] (zeros unused when sym). g_idx [K]
 * (or NULL): the group of each input row, written as MatMulNBits' g_idx ("<weight>_g_idx",
 * int32) when the groups are not consecutive rows (act-order); the zero points are then float
 * [N][ceil(K / block)], the form ONNX Runtime's CPU kernel reads correctly with g_idx (and runs
 * slower). Errors: OLIVE_ENOMEM. */
int olive_calib_write_nbits(oir_graph *g, size_t at, const oir_tensor *w, int bits, size_t block, int sym,
                            const uint8_t *codes, const float *scales, const float *zeros, const int32_t *g_idx);

/* Removes the initializers names[0..n) that nothing reads any more (the replaced float
 * weights). Errors: OLIVE_ENOMEM. */
int olive_calib_drop_unused(oir_graph *g, const char *const *names, size_t n);

#endif
