/* Ops that move elements without computing on them: Gather, Concat, Transpose. They work on
 * raw elements of any byte-sized type. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "passes/peephole/fold_internal.h"

/* Product of dims[from..to). Dims were validated by fold_data, so the product of any subset
 * of a valid shape fits. */
static uint64_t span(const int64_t *dims, size_t from, size_t to)
{
    uint64_t p = 1;
    for (size_t i = from; i < to; i++)
        p *= (uint64_t)dims[i];
    return p;
}

int fold_gather(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out)
{
    const oir_tensor *x, *ix;
    const uint8_t *src, *ip;
    uint8_t *dst;
    uint64_t numel, n_idx, outer, inner;
    int64_t *dims, dim_a;
    size_t axis, esz, rank, k = 0;
    int rc;
    OLIVE_TRY(fold_input(n, in, 0, &x));
    OLIVE_TRY(fold_input(n, in, 1, &ix));
    OLIVE_TRY(fold_data(n, x, &src, &numel));
    OLIVE_TRY(fold_data(n, ix, &ip, &n_idx));
    if (ix->dtype != OIR_INT64 && ix->dtype != OIR_INT32)
        return fold_fail(n, OLIVE_EFORMAT, "indices '%s' must be int32 or int64", ix->name);
    if (x->rank == 0)
        return fold_fail(n, OLIVE_EFORMAT, "data '%s' is a scalar", x->name);
    OLIVE_TRY(fold_normalize_axis(n, oir_node_attr_int(n, "axis", 0), x->rank, &axis));
    esz = fold_elem_size(x->dtype);
    rank = x->rank - 1 + ix->rank;
    if (!(dims = olive_calloc(rank + 1, sizeof *dims)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < axis; i++)
        dims[k++] = x->dims[i];
    for (size_t i = 0; i < ix->rank; i++)
        dims[k++] = ix->dims[i];
    for (size_t i = axis + 1; i < x->rank; i++)
        dims[k++] = x->dims[i];
    rc = fold_output(n, x->dtype, rank, dims, max_bytes, out, &dst);
    free(dims);
    if (rc != OLIVE_OK)
        return rc;
    outer = span(x->dims, 0, axis);
    inner = span(x->dims, axis + 1, x->rank) * esz;
    dim_a = x->dims[axis];
    for (uint64_t o = 0; o < outer && n_idx; o++) {
        for (uint64_t j = 0; j < n_idx; j++) {
            int64_t v;
            if (ix->dtype == OIR_INT64) {
                memcpy(&v, ip + 8 * j, 8);
            } else {
                int32_t w;
                memcpy(&w, ip + 4 * j, 4);
                v = w;
            }
            if (v < 0)
                v += dim_a;
            if (v < 0 || v >= dim_a) {
                oir_tensor_free(*out);
                *out = NULL;
                return fold_fail(n, OLIVE_EFORMAT, "index %llu is out of range for axis size %lld",
                                 (unsigned long long)j, (long long)dim_a);
            }
            if (inner)
                memcpy(dst + (o * n_idx + j) * inner, src + (o * (uint64_t)dim_a + (uint64_t)v) * inner, inner);
        }
    }
    return OLIVE_OK;
}

int fold_concat(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out)
{
    const oir_tensor *first;
    const oir_attr *a = oir_node_attr(n, "axis");
    uint8_t *dst;
    uint64_t numel, outer, inner, total = 0;
    int64_t *dims;
    size_t axis, esz;
    int rc;
    OLIVE_TRY(fold_input(n, in, 0, &first));
    if (!a || a->type != OIR_ATTR_INT)
        return fold_fail(n, OLIVE_EFORMAT, "attribute 'axis' is required");
    if (first->rank == 0)
        return fold_fail(n, OLIVE_EFORMAT, "inputs must have rank 1 or more");
    OLIVE_TRY(fold_normalize_axis(n, a->i, first->rank, &axis));
    for (size_t i = 0; i < n->n_inputs; i++) {
        const oir_tensor *t;
        const uint8_t *p;
        OLIVE_TRY(fold_input(n, in, i, &t));
        OLIVE_TRY(fold_data(n, t, &p, &numel));
        if (t->dtype != first->dtype || t->rank != first->rank)
            return fold_fail(n, OLIVE_EFORMAT, "input '%s' differs in type or rank from '%s'", t->name, first->name);
        for (size_t d = 0; d < t->rank; d++)
            if (d != axis && t->dims[d] != first->dims[d])
                return fold_fail(n, OLIVE_EFORMAT, "input '%s' differs in dimension %zu from '%s'", t->name, d,
                                 first->name);
        if (__builtin_add_overflow(total, (uint64_t)t->dims[axis], &total))
            return fold_fail(n, OLIVE_EFORMAT, "concatenated size overflows");
    }
    if (total > INT64_MAX)
        return fold_fail(n, OLIVE_EFORMAT, "concatenated size overflows");
    if (!(dims = olive_memdup(first->dims, first->rank * sizeof *dims)))
        return OLIVE_ENOMEM;
    dims[axis] = (int64_t)total;
    rc = fold_output(n, first->dtype, first->rank, dims, max_bytes, out, &dst);
    free(dims);
    if (rc != OLIVE_OK)
        return rc;
    esz = fold_elem_size(first->dtype);
    outer = span(first->dims, 0, axis);
    inner = span(first->dims, axis + 1, first->rank) * esz;
    for (uint64_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < n->n_inputs; i++) {
            uint64_t chunk = (uint64_t)in[i]->dims[axis] * inner;
            if (chunk) {
                memcpy(dst, oir_tensor_data(in[i]) + o * chunk, chunk);
                dst += chunk;
            }
        }
    }
    return OLIVE_OK;
}

