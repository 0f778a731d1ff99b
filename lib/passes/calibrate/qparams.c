/* See qparams.h. */
#include <float.h>
#include <math.h>

#include "passes/calibrate/qparams.h"

void olive_sq_qrange(int32_t qtype, int reduce_range, int symmetric, int32_t *qmin, int32_t *qmax)
{
    if (qtype == OIR_INT8) {
        *qmin = reduce_range ? -64 : symmetric ? -127 : -128;
        *qmax = reduce_range ? 64 : 127;
    } else {
        *qmin = 0;
        *qmax = reduce_range ? 127 : 255;
    }
}

void olive_sq_scale_zp(float rmin, float rmax, int32_t qmin, int32_t qmax, int symmetric, float *scale, int32_t *zp)
{
    double s;
    rmin = rmin < 0.0f ? rmin : 0.0f;
    rmax = rmax > 0.0f ? rmax : 0.0f;
    if (symmetric) {
        float m = fabsf(rmin) > fabsf(rmax) ? fabsf(rmin) : fabsf(rmax);
        rmin = -m;
        rmax = m;
    }
    s = ((double)rmax - (double)rmin) / ((double)qmax - (double)qmin);
    if (s < (double)FLT_MIN) {
        *scale = 1.0f;
        *zp = 0;
        return;
    }
    if (symmetric)
        *zp = (int32_t)nearbyint(((double)qmin + (double)qmax) / 2.0);
    else
        *zp = (int32_t)nearbyint((double)qmin - (double)rmin / s);
    *scale = (float)s;
}

long olive_sq_data_params(int32_t qtype, int reduce_range, int symmetric, const float *v, size_t n, size_t stride,
                          float *scale, int32_t *zp)
{
    int32_t qmin, qmax;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float x = v[i * stride];
        if (!isfinite(x))
            return (long)i;
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    if (!n)
        lo = hi = 0.0f;
    olive_sq_qrange(qtype, reduce_range, symmetric, &qmin, &qmax);
    olive_sq_scale_zp(lo, hi, qmin, qmax, symmetric, scale, zp);
    return -1;
}
