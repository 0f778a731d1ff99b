/* The orthogonal matrices of QuaRot and their action on weight rows and columns (see
 * decoder_rotate.h). Sums run in double: a rotated weight differs from the exact product by a
 * few float roundings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder_rotate.h"

/* ---- seeded generator: splitmix64 seeding xoshiro256** ---- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in (0, 1]. */
static double rng_unit(rng *r)
{
    return ((double)(rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
}

static double rng_gauss(rng *r)
{
    /* Box-Muller; one draw of the pair is enough here */
    return sqrt(-2.0 * log(rng_unit(r))) * cos(6.283185307179586 * rng_unit(r));
}

/* ---- the matrices ---- */

static int is_pow2(int64_t n)
{
    return n > 0 && !(n & (n - 1));
}

/* Q of a Gaussian matrix by modified Gram-Schmidt, run twice for orthogonality in floating
 * point; its columns come out with R's diagonal positive. */
static int random_orth(cvt_orth *q, rng *r)
{
    const int64_t n = q->n;
    double *a = olive_malloc((size_t)(n * n) * sizeof *a), *col = olive_malloc((size_t)n * sizeof *col);
    if (!a || !col) {
        free(a);
        free(col);
        return OLIVE_ENOMEM;
    }
    for (int64_t i = 0; i < n * n; i++)
        a[i] = rng_gauss(r);
    /* column j of the matrix is a[. * n + j]; orthonormalize in place */
    for (int64_t j = 0; j < n; j++) {
        double norm = 0;
        for (int64_t i = 0; i < n; i++)
            col[i] = a[i * n + j];
        for (int pass = 0; pass < 2; pass++)
            for (int64_t k = 0; k < j; k++) {
                double dot = 0;
                for (int64_t i = 0; i < n; i++)
                    dot += a[i * n + k] * col[i];
                for (int64_t i = 0; i < n; i++)
                    col[i] -= dot * a[i * n + k];
            }
        for (int64_t i = 0; i < n; i++)
            norm += col[i] * col[i];
        norm = sqrt(norm);
        for (int64_t i = 0; i < n; i++)
            a[i * n + j] = col[i] / norm;
    }
    free(col);
    q->m = a;
    return OLIVE_OK;
}

static int is_prime(int64_t q)
{
    if (q < 2)
        return 0;
    for (int64_t d = 2; d * d <= q; d++)
        if (q % d == 0)
            return 0;
    return 1;
}

/* The quadratic character of a modulo the prime p. */
static int legendre(int64_t a, int64_t p)
{
    a = ((a % p) + p) % p;
    if (!a)
        return 0;
    for (int64_t x = 1; x < p; x++)
        if (x * x % p == a)
            return 1;
    return -1;
}

/* A Hadamard matrix of order k by Paley's first construction (k - 1 a prime = 3 mod 4) or his
 * second (k / 2 - 1 a prime = 1 mod 4), checked to be one (H H^T = k I); NULL when neither
 * applies or on ENOMEM. */
static double *paley(int64_t k)
{
    const int first = is_prime(k - 1) && (k - 1) % 4 == 3;
    const int64_t q = first ? k - 1 : k / 2 - 1, c = q + 1;
    double *s, *h;
    if (!first && !(k % 2 == 0 && is_prime(q) && q % 4 == 1))
        return NULL;
    /* the core of order q + 1: 0 on the diagonal, the border of ones (skew for the first) */
    if (!(s = olive_malloc((size_t)(c * c) * sizeof *s)))
        return NULL;
    for (int64_t i = 0; i < c; i++)
        for (int64_t j = 0; j < c; j++)
            s[i * c + j] = i == j ? 0.0 : !i ? 1.0 : !j ? (first ? -1.0 : 1.0) : (double)legendre(j - i, q);
    if (!(h = olive_malloc((size_t)(k * k) * sizeof *h))) {
        free(s);
        return NULL;
    }
    if (first) {
        for (int64_t i = 0; i < k * k; i++)
            h[i] = s[i] + (i % (k + 1) == 0 ? 1.0 : 0.0);
    } else { /* S (x) [[1, -1], [-1, -1]] + I (x) [[1, 1], [1, -1]] */
        static const double a[2][2] = {{1, -1}, {-1, -1}}, b[2][2] = {{1, 1}, {1, -1}};
        for (int64_t i = 0; i < c; i++)
            for (int64_t j = 0; j < c; j++)
                for (int u = 0; u < 2; u++)
                    for (int v = 0; v < 2; v++)
                        h[(2 * i + u) * k + 2 * j + v] = s[i * c + j] * a[u][v] + (i == j ? b[u][v] : 0.0);
    }
    free(s);
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) {
            double dot = 0;
            for (int64_t t = 0; t < k; t++)
                dot += h[i * k + t] * h[j * k + t];
            if (dot != (i == j ? (double)k : 0.0)) {
                free(h);
                return NULL;
            }
        }
    return h;
}

static int make_orth(cvt_orth *q, int hadamard, int64_t n, rng *r, const char *what)
{
    q->n = n;
    q->signs = NULL;
    q->hk = NULL;
    q->k = 1;
    q->m = NULL;
    if (!hadamard)
        return random_orth(q, r);
    if (!is_pow2(n)) {
        /* n = K 2^m: Paley's order K (a multiple of 4) times Sylvester's */
        int64_t odd = n;
        while (odd % 2 == 0)
            odd /= 2;
        for (int64_t k = 4 * odd; k <= n && n % k == 0 && !q->hk; k *= 2)
            if ((q->hk = paley(k)) != NULL)
                q->k = k;
        if (!q->hk)
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "rotate_mode hadamard: %s is %lld, and the Hadamard transform here takes a power of "
                              "two times an order Paley's constructions give (12, 20, 28, 36, 60, 108, 140, ...); "
                              "use rotate_mode random",
                              what, (long long)n);
    }
    if (!(q->signs = olive_malloc((size_t)n * sizeof *q->signs)))
        return OLIVE_ENOMEM;
    for (int64_t i = 0; i < n; i++)
        q->signs[i] = (rng_next(r) >> 63) ? 1.0 : -1.0;
    return OLIVE_OK;
}

