/* numpy's pairwise summation of float32 values: what np.sum and np.mean compute over a
 * contiguous float32 axis, rounding included, so that results match numpy references bit
 * for bit. */
#ifndef OLIVE_KERNELS_PAIRWISE_SUM_H
#define OLIVE_KERNELS_PAIRWISE_SUM_H

#include <stddef.h>

/* The pairwise sum of a[0..n) (0 for n == 0): runs of under 8 in order, up to 128 in eight
 * lanes, longer ones split in halves (a multiple of 8 first). */
float olive_pairwise_sum(const float *a, size_t n);

#endif
