/* k-quant: llama.cpp's weighted least-squares search for each block's scale and minimum, as
 * ONNX Runtime's k_quant config runs it (neural_compressor/weight_only.py, the CPU path).
 *
 * Each output channel's K values are cut into blocks of block_size, zero padding included in
 * the last one. A block's weights are |v| + rms(block); 20 candidate inverse scales
 * (qmax - 1 + 0.1 i) / (max - min) are tried, each refined by a least-squares fit of scale and
 * minimum, and the fit with the smallest weighted squared error is kept. The zero point is
 * round(-min / scale) clamped to the code range; codes are round(v / scale + zero point) in
 * double. Always asymmetric (a zero-point tensor is written). A constant block keeps scale 1
 * and zero point clamp(round(-v)), as in the reference, so a block of small constants decodes
 * to about 0. Float32 arithmetic and sums in
 * the reference's order (numpy's pairwise summation), so the bytes match. */
#ifndef OLIVE_PASSES_QUANT_KQUANT_H
#define OLIVE_PASSES_QUANT_KQUANT_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"
#include "kernels/blockwise.h"
#include "kernels/kquant_block.h"
#include "passes/quant/quantize_weight.h"

/* Quantizes weight `t` into MatMulNBits' tensors with the layout blockwise.h describes
 * (scales in the weight's type, zero points packed). On failure *o is left empty. */
int olive_kquant_quantize(const olive_blockq *p, const oir_tensor *t, const char *node, olive_quant_out *o);

#endif
