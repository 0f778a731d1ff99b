/* Helpers shared by the band quantizers (see band_common.h). */
/* The loops run across columns and are written to vectorize; ask for it at -O2 as well. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#endif
#include <float.h>
#include <string.h>

#include "passes/quant/band_common.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

OLIVE_BAND_CLONES int olive_blockq_band_minmax(const float *band, size_t stride, size_t len, size_t w, float *mn,
                                               float *mx)
{
    unsigned bad = 0;
    for (size_t j = 0; j < w; j++) {
        mn[j] = FLT_MAX;
        mx[j] = -FLT_MAX;
    }
    for (size_t i = 0; i < len; i++) {
        const float *row = band + i * stride;
        for (size_t j = 0; j < w; j++) {
            uint32_t u;
            memcpy(&u, &row[j], sizeof u);
            bad |= (u & 0x7f800000u) == 0x7f800000u; /* inf or NaN */
            mn[j] = row[j] < mn[j] ? row[j] : mn[j];
            mx[j] = row[j] > mx[j] ? row[j] : mx[j];
        }
    }
    return bad ? -1 : 0;
}

#if defined(__SSE2__)
/* Transposes a 16 x 16 byte tile: in rows at stride is, out rows at stride os. */
static void transpose16(const uint8_t *in, size_t is, uint8_t *out, size_t os)
{
    __m128i r[16], t[16];
    for (int i = 0; i < 16; i++)
        r[i] = _mm_loadu_si128((const __m128i *)(const void *)(in + (size_t)i * is));
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++)
        for (int h = 0; h < 2; h++) {
            r[4 * i + h] = _mm_unpacklo_epi16(t[4 * i + h], t[4 * i + 2 + h]);
            r[4 * i + 2 + h] = _mm_unpackhi_epi16(t[4 * i + h], t[4 * i + 2 + h]);
        }
    for (int i = 0; i < 2; i++)
        for (int h = 0; h < 4; h++) {
            t[8 * i + h] = _mm_unpacklo_epi32(r[8 * i + h], r[8 * i + 4 + h]);
            t[8 * i + 4 + h] = _mm_unpackhi_epi32(r[8 * i + h], r[8 * i + 4 + h]);
        }
    for (int h = 0; h < 8; h++) {
        r[h] = _mm_unpacklo_epi64(t[h], t[8 + h]);
        r[8 + h] = _mm_unpackhi_epi64(t[h], t[8 + h]);
    }
    /* r[h] holds column 4 * g + (h < 4 ? 0 : 2) and r[8 + h] the one after it, where the
     * 16-bit stage left column group g = {0, 2, 1, 3}[h % 4]. */
    for (int h = 0; h < 8; h++) {
        static const int group[4] = {0, 2, 1, 3};
        size_t col = (size_t)(4 * group[h % 4] + (h < 4 ? 0 : 2));
        _mm_storeu_si128((__m128i *)(void *)(out + col * os), r[h]);
        _mm_storeu_si128((__m128i *)(void *)(out + (col + 1) * os), r[8 + h]);
    }
}
#endif

/* out[j * os + i] = in[i * w + j] for i < rows, j < w. */
void olive_blockq_transpose_bytes(const uint8_t *in, size_t rows, size_t w, uint8_t *out, size_t os)
{
    size_t j0 = 0;
#if defined(__SSE2__)
    if (rows % 16 == 0)
        for (; j0 + 16 <= w; j0 += 16)
            for (size_t i0 = 0; i0 < rows; i0 += 16)
                transpose16(in + i0 * w + j0, w, out + j0 * os + i0, os);
#endif
    for (size_t j = j0; j < w; j++)
        for (size_t i = 0; i < rows; i++)
            out[j * os + i] = in[i * w + j];
}
