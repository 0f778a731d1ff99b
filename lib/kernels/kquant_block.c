/* k-quant's block search (see kquant_block.h). The operations and their order follow the
 * reference one by one: a different rounding anywhere may pick another candidate and change a
 * block's codes. */
#include "kernels/kquant_block.h"

#include <math.h>
#include <string.h>

#include "kernels/pairwise_sum.h"

#define KQ_STEPS 20

/* The sum the reference's reduction computes: pairwise, or in order when its block array is
 * column-major (see kquant.h). */
static float block_sum(const float *a, size_t n, int in_order)
{
    float r = 0.0f;
    if (!in_order)
        return olive_pairwise_sum(a, n);
    for (size_t i = 0; i < n; i++)
        r += a[i];
    return r;
}

static float clip_round(float x, float qmax)
{
    x = nearbyintf(x);
    return x < 0.0f ? 0.0f : x > qmax ? qmax : x; /* NaN stays NaN, as numpy's clip keeps it */
}

void olive_kquant_block(int bits, const float *v, size_t n, int in_order, uint8_t *codes, float *scale_out,
                        uint8_t *zp_out)
{
    const float qmax = (float)((1 << bits) - 1);
    float w[KQ_MAX_BLOCK], t[KQ_MAX_BLOCK], q[KQ_MAX_BLOCK], mwq[KQ_MAX_BLOCK];
    float av_x, rmin = v[0], rmax = v[0], sum_w, sum_x, iscale = 1.0f, scale, best_mad, zpf;
    double sd;

    if (n > KQ_MAX_BLOCK) /* block sizes are checked before; this keeps the arrays in bounds */
        n = KQ_MAX_BLOCK;
    memset(w, 0, sizeof w); /* only the first n are read; silences a false uninitialized warning */
    for (size_t i = 0; i < n; i++)
        t[i] = v[i] * v[i];
    av_x = sqrtf(block_sum(t, n, in_order) / (float)n);
    for (size_t i = 0; i < n; i++) {
        w[i] = av_x + fabsf(v[i]);
        rmin = v[i] < rmin ? v[i] : rmin;
        rmax = v[i] > rmax ? v[i] : rmax;
    }
    sum_w = block_sum(w, n, in_order);
    for (size_t i = 0; i < n; i++)
        t[i] = w[i] * v[i];
    sum_x = block_sum(t, n, in_order);
    if (rmin != rmax)
        iscale = qmax / (rmax - rmin);
    scale = 1.0f / iscale;
    for (size_t i = 0; i < n; i++) {
        float d;
        q[i] = clip_round(iscale * (v[i] - rmin), qmax);
        d = scale * q[i] + rmin - v[i];
        t[i] = w[i] * (d * d);
    }
    best_mad = block_sum(t, n, in_order);
    for (int step = 0; step < KQ_STEPS; step++) {
        const float factor = (float)(-1.0 + 0.1 * step + (double)qmax);
        float is_new = 1.0f, sum_l, sum_l2, sum_xl, D, this_scale, this_min, mad;
        if (rmin != rmax)
            is_new = factor / (rmax - rmin);
        for (size_t i = 0; i < n; i++) {
            q[i] = clip_round(is_new * (v[i] - rmin), qmax);
            mwq[i] = w[i] * q[i];
        }
        sum_l = block_sum(mwq, n, in_order);
        for (size_t i = 0; i < n; i++)
            t[i] = mwq[i] * q[i];
        sum_l2 = block_sum(t, n, in_order);
        for (size_t i = 0; i < n; i++)
            t[i] = mwq[i] * v[i];
        sum_xl = block_sum(t, n, in_order);
        D = sum_w * sum_l2 - sum_l * sum_l;
        this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        for (size_t i = 0; i < n; i++) {
            float d = this_scale * q[i] + this_min - v[i];
            t[i] = w[i] * (d * d);
        }
        mad = block_sum(t, n, in_order);
        if (mad < best_mad) { /* false for NaN, as the reference's comparison is */
            best_mad = mad;
            scale = this_scale;
            rmin = this_min;
        }
    }
    zpf = nearbyintf(-rmin / scale);
    zpf = zpf < 0.0f ? 0.0f : zpf > qmax ? qmax : zpf;
    if (isnan(zpf))
        zpf = 0.0f;
    sd = (double)scale;
    for (size_t i = 0; i < n; i++) {
        double c = nearbyint((double)v[i] / sd + (double)zpf);
        codes[i] = (uint8_t)(!(c >= 0.0) ? 0.0 : c > (double)qmax ? (double)qmax : c); /* NaN: 0 */
    }
    *scale_out = scale;
    *zp_out = (uint8_t)zpf;
}
