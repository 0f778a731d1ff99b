/* NumPy .npy files (format versions 1, 2 and 3): the header parsed, the array data mapped.
 *
 * Only what calibration data needs: little-endian (or byte-sized) float32, float16, float64,
 * int64, int32, int8, uint8 and bool arrays in C order. Everything else (Fortran order,
 * big-endian, object or structured dtypes, a data size that does not match the shape) is
 * refused with OLIVE_EFORMAT naming the file. */
#ifndef OLIVE_FORMATS_NPY_H
#define OLIVE_FORMATS_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/blob.h"

#define OLIVE_NPY_MAX_RANK 16

typedef struct olive_npy {
    int32_t dtype; /* ONNX TensorProto data type (1 float, 7 int64, ...) */
    size_t rank;
    int64_t dims[OLIVE_NPY_MAX_RANK];
    uint64_t count; /* product of dims */
    size_t elem_size;
    const uint8_t *data; /* count * elem_size bytes inside `blob` */
    olive_blob *blob;    /* the mapped file; one reference owned by this struct */
} olive_npy;

/* Maps `path` and parses its header into *out (released with olive_npy_clear).
 * Errors: OLIVE_ENOTFOUND, OLIVE_EIO, OLIVE_EFORMAT, OLIVE_ENOMEM. */
int olive_npy_load(olive_npy *out, const char *path);

/* Parses an in-memory .npy image (`name` labels errors); data points into `bytes`, and
 * out->blob stays NULL. Same errors as olive_npy_load, less the file ones. */
int olive_npy_parse(olive_npy *out, const uint8_t *bytes, size_t size, const char *name);

/* Releases the mapping. Accepts a zeroed struct. */
void olive_npy_clear(olive_npy *npy);

#endif