static void orth_clear(cvt_orth *q)
{
    free(q->signs);
    free(q->hk);
    free(q->m);
}

void cvt_rotation_free(cvt_rotation *r)
{
    if (!r)
        return;
    orth_clear(&r->r1);
    if (r->r2)
        for (int64_t i = 0; i < r->n_layers; i++)
            orth_clear(&r->r2[i]);
    free(r->r2);
    free(r);
}

int cvt_rotation_new(const char *mode, uint64_t seed, int64_t hidden, int64_t head_dim, int64_t n_layers,
                     int with_heads, cvt_rotation **out)
{
    const int hadamard = !strcmp(mode, "hadamard");
    cvt_rotation *r;
    rng g;
    int rc = OLIVE_OK;
    *out = NULL;
    if (!hadamard && strcmp(mode, "random"))
        return olive_fail(OLIVE_EINVALID, "rotate_mode '%s': expected hadamard or random", mode);
    if (!(r = olive_calloc(1, sizeof *r)))
        return OLIVE_ENOMEM;
    r->n_layers = n_layers;
    rng_seed(&g, seed, 0);
    rc = make_orth(&r->r1, hadamard, hidden, &g, "hidden_size");
    if (rc == OLIVE_OK && with_heads && !(r->r2 = olive_calloc((size_t)n_layers, sizeof *r->r2)))
        rc = OLIVE_ENOMEM;
    /* each layer's head rotation from its own stream: any layer can be made alone */
    for (int64_t i = 0; rc == OLIVE_OK && r->r2 && i < n_layers; i++) {
        rng_seed(&g, seed, (uint64_t)i + 1);
        rc = make_orth(&r->r2[i], hadamard, head_dim, &g, "head_dim");
    }
    if (rc != OLIVE_OK) {
        cvt_rotation_free(r);
        return rc;
    }
    *out = r;
    return OLIVE_OK;
}

