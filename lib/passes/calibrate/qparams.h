/* Scales and zero points of static quantization as onnxruntime's quantize_static computes them
 * (quant_utils.compute_scale_zp, get_qmin_qmax_for_qType, quantize_nparray), so that they come
 * out bit-identical:
 *
 *   - the range [rmin, rmax] is widened to include 0, then, when symmetric, to
 *     [-absmax, absmax];
 *   - scale = (rmax - rmin) / (qmax - qmin) in float64, stored as float32; a scale below
 *     FLT_MIN gives scale 1 and zero point 0;
 *   - zero point: round_half_even((qmin + qmax) / 2) when symmetric, else
 *     round_half_even(qmin - rmin / scale) with the float64 scale;
 *   - codes: round_half_even(v / scale) + zero point in float32, clipped to the type's full
 *     range.
 *
 * The code range [qmin, qmax] is the type's full range (int8 [-128, 127], uint8 [0, 255]),
 * [-127, 127] for symmetric int8, and with reduce_range [-64, 64] (int8) or [0, 127] (uint8). */
#ifndef OLIVE_PASSES_CALIBRATE_QPARAMS_H
#define OLIVE_PASSES_CALIBRATE_QPARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* qtype is OIR_INT8 or OIR_UINT8. */
void olive_sq_qrange(int32_t qtype, int reduce_range, int symmetric, int32_t *qmin, int32_t *qmax);

/* compute_scale_zp for the float32 range [rmin, rmax] (finite). */
void olive_sq_scale_zp(float rmin, float rmax, int32_t qmin, int32_t qmax, int symmetric, float *scale, int32_t *zp);

/* Scale and zero point of the n values v[0], v[stride], ... as compute_data_quant_params gives
 * them (the range is the values' min and max). Returns the index of the first value that is
 * not finite, or -1 when all are finite (then *scale and *zp are set). */
long olive_sq_data_params(int32_t qtype, int reduce_range, int symmetric, const float *v, size_t n, size_t stride,
                          float *scale, int32_t *zp);

/* The code of v (quantize_nparray). */
static inline int32_t olive_sq_code(int32_t qtype, float v, float scale, int32_t zp)
{
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding and subtracting rounds half to even */
    float x = v / scale, q;
    x = x < -1024.0f ? -1024.0f : x > 1024.0f ? 1024.0f : x; /* changes no code; keeps the rounding exact */
    q = ((x + magic) - magic) + (float)zp;
    if (qtype == OIR_INT8)
        q = q < -128.0f ? -128.0f : q > 127.0f ? 127.0f : q;
    else
        q = q < 0.0f ? 0.0f : q > 255.0f ? 255.0f : q;
    return (int32_t)q;
}

#endif
