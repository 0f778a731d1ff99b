/* See awq.h. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/parallel.h"
#include "core/status.h"
#include "kernels/awq.h"

void olive_awq_group_params(const olive_awq_config *c, const float *v, float *scale, float *zero)
{
    size_t gs = c->group_size;
    if (c->zero_point) {
        float mx = v[0], mn = v[0], max_int = (float)((1 << c->bits) - 1), z;
        for (size_t i = 1; i < gs; i++) {
            mx = v[i] > mx ? v[i] : mx;
            mn = v[i] < mn ? v[i] : mn;
        }
        *scale = (mx - mn > 1e-5f ? mx - mn : 1e-5f) / max_int;
        z = -nearbyintf(mn / *scale);
        *zero = z < 0.0f ? 0.0f : z > max_int ? max_int : z;
    } else {
        float m = 0.0f;
        for (size_t i = 0; i < gs; i++)
            m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
        *scale = m / (float)((1 << (c->bits - 1)) - 1);
        *zero = 0.0f;
    }
}

static void fake_group(const olive_awq_config *c, float *v)
{
    float s, z, lo, hi;
    olive_awq_group_params(c, v, &s, &z);
    lo = c->zero_point ? 0.0f : (float)-(1 << (c->bits - 1));
    hi = c->zero_point ? (float)((1 << c->bits) - 1) : (float)((1 << (c->bits - 1)) - 1);
    for (size_t i = 0; i < c->group_size; i++) {
        float q = nearbyintf(v[i] / s) + z;
        q = q < lo ? lo : q > hi ? hi : q;
        v[i] = (q - z) * s;
    }
}

void olive_awq_pseudo_quantize(const olive_awq_config *c, float *w, size_t rows, size_t k)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t g = 0; g < k; g += c->group_size)
            fake_group(c, w + r * k + g);
}

typedef struct scale_job {
    const olive_awq_config *c;
    const float *w, *s;
    float *d;
    size_t k;
} scale_job;

/* d = W - Q(W s) / s for rows [begin, end): each row on its own, whatever the thread. */
static void scale_rows(void *ctx, size_t begin, size_t end)
{
    const scale_job *jb = ctx;
    const size_t k = jb->k;
    for (size_t r = begin; r < end; r++) {
        const float *w = jb->w + r * k;
        float *d = jb->d + r * k;
        for (size_t j = 0; j < k; j++)
            d[j] = w[j] * jb->s[j];
        for (size_t g = 0; g < k; g += jb->c->group_size)
            fake_group(jb->c, d + g);
        for (size_t j = 0; j < k; j++)
            d[j] = w[j] - d[j] / jb->s[j];
    }
}

int olive_awq_search_scale(const olive_awq_config *c, const float *const *w, const size_t *n, size_t count, size_t k,
                           const float *x, size_t t, const float *x_mean, float *best, double *ratio)
{
    size_t total = 0, max_n = 0;
    float *w_mean = olive_calloc(k, sizeof *w_mean), *s = olive_malloc(k * sizeof *s), *d = NULL, *out = NULL;
    double best_loss = INFINITY;
    int rc = OLIVE_OK;
    for (size_t i = 0; i < count; i++) {
        total += n[i];
        max_n = n[i] > max_n ? n[i] : max_n;
    }
    d = olive_malloc(max_n * k * sizeof *d);
    out = olive_malloc(t * max_n * sizeof *out);
    if (!w_mean || !s || !d || !out) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    /* w_mean: |w| over its group's max, averaged over all output rows of all layers. */
    {
        double *acc = olive_calloc(k, sizeof *acc);
        if (!acc) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < count; i++)
            for (size_t r = 0; r < n[i]; r++)
                for (size_t g = 0; g < k; g += c->group_size) {
                    const float *v = w[i] + r * k + g;
                    float m = 0.0f;
                    for (size_t j = 0; j < c->group_size; j++)
                        m = fabsf(v[j]) > m ? fabsf(v[j]) : m;
                    for (size_t j = 0; j < c->group_size; j++)
                        acc[g + j] += fabsf(v[j]) / (m + 1e-6f);
                }
        for (size_t j = 0; j < k; j++)
            w_mean[j] = (float)(acc[j] / (double)total);
        free(acc);
    }
    for (size_t step = 0; step < c->n_grid; step++) {
        float rt = (float)step / (float)c->n_grid, smax = -INFINITY, smin = INFINITY, norm;
        double loss = 0.0;
        for (size_t j = 0; j < k; j++) {
            float v = c->duo_scaling ? powf(x_mean[j], rt) / (powf(w_mean[j], 1.0f - rt) + 1e-4f) : powf(x_mean[j], rt);
            v = v < 1e-4f ? 1e-4f : v;
            s[j] = v;
            smax = v > smax ? v : smax;
            smin = v < smin ? v : smin;
        }
        norm = sqrtf(smax * smin);
        for (size_t j = 0; j < k; j++) {
            s[j] /= norm;
            if (isinf(s[j]) || isnan(s[j]))
                s[j] = 1.0f;
        }
        /* The loss of each layer: X (W - Q(W s) / s)^T, squared. */
        for (size_t i = 0; i < count; i++) {
            scale_job jb = {c, w[i], s, d, k};
            olive_parallel_for(n[i], 16, scale_rows, &jb);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)t, (int)n[i], (int)k, 1.0f, x, (int)k, d, (int)k,
                        0.0f, out, (int)n[i]);
            for (size_t e = 0; e < t * n[i]; e++)
                loss += (double)out[e] * (double)out[e];
        }
        loss /= (double)t * (double)total;
        if (loss < best_loss) {
            best_loss = loss;
            *ratio = rt;
            memcpy(best, s, k * sizeof *s);
        }
    }
