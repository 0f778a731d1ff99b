/* The constant evaluator (lib/passes/peephole/fold.h): each op on small tensors whose results
 * follow from the ONNX operator definitions, IEEE 754 and numpy broadcasting, worked out by
 * hand; plus the inputs it must decline. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/ir.h"
#include "passes/peephole/fold.h"

#define LIMIT (1u << 20)

static oir_tensor *tensor(int32_t dtype, size_t rank, const int64_t *dims, const void *data, size_t nbytes)
{
    oir_tensor *t = oir_tensor_new("in", dtype, rank, dims);
    if (t && oir_tensor_set_copy(t, data, nbytes) != OLIVE_OK) {
        oir_tensor_free(t);
        return NULL;
    }
    return t;
}

static oir_tensor *i64s(size_t rank, const int64_t *dims, const int64_t *v, size_t n)
{
    return tensor(OIR_INT64, rank, dims, v, n * 8);
}

static oir_tensor *f32s(size_t rank, const int64_t *dims, const float *v, size_t n)
{
    return tensor(OIR_FLOAT, rank, dims, v, n * 4);
}

static oir_node *node(const char *op, size_t n_in)
{
    static const char *const ins[] = {"a", "b", "c", "d"};
    const char *out = "out";
    return oir_node_new(op, "", "n", n_in, ins, 1, &out);
}

/* Evaluates and frees the node and inputs; returns the code, result in *out. */
static int eval(oir_node *n, oir_tensor **in, size_t n_in, uint64_t limit, oir_tensor **out)
{
    int rc;
    *out = NULL;
    rc = olive_fold_eval(n, (const oir_tensor *const *)in, limit, out);
    for (size_t i = 0; i < n_in; i++)
        oir_tensor_free(in[i]);
    oir_node_free(n);
    return rc;
}

static int dims_are(const oir_tensor *t, size_t rank, const int64_t *dims)
{
    return t && t->rank == rank && (!rank || !memcmp(t->dims, dims, rank * sizeof *dims));
}

static int i64_are(const oir_tensor *t, const int64_t *v, size_t n)
{
    return t && t->dtype == OIR_INT64 && t->nbytes == n * 8 && (!n || !memcmp(oir_tensor_data(t), v, n * 8));
}

static int f32_are(const oir_tensor *t, const float *v, size_t n)
{
    return t && t->dtype == OIR_FLOAT && t->nbytes == n * 4 && (!n || !memcmp(oir_tensor_data(t), v, n * 4));
}

static void test_shape(void)
{
    int64_t d[3] = {2, 5, 7}, want[3] = {2, 5, 7}, one = 1;
    oir_tensor *in[1], *out;
    oir_node *n;
    /* Shape reads only dims: a tensor without data works. */
    in[0] = oir_tensor_new("x", OIR_FLOAT, 3, d);
    CHECK_RC(eval(node("Shape", 1), in, 1, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 1, (int64_t[]){3}) && i64_are(out, want, 3));
    CHECK_STR(out->name, "out");
    oir_tensor_free(out);

    /* start=-2, end=-1: dims[1:2] */
    in[0] = oir_tensor_new("x", OIR_FLOAT, 3, d);
    n = node("Shape", 1);
    oir_node_set_attr_int(n, "start", -2);
    oir_node_set_attr_int(n, "end", -1);
    CHECK_RC(eval(n, in, 1, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 1, &one) && i64_are(out, (int64_t[]){5}, 1));
    oir_tensor_free(out);

    /* start past end: empty */
    in[0] = oir_tensor_new("x", OIR_FLOAT, 3, d);
    n = node("Shape", 1);
    oir_node_set_attr_int(n, "start", 2);
    oir_node_set_attr_int(n, "end", 1);
    CHECK_RC(eval(n, in, 1, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 1, (int64_t[]){0}) && out->nbytes == 0);
    oir_tensor_free(out);
}

