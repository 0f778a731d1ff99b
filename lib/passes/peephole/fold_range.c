/* Range(start, limit, delta). The element count is ceil((limit - start) / delta) computed as
 * onnxruntime does (the difference in the element type, the division in double), and values
 * accumulate `start += delta` in the element type, like its kernel. */
#include <math.h>
#include <string.h>

#include "passes/peephole/fold_internal.h"

static int scalar(const oir_node *n, const oir_tensor *const *in, size_t i, int32_t dtype, const uint8_t **p)
{
    const oir_tensor *t;
    uint64_t numel;
    OLIVE_TRY(fold_input(n, in, i, &t));
    OLIVE_TRY(fold_data(n, t, p, &numel));
    if (numel != 1 || t->dtype != dtype)
        return fold_fail(n, OLIVE_EFORMAT, "input '%s' must be a scalar of the same type as 'start'", t->name);
    return OLIVE_OK;
}

int fold_range(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out)
{
    const oir_tensor *first;
    const uint8_t *ps, *pl, *pd;
    uint8_t *dst;
    int32_t t;
    size_t size;
    double count;
    int64_t len;
    OLIVE_TRY(fold_input(n, in, 0, &first));
    t = first->dtype;
    if (t != OIR_FLOAT && t != OIR_DOUBLE && t != OIR_INT16 && t != OIR_INT32 && t != OIR_INT64)
        return fold_fail(n, OLIVE_EUNSUPPORTED, "element type %s is not evaluated", oir_dtype_name(t));
    OLIVE_TRY(scalar(n, in, 0, t, &ps));
    OLIVE_TRY(scalar(n, in, 1, t, &pl));
    OLIVE_TRY(scalar(n, in, 2, t, &pd));
    size = fold_elem_size(t);
    if (t == OIR_FLOAT || t == OIR_DOUBLE) {
        double diff, d;
        if (t == OIR_FLOAT) {
            float fs, fl, fd;
            memcpy(&fs, ps, 4);
            memcpy(&fl, pl, 4);
            memcpy(&fd, pd, 4);
            diff = (double)(fl - fs); /* the difference is taken in float */
            d = fd;
        } else {
            double s, l;
            memcpy(&s, ps, 8);
            memcpy(&l, pl, 8);
            memcpy(&d, pd, 8);
            diff = l - s;
        }
        if (d == 0 || !isfinite(diff) || !isfinite(d))
            return fold_fail(n, OLIVE_EUNSUPPORTED, "delta is zero or a bound is not finite");
        count = ceil(diff / d);
    } else {
        int64_t s = 0, l = 0, d = 0, diff;
        memcpy(&s, ps, size); /* sign-extended below */
        memcpy(&l, pl, size);
        memcpy(&d, pd, size);
        if (size < 8) {
            int shift = 64 - 8 * (int)size;
            s = (int64_t)((uint64_t)s << shift) >> shift;
            l = (int64_t)((uint64_t)l << shift) >> shift;
            d = (int64_t)((uint64_t)d << shift) >> shift;
        }
        if (d == 0 || __builtin_sub_overflow(l, s, &diff))
            return fold_fail(n, OLIVE_EUNSUPPORTED, "delta is zero or limit - start overflows");
        count = ceil((double)diff / (double)d);
    }
    if (!(count <= (double)(max_bytes / size)))
        return fold_fail(n, OLIVE_EUNSUPPORTED, "the result would have %g elements, over the limit of %llu bytes",
                         count, (unsigned long long)max_bytes);
    len = count > 0 ? (int64_t)count : 0;
    OLIVE_TRY(fold_output(n, t, 1, &len, max_bytes, out, &dst));
    if (t == OIR_FLOAT) {
        float v, d;
        memcpy(&v, ps, 4);
        memcpy(&d, pd, 4);
        for (int64_t i = 0; i < len; i++, v += d)
            memcpy(dst + 4 * i, &v, 4);
    } else if (t == OIR_DOUBLE) {
        double v, d;
        memcpy(&v, ps, 8);
        memcpy(&d, pd, 8);
        for (int64_t i = 0; i < len; i++, v += d)
            memcpy(dst + 8 * i, &v, 8);
    } else {
        /* Every written value lies between start and limit, so it fits the type; wrapping
         * arithmetic only avoids overflow in the step after the last one. */
        uint64_t v = 0, d = 0;
        memcpy(&v, ps, size);
        memcpy(&d, pd, size);
        if (size < 8 && (d >> (8 * size - 1)))
            d |= ~(uint64_t)0 << (8 * size); /* sign-extend a negative delta */
        for (int64_t i = 0; i < len; i++, v += d)
            memcpy(dst + size * (size_t)i, &v, size);
    }
    return OLIVE_OK;
}
