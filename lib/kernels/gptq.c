/* See gptq.h. The in-block updates are written out (a multiply, then a subtraction, as the
 * reference's outer product computes them) rather than sger, whose fused multiply-add would
 * round differently; the cross-block update and the Hessian go through BLAS. */
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic")
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/parallel.h"
#include "core/status.h"
#include "kernels/gptq.h"
#include "kernels/gptq_prep.h"

/* The scratch of scaled input rows one ssyrk call takes: 1024 rows for K up to 8192, fewer above
 * (at least 256). */
#define GPTQ_BAND_BYTES ((size_t)32 << 20)

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
    size_t band;
    float *xs;
    if (!rows || !samples)
        return;
    if (h->nsamples)
        for (size_t i = 0; i < k * k; i++)
            h->h[i] *= keep;
    h->nsamples = n;
    /* Rows scaled by sqrt(2 / n) (as the reference scales its input), a band at a time: wide
     * bands, since each ssyrk call reads and writes all of H, within GPTQ_BAND_BYTES. */
    band = GPTQ_BAND_BYTES / (k * sizeof *xs);
    band = band < 256 ? 256 : band > 1024 ? 1024 : band;
    band = band < rows ? band : rows;
    xs = malloc(k * band * sizeof *xs);
    for (size_t r0 = 0; r0 < rows; r0 += band) {
        size_t m = rows - r0 < band ? rows - r0 : band;
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

/* One block of columns [i1, i1 + count) of the permuted weights, shared by the threads that
 * take its rows. The weights are held transposed, column by column (wt[i][r]), so that a
 * column of a band of rows is one contiguous run. */
typedef struct gptq_block {
    const olive_gptq_config *c;
    size_t n, k, gs, n_groups, i1, count;
    float maxq;
    const float *u;              /* Hinv's upper factor [k][k] */
    const float *wt;             /* the permuted weights [k][n] as they stood at the block's start */
    float *err;                  /* the block's errors [count][n] (the GEMM's operand) */
    uint8_t *qt;                 /* codes in permuted order [k][n] */
    float *scratch;              /* a tile's columns [count][tile rows], per band (block_rows) */
    const size_t *perm;          /* static groups: the group of permuted column i is perm[i] / gs */
    float *gscale, *gzero;       /* the current group's params, per row */
    const float *sscale, *szero; /* static groups: [n_groups][n] */
    float *scales, *zeros;       /* outputs [n][n_groups] */
} gptq_block;

/* nearbyintf in the default rounding mode (half to even), in a form that vectorizes: below
 * 2^23, adding and taking away 2^23 rounds |x| to an integer; larger floats are integers. */
static inline float round_half_even(float x)
{
    float t = fabsf(x);
    return t < 0x1p23f ? copysignf((t + 0x1p23f) - 0x1p23f, x) : x;
}

/* Rows under this many stay on one thread: the start of a thread costs more than they do. */
#define GPTQ_MIN_ROWS 128
/* Rows a tile takes through a block: 128 columns of them fill 32 KiB. */
#define GPTQ_TILE_ROWS OLIVE_GPTQ_TILE_ROWS

/* The in-block loops run over rows, contiguous in the column-major block; they are compiled
 * vectorized, with wider copies picked at load time. Each lane does the operations of the
 * scalar loop in the same order (no contraction: ISO C mode leaves -ffp-contract off), so the
 * bytes do not change. Not under ThreadSanitizer (see passes/quant/band_common.h). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__) && !defined(__SANITIZE_THREAD__)
#define GPTQ_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GPTQ_CLONES
#endif

/* Quantizes column wc[0..len) into codes q, and its error into ec: (w - dequant) / d. */
GPTQ_CLONES static void quantize_column(const float *wc, const float *sc, const float *ze, float maxq, float d,
                                        size_t len, uint8_t *q, float *ec)
{
    for (size_t r = 0; r < len; r++) {
        float wv = wc[r], v = round_half_even(wv / sc[r]) + ze[r];
        v = v < 0.0f ? 0.0f : v > maxq ? maxq : v;
        q[r] = (uint8_t)v;
        ec[r] = (wv - sc[r] * (v - ze[r])) / d;
    }
}

/* wj[r] -= ec[r] * h for the len rows of `cols` later columns wj = w + j * ld, h = hrow[j]. */
GPTQ_CLONES static void feed_error(float *w, size_t ld, const float *ec, const float *hrow, size_t cols, size_t len)
{
    for (size_t j = 0; j < cols; j++) {
        const float h = hrow[j];
        float *wj = w + j * ld;
        for (size_t r = 0; r < len; r++)
            wj[r] -= ec[r] * h;
    }
}

/* See gptq_prep.h: vectorized across rows. */
GPTQ_CLONES void olive_gptq_column_params(const float *wt, size_t ld, size_t glen, size_t len, int sym, float maxq,
                                          float *scale, float *zero)
{
    float xmin[OLIVE_GPTQ_TILE_ROWS], xmax[OLIVE_GPTQ_TILE_ROWS];
    for (size_t r = 0; r < len; r++)
        xmin[r] = xmax[r] = 0.0f;
    for (size_t j = 0; j < glen; j++)
        for (size_t r = 0; r < len; r++) {
            float v = wt[j * ld + r];
            xmin[r] = v < xmin[r] ? v : xmin[r];
            xmax[r] = v > xmax[r] ? v : xmax[r];
        }
    for (size_t r = 0; r < len; r++) {
        float lo = xmin[r], hi = xmax[r];
        if (sym) {
            hi = fabsf(lo) > hi ? fabsf(lo) : hi;
            if (lo < 0.0f)
                lo = -hi;
        }
        if (lo == 0.0f && hi == 0.0f) {
            lo = -1.0f;
            hi = 1.0f;
        }
        scale[r] = (hi - lo) / maxq;
        zero[r] = sym ? (maxq + 1.0f) / 2.0f : nearbyintf(-lo / scale[r]);
    }
}

/* Rows [t0, t1) through the whole block: their columns (tw: column i at i * len) stay in the
 * first-level cache while every column's error reaches the later ones. */
static void block_tile(const gptq_block *b, float *tw, size_t t0, size_t t1)
{
    const olive_gptq_config *c = b->c;
    size_t n = b->n, gs = b->gs, i1 = b->i1, count = b->count, len = t1 - t0;
    for (size_t i = 0; i < count; i++)
        memcpy(tw + i * len, b->wt + (i1 + i) * n + t0, len * sizeof *tw);
    for (size_t i = 0; i < count; i++) {
        size_t col = i1 + i;
        const float *hrow = b->u + col * b->k + i1; /* Hinv1[i, :] */
        const float *sc, *ze;
        float *ec = b->err + i * n + t0;
        if (!c->static_groups) {
            if (col % gs == 0) {
                size_t glen = b->k - col < gs ? b->k - col : gs;
                olive_gptq_column_params(b->wt + col * n + t0, n, glen, len, c->sym, b->maxq, b->gscale + t0,
                                         b->gzero + t0);
                for (size_t r = t0; r < t1; r++) {
                    b->scales[r * b->n_groups + col / gs] = b->gscale[r];
                    b->zeros[r * b->n_groups + col / gs] = b->gzero[r];
                }
            }
            sc = b->gscale + t0;
            ze = b->gzero + t0;
        } else {
            size_t g = b->perm[col] / gs;
            sc = b->sscale + g * n + t0;
            ze = b->szero + g * n + t0;
        }
        quantize_column(tw + i * len, sc, ze, b->maxq, hrow[i], len, b->qt + col * n + t0, ec);
        feed_error(tw + (i + 1) * len, len, ec, hrow + i + 1, count - i - 1, len);
    }
}

/* A band of rows, tile by tile, in its own stretch [r0 * count, r1 * count) of the scratch. */
static void block_rows(void *ctx, size_t r0, size_t r1)
{
    const gptq_block *b = ctx;
    for (size_t t0 = r0; t0 < r1; t0 += GPTQ_TILE_ROWS)
        block_tile(b, b->scratch + r0 * b->count, t0, t0 + GPTQ_TILE_ROWS < r1 ? t0 + GPTQ_TILE_ROWS : r1);
}

int olive_gptq_prepare(olive_gptq_prep *p, const olive_gptq_config *c, float *w, size_t n, size_t k, float *h)
{
    const float maxq = (float)((1 << c->bits) - 1);
    const size_t gs = c->group_size, n_groups = (k + gs - 1) / gs;
    float *diag = NULL;
    int same = 1;
    memset(p, 0, sizeof *p);
    p->perm = olive_malloc(k * sizeof *p->perm);
    p->invperm = olive_malloc(k * sizeof *p->invperm);
    diag = olive_malloc(k * sizeof *diag);
    if (c->static_groups) {
        p->sscale = olive_malloc(n_groups * n * sizeof *p->sscale);
        p->szero = olive_malloc(n_groups * n * sizeof *p->szero);
    }
    if (!p->perm || !p->invperm || !diag || (c->static_groups && (!p->sscale || !p->szero))) {
        free(diag);
        olive_gptq_prep_free(p);
        return OLIVE_ENOMEM;
    }
    /* Dead inputs. */
    for (size_t i = 0; i < k; i++) {
        if (h[i * k + i] == 0.0f) {
            h[i * k + i] = 1.0f;
            memset(w + i * n, 0, n * sizeof *w);
        }
    }
    if (c->static_groups)
        for (size_t g = 0; g < n_groups; g++)
            for (size_t t0 = 0; t0 < n; t0 += GPTQ_TILE_ROWS)
                olive_gptq_column_params(w + g * gs * n + t0, n, k - g * gs < gs ? k - g * gs : gs,
                                         n - t0 < GPTQ_TILE_ROWS ? n - t0 : GPTQ_TILE_ROWS, c->sym, maxq,
                                         p->sscale + g * n + t0, p->szero + g * n + t0);
    for (size_t i = 0; i < k; i++) {
        p->perm[i] = i;
        diag[i] = h[i * k + i];
    }
    if (c->desc_act)
        qsort_r(p->perm, k, sizeof *p->perm, cmp_desc, diag);
    free(diag);
    for (size_t i = 0; i < k; i++) {
        p->invperm[p->perm[i]] = i;
        same &= p->perm[i] == i;
    }
    /* Permuted copies, where the order changed. */
    p->wt = w;
    p->hp = h;
    if (!same) {
        if (!(p->own_wt = olive_malloc(n * k * sizeof *p->own_wt)) ||
            !(p->own_hp = olive_malloc(k * k * sizeof *p->own_hp))) {
            olive_gptq_prep_free(p);
            return OLIVE_ENOMEM;
        }
        for (size_t i = 0; i < k; i++)
            memcpy(p->own_wt + i * n, w + p->perm[i] * n, n * sizeof *w);
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < k; j++)
                p->own_hp[i * k + j] = h[p->perm[i] * k + p->perm[j]];
        p->wt = p->own_wt;
        p->hp = p->own_hp;
    }
    /* torch.mean of the diagonal (float32, pairwise for long vectors: summed in double here,
     * which differs by at most an ulp of the damping). */
    {
        double s = 0.0;
        for (size_t i = 0; i < k; i++)
            s += p->hp[i * k + i];
        p->mean = (float)(s / (double)k);
    }
    return OLIVE_OK;
}

