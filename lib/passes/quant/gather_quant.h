/* Block quantization of a constant Gather table into com.microsoft GatherBlockQuantized's
 * tensors, as ONNX Runtime's default weight-only quantizer writes them (4 bits):
 *
 * The table is seen as [m, k, n] around quantize_axis (k its length), cut into blocks of
 * block_size along k (the last one shorter, not padded). Arithmetic in the table's type
 * (float or float16, each operation rounded to it), numpy's round half to even.
 *  - symmetric: m = the bound of larger magnitude, keeping its sign; scale = m / -8;
 *    codes round(v / scale) clamped to [-8, 7] as INT4 (0 where the scale is 0).
 *  - asymmetric: range widened to include 0, scale = (max - min) / 15, zero point
 *    round(-min / scale) clamped to [0, 15] (8 where the scale is 0), codes
 *    round(v / scale + zero point) clamped to [0, 15] as UINT4 (8 where the scale is 0).
 * Codes are packed two per byte, low nibble first, in the table's element order; scales have
 * the table's shape with k replaced by k_blocks; zero points (UINT4) the scales' shape. */
#ifndef OLIVE_PASSES_QUANT_GATHER_QUANT_H
#define OLIVE_PASSES_QUANT_GATHER_QUANT_H

#include <stdint.h>

#include "ir/ir.h"
#include "passes/quant/quantize_weight.h"

/* `t`: float or float16 with all its data, rank >= 1; 0 <= axis < rank. `node` names the
 * Gather in errors. On failure (a non-finite value, out of memory) *o is left empty. */
int olive_gather_quantize(const oir_tensor *t, size_t axis, int block_size, int symmetric, const char *node,
                          olive_quant_out *o);

#endif
