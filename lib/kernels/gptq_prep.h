/* What GPTQ does on the host before the column blocks (gptq.h, steps 2-4 and the mean of
 * step 5), shared by the CPU kernel (gptq.c) and the GPU one (gptq_cuda.c). */
#ifndef OLIVE_KERNELS_GPTQ_PREP_H
#define OLIVE_KERNELS_GPTQ_PREP_H

#include <stddef.h>

#include "kernels/gptq.h"

typedef struct olive_gptq_prep {
    size_t *perm, *invperm; /* act-order: permuted column i is column perm[i] */
    float *wt;              /* the weights with their rows (inputs) permuted, [k][n] */
    float *hp;              /* the Hessian permuted, [k][k] */
    float *sscale, *szero;  /* static groups' params [n_groups][n] (NULL without them) */
    float mean;             /* the mean of the Hessian's diagonal */
    float *own_wt, *own_hp; /* wt and hp when they are copies; w and h are used otherwise */
} olive_gptq_prep;

/* Marks dead inputs (H[i][i] == 0: H[i][i] = 1, the weight's row i zeroed) in w [k][n] and h,
 * computes the static groups' params, the act-order permutation, and the permuted weights and
 * Hessian (w and h themselves when the order is kept), and the mean of the diagonal.
 * Errors: OLIVE_ENOMEM. */
int olive_gptq_prepare(olive_gptq_prep *p, const olive_gptq_config *c, float *w, size_t n, size_t k, float *h);
void olive_gptq_prep_free(olive_gptq_prep *p);

/* AutoGPTQ's Quantizer.find_params for each of the len (<= OLIVE_GPTQ_TILE_ROWS) rows r of a
 * group: the glen values wt[j * ld + r], j < glen, taken in order; maxq = 2^bits - 1. */
#define OLIVE_GPTQ_TILE_ROWS 64
void olive_gptq_column_params(const float *wt, size_t ld, size_t glen, size_t len, int sym, float maxq, float *scale,
                              float *zero);

#endif
