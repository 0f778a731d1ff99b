/* The evaluator's entry point (op dispatch) and the helpers its op files share. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/peephole/fold.h"
#include "passes/peephole/fold_internal.h"

static const struct {
    const char *op;
    fold_fn fn;
} ops[] = {
    {"Shape", fold_shape},   {"Gather", fold_gather},   {"Unsqueeze", fold_unsqueeze}, {"Squeeze", fold_squeeze},
    {"Concat", fold_concat}, {"Reshape", fold_reshape}, {"Cast", fold_cast},           {"Add", fold_binary},
    {"Sub", fold_binary},    {"Mul", fold_binary},      {"Div", fold_binary},          {"Transpose", fold_transpose},
    {"Range", fold_range},
};

static fold_fn find_op(const oir_node *n)
{
    if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return NULL;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(ops[i].op, n->op_type))
            return ops[i].fn;
    return NULL;
}

int olive_fold_supports(const oir_node *n)
{
    return find_op(n) != NULL;
}

int olive_fold_eval(const oir_node *n, const oir_tensor *const *inputs, uint64_t max_bytes, oir_tensor **out)
{
    fold_fn fn = find_op(n);
    if (!fn)
        return fold_fail(n, OLIVE_EUNSUPPORTED, "constant evaluation of this op is not implemented");
    if (n->n_outputs < 1 || !n->outputs[0][0])
        return fold_fail(n, OLIVE_EFORMAT, "node has no output");
    return fn(n, inputs, max_bytes, out);
}

int fold_fail(const oir_node *n, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return olive_fail(code, "node '%s' (%s): %s", n->name, n->op_type, msg);
}

int fold_input(const oir_node *n, const oir_tensor *const *in, size_t i, const oir_tensor **out)
{
    if (i >= n->n_inputs || !n->inputs[i][0] || !in[i])
        return fold_fail(n, OLIVE_EFORMAT, "input %zu is missing", i);
    *out = in[i];
    return OLIVE_OK;
}

size_t fold_elem_size(int32_t dtype)
{
    unsigned bits = oir_dtype_bits(dtype);
    return dtype == OIR_STRING || bits == 0 || bits % 8 ? 0 : bits / 8;
}

int fold_data(const oir_node *n, const oir_tensor *t, const uint8_t **data, uint64_t *numel)
{
    uint64_t want;
    if (!fold_elem_size(t->dtype))
        return fold_fail(n, OLIVE_EUNSUPPORTED, "tensor '%s' has element type %s, which is not evaluated", t->name,
                         oir_dtype_name(t->dtype));
    if (oir_tensor_numel(t, numel) != OLIVE_OK || oir_tensor_expected_bytes(t, &want) != OLIVE_OK)
        return fold_fail(n, OLIVE_EFORMAT, "tensor '%s' has an invalid shape", t->name);
    if (t->nbytes != want || (want && !t->blob))
        return fold_fail(n, OLIVE_EFORMAT, "tensor '%s' has %llu bytes of data, %llu expected", t->name,
                         (unsigned long long)t->nbytes, (unsigned long long)want);
    *data = oir_tensor_data(t);
    return OLIVE_OK;
}

int fold_read_ints(const oir_node *n, const oir_tensor *t, int64_t **out, size_t *count)
{
    const uint8_t *p;
    uint64_t numel;
    int64_t *v;
    if (t->dtype != OIR_INT64 && t->dtype != OIR_INT32)
        return fold_fail(n, OLIVE_EFORMAT, "tensor '%s' must be int64, not %s", t->name, oir_dtype_name(t->dtype));
    if (t->rank > 1)
        return fold_fail(n, OLIVE_EFORMAT, "tensor '%s' must be a scalar or 1-D", t->name);
    OLIVE_TRY(fold_data(n, t, &p, &numel));
    if (!(v = olive_calloc(numel ? numel : 1, sizeof *v)))
        return OLIVE_ENOMEM;
    for (uint64_t i = 0; i < numel; i++) {
        if (t->dtype == OIR_INT64) {
            memcpy(&v[i], p + 8 * i, 8);
        } else {
            int32_t x;
            memcpy(&x, p + 4 * i, 4);
            v[i] = x;
        }
    }
    *out = v;
    *count = (size_t)numel;
    return OLIVE_OK;
}

int fold_axes(const oir_node *n, const oir_tensor *const *in, size_t input_index, int64_t **axes, size_t *count,
              int *present)
{
    const oir_attr *a = oir_node_attr(n, "axes");
    *axes = NULL;
    *count = 0;
    *present = 0;
    if (a && a->type == OIR_ATTR_INTS) {
        if (!(*axes = olive_calloc(a->n + 1, sizeof *a->ints)))
            return OLIVE_ENOMEM;
        if (a->n)
            memcpy(*axes, a->ints, a->n * sizeof *a->ints);
        *count = a->n;
        *present = 1;
        return OLIVE_OK;
    }
    if (input_index < n->n_inputs && n->inputs[input_index][0]) {
        if (!in[input_index])
            return fold_fail(n, OLIVE_EFORMAT, "axes input is missing");
        OLIVE_TRY(fold_read_ints(n, in[input_index], axes, count));
        *present = 1;
    }
    return OLIVE_OK;
}

int fold_normalize_axis(const oir_node *n, int64_t axis, size_t rank, size_t *out)
{
    int64_t r = (int64_t)rank;
    if (axis < -r || axis >= r)
        return fold_fail(n, OLIVE_EFORMAT, "axis %lld is out of range for rank %zu", (long long)axis, rank);
    *out = (size_t)(axis < 0 ? axis + r : axis);
    return OLIVE_OK;
}

static int new_tensor(const oir_node *n, int32_t dtype, size_t rank, const int64_t *dims, oir_tensor **out)
{
    if (!(*out = oir_tensor_new(n->outputs[0], dtype, rank, dims)))
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

int fold_output(const oir_node *n, int32_t dtype, size_t rank, const int64_t *dims, uint64_t max_bytes,
                oir_tensor **out, uint8_t **data)
{
    oir_tensor *t;
    olive_blob *b;
    uint64_t bytes;
    int rc;
    OLIVE_TRY(new_tensor(n, dtype, rank, dims, &t));
    if (oir_tensor_expected_bytes(t, &bytes) != OLIVE_OK) {
        oir_tensor_free(t);
        return fold_fail(n, OLIVE_EFORMAT, "the result's shape is invalid");
    }
    if (bytes > max_bytes || bytes > SIZE_MAX) {
        oir_tensor_free(t);
        return fold_fail(n, OLIVE_EUNSUPPORTED, "the result would take %llu bytes, over the limit of %llu",
                         (unsigned long long)bytes, (unsigned long long)max_bytes);
    }
    *data = NULL;
    if (bytes) {
        if ((rc = olive_blob_alloc(&b, (size_t)bytes)) != OLIVE_OK) {
            oir_tensor_free(t);
            return rc;
        }
        rc = oir_tensor_set_blob(t, b, 0, bytes);
        olive_blob_unref(b);
        if (rc != OLIVE_OK) {
            oir_tensor_free(t);
            return rc;
        }
        *data = (uint8_t *)b->data;
    }
    *out = t;
    return OLIVE_OK;
}

int fold_view(const oir_node *n, const oir_tensor *src, size_t rank, const int64_t *dims, uint64_t max_bytes,
              oir_tensor **out)
{
    oir_tensor *t;
    int rc;
    /* No bytes are copied, but the result is one more initializer for the writer. */
    if (src->nbytes > max_bytes)
        return fold_fail(n, OLIVE_EUNSUPPORTED, "the result would take %llu bytes, over the limit of %llu",
                         (unsigned long long)src->nbytes, (unsigned long long)max_bytes);
    OLIVE_TRY(new_tensor(n, src->dtype, rank, dims, &t));
    if ((rc = oir_tensor_set_blob(t, src->blob, src->offset, src->nbytes)) != OLIVE_OK) {
        oir_tensor_free(t);
        return fold_fail(n, OLIVE_EINTERNAL, "reshaped tensor does not match its data");
    }
    *out = t;
    return OLIVE_OK;
}
