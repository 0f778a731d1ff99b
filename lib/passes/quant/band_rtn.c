/* RTN quantization of a band, vectorized across columns (see band_rtn.h). */
/* The loops run across columns and are written to vectorize; ask for it at -O2 as well. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif
#include <string.h>

#include "passes/quant/band_rtn.h"

/* nearbyint(x / s + zp) clamped to [0, qmax], as block_rtn computes it. Clamping first gives
 * the same code since rounding is monotonic; in [0, qmax] adding and removing 2^52 rounds
 * half to even, as nearbyint does. A NaN quotient becomes 0. */
static inline uint8_t rtn_code(double x, double s, double zp, double qmax)
{
    double t = x / s;
    t = t + zp;
    t = t > 0.0 ? t : 0.0;
    t = t < qmax ? t : qmax;
    t = (t + 0x1p52) - 0x1p52;
    return (uint8_t)(int)t;
}

static inline void code_row(const float *a, size_t w, const double *s, const double *zp, double qmax, uint8_t *dst)
{
    for (size_t j = 0; j < w; j++)
        dst[j] = rtn_code((double)a[j], s[j], zp[j], qmax);
}

static inline void code_pair(const float *a, const float *b, size_t w, const double *s, const double *zp, double qmax,
                             uint8_t *dst)
{
    for (size_t j = 0; j < w; j++)
        dst[j] = (uint8_t)(rtn_code((double)a[j], s[j], zp[j], qmax) | rtn_code((double)b[j], s[j], zp[j], qmax) << 4);
}

/* Packs the codes of rows [2 * pi, 2 * pi + 1] (4 bits) or row pi (8 bits) into row pi of
 * `out`; rows from len on are the zero padding, whose code per column is pad[j]. */
OLIVE_BAND_CLONES static void pack_rows(const olive_blockq *p, const float *band, size_t stride, size_t len, size_t w,
                                        const double *s, const double *zp, const uint8_t *pad, uint8_t *out)
{
    const double qmax = (double)((1 << p->bits) - 1);
    const size_t blob = olive_blockq_blob_size(p);
    for (size_t pi = 0; pi < blob; pi++) {
        uint8_t *dst = out + pi * w;
        size_t r0 = p->bits == 4 ? 2 * pi : pi;
        const float *a = r0 < len ? band + r0 * stride : NULL;
        if (p->bits == 8) {
            if (a)
                code_row(a, w, s, zp, qmax, dst);
            else
                memcpy(dst, pad, w);
        } else if (r0 + 1 < len) {
            code_pair(a, a + stride, w, s, zp, qmax, dst);
        } else if (a) {
            code_row(a, w, s, zp, qmax, dst);
            for (size_t j = 0; j < w; j++)
                dst[j] = (uint8_t)(dst[j] | pad[j] << 4);
        } else {
            for (size_t j = 0; j < w; j++)
                dst[j] = (uint8_t)(pad[j] | pad[j] << 4);
        }
    }
}

int olive_blockq_band_rtn(const olive_blockq *p, const float *band, size_t stride, size_t len, size_t w, float *fs,
                          uint8_t *bs, uint8_t *codes, size_t code_stride, uint8_t *scales, size_t scale_stride,
                          uint8_t *zps)
{
    float *mn = fs, *mx = fs + w;
    double *s = (double *)(void *)(fs + 2 * w), *zp = s + w;
    const double qmax = (double)((1 << p->bits) - 1);
    const size_t blob = olive_blockq_blob_size(p);
    uint8_t *pad = bs + blob * w;
    /* Float comparisons order values as their doubles do, and the first value always
     * replaces the initial bounds: the same min/max block_rtn finds. */
    if (olive_blockq_band_minmax(band, stride, len, w, mn, mx) != 0)
        return -1;
    for (size_t j = 0; j < w; j++) {
        s[j] = olive_blockq_rtn_scale(p, (double)mn[j], (double)mx[j], len, scales + j * scale_stride, &zp[j]);
        zps[j] = (uint8_t)zp[j];
        pad[j] = rtn_code(0.0, s[j], zp[j], qmax);
    }
    pack_rows(p, band, stride, len, w, s, zp, pad, bs);
    olive_blockq_transpose_bytes(bs, blob, w, codes, code_stride);
    return 0;
}