int fold_transpose(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out)
{
    const oir_tensor *x;
    const oir_attr *pa = oir_node_attr(n, "perm");
    const uint8_t *src;
    uint8_t *dst;
    uint64_t numel;
    size_t r, esz;
    int64_t *perm = NULL, *dims = NULL;
    uint64_t *in_stride = NULL, *idx = NULL, *step = NULL;
    int rc = OLIVE_OK;
    OLIVE_TRY(fold_input(n, in, 0, &x));
    OLIVE_TRY(fold_data(n, x, &src, &numel));
    r = x->rank;
    esz = fold_elem_size(x->dtype);
    perm = olive_calloc(r + 1, sizeof *perm);
    dims = olive_calloc(r + 1, sizeof *dims);
    in_stride = olive_calloc(r + 1, sizeof *in_stride);
    idx = olive_calloc(r + 1, sizeof *idx);
    step = olive_calloc(r + 1, sizeof *step);
    if (!perm || !dims || !in_stride || !idx || !step) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    if (pa && pa->type == OIR_ATTR_INTS) {
        unsigned char *seen = (unsigned char *)idx; /* zeroed scratch, reset below */
        if (pa->n != r) {
            rc = fold_fail(n, OLIVE_EFORMAT, "perm has %zu entries for rank %zu", pa->n, r);
            goto out;
        }
        for (size_t i = 0; i < r; i++) {
            if (pa->ints[i] < 0 || (uint64_t)pa->ints[i] >= r || seen[pa->ints[i]]) {
                rc = fold_fail(n, OLIVE_EFORMAT, "perm is not a permutation of 0..%zu", r ? r - 1 : 0);
                goto out;
            }
            seen[pa->ints[i]] = 1;
            perm[i] = pa->ints[i];
        }
        memset(idx, 0, (r + 1) * sizeof *idx);
    } else {
        for (size_t i = 0; i < r; i++)
            perm[i] = (int64_t)(r - 1 - i);
    }
    for (size_t i = r; i-- > 0;)
        in_stride[i] = i + 1 < r ? in_stride[i + 1] * (uint64_t)x->dims[i + 1] : 1;
    for (size_t i = 0; i < r; i++) {
        dims[i] = x->dims[perm[i]];
        step[i] = in_stride[perm[i]];
    }
    if ((rc = fold_output(n, x->dtype, r, dims, max_bytes, out, &dst)) != OLIVE_OK)
        goto out;
    /* Walk the output in order, keeping the matching input offset in step. */
    {
        uint64_t off = 0;
        for (uint64_t o = 0; o < numel; o++) {
            memcpy(dst + o * esz, src + off * esz, esz);
            for (size_t i = r; i-- > 0;) {
                off += step[i];
                if (++idx[i] < (uint64_t)dims[i])
                    break;
                off -= step[i] * idx[i];
                idx[i] = 0;
            }
        }
    }
out:
    free(perm);
    free(dims);
    free(in_stride);
    free(idx);
    free(step);
    return rc;
}
