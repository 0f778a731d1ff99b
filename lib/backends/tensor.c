/* olive_tensor: construction, accessors and release (see tensor.h). */
#include "backends/tensor.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

/* An empty tensor still has a data pointer: ONNX Runtime and the bindings expect one. */
static unsigned char empty_data[16];

const char *olive_dtype_name(olive_dtype dtype)
{
    switch (dtype) {
    case OLIVE_DTYPE_FLOAT32: return "float32";
    case OLIVE_DTYPE_UINT8: return "uint8";
    case OLIVE_DTYPE_INT8: return "int8";
    case OLIVE_DTYPE_UINT16: return "uint16";
    case OLIVE_DTYPE_INT16: return "int16";
    case OLIVE_DTYPE_INT32: return "int32";
    case OLIVE_DTYPE_INT64: return "int64";
    case OLIVE_DTYPE_BOOL: return "bool";
    case OLIVE_DTYPE_FLOAT16: return "float16";
    case OLIVE_DTYPE_DOUBLE: return "double";
    case OLIVE_DTYPE_UINT32: return "uint32";
    case OLIVE_DTYPE_UINT64: return "uint64";
    case OLIVE_DTYPE_BFLOAT16: return "bfloat16";
    default: return NULL;
    }
}

size_t olive_dtype_size(olive_dtype dtype)
{
    switch (dtype) {
    case OLIVE_DTYPE_UINT8:
    case OLIVE_DTYPE_INT8:
    case OLIVE_DTYPE_BOOL: return 1;
    case OLIVE_DTYPE_UINT16:
    case OLIVE_DTYPE_INT16:
    case OLIVE_DTYPE_FLOAT16:
    case OLIVE_DTYPE_BFLOAT16: return 2;
    case OLIVE_DTYPE_FLOAT32:
    case OLIVE_DTYPE_INT32:
    case OLIVE_DTYPE_UINT32: return 4;
    case OLIVE_DTYPE_INT64:
    case OLIVE_DTYPE_DOUBLE:
    case OLIVE_DTYPE_UINT64: return 8;
    default: return 0;
    }
}

int olive_tensor_check_shape(olive_dtype dtype, const int64_t *shape, size_t rank, uint64_t *count, size_t *bytes)
{
    uint64_t n = 1, b;
    size_t elem = olive_dtype_size(dtype);
    if (!elem)
        return olive_fail(OLIVE_EINVALID, "tensor: unknown dtype %d", (int)dtype);
    if (rank > OLIVE_TENSOR_MAX_RANK)
        return olive_fail(OLIVE_EINVALID, "tensor: rank %zu is over the limit of %d", rank, OLIVE_TENSOR_MAX_RANK);
    if (rank && !shape)
        return olive_fail(OLIVE_EINVALID, "tensor: shape is NULL with rank %zu", rank);
    for (size_t i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return olive_fail(OLIVE_EINVALID, "tensor: dim %zu is negative (%lld)", i, (long long)shape[i]);
        if (!olive_mul_ok(n, (uint64_t)shape[i], &n))
            return olive_fail(OLIVE_ENOMEM, "tensor: the element count overflows");
    }
    if (!olive_mul_ok(n, elem, &b) || b > SIZE_MAX / 2)
        return olive_fail(OLIVE_ENOMEM, "tensor: the byte size overflows");
    *count = n;
    *bytes = (size_t)b;
    return OLIVE_OK;
}

static olive_tensor *tensor_alloc(olive_dtype dtype, const int64_t *shape, size_t rank, uint64_t count, size_t bytes)
{
    olive_tensor *t = olive_calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->dtype = dtype;
    t->rank = rank;
    if (rank)
        memcpy(t->shape, shape, rank * sizeof *shape);
    t->count = count;
    t->bytes = bytes;
    return t;
}

int olive_tensor_new(olive_tensor **out, olive_dtype dtype, const int64_t *shape, size_t rank)
{
    uint64_t count;
    size_t bytes;
    olive_tensor *t;
    if (!out)
        return olive_fail(OLIVE_EINVALID, "olive_tensor_new: out must not be NULL");
    OLIVE_TRY(olive_tensor_check_shape(dtype, shape, rank, &count, &bytes));
    if (!(t = tensor_alloc(dtype, shape, rank, count, bytes)))
        return OLIVE_ENOMEM;
    t->data = olive_calloc(1, bytes ? bytes : 1);
    if (!t->data) {
        free(t);
        return olive_fail(OLIVE_ENOMEM, "olive_tensor_new: cannot allocate %zu bytes", bytes);
    }
    t->owned = 1;
    *out = t;
    return OLIVE_OK;
}

int olive_tensor_wrap(olive_tensor **out, olive_dtype dtype, const int64_t *shape, size_t rank, void *data, size_t size)
{
    uint64_t count;
    size_t bytes;
    olive_tensor *t;
    if (!out)
        return olive_fail(OLIVE_EINVALID, "olive_tensor_wrap: out must not be NULL");
    OLIVE_TRY(olive_tensor_check_shape(dtype, shape, rank, &count, &bytes));
    if (size != bytes)
        return olive_fail(OLIVE_EINVALID,
                          "olive_tensor_wrap: the buffer has %zu bytes but a %s tensor of %llu elements "
                          "needs %zu",
                          size, olive_dtype_name(dtype), (unsigned long long)count, bytes);
    if (!data && bytes)
        return olive_fail(OLIVE_EINVALID, "olive_tensor_wrap: data is NULL for a non-empty tensor");
    if (!(t = tensor_alloc(dtype, shape, rank, count, bytes)))
        return OLIVE_ENOMEM;
    t->data = data ? data : empty_data;
    *out = t;
    return OLIVE_OK;
}

int olive_tensor_hold(olive_tensor **out, olive_dtype dtype, const int64_t *shape, size_t rank, void *data,
                      void (*release)(void *holder), void *holder)
{
    uint64_t count;
    size_t bytes;
    olive_tensor *t;
    int rc = olive_tensor_check_shape(dtype, shape, rank, &count, &bytes);
    if (rc != OLIVE_OK || !(t = tensor_alloc(dtype, shape, rank, count, bytes))) {
        release(holder);
        return rc != OLIVE_OK ? rc : OLIVE_ENOMEM;
    }
    t->data = data ? data : empty_data;
    t->release = release;
    t->holder = holder;
    *out = t;
    return OLIVE_OK;
}

void olive_tensor_free(olive_tensor *tensor)
{
    if (!tensor)
        return;
    if (tensor->owned)
        free(tensor->data);
    if (tensor->release)
        tensor->release(tensor->holder);
    free(tensor);
}

olive_dtype olive_tensor_dtype(const olive_tensor *t)
{
    return t ? t->dtype : OLIVE_DTYPE_UNDEFINED;
}
size_t olive_tensor_rank(const olive_tensor *t)
{
    return t ? t->rank : 0;
}
int64_t olive_tensor_dim(const olive_tensor *t, size_t index)
{
    return t && index < t->rank ? t->shape[index] : -1;
}
uint64_t olive_tensor_element_count(const olive_tensor *t)
{
    return t ? t->count : 0;
}
size_t olive_tensor_byte_size(const olive_tensor *t)
{
    return t ? t->bytes : 0;
}
void *olive_tensor_data(const olive_tensor *t)
{
    return t ? t->data : NULL;
}
