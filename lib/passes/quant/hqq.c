/* HQQ quantization (see hqq.h). Float32 arithmetic in the reference's order; its tensor
 * library takes `a / b` of a number by a tensor as reciprocal(b) * a, done the same here. The
 * means are summed in double: they differ from the reference only in the last bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "passes/quant/hqq.h"
#include "passes/quant/weight_groups.h"

#define HQQ_QMAX 15.0f
#define HQQ_ITERS 20
#define HQQ_BETA 10.0
#define HQQ_KAPPA 1.01
#define HQQ_LP_NORM 0.7

static float clamp_code(float t) { return t < 0.0f ? 0.0f : t > HQQ_QMAX ? HQQ_QMAX : t; }

/* The initial inverse scale and rounded zero point of each group. */
static void initial_params(const olive_weight_groups *g, float *scale, float *zero)
{
    for (size_t i = 0; i < g->n_groups; i++) {
        const float *v = g->v + i * g->bs;
        float mn = v[0], mx = v[0], range, s;
        for (size_t j = 1; j < g->bs; j++) {
            mn = v[j] < mn ? v[j] : mn;
            mx = v[j] > mx ? v[j] : mx;
        }
        range = mx - mn;
        if (range == 0.0f) /* a constant group: its range counts as qmax, so scale 1 */
            range = HQQ_QMAX;
        s = (1.0f / range) * HQQ_QMAX;
        s = s > 2e4f ? 2e4f : s; /* the reference clamps for half precision */
        scale[i] = s;
        zero[i] = nearbyintf(-mn * s);
    }
}

/* One solver step: new zero points from the current ones; returns mean |W - dequant(W)|
 * with the zero points the step started from. */
static double solver_step(const olive_weight_groups *g, const float *scale, float *zero, float inv_beta,
                          float expo)
{
    double err = 0.0;
    for (size_t i = 0; i < g->n_groups; i++) {
        const float *v = g->v + i * g->bs;
        const float s = scale[i], z = zero[i];
        double acc = 0.0;
        for (size_t j = 0; j < g->bs; j++) {
            float q = clamp_code(nearbyintf(v[j] * s + z));
            float r = (q - z) / s;
            float x = v[j] - r, ax = fabsf(x);
            float shrunk = ax - inv_beta * powf(ax + 1e-8f, expo);
            float e = shrunk > 0.0f ? (x > 0.0f ? shrunk : x < 0.0f ? -shrunk : 0.0f) : 0.0f;
            acc += (double)(q - (v[j] - e) * s);
            err += (double)ax;
        }
        zero[i] = (float)(acc / (double)g->bs);
    }
    return err / (double)(g->n_groups * g->bs);
}

static void optimize(const olive_weight_groups *g, const float *scale, float *zero)
{
    double beta = HQQ_BETA, best = 1e4;
    const float expo = (float)(HQQ_LP_NORM - 1.0);
    for (int it = 0; it < HQQ_ITERS; it++) {
        double err = solver_step(g, scale, zero, (float)(1.0 / beta), expo);
        beta *= HQQ_KAPPA;
        /* The step's zero points stay even when it did not improve: the reference updates
         * them before it compares. */
        if (!(err < best))
            break;
        best = err;
    }
}

int olive_hqq_quantize(const oir_tensor *t, int block_size, const char *node, olive_quant_out *o)
{
    olive_weight_groups g;
    const int half = t->dtype == OIR_FLOAT16;
    const size_t es = half ? 2 : 4, blob = (size_t)block_size / 2;
    float *scale = NULL, *zero = NULL;
    int rc;
    memset(o, 0, sizeof *o);
    OLIVE_TRY(olive_weight_groups_load(&g, t, (size_t)block_size, node));
    scale = malloc(g.n_groups * sizeof *scale);
    zero = malloc(g.n_groups * sizeof *zero);
    if (!scale || !zero || olive_blob_alloc(&o->codes, g.n_groups * blob) != OLIVE_OK ||
        olive_blob_alloc(&o->scales, g.n_groups * es) != OLIVE_OK ||
        olive_blob_alloc(&o->zps, g.n_groups * es) != OLIVE_OK) {
        rc = olive_fail(OLIVE_ENOMEM, "out of memory quantizing '%s' [%zu, %zu]", t->name, g.k, g.n);
        goto done;
    }
    initial_params(&g, scale, zero);
    optimize(&g, scale, zero);
    for (size_t i = 0; i < g.n_groups; i++) {
        const float *v = g.v + i * g.bs;
        uint8_t *codes = (uint8_t *)o->codes->data + i * blob;
        for (size_t j = 0; j < blob; j++) {
            unsigned lo = (unsigned)clamp_code(nearbyintf(v[2 * j] * scale[i] + zero[i]));
            unsigned hi = (unsigned)clamp_code(nearbyintf(v[2 * j + 1] * scale[i] + zero[i]));
            codes[j] = (uint8_t)(lo | hi << 4);
        }
        olive_store_as(half, (uint8_t *)o->scales->data, i, 1.0f / scale[i]);
        olive_store_as(half, (uint8_t *)o->zps->data, i, zero[i]);
    }
    rc = OLIVE_OK;
done:
    free(scale);
    free(zero);
    olive_weight_groups_free(&g);
    if (rc != OLIVE_OK)
        olive_quant_out_free(o);
    return rc;
}
