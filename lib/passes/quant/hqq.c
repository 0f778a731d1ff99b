/* HQQ quantization (see hqq.h). Float32 arithmetic in the reference's order; its tensor
 * library takes `a / b` of a number by a tensor as reciprocal(b) * a, done the same here. The
 * means are summed in double: they differ from the reference only in the last bits. Groups
 * are spread over threads; the whole-weight error is summed from per-group partial sums in
 * group order, so the result does not depend on the number of threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "passes/quant/hqq.h"
#include "core/parallel.h"
#include "passes/quant/weight_groups.h"

#define HQQ_QMAX 15.0f
#define HQQ_ITERS 20
#define HQQ_BETA 10.0
#define HQQ_KAPPA 1.01
#define HQQ_LP_NORM 0.7

/* NaN (a range that overflows float makes the scale 0) becomes code 0. */
static float clamp_code(float t)
{
    return !(t >= 0.0f) ? 0.0f : t > HQQ_QMAX ? HQQ_QMAX : t;
}

typedef struct hqq_job {
    const olive_weight_groups *g;
    float *scale, *zero;
    double *err; /* per group: sum of |W - dequant(W)| of the current step */
    float inv_beta, expo;
    uint8_t *codes, *scales_out, *zps_out;
    int half;
} hqq_job;

/* The initial inverse scale and rounded zero point of groups [begin, end). */
static void initial_params(void *ctx, size_t begin, size_t end)
{
    hqq_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        const float *v = j->g->v + i * j->g->bs;
        float mn = v[0], mx = v[0], range, s;
        for (size_t k = 1; k < j->g->bs; k++) {
            mn = v[k] < mn ? v[k] : mn;
            mx = v[k] > mx ? v[k] : mx;
        }
        range = mx - mn;
        if (range == 0.0f) /* a constant group: its range counts as qmax, so scale 1 */
            range = HQQ_QMAX;
        s = (1.0f / range) * HQQ_QMAX;
        s = s > 2e4f ? 2e4f : s; /* the reference clamps for half precision */
        j->scale[i] = s;
        j->zero[i] = nearbyintf(-mn * s);
    }
}

/* One solver step on groups [begin, end): new zero points from the current ones, and each
 * group's error with the zero point the step started from. */
static void solver_step(void *ctx, size_t begin, size_t end)
{
    hqq_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        const float *v = j->g->v + i * j->g->bs;
        const float s = j->scale[i], z = j->zero[i];
        double acc = 0.0, err = 0.0;
        for (size_t k = 0; k < j->g->bs; k++) {
            float q = clamp_code(nearbyintf(v[k] * s + z));
            float r = (q - z) / s;
            float x = v[k] - r, ax = fabsf(x);
            float shrunk = ax - j->inv_beta * powf(ax + 1e-8f, j->expo);
            float e = shrunk > 0.0f ? (x > 0.0f ? shrunk : x < 0.0f ? -shrunk : 0.0f) : 0.0f;
            acc += (double)(q - (v[k] - e) * s);
            err += (double)ax;
        }
        j->zero[i] = (float)(acc / (double)j->g->bs);
        j->err[i] = err;
    }
}

static void optimize(hqq_job *j)
{
    double beta = HQQ_BETA, best = 1e4;
    j->expo = (float)(HQQ_LP_NORM - 1.0);
    for (int it = 0; it < HQQ_ITERS; it++) {
        double err = 0.0;
        j->inv_beta = (float)(1.0 / beta);
        olive_parallel_for(j->g->n_groups, 64, solver_step, j);
        for (size_t i = 0; i < j->g->n_groups; i++)
            err += j->err[i];
        err /= (double)(j->g->n_groups * j->g->bs);
        beta *= HQQ_KAPPA;
        /* The step's zero points stay even when it did not improve: the reference updates
         * them before it compares. */
        if (!(err < best))
            break;
        best = err;
    }
}

/* Codes, scales and zero points of groups [begin, end). */
static void write_groups(void *ctx, size_t begin, size_t end)
{
    hqq_job *j = ctx;
    const size_t blob = j->g->bs / 2;
    for (size_t i = begin; i < end; i++) {
        const float *v = j->g->v + i * j->g->bs;
        uint8_t *codes = j->codes + i * blob;
        for (size_t k = 0; k < blob; k++) {
            unsigned lo = (unsigned)clamp_code(nearbyintf(v[2 * k] * j->scale[i] + j->zero[i]));
            unsigned hi = (unsigned)clamp_code(nearbyintf(v[2 * k + 1] * j->scale[i] + j->zero[i]));
            codes[k] = (uint8_t)(lo | hi << 4);
        }
        olive_store_as(j->half, j->scales_out, i, 1.0f / j->scale[i]);
        olive_store_as(j->half, j->zps_out, i, j->zero[i]);
    }
}

int olive_hqq_quantize(const oir_tensor *t, int block_size, const char *node, olive_quant_out *o)
{
    olive_weight_groups g;
    hqq_job j;
    const size_t es = t->dtype == OIR_FLOAT16 ? 2 : 4, blob = (size_t)block_size / 2;
    int rc = OLIVE_OK;
    memset(o, 0, sizeof *o);
    memset(&j, 0, sizeof j);
    OLIVE_TRY(olive_weight_groups_load(&g, t, (size_t)block_size, node));
    j.g = &g;
    j.half = t->dtype == OIR_FLOAT16;
    j.scale = malloc(g.n_groups * sizeof *j.scale);
    j.zero = malloc(g.n_groups * sizeof *j.zero);
    j.err = malloc(g.n_groups * sizeof *j.err);
    if (!j.scale || !j.zero || !j.err || olive_blob_alloc(&o->codes, g.n_groups * blob) != OLIVE_OK ||
        olive_blob_alloc(&o->scales, g.n_groups * es) != OLIVE_OK ||
        olive_blob_alloc(&o->zps, g.n_groups * es) != OLIVE_OK) {
        rc = olive_fail(OLIVE_ENOMEM, "out of memory quantizing '%s' [%zu, %zu]", t->name, g.k, g.n);
        goto done;
    }
    j.codes = (uint8_t *)o->codes->data;
    j.scales_out = (uint8_t *)o->scales->data;
    j.zps_out = (uint8_t *)o->zps->data;
    olive_parallel_for(g.n_groups, 256, initial_params, &j);
    optimize(&j);
    olive_parallel_for(g.n_groups, 256, write_groups, &j);
done:
    free(j.scale);
    free(j.zero);
    free(j.err);
    olive_weight_groups_free(&g);
    if (rc != OLIVE_OK)
        olive_quant_out_free(o);
    return rc;
}
