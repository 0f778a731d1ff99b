/* Block-wise quantization kernels (see blockwise.h). Plain C loops: the arithmetic order
 * follows each reference exactly, since one rounding step apart changes a code. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core/half.h"
#include "kernels/blockwise.h"

size_t olive_blockq_blob_size(const olive_blockq *p)
{
    return (size_t)p->block_size * (size_t)p->bits / 8;
}

size_t olive_blockq_zp_bytes(const olive_blockq *p, size_t k_blocks)
{
    size_t per_byte = (size_t)(8 / p->bits);
    return (k_blocks + per_byte - 1) / per_byte;
}

uint16_t olive_blockq_half_from_double(double d)
{
    uint16_t sign = signbit(d) ? 0x8000 : 0;
    double a = fabs(d), q;
    int e;
    if (isnan(d))
        return (uint16_t)(sign | 0x7e00);
    if (a >= 65520.0) /* halfway to 2^16 and beyond round to infinity */
        return (uint16_t)(sign | 0x7c00);
    if (a < 0x1p-14) /* subnormal: a multiple of 2^-24; 1024 becomes the smallest normal */
        return (uint16_t)(sign | (uint16_t)nearbyint(a * 0x1p24));
    q = nearbyint(ldexp(frexp(a, &e), 11)); /* 11 significant bits, a = q * 2^(e-11) */
    if (q == 2048.0) {
        q = 1024.0;
        e++;
    }
    if (e + 14 >= 31)
        return (uint16_t)(sign | 0x7c00);
    return (uint16_t)(sign | (uint16_t)((e + 14) << 10) | (uint16_t)(q - 1024.0));
}

static void put_code(const olive_blockq *p, uint8_t *blob, size_t i, unsigned code)
{
    if (p->bits == 8)
        blob[i] = (uint8_t)code;
    else if (i % 2 == 0)
        blob[i / 2] = (uint8_t)((blob[i / 2] & 0xf0) | (code & 0x0f));
    else
        blob[i / 2] = (uint8_t)((blob[i / 2] & 0x0f) | (code << 4));
}

/* Writes `s` as the stored scale and returns the value the stored scale reads back as. */
static float store_scale_f(const olive_blockq *p, float s, void *out)
{
    if (p->half_scales) {
        uint16_t h = olive_blockq_half_from_double((double)s);
        memcpy(out, &h, sizeof h);
        return olive_half_to_float(h);
    }
    memcpy(out, &s, sizeof s);
    return s;
}

int olive_blockq_default_scale(const olive_blockq *p, float mn, float mx, void *scale, float *rs)
{
    const float qmax = (float)((1 << p->bits) - 1);
    const int mid = 1 << (p->bits - 1);
    float s, used;
    int zp = mid;
    if (p->symmetric) {
        float m = fabsf(mx) > fabsf(mn) ? mx : mn;
        /* The larger half of the range maps to the negative codes [0, mid]. */
        s = -m / (float)mid;
    } else {
        float zf;
        mn = 0.0f < mn ? 0.0f : mn;
        mx = mx < 0.0f ? 0.0f : mx;
        s = (mx - mn) / qmax;
        zf = mn;
        if (s != 0.0f)
            zf = 0.0f - mn / s;
        zp = zf < 0.0f ? 0 : zf > qmax ? (int)qmax : (int)roundf(zf);
    }
    used = store_scale_f(p, s, scale);
    *rs = used != 0.0f ? 1.0f / used : 0.0f;
    return zp;
}

/* ONNX Runtime's MLAS quantizer: min/max of the real values only, float math, roundf. */
static void block_default(const olive_blockq *p, const float *v, size_t len, uint8_t *blob, void *scale,
                          uint8_t *zp_out)
{
    const float qmax = (float)((1 << p->bits) - 1);
    float mn = FLT_MAX, mx = -FLT_MAX, rs;
    int zp;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < mn)
            mn = v[i];
        if (v[i] > mx)
            mx = v[i];
    }
    zp = olive_blockq_default_scale(p, mn, mx, scale, &rs);
    memset(blob, 0, olive_blockq_blob_size(p));
    if (p->bits == 4) {
        size_t i = 0;
        for (; i + 1 < len; i += 2)
            blob[i / 2] = (uint8_t)(olive_blockq_default_code(v[i], rs, (float)zp, qmax) |
                                    olive_blockq_default_code(v[i + 1], rs, (float)zp, qmax) << 4);
        if (i < len)
            blob[i / 2] = olive_blockq_default_code(v[i], rs, (float)zp, qmax);
    } else {
        for (size_t i = 0; i < len; i++)
            put_code(p, blob, i, olive_blockq_default_code(v[i], rs, (float)zp, qmax));
    }
    *zp_out = (uint8_t)zp;
}

