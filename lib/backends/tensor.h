/* olive_tensor: a dtype, a shape and a host buffer, the currency of sessions (and later of
 * data configs and calibration).
 *
 * The buffer is one of three kinds: owned (allocated here, freed with the tensor), borrowed
 * (the caller's memory, which must outlive the tensor) or held (memory of another library,
 * e.g. an ONNX Runtime output value, released through `release(holder)` when the tensor is
 * freed). Tensors are immutable in shape and dtype once made. */
#ifndef OLIVE_BACKENDS_TENSOR_H
#define OLIVE_BACKENDS_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "olive/session.h"

/* More dimensions than any ONNX model uses; a larger rank is refused. */
#define OLIVE_TENSOR_MAX_RANK 32

struct olive_tensor {
    olive_dtype dtype;
    size_t rank;
    int64_t shape[OLIVE_TENSOR_MAX_RANK];
    uint64_t count;                /* product of the shape (1 for a scalar) */
    size_t bytes;                  /* count * element size */
    void *data;                    /* never NULL, even for an empty tensor */
    int owned;                     /* data was allocated here */
    void (*release)(void *holder); /* for held data: called once with `holder` at free */
    void *holder;
};

/* Checks dtype, rank and dims, and computes the element count and byte size.
 * Errors: OLIVE_EINVALID (unknown dtype, negative dim, rank over the limit, NULL shape with a
 * non-zero rank), OLIVE_ENOMEM (the size overflows). */
int olive_tensor_check_shape(olive_dtype dtype, const int64_t *shape, size_t rank, uint64_t *count, size_t *bytes);

/* A tensor over memory held by another library: `release(holder)` runs when it is freed
 * (also when this call fails). */
int olive_tensor_hold(olive_tensor **out, olive_dtype dtype, const int64_t *shape, size_t rank, void *data,
                      void (*release)(void *holder), void *holder);

#endif
