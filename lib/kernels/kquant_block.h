/* k-quant's search for one block: llama.cpp's weighted least-squares fit of a scale and a
 * minimum, as ONNX Runtime's k_quant config runs it (neural_compressor/weight_only.py, the CPU
 * path). Shared by the quantize pass (whole weights) and the converter (rows as it streams them).
 *
 * A block's weights are |v| + rms(block); 20 candidate inverse scales (qmax - 1 + 0.1 i) /
 * (max - min) are tried, each refined by a least-squares fit of scale and minimum, and the fit
 * with the smallest weighted squared error is kept. The zero point is round(-min / scale) clamped
 * to the code range; codes are round(v / scale + zero point) in double. A constant block keeps
 * scale 1 and zero point clamp(round(-v)), as in the reference. Float32 arithmetic and sums in the
 * reference's order (numpy's pairwise summation), so the bytes match. */
#ifndef OLIVE_KERNELS_KQUANT_BLOCK_H
#define OLIVE_KERNELS_KQUANT_BLOCK_H

#include <stddef.h>
#include <stdint.h>

/* The largest block olive_kquant_block takes. */
#define KQ_MAX_BLOCK 256

/* Quantizes one block of n (<= KQ_MAX_BLOCK) values, zero padding included: codes[i] one per
 * value, *scale the float32 scale, *zp the zero point code. Sums are numpy's pairwise ones, or
 * in order with `in_order`: when K fits one block (and N > 1) the reference's block array is a
 * column-major view of the transposed weight, which numpy reduces element by element. */
void olive_kquant_block(int bits, const float *v, size_t n, int in_order, uint8_t *codes, float *scale, uint8_t *zp);

#endif
