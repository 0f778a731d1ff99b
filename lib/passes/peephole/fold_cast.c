/* Cast between bool, the float types and the integer types, element by element. */
#include <math.h>
#include <string.h>

#include "passes/peephole/fold.h"
#include "passes/peephole/fold_internal.h"

/* One element, widened: a float (any float type), a signed or an unsigned integer (bool is
 * unsigned). */
typedef struct {
    enum { V_FLOAT, V_INT, V_UINT } kind;
    double f;
    int64_t i;
    uint64_t u;
} value;

static int castable(int32_t t)
{
    switch (t) {
    case OIR_FLOAT:
    case OIR_DOUBLE:
    case OIR_FLOAT16:
    case OIR_BFLOAT16:
    case OIR_BOOL:
    case OIR_INT8:
    case OIR_INT16:
    case OIR_INT32:
    case OIR_INT64:
    case OIR_UINT8:
    case OIR_UINT16:
    case OIR_UINT32:
    case OIR_UINT64: return 1;
    default: return 0;
    }
}

static value load(int32_t t, const uint8_t *p)
{
    value v = {V_FLOAT, 0, 0, 0};
    switch (t) {
    case OIR_FLOAT: {
        float x;
        memcpy(&x, p, 4);
        v.f = x;
        break;
    }
    case OIR_DOUBLE: memcpy(&v.f, p, 8); break;
    case OIR_FLOAT16: {
        uint16_t h;
        memcpy(&h, p, 2);
        v.f = olive_half_to_float(h);
        break;
    }
    case OIR_BFLOAT16: {
        uint16_t h;
        memcpy(&h, p, 2);
        v.f = olive_bfloat16_to_float(h);
        break;
    }
    case OIR_INT8: {
        int8_t x;
        memcpy(&x, p, 1);
        v.kind = V_INT;
        v.i = x;
        break;
    }
    case OIR_INT16: {
        int16_t x;
        memcpy(&x, p, 2);
        v.kind = V_INT;
        v.i = x;
        break;
    }
    case OIR_INT32: {
        int32_t x;
        memcpy(&x, p, 4);
        v.kind = V_INT;
        v.i = x;
        break;
    }
    case OIR_INT64:
        memcpy(&v.i, p, 8);
        v.kind = V_INT;
        break;
    case OIR_UINT8:
        v.kind = V_UINT;
        v.u = p[0];
        break;
    case OIR_BOOL:
        v.kind = V_UINT;
        v.u = p[0] != 0;
        break;
    case OIR_UINT16: {
        uint16_t x;
        memcpy(&x, p, 2);
        v.kind = V_UINT;
        v.u = x;
        break;
    }
    case OIR_UINT32: {
        uint32_t x;
        memcpy(&x, p, 4);
        v.kind = V_UINT;
        v.u = x;
        break;
    }
    case OIR_UINT64:
        memcpy(&v.u, p, 8);
        v.kind = V_UINT;
        break;
    }
    return v;
}

/* double -> float as IEEE rounding does, without relying on C for out-of-range values. */
static float narrow(double d)
{
    if (!isnan(d) && fabs(d) >= 0x1.ffffffp+127)
        return d < 0 ? -INFINITY : INFINITY;
    return (float)d;
}

static float as_float(value v)
{
    return v.kind == V_FLOAT ? narrow(v.f) : v.kind == V_INT ? (float)v.i : (float)v.u;
}

/* Integer range of a target type as doubles: [lo, hi). */
static void int_range(int32_t t, double *lo, double *hi)
{
    unsigned bits = oir_dtype_bits(t);
    int is_signed = t == OIR_INT8 || t == OIR_INT16 || t == OIR_INT32 || t == OIR_INT64;
    *lo = is_signed ? -ldexp(1, (int)bits - 1) : 0;
    *hi = is_signed ? ldexp(1, (int)bits - 1) : ldexp(1, (int)bits);
}

/* Writes v as type t at p; returns 0 when the value has no defined result in t. */
static int store(int32_t t, uint8_t *p, value v)
{
    switch (t) {
    case OIR_FLOAT: {
        float x = as_float(v);
        memcpy(p, &x, 4);
        return 1;
    }
    case OIR_DOUBLE: {
        double x = v.kind == V_FLOAT ? v.f : v.kind == V_INT ? (double)v.i : (double)v.u;
        memcpy(p, &x, 8);
        return 1;
    }
    case OIR_FLOAT16: {
        uint16_t h = olive_float_to_half(as_float(v));
        memcpy(p, &h, 2);
        return 1;
    }
    case OIR_BFLOAT16: {
        uint16_t h = olive_float_to_bfloat16(as_float(v));
        memcpy(p, &h, 2);
        return 1;
    }
    case OIR_BOOL: p[0] = v.kind == V_FLOAT ? v.f != 0 : v.kind == V_INT ? v.i != 0 : v.u != 0; return 1;
    default: {
        /* Integers: floats truncate toward zero and must fit; integers wrap (two's complement). */
        uint64_t bits;
        if (v.kind == V_FLOAT) {
            double lo, hi, tr = trunc(v.f);
            int_range(t, &lo, &hi);
            if (isnan(v.f) || tr < lo || tr >= hi)
                return 0;
            bits = lo < 0 ? (uint64_t)(int64_t)tr : (uint64_t)tr;
        } else {
            bits = v.kind == V_INT ? (uint64_t)v.i : v.u;
        }
        memcpy(p, &bits, oir_dtype_bits(t) / 8); /* little-endian: the low bytes */
        return 1;
    }
    }
}

int fold_cast(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out)
{
    const oir_tensor *x;
    const oir_attr *to = oir_node_attr(n, "to");
    const uint8_t *src;
    uint8_t *dst;
    uint64_t numel;
    size_t sin, sout;
    OLIVE_TRY(fold_input(n, in, 0, &x));
    if (!to || to->type != OIR_ATTR_INT)
        return fold_fail(n, OLIVE_EFORMAT, "attribute 'to' is required");
    if (!castable(x->dtype) || !castable((int32_t)to->i))
        return fold_fail(n, OLIVE_EUNSUPPORTED, "cast from %s to %s is not evaluated", oir_dtype_name(x->dtype),
                         oir_dtype_name((int32_t)to->i));
    OLIVE_TRY(fold_data(n, x, &src, &numel));
    if (to->i == x->dtype)
        return fold_view(n, x, x->rank, x->dims, max_bytes, out);
    OLIVE_TRY(fold_output(n, (int32_t)to->i, x->rank, x->dims, max_bytes, out, &dst));
    sin = fold_elem_size(x->dtype);
    sout = fold_elem_size((int32_t)to->i);
    for (uint64_t i = 0; i < numel; i++) {
        if (!store((int32_t)to->i, dst + i * sout, load(x->dtype, src + i * sin))) {
            oir_tensor_free(*out);
            *out = NULL;
            return fold_fail(n, OLIVE_EUNSUPPORTED, "element %llu is NaN or out of the range of %s",
                             (unsigned long long)i, oir_dtype_name((int32_t)to->i));
        }
    }
    return OLIVE_OK;
}
