/* See gptq.h. The in-block updates are written out (a multiply, then a subtraction, as the
 * reference's outer product computes them) rather than sger, whose fused multiply-add would
 * round differently; the cross-block update and the Hessian go through BLAS. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "kernels/gptq.h"

int olive_gptq_hessian_init(olive_gptq_hessian *h, size_t k)
{
    memset(h, 0, sizeof *h);
    if (!k || k > SIZE_MAX / sizeof(float) / k)
        return olive_fail(OLIVE_ENOMEM, "a %zu x %zu Hessian does not fit in memory", k, k);
    if (!(h->h = olive_calloc(k * k, sizeof *h->h)))
        return OLIVE_ENOMEM;
    h->k = k;
    return OLIVE_OK;
}

void olive_gptq_hessian_add(olive_gptq_hessian *h, const float *x, size_t rows, size_t samples)
{
    size_t k = h->k;
    uint64_t n = h->nsamples + samples;
    float keep = (float)((double)h->nsamples / (double)n), s = (float)sqrt(2.0 / (double)n);
    float *xs;
    if (!rows || !samples)
        return;
    if (h->nsamples)
        for (size_t i = 0; i < k * k; i++)
            h->h[i] *= keep;
    h->nsamples = n;
    /* Rows scaled by sqrt(2 / n) (as the reference scales its input), a band at a time. */
    /* wide bands: each ssyrk call reads and writes all of H */
    xs = malloc(k * 256 * sizeof *xs);
    for (size_t r0 = 0; r0 < rows; r0 += 256) {
        size_t m = rows - r0 < 256 ? rows - r0 : 256;
        if (!xs) { /* no scratch: scale by alpha instead (same value up to one rounding) */
            cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, (int)k, (int)m, s * s, x + r0 * k, (int)k, 1.0f, h->h,
                        (int)k);
            continue;
        }
        for (size_t i = 0; i < m * k; i++)
            xs[i] = x[r0 * k + i] * s;
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, (int)k, (int)m, 1.0f, xs, (int)k, 1.0f, h->h, (int)k);
    }
    free(xs);
}

void olive_gptq_hessian_finish(olive_gptq_hessian *h)
{
    for (size_t i = 0; i < h->k; i++)
        for (size_t j = i + 1; j < h->k; j++)
            h->h[i * h->k + j] = h->h[j * h->k + i];
}

void olive_gptq_hessian_free(olive_gptq_hessian *h)
{
    free(h->h);
    memset(h, 0, sizeof *h);
}

/* AutoGPTQ's Quantizer.find_params for one row's group values v[0..len). */
static void find_params(const float *v, size_t len, int sym, float maxq, float *scale, float *zero)
{
    float xmin = 0.0f, xmax = 0.0f;
    for (size_t i = 0; i < len; i++) {
        xmin = v[i] < xmin ? v[i] : xmin;
        xmax = v[i] > xmax ? v[i] : xmax;
    }
    if (sym) {
        xmax = fabsf(xmin) > xmax ? fabsf(xmin) : xmax;
        if (xmin < 0.0f)
            xmin = -xmax;
    }
    if (xmin == 0.0f && xmax == 0.0f) {
        xmin = -1.0f;
        xmax = 1.0f;
    }
    *scale = (xmax - xmin) / maxq;
    *zero = sym ? (maxq + 1.0f) / 2.0f : nearbyintf(-xmin / *scale);
}

/* Row-wise params of columns [c0, c0 + len) of w (row stride k) into scale[r], zero[r]. */
static void group_params(const float *w, size_t n, size_t k, size_t c0, size_t len, int sym, float maxq, float *scale,
                         float *zero)
{
    for (size_t r = 0; r < n; r++)
        find_params(w + r * k + c0, len, sym, maxq, &scale[r], &zero[r]);
}

static int cmp_desc(const void *a, const void *b, void *diag)
{
    const float *d = diag;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (d[i] != d[j])
        return d[i] > d[j] ? -1 : 1;
    return i < j ? -1 : i > j; /* stable */
}

/* Hinv: the upper Cholesky factor of (H + damp I)^-1 into `u` (row-major k x k, lower part 0).
 * With J the order reversal, J H J = L L^T gives H^-1 = U^T U for U = J L^-1 J (upper, positive
 * diagonal): one Cholesky and one triangular inverse (2/3 k^3 flops), where the reference's
 * Cholesky, inverse and second Cholesky take 4/3 k^3; the same factor up to rounding. LAPACK
 * runs column-major on the row-major buffer: its upper triangle is the row-major lower one.
 * Returns 0, or the LAPACK info when a factorization fails. */
