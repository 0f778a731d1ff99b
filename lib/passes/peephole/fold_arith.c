/* Add, Sub, Mul, Div with numpy-style multidirectional broadcasting. Floats compute in their
 * own precision (float16 and bfloat16 through float, as onnxruntime does); integers wrap like
 * two's complement and Div truncates toward zero. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "passes/peephole/fold.h"
#include "passes/peephole/fold_internal.h"

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };

static int op_code(const char *op)
{
    return !strcmp(op, "Add") ? OP_ADD : !strcmp(op, "Sub") ? OP_SUB : !strcmp(op, "Mul") ? OP_MUL : OP_DIV;
}

/* x / 0 as IEEE defines it, spelled out so no float division by zero is executed. */
static double div0(double a, double b)
{
    if (a == 0 || isnan(a))
        return NAN;
    return (signbit(a) != 0) != (signbit(b) != 0) ? -INFINITY : INFINITY;
}

static float fop(int op, float a, float b)
{
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    default: return b == 0 ? (float)div0(a, b) : a / b;
    }
}

static double dop(int op, double a, double b)
{
    switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    default: return b == 0 ? div0(a, b) : a / b;
    }
}

static int is_signed_int(int32_t t)
{
    return t == OIR_INT8 || t == OIR_INT16 || t == OIR_INT32 || t == OIR_INT64;
}
static int is_unsigned_int(int32_t t)
{
    return t == OIR_UINT8 || t == OIR_UINT16 || t == OIR_UINT32 || t == OIR_UINT64;
}

static int64_t load_signed(const uint8_t *p, size_t size)
{
    switch (size) {
    case 1: {
        int8_t x;
        memcpy(&x, p, 1);
        return x;
    }
    case 2: {
        int16_t x;
        memcpy(&x, p, 2);
        return x;
    }
    case 4: {
        int32_t x;
        memcpy(&x, p, 4);
        return x;
    }
    default: {
        int64_t x;
        memcpy(&x, p, 8);
        return x;
    }
    }
}

static uint64_t load_unsigned(const uint8_t *p, size_t size)
{
    uint64_t x = 0;
    memcpy(&x, p, size); /* little-endian: low bytes first */
    return x;
}

/* One element of the result; 0 when it has no defined value (integer division by zero,
 * MIN / -1). */
static int compute(int op, int32_t t, size_t size, const uint8_t *pa, const uint8_t *pb, uint8_t *out)
{
    if (t == OIR_FLOAT) {
        float a, b, r;
        memcpy(&a, pa, 4);
        memcpy(&b, pb, 4);
        r = fop(op, a, b);
        memcpy(out, &r, 4);
    } else if (t == OIR_DOUBLE) {
        double a, b, r;
        memcpy(&a, pa, 8);
        memcpy(&b, pb, 8);
        r = dop(op, a, b);
        memcpy(out, &r, 8);
    } else if (t == OIR_FLOAT16 || t == OIR_BFLOAT16) {
        uint16_t ha, hb, hr;
        memcpy(&ha, pa, 2);
        memcpy(&hb, pb, 2);
        if (t == OIR_FLOAT16)
            hr = olive_float_to_half(fop(op, olive_half_to_float(ha), olive_half_to_float(hb)));
        else
            hr = olive_float_to_bfloat16(fop(op, olive_bfloat16_to_float(ha), olive_bfloat16_to_float(hb)));
        memcpy(out, &hr, 2);
    } else if (is_signed_int(t)) {
        int64_t a = load_signed(pa, size), b = load_signed(pb, size);
        int64_t min = size == 8 ? INT64_MIN : -((int64_t)1 << (size * 8 - 1));
        uint64_t r;
        switch (op) {
        case OP_ADD: r = (uint64_t)a + (uint64_t)b; break;
        case OP_SUB: r = (uint64_t)a - (uint64_t)b; break;
        case OP_MUL: r = (uint64_t)a * (uint64_t)b; break;
        default:
            if (b == 0 || (a == min && b == -1))
                return 0;
            r = (uint64_t)(a / b);
        }
        memcpy(out, &r, size);
    } else {
        uint64_t a = load_unsigned(pa, size), b = load_unsigned(pb, size), r;
        switch (op) {
        case OP_ADD: r = a + b; break;
        case OP_SUB: r = a - b; break;
        case OP_MUL: r = a * b; break;
        default:
            if (b == 0)
                return 0;
            r = a / b;
        }
        memcpy(out, &r, size);
    }
    return 1;
}