static void test_reshape_squeeze_unsqueeze(void)
{
    int64_t d23[2] = {2, 3}, d3[1] = {3}, shape[3] = {0, -1, 1}, want[3] = {2, 3, 1};
    float v[6] = {1, 2, 3, 4, 5, 6};
    oir_tensor *in[2], *out;
    oir_node *n;

    in[0] = f32s(2, d23, v, 6);
    in[1] = i64s(1, d3, shape, 3);
    CHECK_RC(eval(node("Reshape", 2), in, 2, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 3, want) && f32_are(out, v, 6));
    oir_tensor_free(out);

    /* allowzero=1: 0 is a real zero, so 6 elements cannot become [0, 6] */
    in[0] = f32s(2, d23, v, 6);
    in[1] = i64s(1, (int64_t[]){2}, (int64_t[]){0, 6}, 2);
    n = node("Reshape", 2);
    oir_node_set_attr_int(n, "allowzero", 1);
    CHECK_RC(eval(n, in, 2, LIMIT, &out), OLIVE_EFORMAT);
    CHECK(out == NULL);

    /* two -1 entries */
    in[0] = f32s(2, d23, v, 6);
    in[1] = i64s(1, (int64_t[]){2}, (int64_t[]){-1, -1}, 2);
    CHECK_RC(eval(node("Reshape", 2), in, 2, LIMIT, &out), OLIVE_EFORMAT);

    /* Unsqueeze with the axes attribute (opset < 13): [2,3] -> axes {0,-1} -> [1,2,3,1] */
    in[0] = f32s(2, d23, v, 6);
    n = node("Unsqueeze", 1);
    oir_node_set_attr_ints(n, "axes", (int64_t[]){0, -1}, 2);
    CHECK_RC(eval(n, in, 1, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 4, (int64_t[]){1, 2, 3, 1}) && f32_are(out, v, 6));
    oir_tensor_free(out);

    /* Unsqueeze with an axes input (opset 13+): [2,3] -> axes {1} -> [2,1,3] */
    in[0] = f32s(2, d23, v, 6);
    in[1] = i64s(1, (int64_t[]){1}, (int64_t[]){1}, 1);
    CHECK_RC(eval(node("Unsqueeze", 2), in, 2, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 3, (int64_t[]){2, 1, 3}));
    oir_tensor_free(out);

    /* repeated axis */
    in[0] = f32s(2, d23, v, 6);
    in[1] = i64s(1, (int64_t[]){2}, (int64_t[]){1, -3}, 2); /* -3 of rank 4 is 1 */
    CHECK_RC(eval(node("Unsqueeze", 2), in, 2, LIMIT, &out), OLIVE_EFORMAT);

    /* Squeeze without axes drops every 1: [1,3,1,2] -> [3,2] */
    in[0] = f32s(4, (int64_t[]){1, 3, 1, 2}, v, 6);
    CHECK_RC(eval(node("Squeeze", 1), in, 1, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 2, (int64_t[]){3, 2}) && f32_are(out, v, 6));
    oir_tensor_free(out);

    /* Squeeze of an axis that is not 1 */
    in[0] = f32s(2, d23, v, 6);
    n = node("Squeeze", 1);
    oir_node_set_attr_ints(n, "axes", (int64_t[]){1}, 1);
    CHECK_RC(eval(n, in, 1, LIMIT, &out), OLIVE_EFORMAT);
}