done:
    free(w_mean);
    free(s);
    free(d);
    free(out);
    return rc;
}

/* The clipping search's dot products, vectorized across CLIP_TB tokens and CLIP_LB shrinks
 * at once. Each lane still sums its group's products in column order from 0.0, as the scalar
 * search did; the products of two floats are exact in double, so a fused multiply-add gives
 * the same sums and the clones do not change a bit. The squared errors, whose products are
 * rounded, are summed outside the clones (clip_errors), compiled for the same target as the
 * scalar search was, so their rounding is the same too. CLIP_TB is two vectors of 4 doubles. */
#define CLIP_TB 8
#define CLIP_LB 6

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__) && !defined(__SANITIZE_THREAD__)
#define AWQ_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AWQ_CLONES
#endif

typedef double clip_v4 __attribute__((vector_size(32)));

/* acc [lanes][CLIP_TB] = the dot products of the CLIP_TB tokens xt[j * stride + t] (j <
 * gs) with the lanes' values qd [gs][lanes]; lanes is a multiple of CLIP_LB. The CLIP_LB x
 * CLIP_TB sums of a pass stay in registers. */
AWQ_CLONES static void clip_dots(const float *xt, size_t stride, size_t gs, const double *qd, size_t lanes, double *acc)
{
    for (size_t l0 = 0; l0 < lanes; l0 += CLIP_LB) {
        clip_v4 a0[CLIP_LB], a1[CLIP_LB];
#pragma GCC unroll 8
        for (size_t l = 0; l < CLIP_LB; l++)
            a0[l] = a1[l] = (clip_v4){0.0, 0.0, 0.0, 0.0};
        for (size_t j = 0; j < gs; j++) {
            const float *xr = xt + j * stride;
            const double *q = qd + j * lanes + l0;
            const clip_v4 x0 = {xr[0], xr[1], xr[2], xr[3]}, x1 = {xr[4], xr[5], xr[6], xr[7]};
#pragma GCC unroll 8
            for (size_t l = 0; l < CLIP_LB; l++) {
                a0[l] += x0 * q[l];
                a1[l] += x1 * q[l];
            }
        }
#pragma GCC unroll 8
        for (size_t l = 0; l < CLIP_LB; l++) {
            memcpy(acc + (l0 + l) * CLIP_TB, &a0[l], sizeof a0[l]);
            memcpy(acc + (l0 + l) * CLIP_TB + 4, &a1[l], sizeof a1[l]);
        }
    }
}

/* The squared differences of the CLIP_TB (or, in the last tile, m) tokens' dot products of
 * each shrink (lanes 1..shrinks) from those of the unclipped group (lane 0), added to e2 token
 * by token, in the order of the tokens. */
static void clip_errors(const double *acc, size_t m, size_t shrinks, double *e2)
{
    for (size_t t = 0; t < m; t++)
        for (size_t i = 1; i <= shrinks; i++) {
            double diff = acc[i * CLIP_TB + t] - acc[t];
            e2[i] += diff * diff;
        }
}

typedef struct clip_job {
    const olive_awq_config *c;
    float *w;
    size_t n, k, ts, tsp, lanes, pieces, scratch_doubles;
    const float *xt; /* [k][tsp]: the sampled tokens, transposed, zero padded */
    double *scratch; /* scratch_doubles for each piece */
} clip_job;

