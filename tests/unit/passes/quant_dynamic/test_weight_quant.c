/* Weight quantization as ONNX Runtime's quantize_dynamic does it, on values chosen so that
 * the scales are exact and each code can be worked out by hand from the reference formulas:
 * scale = (rmax - rmin) / (qmax - qmin) over a range that includes 0 (made symmetric for
 * int8), zero point round(qmin - rmin / scale) for uint8, code round(v / scale) + zero point
 * with ties to even. */
#include <float.h>
#include <math.h>

#include "check.h"
#include "ir/ir.h"
#include "passes/quant_dynamic/weight_quant.h"

static int32_t code_of(int32_t dtype, int reduce, const float *v, size_t n, size_t i)
{
    float s = -1;
    int32_t zp = -1;
    CHECK(olive_dynq_params(dtype, reduce, v, n, 1, &s, &zp) == -1);
    return olive_dynq_code(dtype, v[i], s, zp);
}

static void ranges(void)
{
    int32_t lo, hi;
    olive_dynq_range(OIR_INT8, 0, &lo, &hi);
    CHECK(lo == -127 && hi == 127);
    olive_dynq_range(OIR_INT8, 1, &lo, &hi);
    CHECK(lo == -64 && hi == 64);
    olive_dynq_range(OIR_UINT8, 0, &lo, &hi);
    CHECK(lo == 0 && hi == 255);
    olive_dynq_range(OIR_UINT8, 1, &lo, &hi);
    CHECK(lo == 0 && hi == 127);
}

static void int8_symmetric(void)
{
    /* absmax 127 over [-127, 127]: scale 254 / 254 = 1, zero point 0. */
    float v[6] = {-127, 2.5f, 3.5f, -2.5f, 0.4f, 100.5f};
    float s;
    int32_t zp, want[6] = {-127, 2, 4, -2, 0, 100};
    CHECK(olive_dynq_params(OIR_INT8, 0, v, 6, 1, &s, &zp) == -1);
    CHECK(s == 1.0f && zp == 0);
    for (size_t i = 0; i < 6; i++)
        CHECK(olive_dynq_code(OIR_INT8, v[i], s, zp) == want[i]);
    /* Only positive values: the range still reaches -absmax. absmax 63.5: scale 0.5. */
    {
        float p[3] = {63.5f, 1.25f, 0.75f};
        CHECK(olive_dynq_params(OIR_INT8, 0, p, 3, 1, &s, &zp) == -1);
        CHECK(s == 0.5f && zp == 0);
        CHECK(olive_dynq_code(OIR_INT8, p[0], s, zp) == 127);
        CHECK(olive_dynq_code(OIR_INT8, p[1], s, zp) == 2); /* 2.5 -> 2 */
        CHECK(olive_dynq_code(OIR_INT8, p[2], s, zp) == 2); /* 1.5 -> 2 */
    }
}

static void int8_reduce_range(void)
{
    /* absmax 64 over [-64, 64]: scale 128 / 128 = 1. */
    float v[4] = {64, -0.5f, 1.5f, -64};
    float s;
    int32_t zp;
    CHECK(olive_dynq_params(OIR_INT8, 1, v, 4, 1, &s, &zp) == -1);
    CHECK(s == 1.0f && zp == 0);
    CHECK(code_of(OIR_INT8, 1, v, 4, 0) == 64);
    CHECK(code_of(OIR_INT8, 1, v, 4, 1) == 0);
    CHECK(code_of(OIR_INT8, 1, v, 4, 2) == 2);
    CHECK(code_of(OIR_INT8, 1, v, 4, 3) == -64);
    /* The same values without reduce_range: scale 128 / 254. */
    CHECK(olive_dynq_params(OIR_INT8, 0, v, 4, 1, &s, &zp) == -1);
    CHECK(s == (float)(128.0 / 254.0));
}