void olive_gptq_prep_free(olive_gptq_prep *p)
{
    free(p->perm);
    free(p->invperm);
    free(p->sscale);
    free(p->szero);
    free(p->own_wt);
    free(p->own_hp);
    memset(p, 0, sizeof *p);
}

int olive_gptq_quantize(const olive_gptq_config *c, float *w, size_t n, size_t k, float *h, uint8_t *codes,
                        float *scales, float *zeros, int32_t *g_idx, double *damp_used)
{
    const float maxq = (float)((1 << c->bits) - 1);
    const size_t gs = c->group_size, n_groups = (k + gs - 1) / gs, bs = c->block_size ? c->block_size : 128;
    float *u = NULL, *scratch = NULL, *err = NULL;
    float *gscale = NULL, *gzero = NULL; /* the current group's params, per row */
    uint8_t *qt = NULL;                  /* codes in permuted order, transposed [k][n] */
    double damp_frac = c->damp_percent;
    int rc, info = 0;
    olive_gptq_prep p;
    gptq_block job;

    OLIVE_TRY(olive_gptq_prepare(&p, c, w, n, k, h));
    u = olive_malloc(k * k * sizeof *u);
    scratch = olive_malloc(n * bs * sizeof *scratch);
    err = olive_malloc(n * bs * sizeof *err);
    gscale = olive_malloc(n * sizeof *gscale);
    gzero = olive_malloc(n * sizeof *gzero);
    qt = olive_malloc(n * k);
    rc = u && scratch && err && gscale && gzero && qt ? OLIVE_OK : OLIVE_ENOMEM;
    for (int attempt = 0; attempt < 3 && rc == OLIVE_OK; attempt++) {
        info = hinv_factor(p.hp, k, (float)damp_frac * p.mean, u);
        if (!info)
            break;
        damp_frac *= 10.0;
    }
    if (rc == OLIVE_OK && info)
        rc = olive_fail(OLIVE_EINVALID,
                        "the Hessian is not positive definite even with damping %g (LAPACK info %d): the calibration "
                        "data may be too small or degenerate for this layer",
                        damp_frac / 10.0, info);
    if (rc != OLIVE_OK)
        goto done;
    if (damp_used)
        *damp_used = damp_frac;
    /* Blocks of columns; within a block the rows are independent, so threads take bands of
     * rows (block_rows), then one GEMM carries the block's errors into the columns after it. */
    job.c = c;
    job.n = n;
    job.k = k;
    job.gs = gs;
    job.n_groups = n_groups;
    job.maxq = maxq;
    job.u = u;
    job.wt = p.wt;
    job.err = err;
    job.qt = qt;
    job.scratch = scratch;
    job.perm = p.perm;
    job.gscale = gscale;
    job.gzero = gzero;
    job.sscale = p.sscale;
    job.szero = p.szero;
    job.scales = scales;
    job.zeros = zeros;
    for (size_t i1 = 0; i1 < k; i1 += bs) {
        size_t i2 = i1 + bs < k ? i1 + bs : k;
        job.i1 = i1;
        job.count = i2 - i1;
        olive_parallel_for(n, GPTQ_MIN_ROWS, block_rows, &job);
        if (i2 < k) /* W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:], as W^T[i2:] -= Hinv[i1:i2, i2:]^T @ Err1^T */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(k - i2), (int)n, (int)job.count, -1.0f,
                        u + i1 * k + i2, (int)k, err, (int)n, 1.0f, p.wt + i2 * n, (int)n);
    }
    if (c->static_groups)
        for (size_t g = 0; g < n_groups; g++)
            for (size_t r = 0; r < n; r++) {
                scales[r * n_groups + g] = p.sscale[g * n + r];
                zeros[r * n_groups + g] = p.szero[g * n + r];
            }
    for (size_t j = 0; j < k; j++) {
        g_idx[j] = c->static_groups || !c->desc_act ? (int32_t)(j / gs) : (int32_t)(p.invperm[j] / gs);
        for (size_t r = 0; r < n; r++)
            codes[r * k + j] = qt[p.invperm[j] * n + r];
    }
done:
    olive_gptq_prep_free(&p);
    free(u);
    free(scratch);
    free(err);
    free(gscale);
    free(gzero);
    free(qt);
    return rc;
}
