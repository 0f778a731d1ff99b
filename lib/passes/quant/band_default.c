/* DEFAULT quantization of a band, vectorized across columns (see band_default.h). */
/* The loops run across columns and are written to vectorize; ask for it at -O2 as well. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif
#include <string.h>

#include "passes/quant/band_common.h"
#include "kernels/blockwise.h"
#include "passes/quant/band_default.h"

/* Packs codes of rows [2 * pi, 2 * pi + 1] (4 bits) or row pi (8 bits) into row pi of `out`. */
OLIVE_BAND_CLONES static void pack_rows(const olive_blockq *p, const float *band, size_t stride, size_t len, size_t w,
                                        const float *rs, const float *zpf, uint8_t *out)
{
    const float qmax = (float)((1 << p->bits) - 1);
    const size_t blob = olive_blockq_blob_size(p);
    for (size_t pi = 0; pi < blob; pi++) {
        uint8_t *dst = out + pi * w;
        size_t r0 = p->bits == 4 ? 2 * pi : pi;
        const float *a = r0 < len ? band + r0 * stride : NULL, *b = r0 + 1 < len ? a + stride : NULL;
        if (!a) {
            memset(dst, 0, w);
        } else if (p->bits == 8 || !b) {
            for (size_t j = 0; j < w; j++)
                dst[j] = olive_blockq_default_code(a[j], rs[j], zpf[j], qmax);
        } else {
            for (size_t j = 0; j < w; j++)
                dst[j] = (uint8_t)(olive_blockq_default_code(a[j], rs[j], zpf[j], qmax) |
                                   olive_blockq_default_code(b[j], rs[j], zpf[j], qmax) << 4);
        }
    }
}

int olive_blockq_band_default(const olive_blockq *p, const float *band, size_t stride, size_t len, size_t w, float *fs,
                              uint8_t *bs, uint8_t *codes, size_t code_stride, uint8_t *scales, size_t scale_stride,
                              uint8_t *zps)
{
    float *mn = fs, *mx = fs + w, *rs = fs + 2 * w, *zpf = fs + 3 * w;
    const size_t blob = olive_blockq_blob_size(p);
    if (olive_blockq_band_minmax(band, stride, len, w, mn, mx) != 0)
        return -1;
    for (size_t j = 0; j < w; j++) {
        int zp = olive_blockq_default_scale(p, mn[j], mx[j], scales + j * scale_stride, &rs[j]);
        zps[j] = (uint8_t)zp;
        zpf[j] = (float)zp;
    }
    pack_rows(p, band, stride, len, w, rs, zpf, bs);
    olive_blockq_transpose_bytes(bs, blob, w, codes, code_stride);
    return 0;
}
