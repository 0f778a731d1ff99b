/* GatherBlockQuantized tensors of a constant table (see gather_quant.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "core/half.h"
#include "kernels/blockwise.h"
#include "passes/quant/gather_quant.h"
#include "passes/quant/weight_groups.h"

/* `x` rounded to the table's type: numpy computes float16 operations in float and rounds
 * each result, which float's 24 bits make exact for + - * /. */
static float in_type(int half, float x)
{
    return half ? olive_half_to_float(olive_blockq_half_from_double((double)x)) : x;
}

static float clip(float x, float lo, float hi)
{
    return !(x >= lo) ? lo : x > hi ? hi : x;
} /* NaN: lo */

static void put_nibble(uint8_t *packed, size_t i, unsigned v)
{
    if (i % 2 == 0)
        packed[i / 2] = (uint8_t)((packed[i / 2] & 0xf0) | (v & 0x0f));
    else
        packed[i / 2] = (uint8_t)((packed[i / 2] & 0x0f) | (v & 0x0f) << 4);
}

typedef struct table_view {
    const uint8_t *src;
    int half;
    size_t m, k, n, kb, bs;
} table_view;

/* Quantizes block j of row (mi, ni): writes its codes, scale and zero point. */
static void quantize_block(const table_view *tv, size_t mi, size_t j, size_t ni, int symmetric, olive_quant_out *o)
{
    const size_t k0 = j * tv->bs, k1 = k0 + tv->bs < tv->k ? k0 + tv->bs : tv->k;
    const size_t at = (mi * tv->kb + j) * tv->n + ni; /* scale / zero point index */
    float mn = INFINITY, mx = -INFINITY, scale, zp = 8.0f;
    for (size_t i = k0; i < k1; i++) {
        float v = olive_blockq_load(tv->src, (mi * tv->k + i) * tv->n + ni, tv->half);
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    }
    if (symmetric) {
        float m = fabsf(mx) > fabsf(mn) ? mx : mn;
        scale = in_type(tv->half, m / -8.0f);
    } else {
        mn = mn < 0.0f ? mn : 0.0f;
        mx = mx > 0.0f ? mx : 0.0f;
        scale = in_type(tv->half, in_type(tv->half, mx - mn) / 15.0f);
        if (scale != 0.0f)
            zp = clip(nearbyintf(in_type(tv->half, -mn / scale)), 0.0f, 15.0f);
        put_nibble((uint8_t *)o->zps->data, at, (unsigned)zp);
    }
    olive_store_as(tv->half, (uint8_t *)o->scales->data, at, scale);
    for (size_t i = k0; i < k1; i++) {
        size_t idx = (mi * tv->k + i) * tv->n + ni;
        float v = olive_blockq_load(tv->src, idx, tv->half), q;
        if (symmetric)
            q = scale == 0.0f ? 0.0f : clip(nearbyintf(in_type(tv->half, v / scale)), -8.0f, 7.0f);
        else
            q = scale == 0.0f ? 8.0f
                              : clip(nearbyintf(in_type(tv->half, in_type(tv->half, v / scale) + zp)), 0.0f, 15.0f);
        put_nibble((uint8_t *)o->codes->data, idx, (unsigned)(int)q);
    }
}

static int check_finite(const oir_tensor *t, const table_view *tv, size_t numel, const char *node)
{
    for (size_t i = 0; i < numel; i++) {
        float v = olive_blockq_load(tv->src, i, tv->half);
        if (!isfinite(v))
            return olive_fail(OLIVE_EFORMAT,
                              "table '%s' of Gather '%s' holds %g at flat index %zu: quantization needs finite values",
                              t->name, node, (double)v, i);
    }
    return OLIVE_OK;
}

int olive_gather_quantize(const oir_tensor *t, size_t axis, int block_size, int symmetric, const char *node,
                          olive_quant_out *o)
{
    table_view tv = {oir_tensor_data(t), t->dtype == OIR_FLOAT16, 1, (size_t)t->dims[axis], 1, 0, (size_t)block_size};
    size_t numel, groups;
    int rc;
    memset(o, 0, sizeof *o);
    for (size_t d = 0; d < t->rank; d++) {
        if (d < axis)
            tv.m *= (size_t)t->dims[d];
        else if (d > axis)
            tv.n *= (size_t)t->dims[d];
    }
    tv.kb = (tv.k + tv.bs - 1) / tv.bs;
    numel = tv.m * tv.k * tv.n;
    groups = tv.m * tv.kb * tv.n;
    OLIVE_TRY(check_finite(t, &tv, numel, node));
    if (olive_blob_alloc(&o->codes, (numel + 1) / 2) != OLIVE_OK ||
        olive_blob_alloc(&o->scales, groups * (tv.half ? 2 : 4)) != OLIVE_OK ||
        (!symmetric && olive_blob_alloc(&o->zps, (groups + 1) / 2) != OLIVE_OK)) {
        olive_quant_out_free(o);
        return olive_fail(OLIVE_ENOMEM, "out of memory quantizing table '%s'", t->name);
    }
    for (size_t mi = 0; mi < tv.m; mi++)
        for (size_t j = 0; j < tv.kb; j++)
            for (size_t ni = 0; ni < tv.n; ni++)
                quantize_block(&tv, mi, j, ni, symmetric, o);
    rc = OLIVE_OK;
    return rc;
}