static void uint8_asymmetric(void)
{
    float s;
    int32_t zp;
    /* [-1, 254] over [0, 255]: scale 1, zero point 1. */
    {
        float v[4] = {-1, 0, 2.5f, 254};
        CHECK(olive_dynq_params(OIR_UINT8, 0, v, 4, 1, &s, &zp) == -1);
        CHECK(s == 1.0f && zp == 1);
        CHECK(olive_dynq_code(OIR_UINT8, v[0], s, zp) == 0);
        CHECK(olive_dynq_code(OIR_UINT8, v[1], s, zp) == 1);
        CHECK(olive_dynq_code(OIR_UINT8, v[2], s, zp) == 3); /* round(2.5) = 2, + 1 */
        CHECK(olive_dynq_code(OIR_UINT8, v[3], s, zp) == 255);
    }
    /* [-2.5, 252.5]: scale 1, zero point round(2.5) = 2 (ties to even). */
    {
        float v[2] = {-2.5f, 252.5f};
        CHECK(olive_dynq_params(OIR_UINT8, 0, v, 2, 1, &s, &zp) == -1);
        CHECK(s == 1.0f && zp == 2);
        CHECK(olive_dynq_code(OIR_UINT8, v[0], s, zp) == 0);   /* round(-2.5) = -2, + 2 */
        CHECK(olive_dynq_code(OIR_UINT8, v[1], s, zp) == 254); /* round(252.5) = 252, + 2 */
    }
    /* reduce_range: [-1, 126] over [0, 127]: scale 1, zero point 1. */
    {
        float v[2] = {-1, 126};
        CHECK(olive_dynq_params(OIR_UINT8, 1, v, 2, 1, &s, &zp) == -1);
        CHECK(s == 1.0f && zp == 1);
        CHECK(olive_dynq_code(OIR_UINT8, v[1], s, zp) == 127);
    }
    /* Only negative values: rmax is 0, the zero point is qmax. */
    {
        float v[2] = {-255, -3.5f};
        CHECK(olive_dynq_params(OIR_UINT8, 0, v, 2, 1, &s, &zp) == -1);
        CHECK(s == 1.0f && zp == 255);
        CHECK(olive_dynq_code(OIR_UINT8, v[0], s, zp) == 0);
        CHECK(olive_dynq_code(OIR_UINT8, v[1], s, zp) == 251); /* round(-3.5) = -4 */
    }
}

static void degenerate(void)
{
    float s;
    int32_t zp;
    float zeros[3] = {0, 0, 0};
    float tiny[2] = {1e-40f, -1e-41f}; /* a range whose scale would be below FLT_MIN */
    CHECK(olive_dynq_params(OIR_INT8, 0, zeros, 3, 1, &s, &zp) == -1);
    CHECK(s == 1.0f && zp == 0 && olive_dynq_code(OIR_INT8, 0, s, zp) == 0);
    CHECK(olive_dynq_params(OIR_UINT8, 0, zeros, 3, 1, &s, &zp) == -1);
    CHECK(s == 1.0f && zp == 0 && olive_dynq_code(OIR_UINT8, 0, s, zp) == 0);
    CHECK(olive_dynq_params(OIR_INT8, 0, tiny, 2, 1, &s, &zp) == -1);
    CHECK(s == 1.0f && zp == 0 && olive_dynq_code(OIR_INT8, tiny[0], s, zp) == 0);
    CHECK(olive_dynq_params(OIR_UINT8, 1, tiny, 2, 1, &s, &zp) == -1);
    CHECK(s == 1.0f && zp == 0);
    /* No values at all: scale 1, zero point 0 as well. */
    CHECK(olive_dynq_params(OIR_UINT8, 0, zeros, 0, 1, &s, &zp) == -1);
    CHECK(s == 1.0f && zp == 0);
}

static void non_finite(void)
{
    float s = 7;
    int32_t zp = 7;
    float v[3] = {1, NAN, 2};
    float strided[4] = {1, NAN, INFINITY, 3}; /* column 0 of a 2x2 matrix: {1, inf} */
    CHECK(olive_dynq_params(OIR_INT8, 0, v, 3, 1, &s, &zp) == 1);
    CHECK(olive_dynq_params(OIR_UINT8, 0, strided, 2, 2, &s, &zp) == 1);
    CHECK(olive_dynq_params(OIR_UINT8, 0, strided + 1, 2, 2, &s, &zp) == 0);
    CHECK(s == 7 && zp == 7); /* untouched on error */
}

static void strided_columns(void)
{
    /* A row-major 2x2 matrix read per column: column 0 {127, -3}, column 1 {-254, 5}. */
    float m[4] = {127, -254, -3, 5};
    float s;
    int32_t zp;
    CHECK(olive_dynq_params(OIR_INT8, 0, m, 2, 2, &s, &zp) == -1);
    CHECK(s == 1.0f && zp == 0);
    CHECK(olive_dynq_params(OIR_INT8, 0, m + 1, 2, 2, &s, &zp) == -1);
    CHECK(s == 2.0f && zp == 0);
    CHECK(olive_dynq_code(OIR_INT8, m[1], s, zp) == -127);
    CHECK(olive_dynq_code(OIR_INT8, m[3], s, zp) == 2); /* 2.5 -> 2 */
}

static void clipping(void)
{
    /* Codes are clipped to the type's full range, whatever range the scale came from. */
    CHECK(olive_dynq_code(OIR_INT8, 1000, 1, 0) == 127);
    CHECK(olive_dynq_code(OIR_INT8, -1000, 1, 0) == -128);
    CHECK(olive_dynq_code(OIR_UINT8, -5, 1, 3) == 0);
    CHECK(olive_dynq_code(OIR_UINT8, 300, 1, 3) == 255);
}

int main(void)
{
    ranges();
    int8_symmetric();
    int8_reduce_range();
    uint8_asymmetric();
    degenerate();
    non_finite();
    strided_columns();
    clipping();
    return check_summary("test_weight_quant");
}
