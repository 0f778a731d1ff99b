/* HQQ (half-quadratic quantization) of one MatMul weight, as ONNX Runtime's
 * HQQWeightOnlyQuantizer does it on the CPU: 4 bits, groups of block_size values along K
 * (zero-padded), the inverse scale from each group's range, then a proximal solver that
 * refines only the zero points (lp_norm 0.7, beta 10 growing by kappa 1.01 each step, at most
 * 20 steps, stopping at the first step whose mean |W - dequant(W)| over the whole weight does
 * not improve). Float zero points are kept unrounded.
 *
 * Output, as that quantizer writes MatMulNBits: codes uint8 [N, k_blocks, block_size / 2]
 * (low nibble first), scales and zero points 1-D [N * k_blocks] in the weight's type. */
#ifndef OLIVE_PASSES_QUANT_HQQ_H
#define OLIVE_PASSES_QUANT_HQQ_H

#include "ir/ir.h"
#include "passes/quant/quantize_weight.h"

/* `t`: 2-D float or float16 with all its data; `node` names the MatMul in errors. On failure
 * (a non-finite value, out of memory) *o is left empty. */
int olive_hqq_quantize(const oir_tensor *t, int block_size, const char *node, olive_quant_out *o);

#endif
