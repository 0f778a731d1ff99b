/* See awq.h. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
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
            for (size_t r = 0; r < n[i]; r++)
                for (size_t j = 0; j < k; j++)
                    d[r * k + j] = w[i][r * k + j] * s[j];
            olive_awq_pseudo_quantize(c, d, n[i], k);
            for (size_t r = 0; r < n[i]; r++)
                for (size_t j = 0; j < k; j++)
                    d[r * k + j] = w[i][r * k + j] - d[r * k + j] / s[j];
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

int olive_awq_search_clip(const olive_awq_config *c, float *w, size_t n, size_t k, const float *x, size_t t,
                          size_t n_sample_tokens)
{
    const size_t gs = c->group_size, step = t / n_sample_tokens > 1 ? t / n_sample_tokens : 1;
    const size_t ts = (t + step - 1) / step, shrinks = c->n_grid / 2;
    float *q = olive_malloc(gs * sizeof *q);
    double *org = olive_malloc(ts * sizeof *org);
    if (!q || !org) {
        free(q);
        free(org);
        return OLIVE_ENOMEM;
    }
    for (size_t r = 0; r < n; r++) {
        for (size_t g = 0; g < k; g += gs) {
            float *v = w + r * k + g, org_max = 0.0f, best_max, min_err = 1e9f;
            for (size_t j = 0; j < gs; j++)
                org_max = fabsf(v[j]) > org_max ? fabsf(v[j]) : org_max;
            best_max = org_max;
            for (size_t tk = 0; tk < ts; tk++) {
                const float *xr = x + tk * step * k + g;
                double acc = 0.0;
                for (size_t j = 0; j < gs; j++)
                    acc += (double)xr[j] * (double)v[j];
                org[tk] = acc;
            }
            for (size_t i = 0; i < shrinks; i++) {
                float mx = org_max * (float)(1.0 - (double)i / (double)c->n_grid), err;
                double e2 = 0.0;
                for (size_t j = 0; j < gs; j++)
                    q[j] = v[j] < -mx ? -mx : v[j] > mx ? mx : v[j];
                fake_group(c, q);
                for (size_t tk = 0; tk < ts; tk++) {
                    const float *xr = x + tk * step * k + g;
                    double acc = 0.0, diff;
                    for (size_t j = 0; j < gs; j++)
                        acc += (double)xr[j] * (double)q[j];
                    diff = acc - org[tk];
                    e2 += diff * diff;
                }
                err = (float)(e2 / (double)ts);
                if (err < min_err) {
                    min_err = err;
                    best_max = mx;
                }
            }
            for (size_t j = 0; j < gs; j++)
                v[j] = v[j] < -best_max ? -best_max : v[j] > best_max ? best_max : v[j];
        }
    }
    free(q);
    free(org);
    return OLIVE_OK;
}
