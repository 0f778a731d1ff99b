/* Shape, and the ops that only change a tensor's shape: Reshape, Squeeze, Unsqueeze. The
 * latter share their input's bytes. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "passes/peephole/fold_internal.h"

int fold_shape(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out)
{
    const oir_tensor *x;
    uint64_t numel;
    uint8_t *data;
    int64_t r, start, end, len;
    OLIVE_TRY(fold_input(n, in, 0, &x));
    if (oir_tensor_numel(x, &numel) != OLIVE_OK)
        return fold_fail(n, OLIVE_EFORMAT, "input '%s' has an invalid shape", x->name);
    r = (int64_t)x->rank;
    start = oir_node_attr_int(n, "start", 0);
    end = oir_node_attr_int(n, "end", r);
    /* Negative bounds count from the back; both are clamped to [0, rank]. */
    if (start < 0)
        start += r;
    if (end < 0)
        end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    len = end > start ? end - start : 0;
    OLIVE_TRY(fold_output(n, OIR_INT64, 1, &len, max_bytes, out, &data));
    if (len)
        memcpy(data, x->dims + start, (size_t)len * sizeof *x->dims);
    return OLIVE_OK;
}

int fold_reshape(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out)
{
    const oir_tensor *x, *shape;
    const uint8_t *unused;
    uint64_t numel, known = 1;
    int64_t *dims = NULL;
    size_t count, infer = (size_t)-1;
    int allowzero = oir_node_attr_int(n, "allowzero", 0) != 0;
    int rc = OLIVE_OK;
    OLIVE_TRY(fold_input(n, in, 0, &x));
    OLIVE_TRY(fold_input(n, in, 1, &shape));
    OLIVE_TRY(fold_data(n, x, &unused, &numel));
    if (shape->dtype != OIR_INT64 || shape->rank != 1)
        return fold_fail(n, OLIVE_EFORMAT, "shape input '%s' must be a 1-D int64 tensor", shape->name);
    OLIVE_TRY(fold_read_ints(n, shape, &dims, &count));
    for (size_t i = 0; i < count && rc == OLIVE_OK; i++) {
        if (dims[i] == 0 && !allowzero) {
            /* 0 copies the input's dimension at the same index. */
            if (i >= x->rank)
                rc = fold_fail(n, OLIVE_EFORMAT, "shape entry %zu is 0 but the input has rank %zu", i, x->rank);
            else
                dims[i] = x->dims[i];
        } else if (dims[i] == -1) {
            if (infer != (size_t)-1 || allowzero)
                rc = fold_fail(n, OLIVE_EFORMAT, "shape has more than one -1, or -1 with allowzero");
            infer = i;
            continue;
        } else if (dims[i] < -1) {
            rc = fold_fail(n, OLIVE_EFORMAT, "shape entry %zu is %lld", i, (long long)dims[i]);
        }
        if (rc == OLIVE_OK && !olive_mul_ok(known, (uint64_t)dims[i], &known))
            rc = fold_fail(n, OLIVE_EFORMAT, "shape's element count overflows");
    }
    if (rc == OLIVE_OK && infer != (size_t)-1) {
        if (known == 0 || numel % known)
            rc = fold_fail(n, OLIVE_EFORMAT, "cannot infer the -1 entry: %llu elements do not split by %llu",
                           (unsigned long long)numel, (unsigned long long)known);
        else
            dims[infer] = (int64_t)(numel / known);
    } else if (rc == OLIVE_OK && known != numel) {
        rc = fold_fail(n, OLIVE_EFORMAT, "cannot reshape %llu elements into %llu", (unsigned long long)numel,
                       (unsigned long long)known);
    }
    if (rc == OLIVE_OK)
        rc = fold_view(n, x, count, dims, max_bytes, out);
    free(dims);
    return rc;
}

int fold_squeeze(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out)
{
    const oir_tensor *x;
    const uint8_t *unused;
    uint64_t numel;
    int64_t *axes = NULL, *dims = NULL;
    unsigned char *drop = NULL;
    size_t count, kept = 0;
    int present, rc = OLIVE_OK;
    OLIVE_TRY(fold_input(n, in, 0, &x));
    OLIVE_TRY(fold_data(n, x, &unused, &numel));
    OLIVE_TRY(fold_axes(n, in, 1, &axes, &count, &present));
    drop = olive_calloc(x->rank + 1, 1);
    dims = olive_calloc(x->rank + 1, sizeof *dims);
    if (!drop || !dims)
        rc = OLIVE_ENOMEM;
    for (size_t i = 0; present && i < count && rc == OLIVE_OK; i++) {
        size_t a;
        rc = fold_normalize_axis(n, axes[i], x->rank, &a);
        if (rc == OLIVE_OK && (x->dims[a] != 1 || drop[a]))
            rc = fold_fail(n, OLIVE_EFORMAT, "axis %lld has size %lld or is repeated; only size-1 axes can be squeezed",
                           (long long)axes[i], (long long)x->dims[a]);
        if (rc == OLIVE_OK)
            drop[a] = 1;
    }
    for (size_t i = 0; i < x->rank && rc == OLIVE_OK; i++) {
        if (!present && x->dims[i] == 1)
            drop[i] = 1;
        if (!drop[i])
            dims[kept++] = x->dims[i];
    }
    if (rc == OLIVE_OK)
        rc = fold_view(n, x, kept, dims, max_bytes, out);
    free(axes);
    free(dims);
    free(drop);
    return rc;
}

int fold_unsqueeze(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out)
{
    const oir_tensor *x;
    const uint8_t *unused;
    uint64_t numel;
    int64_t *axes = NULL, *dims = NULL;
    unsigned char *add = NULL;
    size_t count, rank, j = 0;
    int present, rc = OLIVE_OK;
    OLIVE_TRY(fold_input(n, in, 0, &x));
    OLIVE_TRY(fold_data(n, x, &unused, &numel));
    OLIVE_TRY(fold_axes(n, in, 1, &axes, &count, &present));
    if (!present) {
        free(axes);
        return fold_fail(n, OLIVE_EFORMAT, "axes are required");
    }
    rank = x->rank + count;
    add = olive_calloc(rank + 1, 1);
    dims = olive_calloc(rank + 1, sizeof *dims);
    if (!add || !dims)
        rc = OLIVE_ENOMEM;
    for (size_t i = 0; i < count && rc == OLIVE_OK; i++) {
        size_t a;
        rc = fold_normalize_axis(n, axes[i], rank, &a);
        if (rc == OLIVE_OK && add[a])
            rc = fold_fail(n, OLIVE_EFORMAT, "axis %lld is repeated", (long long)axes[i]);
        if (rc == OLIVE_OK)
            add[a] = 1;
    }
    for (size_t i = 0; i < rank && rc == OLIVE_OK; i++)
        dims[i] = add[i] ? 1 : x->dims[j++];
    if (rc == OLIVE_OK)
        rc = fold_view(n, x, rank, dims, max_bytes, out);
    free(axes);
    free(dims);
    free(add);
    return rc;
}
