/* The converter's quantization plan (decoder_plan.h): Olive's k-quant layer rule written out by
 * hand for a few layer counts (from selective_mixed_precision.py: i < n/8, i >= 7n/8, or
 * (i - n//8) % 3 == 2), the merge of selection and overrides, and refusals of malformed plans.
 * The plan on real checkpoints is checked against Olive's own selection by
 * tests/integration/test_selective_mixed_precision.py. */
#include <string.h>

#include "check.h"

#include "core/status.h"
#include "passes/convert/decoder_plan.h"

static void test_layer_rule(void)
{
    /* n = 16: 0, 1 (< 2), 14, 15 (>= 14), and 4, 7, 10, 13 ((i - 2) % 3 == 2) */
    static const int want16[16] = {1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1};
    /* n = 9: 0, 1 (< 1.125), 8 (>= 7.875), 3, 6 ((i - 1) % 3 == 2) */
    static const int want9[9] = {1, 1, 0, 1, 0, 0, 1, 0, 1};
    /* n = 2: 0 (< 0.25); 1 is neither >= 1.75 nor (1 - 0) % 3 == 2 */
    for (int i = 0; i < 16; i++)
        CHECK_MSG(cvt_plan_k_quant_layer(i, 16) == want16[i], "layer %d of 16", i);
    for (int i = 0; i < 9; i++)
        CHECK_MSG(cvt_plan_k_quant_layer(i, 9) == want9[i], "layer %d of 9", i);
    CHECK(cvt_plan_k_quant_layer(0, 2) && !cvt_plan_k_quant_layer(1, 2));
}

static void test_merge(void)
{
    cvt_quant_plan *p = NULL;
    cvt_module_quant q;
    CHECK_RC(cvt_plan_parse("{\"bits\": 4, \"group_size\": 32, \"symmetric\": false, \"lm_head\": true, "
                            "\"selective\": {\"algorithm\": \"k_quant_mixed\", \"high_bits\": 8}, "
                            "\"overrides\": {\"model.layers.0.mlp.down_proj\": {\"bits\": 4, \"group_size\": 64}, "
                            "\"model.layers.1.mlp.up_proj\": {\"symmetric\": true}}}",
                            16, 0, &p),
             OLIVE_OK);
    if (!p)
        return;
    q = cvt_plan_module(p, "model.layers.4.self_attn.k_proj", 0, 0);
    CHECK(q.quantize && q.bits == 8 && q.block_size == 32 && !q.symmetric);
    q = cvt_plan_module(p, "model.layers.4.mlp.gate_proj", 0, 0);
    CHECK(q.bits == 4);
    q = cvt_plan_module(p, "model.layers.0.mlp.down_proj", 0, 0); /* the override wins */
    CHECK(q.bits == 4 && q.block_size == 64);
    q = cvt_plan_module(p, "model.layers.1.mlp.up_proj", 0, 0);
    CHECK(q.bits == 4 && q.symmetric);
    q = cvt_plan_module(p, "lm_head", 1, 0);
    CHECK(q.quantize && q.bits == 8);
    q = cvt_plan_module(p, "model.embed_tokens", 0, 1); /* embeds not asked */
    CHECK(!q.quantize);
    cvt_plan_free(p);
    /* k_quant_last: the head only; without lm_head it stays float */
    CHECK_RC(cvt_plan_parse("{\"selective\": {\"algorithm\": \"k_quant_last\"}, \"embeds\": true}", 16, 1, &p),
             OLIVE_OK);
    if (!p)
        return;
    CHECK(!cvt_plan_module(p, "lm_head", 1, 0).quantize);
    CHECK(cvt_plan_module(p, "model.embed_tokens", 0, 1).bits == 8); /* tied: follows the head's selection */
    CHECK(cvt_plan_module(p, "model.layers.0.mlp.down_proj", 0, 0).bits == 4);
    cvt_plan_free(p);
}

static void test_refusals(void)
{
    static const char *const bad[][2] = {
        {"[1]", "expected a JSON object"},
        {"{\"bits\": 5}", "bits must be 4 or 8"},
        {"{\"group_size\": 48}", "group_size 48"},
        {"{\"selective\": {\"algorithm\": \"kld\"}}", "'kld'"},
        {"{\"selective\": {\"algorithm\": \"kld_gradient\", \"group_size\": 32}}", "kld_gradient needs a ratio"},
        {"{\"overrides\": {\"lm_head\": {\"bits\": 3}}}", "overrides.lm_head"},
        {"{\"selective\": {\"algorithm\": \"snr\", \"ratio\": 1.5, \"group_size\": 32}}", "ratio"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cvt_quant_plan *p = NULL;
        CHECK_RC(cvt_plan_parse(bad[i][0], 4, 0, &p), OLIVE_EINVALID);
        CHECK_MSG(!p && strstr(olive_error_last(), bad[i][1]), "%s: %s", bad[i][0], olive_error_last());
    }
}

int main(void)
{
    test_layer_rule();
    test_merge();
    test_refusals();
    return check_summary("test_decoder_plan");
}
