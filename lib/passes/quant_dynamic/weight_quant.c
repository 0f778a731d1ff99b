/* See weight_quant.h. The float32/float64 split below follows the reference's numpy dtypes:
 * the range is found in float32, the scale and the asymmetric zero point are computed in
 * float64, and the stored scale, the division and the rounding of codes are float32. */
#include <float.h>
#include <math.h>

#include "ir/ir.h"
#include "passes/quant_dynamic/weight_quant.h"

void olive_dynq_range(int32_t dtype, int reduce_range, int32_t *qmin, int32_t *qmax)
{
    if (dtype == OIR_INT8) {
        *qmin = reduce_range ? -64 : -127;
        *qmax = reduce_range ? 64 : 127;
    } else {
        *qmin = 0;
        *qmax = reduce_range ? 127 : 255;
    }
}

long olive_dynq_params(int32_t dtype, int reduce_range, const float *v, size_t n, size_t stride, float *scale,
                       int32_t *zp)
{
    int32_t qmin, qmax;
    float lo = 0.0f, hi = 0.0f; /* starting at 0 keeps 0 inside the range */
    double s;
    for (size_t i = 0; i < n; i++) {
        float x = v[i * stride];
        if (!isfinite(x))
            return (long)i;
        if (x < lo)
            lo = x;
        if (x > hi)
            hi = x;
    }
    olive_dynq_range(dtype, reduce_range, &qmin, &qmax);
    if (dtype == OIR_INT8) { /* signed weights are symmetric */
        float m = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi);
        lo = -m;
        hi = m;
    }
    s = ((double)hi - (double)lo) / ((double)qmax - (double)qmin);
    if (s < (double)FLT_MIN) {
        *scale = 1.0f;
        *zp = 0;
        return -1;
    }
    if (dtype == OIR_INT8) {
        *zp = (int32_t)nearbyint((double)(qmin + qmax) / 2.0);
    } else {
        double z = nearbyint((double)qmin - (double)lo / s);
        *zp = z < qmin ? qmin : z > qmax ? qmax : (int32_t)z;
    }
    *scale = (float)s;
    return -1;
}
