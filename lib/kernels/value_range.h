/* The smallest and largest of a float32 array, the calibrators' innermost loop: it reads every
 * captured activation once, so it is written in independent lanes the compiler turns into
 * vector min / max. */
#ifndef OLIVE_KERNELS_VALUE_RANGE_H
#define OLIVE_KERNELS_VALUE_RANGE_H

#include <stddef.h>

/* *lo and *hi become the min and max of v[0..n), NaNs skipped (as `x < lo ? x : lo` skips
 * them); INFINITY and -INFINITY when n is 0 or every value is NaN. Which zero a range of
 * zeros reports (+0 or -0) is unspecified; both give the same scale and zero point. */
void olive_value_range(const float *v, size_t n, float *lo, float *hi);

#endif
