/* Carrying integer block codes (GGUF's quantized weights) into MatMulNBits blocks without
 * rounding the weights a second time.
 *
 * A source block is `len` codes c sharing a float scale and, for types with a minimum, a float
 * offset: value = scale * c + offset. MatMulNBits dequantizes code u with zero point z and
 * scale s as (u - z) * s.
 *  - Without an offset the mapping is exact: u = c + 2^(bits-1), z = 2^(bits-1) (the implicit
 *    zero point, so no zero-point input is needed), s = scale. Exact as long as s is stored
 *    as float; a float16 scale rounds the scale once (the change is reported).
 *  - With an offset, an exact mapping needs a float zero point (-offset / scale), which ONNX
 *    Runtime's CPU kernel runs many times slower than integer ones. The codes are kept as
 *    u = k * (c - c_min) + c0 (k > 1 and c0 > 0 only where 8-bit storage leaves room, which
 *    refines the zero point's step), and the integer z and the scale s are fitted by least
 *    squares over the block's own values. The change is reported. */
#ifndef OLIVE_KERNELS_BLOCKCARRY_H
#define OLIVE_KERNELS_BLOCKCARRY_H

#include <stddef.h>
#include <stdint.h>

typedef struct olive_blockcarry {
    int bits;               /* MatMulNBits bits: 4 or 8 */
    int code_min, code_max; /* range of the source codes */
    int has_offset;         /* the source blocks carry an offset */
    int half_scales;        /* scales stored as float16, else float */
} olive_blockcarry;

/* The fewest MatMulNBits bits (4 or 8) that hold codes in [code_min, code_max] (with an offset,
 * the span code_max - code_min), or 0 when 8 bits do not. */
int olive_blockcarry_bits(int code_min, int code_max, int has_offset);

/* Maps one block of `len` codes `c` with its source scale and offset. `values` are the
 * source's float values (value = scale * c + offset as the source computes them); needed only
 * with an offset (else may be NULL). Writes `len` codes to `u` (0 .. 2^bits - 1, one per
 * byte), the scale to `scale_out` (a float or a float16 per half_scales), and returns the zero
 * point; *max_err gets the largest |(u - z) * s - value| of the block (0 when exact). Returns
 * -1 when the scale, the offset or a value is not finite, or the stored scale overflows
 * (nothing meaningful written then). */
int olive_blockcarry_block(const olive_blockcarry *p, const int8_t *c, const float *values, size_t len, float scale,
                           float offset, uint8_t *u, void *scale_out, double *max_err);

/* As olive_blockcarry_block, with a float zero point (stored like the scale into `zp_out`)
 * instead of a fitted integer one, for blocks with an offset: codes u = c - code_min, scale as
 * given, zero point -(code_min + offset / scale) (a block of one value, scale 0: codes 0, zero
 * point -1, scale = offset). Exact up to the float rounding of (u - z) * s; without an offset
 * the zero point is 2^(bits-1) as float. Returns 0, or -1 as olive_blockcarry_block does. */
int olive_blockcarry_block_float(const olive_blockcarry *p, const int8_t *c, const float *values, size_t len,
                                 float scale, float offset, uint8_t *u, void *scale_out, void *zp_out, double *max_err);

#endif