static void test_gather_concat_transpose(void)
{
    int64_t d23[2] = {2, 3};
    float v[6] = {1, 2, 3, 4, 5, 6};
    oir_tensor *in[3], *out;
    oir_node *n;

    /* Gather axis 1 with indices [[2], [-3]] (shape [2,1]): out[i][j][0] = v[i][idx[j]] */
    in[0] = f32s(2, d23, v, 6);
    in[1] = i64s(2, (int64_t[]){2, 1}, (int64_t[]){2, -3}, 2);
    n = node("Gather", 2);
    oir_node_set_attr_int(n, "axis", 1);
    CHECK_RC(eval(n, in, 2, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 3, (int64_t[]){2, 2, 1}) && f32_are(out, (float[]){3, 1, 6, 4}, 4));
    oir_tensor_free(out);

    /* scalar int32 index on axis 0 picks a row and drops the axis */
    in[0] = f32s(2, d23, v, 6);
    in[1] = tensor(OIR_INT32, 0, NULL, (int32_t[]){1}, 4);
    CHECK_RC(eval(node("Gather", 2), in, 2, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 1, (int64_t[]){3}) && f32_are(out, (float[]){4, 5, 6}, 3));
    oir_tensor_free(out);

    /* out-of-range index */
    in[0] = f32s(2, d23, v, 6);
    in[1] = i64s(1, (int64_t[]){1}, (int64_t[]){2}, 1);
    CHECK_RC(eval(node("Gather", 2), in, 2, LIMIT, &out), OLIVE_EFORMAT);
    CHECK(out == NULL);

    /* Concat on axis -1: [2,3] ++ [2,1] -> [2,4] */
    in[0] = f32s(2, d23, v, 6);
    in[1] = f32s(2, (int64_t[]){2, 1}, (float[]){7, 8}, 2);
    n = node("Concat", 2);
    oir_node_set_attr_int(n, "axis", -1);
    CHECK_RC(eval(n, in, 2, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 2, (int64_t[]){2, 4}) && f32_are(out, (float[]){1, 2, 3, 7, 4, 5, 6, 8}, 8));
    oir_tensor_free(out);

    /* Concat with an empty input and int64 values */
    in[0] = i64s(1, (int64_t[]){2}, (int64_t[]){-1, 4}, 2);
    in[1] = i64s(1, (int64_t[]){0}, NULL, 0);
    in[2] = i64s(1, (int64_t[]){1}, (int64_t[]){9}, 1);
    n = node("Concat", 3);
    oir_node_set_attr_int(n, "axis", 0);
    CHECK_RC(eval(n, in, 3, LIMIT, &out), OLIVE_OK);
    CHECK(i64_are(out, (int64_t[]){-1, 4, 9}, 3));
    oir_tensor_free(out);

    /* mismatched types */
    in[0] = f32s(1, (int64_t[]){1}, v, 1);
    in[1] = i64s(1, (int64_t[]){1}, (int64_t[]){1}, 1);
    n = node("Concat", 2);
    oir_node_set_attr_int(n, "axis", 0);
    CHECK_RC(eval(n, in, 2, LIMIT, &out), OLIVE_EFORMAT);

    /* Transpose without perm reverses the axes */
    in[0] = f32s(2, d23, v, 6);
    CHECK_RC(eval(node("Transpose", 1), in, 1, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 2, (int64_t[]){3, 2}) && f32_are(out, (float[]){1, 4, 2, 5, 3, 6}, 6));
    oir_tensor_free(out);

    /* perm [1,2,0] of [2,1,3]: out[j][k][i] = in[i][j][k] -> shape [1,3,2] */
    in[0] = f32s(3, (int64_t[]){2, 1, 3}, v, 6);
    n = node("Transpose", 1);
    oir_node_set_attr_ints(n, "perm", (int64_t[]){1, 2, 0}, 3);
    CHECK_RC(eval(n, in, 1, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 3, (int64_t[]){1, 3, 2}) && f32_are(out, (float[]){1, 4, 2, 5, 3, 6}, 6));
    oir_tensor_free(out);

    /* perm that is not a permutation */
    in[0] = f32s(2, d23, v, 6);
    n = node("Transpose", 1);
    oir_node_set_attr_ints(n, "perm", (int64_t[]){0, 0}, 2);
    CHECK_RC(eval(n, in, 1, LIMIT, &out), OLIVE_EFORMAT);
}

