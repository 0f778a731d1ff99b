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