/* ---- applying them ---- */

/* x (n values) becomes x Q. */
static void orth_vector(const cvt_orth *q, double *x, double *tmp)
{
    const int64_t n = q->n;
    if (q->signs) {
        const double scale = 1.0 / sqrt((double)n);
        for (int64_t i = 0; i < n; i++)
            x[i] *= q->signs[i];
        /* H_{2^m} (x) H_K: each run of K values times H_K, then butterflies between the runs */
        if (q->hk)
            for (int64_t a = 0; a < n; a += q->k) {
                memset(tmp, 0, (size_t)q->k * sizeof *tmp);
                for (int64_t i = 0; i < q->k; i++)
                    for (int64_t j = 0; j < q->k; j++)
                        tmp[j] += x[a + i] * q->hk[i * q->k + j];
                memcpy(x + a, tmp, (size_t)q->k * sizeof *x);
            }
        for (int64_t h = q->k; h < n; h <<= 1)
            for (int64_t i = 0; i < n; i += h << 1)
                for (int64_t j = i; j < i + h; j++) {
                    const double a = x[j], b = x[j + h];
                    x[j] = a + b;
                    x[j + h] = a - b;
                }
        for (int64_t i = 0; i < n; i++)
            x[i] *= scale;
        return;
    }
    memset(tmp, 0, (size_t)n * sizeof *tmp);
    for (int64_t i = 0; i < n; i++) {
        const double xi = x[i], *row = q->m + i * n;
        for (int64_t j = 0; j < n; j++)
            tmp[j] += xi * row[j];
    }
    memcpy(x, tmp, (size_t)n * sizeof *x);
}

int cvt_orth_rows(const cvt_orth *q, float *rows, int64_t n_rows, int64_t len)
{
    const int64_t n = q->n;
    /* n doubles for the vector and n for the dense product */
    double *x = olive_malloc((size_t)(2 * n) * sizeof *x);
    if (!x)
        return OLIVE_ENOMEM;
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t c0 = 0; c0 + n <= len; c0 += n) {
            float *v = rows + r * len + c0;
            for (int64_t i = 0; i < n; i++)
                x[i] = v[i];
            orth_vector(q, x, x + n);
            for (int64_t i = 0; i < n; i++)
                v[i] = (float)x[i];
        }
    free(x);
    return OLIVE_OK;
}

int cvt_orth_columns(const cvt_orth *q, float *w, int64_t n_rows, int64_t cols)
{
    const int64_t n = q->n, chunk = 64;
    /* a chunk of columns of one block, transposed: rows of n values that turn by Q */
    double *t = olive_malloc((size_t)(chunk * n + 2 * n) * sizeof *t);
    if (!t)
        return OLIVE_ENOMEM;
    for (int64_t b0 = 0; b0 + n <= n_rows; b0 += n)
        for (int64_t c0 = 0; c0 < cols; c0 += chunk) {
            const int64_t m = cols - c0 < chunk ? cols - c0 : chunk;
            /* column c of the block, as a row: (Q^T c)^T = c^T Q */
            for (int64_t i = 0; i < n; i++)
                for (int64_t c = 0; c < m; c++)
                    t[c * n + i] = w[(b0 + i) * cols + c0 + c];
            for (int64_t c = 0; c < m; c++)
                orth_vector(q, t + c * n, t + chunk * n);
            for (int64_t i = 0; i < n; i++)
                for (int64_t c = 0; c < m; c++)
                    w[(b0 + i) * cols + c0 + c] = (float)t[c * n + i];
        }
    free(t);
    return OLIVE_OK;
}
