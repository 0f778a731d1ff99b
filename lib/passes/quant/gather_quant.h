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

/* What Olive's OnnxBlockWiseRtnQuantization writes instead (4 or 8 bits), quantize_axis the
 * last one, the same arithmetic with qmin = -2^(bits-1), qmax = 2^(bits-1) - 1 (symmetric) or
 * 2^bits - 1 with the zero point 2^(bits-1) where the scale is 0 (asymmetric):
 *  - codes are UINT8, symmetric ones shifted by 2^(bits-1) (unsigned, the zero point
 *    implied); 4 bits pack two per byte along the last axis within each row (low nibble
 *    first, an odd row padded with a zero nibble): shape [..., ceil(k / 2)]; 8 bits: the
 *    table's shape;
 *  - scales as above; zero points UINT8 of the scales' shape, 4 bits packed along the last
 *    axis in the same way ([..., ceil(k_blocks / 2)]). */
int olive_gather_quantize_olive(const oir_tensor *t, int block_size, int bits, int symmetric, const char *node,
                                olive_quant_out *o);

#endif