/* Pieces [begin, end) of the rows, each with its own scratch: the rows are independent, so
 * the result does not depend on the number of threads. */
static void clip_rows(void *ctx, size_t begin, size_t end)
{
    const clip_job *jb = ctx;
    const olive_awq_config *c = jb->c;
    const size_t gs = c->group_size, k = jb->k, ts = jb->ts, lanes = jb->lanes, shrinks = c->n_grid / 2;
    for (size_t p = begin; p < end; p++) {
        double *qd = jb->scratch + p * jb->scratch_doubles, *acc = qd + gs * lanes, *e2 = acc + lanes * CLIP_TB;
        float *q = (float *)(e2 + lanes), *mxs = q + gs;
        for (size_t r = p * jb->n / jb->pieces; r < (p + 1) * jb->n / jb->pieces; r++) {
            for (size_t g = 0; g < k; g += gs) {
                float *v = jb->w + r * k + g, org_max = 0.0f, best_max, min_err = 1e9f;
                for (size_t j = 0; j < gs; j++)
                    org_max = fabsf(v[j]) > org_max ? fabsf(v[j]) : org_max;
                best_max = org_max;
                /* Lane 0: the group as it is; lane 1 + i: clipped to shrink i, fake-quantized. */
                memset(qd, 0, gs * lanes * sizeof *qd);
                for (size_t j = 0; j < gs; j++)
                    qd[j * lanes] = (double)v[j];
                for (size_t i = 0; i < shrinks; i++) {
                    float mx = org_max * (float)(1.0 - (double)i / (double)c->n_grid);
                    mxs[i] = mx;
                    for (size_t j = 0; j < gs; j++)
                        q[j] = v[j] < -mx ? -mx : v[j] > mx ? mx : v[j];
                    fake_group(c, q);
                    for (size_t j = 0; j < gs; j++)
                        qd[j * lanes + 1 + i] = (double)q[j];
                }
                memset(e2, 0, lanes * sizeof *e2);
                for (size_t t0 = 0; t0 < ts; t0 += CLIP_TB) {
                    clip_dots(jb->xt + g * jb->tsp + t0, jb->tsp, gs, qd, lanes, acc);
                    clip_errors(acc, ts - t0 < CLIP_TB ? ts - t0 : CLIP_TB, shrinks, e2);
                }
                for (size_t i = 0; i < shrinks; i++) {
                    float err = (float)(e2[1 + i] / (double)ts);
                    if (err < min_err) {
                        min_err = err;
                        best_max = mxs[i];
                    }
                }
                for (size_t j = 0; j < gs; j++)
                    v[j] = v[j] < -best_max ? -best_max : v[j] > best_max ? best_max : v[j];
            }
        }
    }
}

int olive_awq_search_clip(const olive_awq_config *c, float *w, size_t n, size_t k, const float *x, size_t t,
                          size_t n_sample_tokens)
{
    const size_t gs = c->group_size, step = t / n_sample_tokens > 1 ? t / n_sample_tokens : 1;
    const size_t ts = (t + step - 1) / step, shrinks = c->n_grid / 2;
    clip_job jb;
    float *xt;
    if (n == 0 || k == 0 || ts == 0)
        return OLIVE_OK;
    jb.c = c;
    jb.w = w;
    jb.n = n;
    jb.k = k;
    jb.ts = ts;
    jb.tsp = (ts + CLIP_TB - 1) / CLIP_TB * CLIP_TB;
    jb.lanes = (1 + shrinks + CLIP_LB - 1) / CLIP_LB * CLIP_LB;
    jb.pieces = n < OLIVE_MAX_THREADS ? n : OLIVE_MAX_THREADS;
    /* qd [gs][lanes], acc [lanes][CLIP_TB], e2 [lanes], then gs + shrinks floats. */
    jb.scratch_doubles = gs * jb.lanes + jb.lanes * CLIP_TB + jb.lanes + (gs + shrinks + 1) / 2;
    xt = olive_calloc(k * jb.tsp, sizeof *xt);
    jb.scratch = olive_malloc(jb.pieces * jb.scratch_doubles * sizeof *jb.scratch);
    if (!xt || !jb.scratch) {
        free(xt);
        free(jb.scratch);
        return OLIVE_ENOMEM;
    }
    for (size_t tk = 0; tk < ts; tk++)
        for (size_t a = 0; a < k; a++)
            xt[a * jb.tsp + tk] = x[tk * step * k + a];
    jb.xt = xt;
    olive_parallel_for(jb.pieces, 1, clip_rows, &jb);
    free(xt);
    free(jb.scratch);
    return OLIVE_OK;
}