static void test_arithmetic(void)
{
    oir_tensor *in[2], *out;

    /* broadcasting [2,1] + [3] -> [2,3] */
    in[0] = f32s(2, (int64_t[]){2, 1}, (float[]){10, 20}, 2);
    in[1] = f32s(1, (int64_t[]){3}, (float[]){1, 2, 3}, 3);
    CHECK_RC(eval(node("Add", 2), in, 2, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 2, (int64_t[]){2, 3}) && f32_are(out, (float[]){11, 12, 13, 21, 22, 23}, 6));
    oir_tensor_free(out);

    /* scalar - vector */
    in[0] = i64s(0, NULL, (int64_t[]){5}, 1);
    in[1] = i64s(1, (int64_t[]){3}, (int64_t[]){1, 7, -2}, 3);
    CHECK_RC(eval(node("Sub", 2), in, 2, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 1, (int64_t[]){3}) && i64_are(out, (int64_t[]){4, -2, 7}, 3));
    oir_tensor_free(out);

    /* integer Div truncates toward zero: -7/2 = -3, 7/-2 = -3, -7/-2 = 3 */
    in[0] = i64s(1, (int64_t[]){3}, (int64_t[]){-7, 7, -7}, 3);
    in[1] = i64s(1, (int64_t[]){3}, (int64_t[]){2, -2, -2}, 3);
    CHECK_RC(eval(node("Div", 2), in, 2, LIMIT, &out), OLIVE_OK);
    CHECK(i64_are(out, (int64_t[]){-3, -3, 3}, 3));
    oir_tensor_free(out);

    /* int32 Mul wraps: 65536 * 65536 = 2^32 -> 0 */
    in[0] = tensor(OIR_INT32, 0, NULL, (int32_t[]){65536}, 4);
    in[1] = tensor(OIR_INT32, 0, NULL, (int32_t[]){65536}, 4);
    CHECK_RC(eval(node("Mul", 2), in, 2, LIMIT, &out), OLIVE_OK);
    CHECK(out && out->dtype == OIR_INT32 && out->nbytes == 4 && *(const int32_t *)oir_tensor_data(out) == 0);
    oir_tensor_free(out);

    /* integer division by zero and INT32_MIN / -1 are left alone */
    in[0] = i64s(1, (int64_t[]){2}, (int64_t[]){4, 5}, 2);
    in[1] = i64s(1, (int64_t[]){2}, (int64_t[]){2, 0}, 2);
    CHECK_RC(eval(node("Div", 2), in, 2, LIMIT, &out), OLIVE_EUNSUPPORTED);
    CHECK(out == NULL);
    in[0] = tensor(OIR_INT32, 0, NULL, (int32_t[]){INT32_MIN}, 4);
    in[1] = tensor(OIR_INT32, 0, NULL, (int32_t[]){-1}, 4);
    CHECK_RC(eval(node("Div", 2), in, 2, LIMIT, &out), OLIVE_EUNSUPPORTED);

    /* float division by zero is IEEE: 1/0 = inf, -1/0 = -inf, 0/0 = NaN, 1/-0 = -inf */
    in[0] = f32s(1, (int64_t[]){4}, (float[]){1, -1, 0, 1}, 4);
    in[1] = f32s(1, (int64_t[]){4}, (float[]){0, 0, 0, -0.0f}, 4);
    CHECK_RC(eval(node("Div", 2), in, 2, LIMIT, &out), OLIVE_OK);
    if (out) {
        const float *r = (const float *)oir_tensor_data(out);
        CHECK(isinf(r[0]) && r[0] > 0 && isinf(r[1]) && r[1] < 0 && isnan(r[2]) && isinf(r[3]) && r[3] < 0);
    }
    oir_tensor_free(out);

    /* float16 Add: 1.0 (0x3C00) + 0.5 (0x3800) = 1.5 (0x3E00) */
    in[0] = tensor(OIR_FLOAT16, 0, NULL, (uint16_t[]){0x3C00}, 2);
    in[1] = tensor(OIR_FLOAT16, 0, NULL, (uint16_t[]){0x3800}, 2);
    CHECK_RC(eval(node("Add", 2), in, 2, LIMIT, &out), OLIVE_OK);
    CHECK(out && *(const uint16_t *)oir_tensor_data(out) == 0x3E00);
    oir_tensor_free(out);

    /* shapes that do not broadcast, and mixed types */
    in[0] = f32s(1, (int64_t[]){2}, (float[]){1, 2}, 2);
    in[1] = f32s(1, (int64_t[]){3}, (float[]){1, 2, 3}, 3);
    CHECK_RC(eval(node("Mul", 2), in, 2, LIMIT, &out), OLIVE_EFORMAT);
    in[0] = f32s(1, (int64_t[]){1}, (float[]){1}, 1);
    in[1] = i64s(1, (int64_t[]){1}, (int64_t[]){1}, 1);
    CHECK_RC(eval(node("Mul", 2), in, 2, LIMIT, &out), OLIVE_EFORMAT);

    /* bool arithmetic is not an ONNX thing */
    in[0] = tensor(OIR_BOOL, 0, NULL, (uint8_t[]){1}, 1);
    in[1] = tensor(OIR_BOOL, 0, NULL, (uint8_t[]){1}, 1);
    CHECK_RC(eval(node("Add", 2), in, 2, LIMIT, &out), OLIVE_EUNSUPPORTED);
}