/* Broadcast shape of a and b into dims (rank r), and each input's element step per output
 * axis (0 along broadcast axes). */
static int broadcast(const oir_node *n, const oir_tensor *a, const oir_tensor *b, size_t r, int64_t *dims,
                     uint64_t *step_a, uint64_t *step_b)
{
    uint64_t sa = 1, sb = 1;
    for (size_t i = r; i-- > 0;) {
        size_t ka = r - i, kb = r - i; /* position from the back */
        int64_t da = ka <= a->rank ? a->dims[a->rank - ka] : 1;
        int64_t db = kb <= b->rank ? b->dims[b->rank - kb] : 1;
        if (da != db && da != 1 && db != 1)
            return fold_fail(n, OLIVE_EFORMAT, "shapes of '%s' and '%s' do not broadcast (axis %zu: %lld vs %lld)",
                             a->name, b->name, i, (long long)da, (long long)db);
        dims[i] = da == 1 ? db : da;
        step_a[i] = da == 1 ? 0 : sa;
        step_b[i] = db == 1 ? 0 : sb;
        sa *= (uint64_t)da;
        sb *= (uint64_t)db;
    }
    return OLIVE_OK;
}

int fold_binary(const oir_node *n, const oir_tensor *const *in, uint64_t max_bytes, oir_tensor **out)
{
    const oir_tensor *a, *b;
    const uint8_t *pa, *pb;
    uint8_t *dst;
    uint64_t na, nb, *step_a = NULL, *step_b = NULL, *idx = NULL;
    int64_t *dims = NULL;
    size_t r, size;
    int op = op_code(n->op_type), rc = OLIVE_OK;
    OLIVE_TRY(fold_input(n, in, 0, &a));
    OLIVE_TRY(fold_input(n, in, 1, &b));
    if (a->dtype != b->dtype)
        return fold_fail(n, OLIVE_EFORMAT, "inputs '%s' (%s) and '%s' (%s) differ in type", a->name,
                         oir_dtype_name(a->dtype), b->name, oir_dtype_name(b->dtype));
    if (a->dtype != OIR_FLOAT && a->dtype != OIR_DOUBLE && a->dtype != OIR_FLOAT16 && a->dtype != OIR_BFLOAT16 &&
        !is_signed_int(a->dtype) && !is_unsigned_int(a->dtype))
        return fold_fail(n, OLIVE_EUNSUPPORTED, "element type %s is not evaluated", oir_dtype_name(a->dtype));
    OLIVE_TRY(fold_data(n, a, &pa, &na));
    OLIVE_TRY(fold_data(n, b, &pb, &nb));
    size = fold_elem_size(a->dtype);
    r = a->rank > b->rank ? a->rank : b->rank;
    dims = olive_calloc(r + 1, sizeof *dims);
    step_a = olive_calloc(r + 1, sizeof *step_a);
    step_b = olive_calloc(r + 1, sizeof *step_b);
    idx = olive_calloc(r + 1, sizeof *idx);
    if (!dims || !step_a || !step_b || !idx)
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = broadcast(n, a, b, r, dims, step_a, step_b);
    if (rc == OLIVE_OK)
        rc = fold_output(n, a->dtype, r, dims, max_bytes, out, &dst);
    if (rc == OLIVE_OK) {
        uint64_t numel, oa = 0, ob = 0;
        oir_tensor_numel(*out, &numel);
        for (uint64_t o = 0; o < numel; o++) {
            if (!compute(op, a->dtype, size, pa + oa * size, pb + ob * size, dst + o * size)) {
                oir_tensor_free(*out);
                *out = NULL;
                rc = fold_fail(n, OLIVE_EUNSUPPORTED, "integer division by zero or overflow at element %llu",
                               (unsigned long long)o);
                break;
            }
            for (size_t i = r; i-- > 0;) {
                oa += step_a[i];
                ob += step_b[i];
                if (++idx[i] < (uint64_t)dims[i])
                    break;
                oa -= step_a[i] * idx[i];
                ob -= step_b[i] * idx[i];
                idx[i] = 0;
            }
        }
    }
    free(dims);
    free(step_a);
    free(step_b);
    free(idx);
    return rc;
}
