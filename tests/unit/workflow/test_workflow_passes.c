/* A workflow's pass entries become pass instances through the facts of the registry: the Olive
 * type's fixed settings, renamed keys, keys with translated values, nested and ignored keys. */
#include <stdlib.h>

#include <jansson.h>

#include "olive/olive.h"
#include "check.h"
#include "passes/instance.h"
#include "workflow/workflow.h"

/* The entry `json` as a pass (NULL on failure, the error left set). */
static olive_pass *entry(const char *json, int strict)
{
    json_error_t err;
    json_t *obj = json_loads(json, 0, &err);
    wf_choice c = {0};
    int rc;
    CHECK(obj != NULL);
    rc = obj ? wf_pass_from_json(&c, obj, "passes.p", strict) : OLIVE_EINVALID;
    json_decref(obj);
    free(c.olive_type);
    return rc == OLIVE_OK ? c.pass : NULL;
}

/* The value of `key` in the pass made from `json` equals `want`. */
static void check_value(const char *json, const char *key, const char *want)
{
    olive_pass *p = entry(json, 1);
    const char *v = NULL;
    CHECK_MSG(p != NULL, "%s: %s", json, olive_error_last());
    if (!p)
        return;
    CHECK_RC(olive_pass_instance_get(p, key, &v), OLIVE_OK);
    CHECK_MSG(v && !strcmp(v, want), "%s: %s is '%s', expected '%s'", json, key, v ? v : "(null)", want);
    olive_pass_unref(p);
}

static void test_translated_keys(void)
{
    /* OnnxConversion's torch_dtype sets the converter's precision. */
    check_value("{\"type\": \"OnnxConversion\", \"torch_dtype\": \"float16\"}", "precision", "fp16");
    check_value("{\"type\": \"OnnxConversion\", \"torch_dtype\": \"bfloat16\"}", "precision", "bf16");
    check_value("{\"type\": \"OnnxConversion\"}", "precision", "fp32");
    /* Olive's fp16 pass takes bf16 as a flag; false leaves the dtype as it is. */
    check_value("{\"type\": \"OnnxFloatToFloat16\", \"use_bf16\": true}", "dtype", "bfloat16");
    check_value("{\"type\": \"OnnxFloatToFloat16\", \"use_bf16\": false}", "dtype", "float16");
    CHECK(entry("{\"type\": \"OnnxFloatToFloat16\", \"use_bf16\": \"maybe\"}", 1) == NULL);
    CHECK_ERROR_HAS("passes.p.use_bf16 takes true or false");
    CHECK(entry("{\"type\": \"OnnxConversion\", \"torch_dtype\": \"int7\"}", 1) == NULL);
    CHECK_ERROR_HAS("passes.p.torch_dtype takes float32, float16 or bfloat16");
}

static void test_type_renames_fixed_nested_and_ignored(void)
{
    /* ModelBuilder's own names, also inside extra_options. */
    check_value("{\"type\": \"ModelBuilder\", \"int4_block_size\": 64}", "block_size", "64");
    check_value("{\"type\": \"ModelBuilder\", \"extra_options\": {\"int4_accuracy_level\": 4}}", "accuracy_level", "4");
    /* Under our own name the builder's name is our int4_block_size parameter, not a rename. */
    check_value("{\"type\": \"convert\", \"int4_block_size\": 64}", "block_size", "32");
    /* The settings an Olive type implies come first; the entry's own win. */
    check_value("{\"type\": \"OnnxMatMul4Quantizer\"}", "bits", "4");
    check_value("{\"type\": \"OnnxMatMul4Quantizer\", \"block_size\": 32}", "block_size", "32");
    /* Olive's RTN pass also quantizes Gather tables, in its own layout; the quantize pass's own
     * defaults stay (no Gathers, ONNX Runtime's layout). */
    check_value("{\"type\": \"OnnxBlockWiseRtnQuantization\"}", "quantize_embeddings", "true");
    check_value("{\"type\": \"OnnxBlockWiseRtnQuantization\"}", "layout", "olive");
    check_value("{\"type\": \"quantize\"}", "quantize_embeddings", "false");
    check_value("{\"type\": \"quantize\"}", "layout", "onnxruntime");
    /* Keys that tune Olive's own machinery are accepted even when strict... */
    check_value("{\"type\": \"OnnxBlockWiseRtnQuantization\", \"quant_axes\": {\"MatMul\": 0}}", "bits", "4");
    check_value("{\"type\": \"OnnxBlockWiseRtnQuantization\", \"axis\": 1}", "bits", "4");
    check_value("{\"type\": \"OnnxDynamicQuantization\", \"extra_options\": {\"x\": 1}}", "per_channel", "false");
    /* ...but only for the type that ignores them. */
    CHECK(entry("{\"type\": \"OnnxPeepholeOptimizer\", \"quant_axes\": 1}", 1) == NULL);
    CHECK_ERROR_HAS("unknown parameter 'quant_axes'");
    CHECK(entry("{\"type\": \"NoSuchOlivePass\"}", 1) == NULL);
    CHECK_ERROR_HAS("OnnxMatMul4Quantizer"); /* the known types are listed */
}

int main(void)
{
    test_translated_keys();
    test_type_renames_fixed_nested_and_ignored();
    return check_summary("test_workflow_passes");
}