static oir_tensor *cast1(int32_t from, const void *v, size_t size, int32_t to, int *rc)
{
    oir_tensor *in[1], *out;
    oir_node *n = node("Cast", 1);
    in[0] = tensor(from, 0, NULL, v, size);
    oir_node_set_attr_int(n, "to", to);
    *rc = eval(n, in, 1, LIMIT, &out);
    return out;
}

static uint16_t cast_to_half(float f)
{
    int rc;
    uint16_t h = 0xFFFF;
    oir_tensor *t = cast1(OIR_FLOAT, &f, 4, OIR_FLOAT16, &rc);
    if (rc == OLIVE_OK && t && t->nbytes == 2)
        memcpy(&h, oir_tensor_data(t), 2);
    oir_tensor_free(t);
    return h;
}

static void test_cast(void)
{
    int rc;
    oir_tensor *t;
    /* float -> float16, IEEE binary16 encodings */
    CHECK(cast_to_half(1.0f) == 0x3C00);
    CHECK(cast_to_half(-2.0f) == 0xC000);
    CHECK(cast_to_half(65504.0f) == 0x7BFF);              /* largest half */
    CHECK(cast_to_half(65519.0f) == 0x7BFF);              /* below the halfway point */
    CHECK(cast_to_half(65520.0f) == 0x7C00);              /* halfway rounds to even: inf */
    CHECK(cast_to_half(ldexpf(1, -24)) == 0x0001);        /* smallest subnormal */
    CHECK(cast_to_half(ldexpf(1, -25)) == 0x0000);        /* half of it: ties to even 0 */
    CHECK(cast_to_half(ldexpf(3, -25)) == 0x0002);        /* 1.5 units: ties to even 2 */
    CHECK(cast_to_half(ldexpf(1, -14)) == 0x0400);        /* smallest normal */
    CHECK(cast_to_half(1.0f + ldexpf(1, -11)) == 0x3C00); /* tie between 1 and 1+2^-10: even */
    CHECK(cast_to_half(1.0f + ldexpf(3, -11)) == 0x3C02); /* tie: rounds up to even */
    CHECK(cast_to_half(-0.0f) == 0x8000);
    CHECK(cast_to_half(INFINITY) == 0x7C00);
    CHECK((cast_to_half(NAN) & 0x7C00) == 0x7C00 && (cast_to_half(NAN) & 0x3FF) != 0);

    /* float16 -> float: 0x0001 = 2^-24, 0x7BFF = 65504 */
    t = cast1(OIR_FLOAT16, (uint16_t[]){0x0001}, 2, OIR_FLOAT, &rc);
    CHECK(rc == OLIVE_OK && f32_are(t, (float[]){ldexpf(1, -24)}, 1));
    oir_tensor_free(t);
    t = cast1(OIR_FLOAT16, (uint16_t[]){0x7BFF}, 2, OIR_FLOAT, &rc);
    CHECK(rc == OLIVE_OK && f32_are(t, (float[]){65504}, 1));
    oir_tensor_free(t);

    /* float -> bfloat16 rounds to nearest even: 1 + 2^-8 is a tie -> 1.0 (0x3F80) */
    t = cast1(OIR_FLOAT, (float[]){1.0f + ldexpf(1, -8)}, 4, OIR_BFLOAT16, &rc);
    CHECK(rc == OLIVE_OK && t && *(const uint16_t *)oir_tensor_data(t) == 0x3F80);
    oir_tensor_free(t);

    /* float -> int truncates toward zero */
    t = cast1(OIR_FLOAT, (float[]){-2.7f}, 4, OIR_INT64, &rc);
    CHECK(rc == OLIVE_OK && i64_are(t, (int64_t[]){-2}, 1));
    oir_tensor_free(t);
    /* NaN or out-of-range float -> int is undefined: declined */
    t = cast1(OIR_FLOAT, (float[]){NAN}, 4, OIR_INT32, &rc);
    CHECK(rc == OLIVE_EUNSUPPORTED && !t);
    t = cast1(OIR_FLOAT, (float[]){300.0f}, 4, OIR_UINT8, &rc);
    CHECK(rc == OLIVE_EUNSUPPORTED && !t);
    t = cast1(OIR_FLOAT, (float[]){-1.0f}, 4, OIR_UINT8, &rc);
    CHECK(rc == OLIVE_EUNSUPPORTED && !t);

    /* int64 -> int32 keeps the low 32 bits (two's complement) */
    t = cast1(OIR_INT64, (int64_t[]){((int64_t)1 << 32) - 3}, 8, OIR_INT32, &rc);
    CHECK(rc == OLIVE_OK && t && *(const int32_t *)oir_tensor_data(t) == -3);
    oir_tensor_free(t);

    /* to bool: non-zero (NaN included) is true */
    t = cast1(OIR_FLOAT, (float[]){NAN}, 4, OIR_BOOL, &rc);
    CHECK(rc == OLIVE_OK && t && t->dtype == OIR_BOOL && oir_tensor_data(t)[0] == 1);
    oir_tensor_free(t);
    t = cast1(OIR_FLOAT, (float[]){-0.0f}, 4, OIR_BOOL, &rc);
    CHECK(rc == OLIVE_OK && t && oir_tensor_data(t)[0] == 0);
    oir_tensor_free(t);
    /* bool -> float */
    t = cast1(OIR_BOOL, (uint8_t[]){1}, 1, OIR_FLOAT, &rc);
    CHECK(rc == OLIVE_OK && f32_are(t, (float[]){1}, 1));
    oir_tensor_free(t);

    /* double -> float beyond FLT_MAX is inf */
    t = cast1(OIR_DOUBLE, (double[]){1e300}, 8, OIR_FLOAT, &rc);
    CHECK(rc == OLIVE_OK && t && isinf(*(const float *)oir_tensor_data(t)));
    oir_tensor_free(t);

    /* strings are not evaluated */
    t = cast1(OIR_INT64, (int64_t[]){1}, 8, OIR_STRING, &rc);
    CHECK(rc == OLIVE_EUNSUPPORTED && !t);
}

