/* Block-wise weight quantization for MatMulNBits, one block of one output channel at a time.
 *
 * A weight B [K, N] is quantized along K: output channel n holds K values, cut into
 * k_blocks = ceil(K / block_size) blocks (the last one zero-padded). Each block gets a scale
 * (and, when asymmetric, a zero point) and its codes packed low nibble first (4 bits) or one
 * per byte (8 bits): the layout of MatMulNBits' B input, [N, k_blocks, block_size * bits / 8].
 *
 * Two algorithms, each byte-identical to its ONNX Runtime counterpart:
 *  - DEFAULT, ONNX Runtime's MLAS block quantizer (float arithmetic, round half away from 0).
 *    Symmetric: the value of largest magnitude m keeps its sign, scale = -m / 2^(bits-1),
 *    codes centred on 2^(bits-1). Asymmetric: range widened to include 0,
 *    scale = (max - min) / (2^bits - 1). Padding is not part of the range.
 *  - RTN, round to nearest as Intel Neural Compressor's weight-only RTN does it in ONNX
 *    Runtime (double arithmetic, numpy's round half to even). Symmetric:
 *    scale = 2 max|v| / (2^bits - 1), implicit zero point 2^(bits-1). Asymmetric: no widening,
 *    scale = (max - min) / (2^bits - 1). The zero padding is part of the block.
 * Scales are written as float or float16 (the weight's type). */
#ifndef OLIVE_KERNELS_BLOCKWISE_H
#define OLIVE_KERNELS_BLOCKWISE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/half.h"

/* HQQ and KQUANT quantize whole weights (hqq.h, kquant.h); the block functions here serve
 * DEFAULT and RTN. */
enum { OLIVE_BLOCKQ_DEFAULT = 0, OLIVE_BLOCKQ_RTN = 1, OLIVE_BLOCKQ_HQQ = 2, OLIVE_BLOCKQ_KQUANT = 3 };

typedef struct olive_blockq {
    int algorithm;   /* OLIVE_BLOCKQ_* */
    int bits;        /* 4 or 8 */
    int block_size;  /* 16..256, a power of 2 */
    int symmetric;   /* 1: no zero point tensor */
    int half_scales; /* 1: scales (and the weight) are float16, else float */
} olive_blockq;

/* Bytes of one packed block: block_size * bits / 8. */
size_t olive_blockq_blob_size(const olive_blockq *p);
/* Zero-point bytes per output channel: ceil(k_blocks * bits / 8). */
size_t olive_blockq_zp_bytes(const olive_blockq *p, size_t k_blocks);

/* Quantizes `len` (1..block_size) finite values of one block. Writes the packed block
 * (blob_size bytes) to `blob`, the scale to `scale` (a float or a float16 per half_scales)
 * and the zero point code to `*zp` (the implicit one when symmetric). Returns the index of
 * the first non-finite value, or -1 when all are finite (nothing is written then). */
long olive_blockq_block(const olive_blockq *p, const float *v, size_t len, uint8_t *blob, void *scale, uint8_t *zp);

/* DEFAULT's scale of a block whose real values span [mn, mx]: stores it to `scale` (as
 * olive_blockq_block does), sets *rs to the reciprocal of the stored scale (0 for a zero
 * scale) and returns the zero point code. */
int olive_blockq_default_scale(const olive_blockq *p, float mn, float mx, void *scale, float *rs);

/* RTN's scale of a block of `len` real values spanning [mn, mx]: stores it to `scale`, sets
 * *zp to the zero point and returns the scale the codes are computed with (as double). */
double olive_blockq_rtn_scale(const olive_blockq *p, double mn, double mx, size_t len, void *scale, double *zp);

/* Stores block `b`'s zero point into the packed zero points of one channel. Call
 * olive_blockq_zp_init on the channel's bytes first. */
void olive_blockq_zp_init(const olive_blockq *p, uint8_t *zp_row, size_t k_blocks);
void olive_blockq_zp_store(const olive_blockq *p, uint8_t *zp_row, size_t b, uint8_t zp);

/* Finishes one channel's packed codes (k_blocks * blob_size bytes) once all its blocks are
 * written. For DEFAULT with 4 bits and an odd K, ONNX Runtime leaves in the padding nibble
 * after the last value the code two rows above it, unless the last value opens its pair of
 * blocks (then 0); the byte-for-byte output repeats that. The nibble is never read. */
void olive_blockq_finish_channel(const olive_blockq *p, uint8_t *codes, size_t k);

/* Round-to-nearest-even conversion of a double to IEEE float16 bits (one rounding). */
uint16_t olive_blockq_half_from_double(double d);

/* Element i of packed float (half = 0) or float16 (half = 1) values, which may be unaligned:
 * the weights, tables and scales the quantizers read. */
static inline float olive_blockq_load(const void *src, size_t i, int half)
{
    const uint8_t *p = src;
    float f;
    if (half) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        return olive_half_to_float(h);
    }
    memcpy(&f, p + 4 * i, 4);
    return f;
}

/* The default quantizer's code: roundf(v * rs + zp) clamped to [0, qmax]. Clamping first gives
 * the same code since rounding is monotonic; in [0, qmax] truncation plus an exact fraction
 * test is round half away from zero, with no libm call, so loops using it vectorize. A NaN
 * product becomes 0. */
static inline uint8_t olive_blockq_default_code(float v, float rs, float zp, float qmax)
{
    float t = v * rs;
    int q;
    t = t + zp;
    t = t > 0.0f ? t : 0.0f;
    t = t < qmax ? t : qmax;
    q = (int)t;
    q += t - (float)q >= 0.5f;
    return (uint8_t)q;
}

#endif