static int hinv_factor(const float *h, size_t k, float damp, float *u)
{
    lapack_int info;
    /* an infinite H (inf activations) factors into zeros without a LAPACK error: refused here
     * (a finite diagonal bounds the rest of a positive semi-definite H) */
    if (!isfinite(damp))
        return (int)k + 1;
    for (size_t i = 0; i < k; i++)
        if (!isfinite(h[i * k + i]))
            return (int)(k - i);
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j <= i; j++)
            u[i * k + j] = h[(k - 1 - i) * k + (k - 1 - j)] + (i == j ? damp : 0.0f);
    if ((info = LAPACKE_spotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)k, u, (lapack_int)k)) != 0)
        return (int)info;
    if ((info = LAPACKE_strtri(LAPACK_COL_MAJOR, 'U', 'N', (lapack_int)k, u, (lapack_int)k)) != 0)
        return (int)info;
    /* u's lower triangle now holds L^-1 (row-major); U = J L^-1 J moves its strict lower part
     * to the upper one (disjoint) and reverses the diagonal */
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < i; j++)
            u[(k - 1 - i) * k + (k - 1 - j)] = u[i * k + j];
    for (size_t i = 0; i < k / 2; i++) {
        float t = u[i * k + i];
        u[i * k + i] = u[(k - 1 - i) * k + (k - 1 - i)];
        u[(k - 1 - i) * k + (k - 1 - i)] = t;
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < i; j++)
            u[i * k + j] = 0.0f;
    for (size_t i = 0; i < k; i++)
        if (!(u[i * k + i] > 0.0f) || !isfinite(u[i * k + i]))
            return (int)(i + 1);
    return 0;
}