static void test_range(void)
{
    oir_tensor *in[3], *out;
    /* int64: 10 down to -3 by -4 -> 10, 6, 2, -2 */
    in[0] = i64s(0, NULL, (int64_t[]){10}, 1);
    in[1] = i64s(0, NULL, (int64_t[]){-3}, 1);
    in[2] = i64s(0, NULL, (int64_t[]){-4}, 1);
    CHECK_RC(eval(node("Range", 3), in, 3, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 1, (int64_t[]){4}) && i64_are(out, (int64_t[]){10, 6, 2, -2}, 4));
    oir_tensor_free(out);

    /* empty when delta points away from limit */
    in[0] = i64s(0, NULL, (int64_t[]){0}, 1);
    in[1] = i64s(0, NULL, (int64_t[]){5}, 1);
    in[2] = i64s(0, NULL, (int64_t[]){-1}, 1);
    CHECK_RC(eval(node("Range", 3), in, 3, LIMIT, &out), OLIVE_OK);
    CHECK(dims_are(out, 1, (int64_t[]){0}));
    oir_tensor_free(out);

    /* float: 0, 0.5, 1.0 (exact in binary) */
    in[0] = f32s(0, NULL, (float[]){0}, 1);
    in[1] = f32s(0, NULL, (float[]){1.25f}, 1);
    in[2] = f32s(0, NULL, (float[]){0.5f}, 1);
    CHECK_RC(eval(node("Range", 3), in, 3, LIMIT, &out), OLIVE_OK);
    CHECK(f32_are(out, (float[]){0, 0.5f, 1.0f}, 3));
    oir_tensor_free(out);

    /* zero delta */
    in[0] = i64s(0, NULL, (int64_t[]){0}, 1);
    in[1] = i64s(0, NULL, (int64_t[]){5}, 1);
    in[2] = i64s(0, NULL, (int64_t[]){0}, 1);
    CHECK_RC(eval(node("Range", 3), in, 3, LIMIT, &out), OLIVE_EUNSUPPORTED);

    /* a huge count is refused before anything is allocated */
    in[0] = i64s(0, NULL, (int64_t[]){0}, 1);
    in[1] = i64s(0, NULL, (int64_t[]){INT64_MAX}, 1);
    in[2] = i64s(0, NULL, (int64_t[]){1}, 1);
    CHECK_RC(eval(node("Range", 3), in, 3, LIMIT, &out), OLIVE_EUNSUPPORTED);
    CHECK_ERROR_HAS("limit");
}

