/* The whole-weight quantizers (hqq.h, kquant.h) on inputs whose results are worked out by
 * hand; the integration tests compare them with ONNX Runtime's quantizers. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/ir.h"
#include "passes/quant/hqq.h"
#include "kernels/pairwise_sum.h"
#include "passes/quant/kquant.h"

static void pairwise_order(void)
{
    /* 2^24 + 1 + ... : a running sum stays at 2^24; eight partial sums keep the ones. */
    float a[10] = {16777216.0f, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(olive_pairwise_sum(a, 10) == 16777224.0f);
    CHECK(olive_pairwise_sum(a, 3) == 16777216.0f); /* under 8: in order */
}

static void kquant_exact_blocks(void)
{
    float v[16];
    uint8_t codes[16], zp;
    float scale;
    /* Values on a grid of step 0.5 from -2: the first candidate fits exactly. */
    for (int i = 0; i < 16; i++)
        v[i] = (float)i * 0.5f - 2.0f;
    olive_kquant_block(4, v, 16, 0, codes, &scale, &zp);
    CHECK(scale == 0.5f && zp == 4);
    for (int i = 0; i < 16; i++)
        CHECK(codes[i] == i);
    /* A constant block keeps scale 1; -3 gets zero point 3 and code 0 (decodes to -3). */
    for (int i = 0; i < 16; i++)
        v[i] = -3.0f;
    olive_kquant_block(4, v, 16, 0, codes, &scale, &zp);
    CHECK(scale == 1.0f && zp == 3 && codes[0] == 0 && codes[15] == 0);
    /* 8 bits: 0..255 step 1 fits scale 1, zero point 0. */
    {
        float w[256];
        uint8_t c8[256];
        for (int i = 0; i < 256; i++)
            w[i] = (float)i;
        olive_kquant_block(8, w, 256, 0, c8, &scale, &zp);
        CHECK(scale == 1.0f && zp == 0 && c8[0] == 0 && c8[255] == 255 && c8[100] == 100);
    }
}

static oir_tensor *weight(const char *name, int32_t dtype, int64_t k, int64_t n, const float *v)
{
    oir_tensor *t = oir_tensor_new(name, dtype, 2, (const int64_t[]){k, n});
    CHECK(t && oir_tensor_set_copy(t, v, (size_t)(k * n) * sizeof *v) == OLIVE_OK);
    return t;
}

static void hqq_exact_block(void)
{
    /* One channel holding 0..15 (K = 16, block 16): inverse scale 1, zero 0, codes 0..15, and
     * the solver has nothing to move. Block 2 of a K = 20 channel is padded with zeros. */
    float v[20];
    olive_quant_out o;
    oir_tensor *t;
    for (int i = 0; i < 20; i++)
        v[i] = (float)(i % 16);
    t = weight("W", OIR_FLOAT, 16, 1, v);
    CHECK(olive_hqq_quantize(t, 16, "mm", &o) == OLIVE_OK);
    CHECK(o.codes->size == 8 && o.scales->size == 4 && o.zps->size == 4);
    for (int j = 0; j < 8; j++)
        CHECK(o.codes->data[j] == (uint8_t)(2 * j | (2 * j + 1) << 4));
    {
        float s, z;
        memcpy(&s, o.scales->data, 4);
        memcpy(&z, o.zps->data, 4);
        CHECK(s == 1.0f && z == 0.0f);
    }
    olive_quant_out_free(&o);
    oir_tensor_free(t);

    t = weight("W", OIR_FLOAT, 20, 1, v);
    CHECK(olive_hqq_quantize(t, 16, "mm", &o) == OLIVE_OK);
    CHECK(o.codes->size == 16 && o.scales->size == 8 && o.zps->size == 8);
    olive_quant_out_free(&o);
    oir_tensor_free(t);
}

static void non_finite_named(void)
{
    float v[32] = {0};
    olive_quant_out o;
    olive_blockq p = {OLIVE_BLOCKQ_KQUANT, 4, 16, 0, 0};
    oir_tensor *t;
    v[2 * 5 + 1] = INFINITY; /* [5, 1] of a [16, 2] weight */
    t = weight("W", OIR_FLOAT, 16, 2, v);
    CHECK(olive_hqq_quantize(t, 16, "mm", &o) == OLIVE_EFORMAT);
    CHECK(strstr(olive_error_last(), "'W'") && strstr(olive_error_last(), "[5, 1]") &&
          strstr(olive_error_last(), "'mm'"));
    CHECK(!o.codes && !o.scales && !o.zps);
    CHECK(olive_kquant_quantize(&p, t, "mm", &o) == OLIVE_EFORMAT);
    CHECK(strstr(olive_error_last(), "[5, 1]"));
    oir_tensor_free(t);
}

/* Values whose range overflows float: no undefined conversion, codes in range. */
static void extreme_values(void)
{
    float v[32];
    olive_quant_out o;
    olive_blockq p = {OLIVE_BLOCKQ_KQUANT, 4, 16, 0, 0};
    oir_tensor *t;
    for (int i = 0; i < 32; i++)
        v[i] = i % 2 ? 3.0e38f : -3.0e38f;
    t = weight("W", OIR_FLOAT, 16, 2, v);
    CHECK(olive_hqq_quantize(t, 16, "mm", &o) == OLIVE_OK);
    for (size_t i = 0; o.codes && i < o.codes->size; i++)
        CHECK(o.codes->data[i] <= 0xff);
    olive_quant_out_free(&o);
    CHECK(olive_kquant_quantize(&p, t, "mm", &o) == OLIVE_OK);
    olive_quant_out_free(&o);
    oir_tensor_free(t);
}

int main(void)
{
    extreme_values();
    pairwise_order();
    kquant_exact_blocks();
    hqq_exact_block();
    non_finite_named();
    return check_summary("test_whole_weight");
}