/* 2 * range and max - min as the reference computes them: in the weight's own type (numpy
 * keeps float32 or float16), so overflow gives inf as it does there. Inputs are exact in
 * that type; a float16 difference is exact in double, so it is rounded once. */
static double rtn_twice(const olive_blockq *p, double range)
{
    if (p->half_scales)
        return (double)olive_half_to_float(olive_blockq_half_from_double(range * 2.0));
    return (double)((float)range * 2.0f);
}

static double rtn_span(const olive_blockq *p, double mx, double mn)
{
    if (p->half_scales)
        return (double)olive_half_to_float(olive_blockq_half_from_double(mx - mn));
    return (double)((float)mx - (float)mn);
}

double olive_blockq_rtn_scale(const olive_blockq *p, double mn, double mx, size_t len, void *scale, double *zp_out)
{
    const double qmax = (double)((1 << p->bits) - 1);
    double s = 1.0, zp;
    if (len < (size_t)p->block_size) {
        mn = mn < 0.0 ? mn : 0.0;
        mx = mx > 0.0 ? mx : 0.0;
    }
    if (p->symmetric) {
        double range = fabs(mn) > fabs(mx) ? fabs(mn) : fabs(mx);
        if (range > 0.0)
            s = rtn_twice(p, range) / qmax;
        zp = (double)(1 << (p->bits - 1));
    } else {
        if (mn != mx)
            s = rtn_span(p, mx, mn) / qmax;
        zp = nearbyint((0.0 - mn) / s);
        zp = zp < 0.0 ? 0.0 : zp > qmax ? qmax : zp;
    }
    if (p->half_scales) {
        uint16_t h = olive_blockq_half_from_double(s);
        memcpy(scale, &h, sizeof h);
    } else {
        float f = (float)s;
        memcpy(scale, &f, sizeof f);
    }
    *zp_out = zp;
    return s;
}

/* RTN: min/max over the zero-padded block, scale and codes in double, round half to even. */
static void block_rtn(const olive_blockq *p, const float *v, size_t len, uint8_t *blob, void *scale, uint8_t *zp_out)
{
    const int bs = p->block_size;
    const double qmax = (double)((1 << p->bits) - 1);
    double mn = v[0], mx = v[0], s, zp;
    for (size_t i = 1; i < len; i++) {
        if (v[i] < mn)
            mn = v[i];
        if (v[i] > mx)
            mx = v[i];
    }
    s = olive_blockq_rtn_scale(p, mn, mx, len, scale, &zp);
    memset(blob, 0, olive_blockq_blob_size(p));
    for (int i = 0; i < bs; i++) {
        double x = (size_t)i < len ? (double)v[i] : 0.0;
        double t = x / s;
        t = nearbyint(t + zp);
        t = t < 0.0 ? 0.0 : t > qmax ? qmax : t;
        put_code(p, blob, (size_t)i, (unsigned)t);
    }
    *zp_out = (uint8_t)zp;
}

long olive_blockq_block(const olive_blockq *p, const float *v, size_t len, uint8_t *blob, void *scale, uint8_t *zp)
{
    for (size_t i = 0; i < len; i++)
        if (!isfinite(v[i]))
            return (long)i;
    if (p->algorithm == OLIVE_BLOCKQ_RTN)
        block_rtn(p, v, len, blob, scale, zp);
    else
        block_default(p, v, len, blob, scale, zp);
    return -1;
}

void olive_blockq_zp_init(const olive_blockq *p, uint8_t *zp_row, size_t k_blocks)
{
    /* An unused high nibble holds 8, the implicit zero point, as both references write it. */
    memset(zp_row, p->bits == 4 ? 0x88 : 0, olive_blockq_zp_bytes(p, k_blocks));
}

void olive_blockq_zp_store(const olive_blockq *p, uint8_t *zp_row, size_t b, uint8_t zp)
{
    put_code(p, zp_row, b, zp);
}

void olive_blockq_finish_channel(const olive_blockq *p, uint8_t *codes, size_t k)
{
    size_t pair = 2 * (size_t)p->block_size, start;
    if (p->algorithm != OLIVE_BLOCKQ_DEFAULT || p->bits != 4 || k % 2 == 0)
        return;
    /* MLAS quantizes two blocks per task, two rows per byte; the last byte's second row
     * keeps the previous byte's second code, or its initial 0 when the task had one row. */
    start = (k - 1) / pair * pair;
    {
        unsigned stale = k - start >= 3 ? (unsigned)(codes[(k - 2) / 2] >> 4) : 0u;
        codes[k / 2] = (uint8_t)((codes[k / 2] & 0x0f) | (stale << 4));
    }
}
