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
    int bits;  /* 4 or 8 (8: Olive's layout only) */
    int olive; /* Olive's layout: unsigned codes, packed along k within each row */
} table_view;

/* Stores code or zero point `v` for row (mi, ni) at position i along k (of length len). */
static void put_code(const table_view *tv, uint8_t *dst, size_t mi, size_t i, size_t ni, size_t len, unsigned v)
{
    if (tv->bits == 8)
        dst[(mi * len + i) * tv->n + ni] = (uint8_t)v;
    else if (!tv->olive)
        put_nibble(dst, (mi * len + i) * tv->n + ni, v);
    else /* byte (mi, i / 2, ni) of [m, ceil(len / 2), n], nibble i % 2 */
        put_nibble(dst, 2 * ((mi * ((len + 1) / 2) + i / 2) * tv->n + ni) + i % 2, v);
}

/* Quantizes block j of row (mi, ni): writes its codes, scale and zero point. */
static void quantize_block(const table_view *tv, size_t mi, size_t j, size_t ni, int symmetric, olive_quant_out *o)
{
    const size_t k0 = j * tv->bs, k1 = k0 + tv->bs < tv->k ? k0 + tv->bs : tv->k;
    const size_t at = (mi * tv->kb + j) * tv->n + ni; /* scale index */
    const float qmin = -(float)(1 << (tv->bits - 1)), qmax = (float)((1 << (tv->bits - 1)) - 1);
    const float umax = (float)((1 << tv->bits) - 1), mid = (float)(1 << (tv->bits - 1));
    /* symmetric codes are stored unsigned (+2^(bits-1)) in Olive's layout, as INT4 otherwise */
    const int bias = symmetric && tv->olive ? 1 << (tv->bits - 1) : 0;
    float mn = INFINITY, mx = -INFINITY, scale, zp = mid;
    for (size_t i = k0; i < k1; i++) {
        float v = olive_blockq_load(tv->src, (mi * tv->k + i) * tv->n + ni, tv->half);
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    }
    if (symmetric) {
        float m = fabsf(mx) > fabsf(mn) ? mx : mn;
        scale = in_type(tv->half, m / qmin);
    } else {
        mn = mn < 0.0f ? mn : 0.0f;
        mx = mx > 0.0f ? mx : 0.0f;
        scale = in_type(tv->half, in_type(tv->half, mx - mn) / umax);
        if (scale != 0.0f)
            zp = clip(nearbyintf(in_type(tv->half, -mn / scale)), 0.0f, umax);
        put_code(tv, (uint8_t *)o->zps->data, mi, j, ni, tv->kb, (unsigned)zp);
    }
    olive_store_as(tv->half, (uint8_t *)o->scales->data, at, scale);
    for (size_t i = k0; i < k1; i++) {
        float v = olive_blockq_load(tv->src, (mi * tv->k + i) * tv->n + ni, tv->half), q;
        if (symmetric)
            q = scale == 0.0f ? 0.0f : clip(nearbyintf(in_type(tv->half, v / scale)), qmin, qmax);
        else
            q = scale == 0.0f ? mid
                              : clip(nearbyintf(in_type(tv->half, in_type(tv->half, v / scale) + zp)), 0.0f, umax);
        put_code(tv, (uint8_t *)o->codes->data, mi, i, ni, tv->k, (unsigned)((int)q + bias));
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

static int gather_quantize(const oir_tensor *t, size_t axis, int block_size, int bits, int olive, int symmetric,
                           const char *node, olive_quant_out *o)
{
    table_view tv = {
        oir_tensor_data(t), t->dtype == OIR_FLOAT16, 1, (size_t)t->dims[axis], 1, 0, (size_t)block_size, bits, olive};
    size_t numel, groups, code_bytes, zp_bytes;
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
    code_bytes = bits == 8 ? numel : olive ? tv.m * ((tv.k + 1) / 2) * tv.n : (numel + 1) / 2;
    zp_bytes = bits == 8 ? groups : olive ? tv.m * ((tv.kb + 1) / 2) * tv.n : (groups + 1) / 2;
    OLIVE_TRY(check_finite(t, &tv, numel, node));
    if (olive_blob_alloc(&o->codes, code_bytes) != OLIVE_OK ||
        olive_blob_alloc(&o->scales, groups * (tv.half ? 2 : 4)) != OLIVE_OK ||
        (!symmetric && olive_blob_alloc(&o->zps, zp_bytes) != OLIVE_OK)) {
        olive_quant_out_free(o);
        return olive_fail(OLIVE_ENOMEM, "out of memory quantizing table '%s'", t->name);
    }
    for (size_t mi = 0; mi < tv.m; mi++)
        for (size_t j = 0; j < tv.kb; j++)
            for (size_t ni = 0; ni < tv.n; ni++)
                quantize_block(&tv, mi, j, ni, symmetric, o);
    return OLIVE_OK;
}

int olive_gather_quantize(const oir_tensor *t, size_t axis, int block_size, int symmetric, const char *node,
                          olive_quant_out *o)
{
    return gather_quantize(t, axis, block_size, 4, 0, symmetric, node, o);
}

int olive_gather_quantize_olive(const oir_tensor *t, int block_size, int bits, int symmetric, const char *node,
                                olive_quant_out *o)
{
    return gather_quantize(t, t->rank - 1, block_size, bits, 1, symmetric, node, o);
}
