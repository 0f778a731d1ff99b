/* The device kernels of GPTQ on CUDA (gptq_cuda_kernels.cu), called by gptq_cuda.c. Pointers
 * are device memory; each launcher queues its kernel on the default stream and returns the
 * launch's CUDA error code (0 on success). */
#ifndef OLIVE_KERNELS_GPTQ_CUDA_KERNELS_H
#define OLIVE_KERNELS_GPTQ_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One block of columns [i1, i1 + count) of the permuted weights. */
typedef struct olive_gptq_cuda_block {
    size_t n, k, gs, n_groups, i1, count;
    float maxq;
    int sym, static_groups;
    const float *u;              /* Hinv's upper factor, row-major [k][k] */
    const float *w;              /* the permuted weights, column-major [k][n], as at the block's start */
    float *w1, *err;             /* the block's columns and errors, column-major [count][n] */
    uint8_t *q;                  /* codes of the permuted columns, column-major [k][n] */
    float *gscale, *gzero;       /* the current group's params per row [n] (kept across blocks) */
    float *scales, *zeros;       /* outputs [n][n_groups] (not with static groups) */
    const int32_t *sgroup;       /* static groups: the group of each permuted column [k] */
    const float *sscale, *szero; /* static groups: [n_groups][n] */
} olive_gptq_cuda_block;

/* The kernels' per-element work, shared by the .cu file (device code, each operation rounded to
 * nearest, never fused) and C (the same operations; C11 does not contract them either), so that
 * it can be run and checked on the host. */
#ifdef __CUDACC__
#define OLIVE_GPTQ_FN __device__ static inline
#define OLIVE_GPTQ_ADD(a, b) __fadd_rn(a, b)
#define OLIVE_GPTQ_SUB(a, b) __fsub_rn(a, b)
#define OLIVE_GPTQ_MUL(a, b) __fmul_rn(a, b)
#define OLIVE_GPTQ_DIV(a, b) __fdiv_rn(a, b)
#else
#include <math.h>
#define OLIVE_GPTQ_FN static inline
#define OLIVE_GPTQ_ADD(a, b) ((a) + (b))
#define OLIVE_GPTQ_SUB(a, b) ((a) - (b))
#define OLIVE_GPTQ_MUL(a, b) ((a) * (b))
#define OLIVE_GPTQ_DIV(a, b) ((a) / (b))
#endif

/* Element (i, j) of J (hp + damp I) J. */
OLIVE_GPTQ_FN float olive_gptq_reversed_at(const float *hp, size_t k, size_t i, size_t j, float damp)
{
    return OLIVE_GPTQ_ADD(hp[(k - 1 - i) * k + (k - 1 - j)], i == j ? damp : 0.0f);
}

/* Element (a, b) of U = J L^-1 J, L^-1 in the row-major lower triangle of l. */
OLIVE_GPTQ_FN float olive_gptq_flipped_at(const float *l, size_t k, size_t a, size_t b)
{
    return b >= a ? l[(k - 1 - a) * k + (k - 1 - b)] : 0.0f;
}

/* AutoGPTQ's Quantizer.find_params on row r of `len` columns of w (column-major, n rows), as
 * gptq.c's find_params. */
OLIVE_GPTQ_FN void olive_gptq_row_params(const float *w, size_t n, size_t r, size_t len, int sym, float maxq,
                                         float *scale, float *zero)
{
    float xmin = 0.0f, xmax = 0.0f;
    for (size_t i = 0; i < len; i++) {
        float v = w[i * n + r];
        xmin = v < xmin ? v : xmin;
        xmax = v > xmax ? v : xmax;
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
    *scale = OLIVE_GPTQ_DIV(OLIVE_GPTQ_SUB(xmax, xmin), maxq);
    *zero = sym ? OLIVE_GPTQ_DIV(OLIVE_GPTQ_ADD(maxq, 1.0f), 2.0f) : rintf(OLIVE_GPTQ_DIV(-xmin, *scale));
}

/* Row r of one block (gptq.c's block_rows for one row): a group's parameters at its first
 * column, each column's code and error, the error fed into the rest of the block. */
OLIVE_GPTQ_FN void olive_gptq_block_row(const olive_gptq_cuda_block *b, size_t r)
{
    const size_t n = b->n, k = b->k;
    float sc = 0.0f, ze = 0.0f;
    for (size_t i = 0; i < b->count; i++)
        b->w1[i * n + r] = b->w[(b->i1 + i) * n + r];
    if (!b->static_groups) {
        sc = b->gscale[r];
        ze = b->gzero[r];
    }
    for (size_t i = 0; i < b->count; i++) {
        size_t col = b->i1 + i;
        const float *hrow = b->u + col * k + b->i1; /* Hinv1[i, :] */
        float wv, v, e;
        if (!b->static_groups) {
            if (col % b->gs == 0) {
                size_t len = k - col < b->gs ? k - col : b->gs;
                olive_gptq_row_params(b->w + col * n, n, r, len, b->sym, b->maxq, &sc, &ze);
                b->gscale[r] = sc;
                b->gzero[r] = ze;
                b->scales[r * b->n_groups + col / b->gs] = sc;
                b->zeros[r * b->n_groups + col / b->gs] = ze;
            }
        } else {
            size_t g = (size_t)b->sgroup[col];
            sc = b->sscale[g * n + r];
            ze = b->szero[g * n + r];
        }
        wv = b->w1[i * n + r];
        v = OLIVE_GPTQ_ADD(rintf(OLIVE_GPTQ_DIV(wv, sc)), ze);
        v = v < 0.0f ? 0.0f : v > b->maxq ? b->maxq : v;
        b->q[col * n + r] = (uint8_t)v;
        e = OLIVE_GPTQ_DIV(OLIVE_GPTQ_SUB(wv, OLIVE_GPTQ_MUL(sc, OLIVE_GPTQ_SUB(v, ze))), hrow[i]);
        b->err[i * n + r] = e;
        for (size_t j = i + 1; j < b->count; j++)
            b->w1[j * n + r] = OLIVE_GPTQ_SUB(b->w1[j * n + r], OLIVE_GPTQ_MUL(e, hrow[j]));
    }
}

/* a = J (hp + damp I) J for the order reversal J (row-major k x k). */
int olive_gptq_cuda_reverse_damp(const float *hp, float *a, size_t k, float damp);
/* u = J L^-1 J, upper (zeros below), from L^-1 in the row-major lower triangle of l. */
int olive_gptq_cuda_flip_upper(const float *l, float *u, size_t k);
/* Quantizes one block's columns, a thread per row. */
int olive_gptq_cuda_run_block(const olive_gptq_cuda_block *b);

#ifdef __cplusplus
}
#endif

#endif
