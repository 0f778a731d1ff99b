/* Block code carrying (see blockcarry.h). */
#include "kernels/blockcarry.h"

#include <math.h>
#include <string.h>

#include "core/half.h"

int olive_blockcarry_bits(int code_min, int code_max, int has_offset)
{
    for (int bits = 4; bits <= 8; bits += 4) {
        const int half = 1 << (bits - 1);
        if (has_offset ? code_max - code_min <= 2 * half - 1 : code_min >= -half && code_max <= half - 1)
            return bits;
    }
    return 0;
}

/* The scale as stored, read back as float; 0 is returned for NaN (checked by the caller). */
static float store_scale(float s, int half, void *out)
{
    if (half) {
        uint16_t h = olive_float_to_half(s);
        memcpy(out, &h, 2);
        return olive_half_to_float(h);
    }
    memcpy(out, &s, 4);
    return s;
}

/* Least-squares scale for codes u and zero point z over values v; its sum of squared errors
 * and largest error once stored. */
static float fit_scale(const uint8_t *u, const float *v, size_t len, int z, int half, double *sse, double *max_err)
{
    double num = 0, den = 0;
    uint8_t tmp[4];
    float s;
    for (size_t i = 0; i < len; i++) {
        const double q = (double)u[i] - z;
        num += q * v[i];
        den += q * q;
    }
    s = store_scale(den > 0 ? (float)(num / den) : 0.0f, half, tmp);
    *sse = 0;
    *max_err = 0;
    for (size_t i = 0; i < len; i++) {
        const double e = fabs((double)((float)((int)u[i] - z) * s) - v[i]);
        *sse += e * e;
        *max_err = e > *max_err ? e : *max_err;
    }
    return s;
}

typedef struct candidate {
    int k, c0, z;
    double sse, max_err;
} candidate;

static int fit_offset(const olive_blockcarry *p, const int8_t *c, const float *v, size_t len, float scale, float offset,
                      uint8_t *u, void *scale_out, double *max_err)
{
    const int top = (1 << p->bits) - 1, span = p->code_max - p->code_min;
    candidate best = {0, 0, 0, INFINITY, INFINITY};
    double sse, err;
    for (size_t i = 0; i < len; i++)
        if (!isfinite(v[i]))
            return -1;
    if (scale == 0.0f) {
        /* every value is the offset: codes 0, zero point 1, scale -offset */
        best = (candidate){0, 0, 1, 0, 0};
    } else {
        /* value = scale * (c - c_min - z1): the zero point in units of the codes */
        const double z1 = -((double)p->code_min + (double)offset / (double)scale);
        const int kmax = span > 0 ? top / span : 1;
        for (int k = kmax; k >= 1; k--) {
            const int room = top - k * span;
            const double zr = k * z1;
            int feasible = 0;
            if (!isfinite(zr) || fabs(zr) > 1e6)
                continue;
            for (int side = 0; side < 2; side++) {
                const int n = side ? (int)ceil(zr) : (int)floor(zr);
                candidate cand = {k, 0, 0, 0, 0};
                if (side && n == (int)floor(zr))
                    break;
                if (n < -room) {
                    cand.c0 = room;
                    cand.z = 0;
                } else if (n > top) {
                    cand.z = top;
                } else {
                    cand.c0 = n < 0 ? -n : 0;
                    cand.z = cand.c0 + n;
                    feasible = 1;
                }
                for (size_t i = 0; i < len; i++)
                    u[i] = (uint8_t)(k * (c[i] - p->code_min) + cand.c0);
                fit_scale(u, v, len, cand.z, p->half_scales, &cand.sse, &cand.max_err);
                if (cand.sse < best.sse)
                    best = cand;
            }
            if (feasible)
                break;
        }
        if (!isfinite(best.sse))
            best = (candidate){1, 0, 0, 0, 0}; /* a ratio too large to place: fit with z = 0 */
    }
    for (size_t i = 0; i < len; i++)
        u[i] = (uint8_t)(best.k * (c[i] - p->code_min) + best.c0);
    float s = fit_scale(u, v, len, best.z, p->half_scales, &sse, &err);
    if (!isfinite(s))
        return -1;
    store_scale(s, p->half_scales, scale_out);
    *max_err = err;
    return best.z;
}

int olive_blockcarry_block(const olive_blockcarry *p, const int8_t *c, const float *values, size_t len, float scale,
                           float offset, uint8_t *u, void *scale_out, double *max_err)
{
    const int mid = 1 << (p->bits - 1);
    float s;
    if (!isfinite(scale) || !isfinite(offset))
        return -1;
    if (p->has_offset)
        return fit_offset(p, c, values, len, scale, offset, u, scale_out, max_err);
    s = store_scale(scale, p->half_scales, scale_out);
    if (!isfinite(s))
        return -1;
    *max_err = 0;
    for (size_t i = 0; i < len; i++) {
        const double e = fabs((double)s - (double)scale) * fabs((double)c[i]);
        u[i] = (uint8_t)(c[i] + mid);
        *max_err = e > *max_err ? e : *max_err;
    }
    return mid;
}

int olive_blockcarry_block_float(const olive_blockcarry *p, const int8_t *c, const float *values, size_t len,
                                 float scale, float offset, uint8_t *u, void *scale_out, void *zp_out, double *max_err)
{
    float s, z;
    if (!p->has_offset) {
        int zp = olive_blockcarry_block(p, c, values, len, scale, offset, u, scale_out, max_err);
        if (zp < 0)
            return -1;
        store_scale((float)zp, p->half_scales, zp_out);
        return 0;
    }
    if (!isfinite(scale) || !isfinite(offset))
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!isfinite(values[i]))
            return -1;
    if (scale == 0.0f) {
        memset(u, 0, len);
        s = store_scale(offset, p->half_scales, scale_out);
        z = store_scale(-1.0f, p->half_scales, zp_out);
    } else {
        for (size_t i = 0; i < len; i++)
            u[i] = (uint8_t)(c[i] - p->code_min);
        s = store_scale(scale, p->half_scales, scale_out);
        z = store_scale(-((float)p->code_min + offset / scale), p->half_scales, zp_out);
    }
    if (!isfinite(s) || !isfinite(z))
        return -1;
    *max_err = 0;
    for (size_t i = 0; i < len; i++) {
        const double e = fabs((double)(((float)u[i] - z) * s) - values[i]);
        *max_err = e > *max_err ? e : *max_err;
    }
    return 0;
}
