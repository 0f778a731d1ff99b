/* The band quantizers (a band of block_size rows, every column one block, lanes across
 * columns) against the per-block quantizer that the ONNX Runtime comparisons pin down: the
 * same bytes for every configuration, on ordinary weights and on the values where a code
 * or a scale is easiest to get wrong (signed zeros, ties, tiny and huge magnitudes). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "passes/quant/band_default.h"
#include "passes/quant/band_rtn.h"

static unsigned long long state = 0x9e3779b97f4a7c15ull;

static unsigned long long next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static float value(int kind)
{
    double u = (double)(next() % 1000001) / 1000000.0 - 0.5;
    switch (kind) {
    case 0: return (float)u;
    case 1: return next() % 3 ? ((next() & 1) ? -0.0f : 0.0f) : (float)u; /* mostly zeros of both signs */
    case 2: return (float)(u * 1e-38);                                    /* scales near the smallest floats */
    case 3: return (float)(u * 1e-44);                                    /* subnormal weights */
    case 4: return (float)(u * 3e38);                                     /* ranges near overflow */
    case 5: return (float)(next() % 33) * 0.25f - 4.0f;                   /* exact ties */
    default: return (float)(u * 70000.0);                                 /* beyond float16 */
    }
}

static int compare_one(const olive_blockq *p, size_t len, size_t w, size_t stride, int kind)
{
    const size_t blob = olive_blockq_blob_size(p), es = p->half_scales ? 2 : 4, cs = blob + 3, ss = es * 2;
    float *band = malloc(len * stride * sizeof *band), *col = malloc((size_t)p->block_size * sizeof *col);
    float *fs = malloc(olive_blockq_band_scratch_floats(w) * sizeof *fs);
    uint8_t *bytes = malloc(olive_blockq_band_scratch_bytes(p, w));
    uint8_t *c1 = calloc(w, cs), *c2 = calloc(w, cs), *s1 = calloc(w, ss), *s2 = calloc(w, ss);
    uint8_t *z1 = calloc(w, 1), *z2 = calloc(w, 1);
    int same = 0;
    if (band && col && fs && bytes && c1 && c2 && s1 && s2 && z1 && z2) {
        int rc;
        for (size_t i = 0; i < len * stride; i++)
            band[i] = value(kind);
        rc = p->algorithm == OLIVE_BLOCKQ_RTN
                 ? olive_blockq_band_rtn(p, band, stride, len, w, fs, bytes, c2, cs, s2, ss, z2)
                 : olive_blockq_band_default(p, band, stride, len, w, fs, bytes, c2, cs, s2, ss, z2);
        for (size_t j = 0; j < w; j++) {
            for (size_t i = 0; i < len; i++)
                col[i] = band[i * stride + j];
            olive_blockq_block(p, col, len, c1 + j * cs, s1 + j * ss, &z1[j]);
        }
        same = rc == 0 && !memcmp(c1, c2, w * cs) && !memcmp(s1, s2, w * ss) && !memcmp(z1, z2, w);
    }
    free(band);
    free(col);
    free(fs);
    free(bytes);
    free(c1);
    free(c2);
    free(s1);
    free(s2);
    free(z1);
    free(z2);
    return same;
}

static void matches_per_block(void)
{
    int mismatches = 0;
    for (int it = 0; it < 3000; it++) {
        olive_blockq p = {(int)(next() % 2), next() % 2 ? 4 : 8, 16 << (next() % 5), (int)(next() % 2),
                          (int)(next() % 2)};
        size_t len = 1 + next() % (size_t)p.block_size, w = 1 + next() % 70;
        mismatches += !compare_one(&p, len, w, w + next() % 3, (int)(next() % 7));
    }
    CHECK(mismatches == 0);
}

static void non_finite_is_refused(void)
{
    olive_blockq p = {OLIVE_BLOCKQ_DEFAULT, 4, 16, 1, 0};
    float band[4 * 20] = {0};
    float fs[6 * 20];
    uint8_t bytes[9 * 20], codes[20 * 8], scales[20 * 4], zps[20];
    band[3 * 20 + 19] = NAN;
    CHECK(olive_blockq_band_default(&p, band, 20, 4, 20, fs, bytes, codes, 8, scales, 4, zps) == -1);
    p.algorithm = OLIVE_BLOCKQ_RTN;
    band[3 * 20 + 19] = -INFINITY;
    CHECK(olive_blockq_band_rtn(&p, band, 20, 4, 20, fs, bytes, codes, 8, scales, 4, zps) == -1);
}

int main(void)
{
    matches_per_block();
    non_finite_is_refused();
    return check_summary("test_band");
}
