/* 8-bit weight quantization as ONNX Runtime's quantize_dynamic computes it (quant_utils:
 * compute_scale_zp, quantize_nparray), so that codes, scales and zero points come out
 * bit-identical.
 *
 * int8 weights are symmetric ([-127, 127], zero point 0), uint8 weights asymmetric
 * ([0, 255]); reduce_range narrows either to 7 bits ([-64, 64], [0, 127]). The range always
 * includes 0. A range so narrow that its scale would be below FLT_MIN (an all-zero weight)
 * gets scale 1 and zero point 0. Codes are round-half-to-even(v / scale) + zero point in
 * float32 arithmetic, clipped to the type's full range. */
#ifndef OLIVE_PASSES_QUANT_DYNAMIC_WEIGHT_QUANT_H
#define OLIVE_PASSES_QUANT_DYNAMIC_WEIGHT_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* The [qmin, qmax] codes are computed for; dtype is OIR_INT8 or OIR_UINT8. */
void olive_dynq_range(int32_t dtype, int reduce_range, int32_t *qmin, int32_t *qmax);

/* Scale and zero point for the n values v[0], v[stride], v[2 * stride], ... Returns the index
 * (counted in values, not floats) of the first value that is inf or NaN, or -1 when all are
 * finite (then *scale and *zp are set). */
long olive_dynq_params(int32_t dtype, int reduce_range, const float *v, size_t n, size_t stride, float *scale,
                       int32_t *zp);

/* The code of one finite value for a scale and zero point from olive_dynq_params:
 * nearbyintf(v / scale) + zp clamped to the type, in float32 as the reference computes it.
 * Inline, and rounding by the 1.5 * 2^23 addition (round half to even, exact below 2^22 in
 * the default rounding mode) instead of a libm call, so that a loop over a weight vectorizes.
 * The quotient is first clamped to +-512, which changes no code: zp is in [0, 255]. */
static inline int32_t olive_dynq_code(int32_t dtype, float v, float scale, int32_t zp)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float x = v / scale, q;
    x = x < -512.0f ? -512.0f : x > 512.0f ? 512.0f : x;
    q = ((x + magic) - magic) + (float)zp; /* two roundings: no -ffast-math in this build */
    if (dtype == OIR_INT8)
        q = q < -128.0f ? -128.0f : q > 127.0f ? 127.0f : q;
    else
        q = q < 0.0f ? 0.0f : q > 255.0f ? 255.0f : q;
    return (int32_t)q;
}

#endif