static void test_limits_and_bad_inputs(void)
{
    oir_tensor *in[2], *out;
    int64_t d[2] = {16, 16};
    float *v = calloc(256, sizeof *v);
    oir_node *n;
    /* 1 KiB result under a 1000-byte limit */
    in[0] = f32s(2, d, v, 256);
    CHECK_RC(eval(node("Transpose", 1), in, 1, 1000, &out), OLIVE_EUNSUPPORTED);
    CHECK(out == NULL);
    CHECK_ERROR_HAS("'n' (Transpose)");
    in[0] = f32s(2, d, v, 256);
    CHECK_RC(eval(node("Transpose", 1), in, 1, 1024, &out), OLIVE_OK);
    oir_tensor_free(out);
    /* a Reshape shares its input's bytes but is one more initializer: the limit holds too */
    in[0] = f32s(2, d, v, 256);
    in[1] = i64s(1, (int64_t[]){1}, (int64_t[]){-1}, 1);
    CHECK_RC(eval(node("Reshape", 2), in, 2, 1000, &out), OLIVE_EUNSUPPORTED);
    free(v);

    /* data shorter than the shape says */
    in[0] = oir_tensor_new("short", OIR_FLOAT, 1, (int64_t[]){4});
    in[0]->nbytes = 8; /* lies: no blob behind it */
    in[1] = f32s(1, (int64_t[]){4}, (float[]){1, 2, 3, 4}, 4);
    CHECK_RC(eval(node("Add", 2), in, 2, LIMIT, &out), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("'short'");

    /* missing input, unknown op, other domain */
    in[0] = f32s(1, (int64_t[]){1}, (float[]){1}, 1);
    in[1] = NULL;
    CHECK_RC(eval(node("Add", 2), in, 2, LIMIT, &out), OLIVE_EFORMAT);
    in[0] = f32s(1, (int64_t[]){1}, (float[]){1}, 1);
    CHECK_RC(eval(node("Relu", 1), in, 1, LIMIT, &out), OLIVE_EUNSUPPORTED);
    {
        static const char *const ins[] = {"a", "b"};
        const char *out_name = "out";
        n = oir_node_new("Add", "com.example", "n", 2, ins, 1, &out_name);
    }
    CHECK(!olive_fold_supports(n));
    oir_node_free(n);
}

int main(void)
{
    test_shape();
    test_reshape_squeeze_unsqueeze();
    test_gather_concat_transpose();
    test_arithmetic();
    test_cast();
    test_range();
    test_limits_and_bad_inputs();
    return check_summary("test_fold");
}