int olive_gptq_quantize(const olive_gptq_config *c, float *w, size_t n, size_t k, float *h, uint8_t *codes,
                        float *scales, float *zeros, int32_t *g_idx, double *damp_used)
{
    const float maxq = (float)((1 << c->bits) - 1);
    const size_t gs = c->group_size, n_groups = (k + gs - 1) / gs, bs = c->block_size ? c->block_size : 128;
    size_t *perm = NULL, *invperm = NULL;
    float *u = NULL, *wp = NULL, *w1 = NULL, *err = NULL, *hp = NULL, *diag = NULL;
    float *gscale = NULL, *gzero = NULL; /* the current group's params, per row */
    float *sscale = NULL, *szero = NULL; /* static groups: [n_groups][n] */
    uint8_t *qp = NULL;                  /* codes in permuted order [n][k] */
    double damp_frac = c->damp_percent;
    float mean = 0.0f;
    int rc = OLIVE_OK, info = 0;

    perm = olive_malloc(k * sizeof *perm);
    invperm = olive_malloc(k * sizeof *invperm);
    u = olive_malloc(k * k * sizeof *u);
    hp = olive_malloc(k * k * sizeof *hp);
    wp = olive_malloc(n * k * sizeof *wp);
    w1 = olive_malloc(n * bs * sizeof *w1);
    err = olive_malloc(n * bs * sizeof *err);
    diag = olive_malloc(k * sizeof *diag);
    gscale = olive_malloc(n * sizeof *gscale);
    gzero = olive_malloc(n * sizeof *gzero);
    qp = olive_malloc(n * k);
    if (c->static_groups) {
        sscale = olive_malloc(n_groups * n * sizeof *sscale);
        szero = olive_malloc(n_groups * n * sizeof *szero);
    }
    if (!perm || !invperm || !u || !hp || !wp || !w1 || !err || !diag || !gscale || !gzero || !qp ||
        (c->static_groups && (!sscale || !szero))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    /* Dead inputs. */
    for (size_t i = 0; i < k; i++) {
        if (h[i * k + i] == 0.0f) {
            h[i * k + i] = 1.0f;
            for (size_t r = 0; r < n; r++)
                w[r * k + i] = 0.0f;
        }
    }
    if (c->static_groups)
        for (size_t g = 0; g < n_groups; g++)
            group_params(w, n, k, g * gs, k - g * gs < gs ? k - g * gs : gs, c->sym, maxq, sscale + g * n,
                         szero + g * n);
    for (size_t i = 0; i < k; i++) {
        perm[i] = i;
        diag[i] = h[i * k + i];
    }
    if (c->desc_act)
        qsort_r(perm, k, sizeof *perm, cmp_desc, diag);
    for (size_t i = 0; i < k; i++)
        invperm[perm[i]] = i;
    /* Permuted copies. */
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < k; i++)
            wp[r * k + i] = w[r * k + perm[i]];
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            hp[i * k + j] = h[perm[i] * k + perm[j]];
    /* torch.mean of the diagonal (float32, pairwise for long vectors: summed in double here,
     * which differs by at most an ulp of the damping). */
    {
        double s = 0.0;
        for (size_t i = 0; i < k; i++)
            s += hp[i * k + i];
        mean = (float)(s / (double)k);
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        info = hinv_factor(hp, k, (float)damp_frac * mean, u);
        if (!info)
            break;
        damp_frac *= 10.0;
    }
    if (info) {
        rc = olive_fail(OLIVE_EINVALID,
                        "the Hessian is not positive definite even with damping %g (LAPACK info %d): the calibration "
                        "data may be too small or degenerate for this layer",
                        damp_frac / 10.0, info);
        goto done;
    }
    if (damp_used)
        *damp_used = damp_frac;
    /* A block's columns are held column by column (w1[i][r], err[i][r]), so that both the
     * quantization of a column and the error fed into each later column run along rows r,
     * contiguous: the same operations in the same order as row by row, vectorized. */
    for (size_t i1 = 0; i1 < k; i1 += bs) {
        size_t i2 = i1 + bs < k ? i1 + bs : k, count = i2 - i1;
        for (size_t r = 0; r < n; r++)
            for (size_t i = 0; i < count; i++)
                w1[i * n + r] = wp[r * k + i1 + i];
        for (size_t i = 0; i < count; i++) {
            size_t col = i1 + i;
            const float *hrow = u + col * k + i1; /* Hinv1[i, :] */
            float d = hrow[i];
            const float *sc, *ze;
            float *wc = w1 + i * n, *ec = err + i * n;
            if (!c->static_groups) {
                if (col % gs == 0) {
                    size_t len = k - col < gs ? k - col : gs;
                    group_params(wp, n, k, col, len, c->sym, maxq, gscale, gzero);
                    for (size_t r = 0; r < n; r++) {
                        scales[r * n_groups + col / gs] = gscale[r];
                        zeros[r * n_groups + col / gs] = gzero[r];
                    }
                }
                sc = gscale;
                ze = gzero;
            } else {
                size_t g = perm[col] / gs;
                sc = sscale + g * n;
                ze = szero + g * n;
            }
            for (size_t r = 0; r < n; r++) {
                float wv = wc[r], q;
                q = nearbyintf(wv / sc[r]) + ze[r];
                q = q < 0.0f ? 0.0f : q > maxq ? maxq : q;
                qp[r * k + col] = (uint8_t)q;
                ec[r] = (wv - sc[r] * (q - ze[r])) / d;
            }
            for (size_t j = i + 1; j < count; j++) {
                const float h = hrow[j];
                float *wj = w1 + j * n;
                for (size_t r = 0; r < n; r++)
                    wj[r] -= ec[r] * h;
            }
        }
        if (i2 < k) /* W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:], Err1 held transposed */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)(k - i2), (int)count, -1.0f, err, (int)n,
                        u + i1 * k + i2, (int)k, 1.0f, wp + i2, (int)k);
    }
    if (c->static_groups)
        for (size_t g = 0; g < n_groups; g++)
            for (size_t r = 0; r < n; r++) {
                scales[r * n_groups + g] = sscale[g * n + r];
                zeros[r * n_groups + g] = szero[g * n + r];
            }
    for (size_t j = 0; j < k; j++) {
        g_idx[j] = c->static_groups || !c->desc_act ? (int32_t)(j / gs) : (int32_t)(invperm[j] / gs);
        for (size_t r = 0; r < n; r++)
            codes[r * k + j] = qp[r * k + invperm[j]];
    }
done:
    free(perm);
    free(invperm);
    free(u);
    free(hp);
    free(wp);
    free(w1);
    free(err);
    free(diag);
    free(gscale);
    free(gzero);
    free(qp);
    free(sscale);
    free(szero);
    return rc;
}
