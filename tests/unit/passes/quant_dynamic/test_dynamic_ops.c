/* quantize_dynamic on Conv, com.microsoft Attention and in the QDQ form, on graphs built
 * through the IR: the nodes, names, attributes and tensors each becomes, and what stays. The
 * bytes are compared with ONNX Runtime's by the integration test. */
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/ir.h"
#include "pass_test_util.h"
#include "passes/quant_dynamic/quantize_dynamic.h"
#include "passes/registry.h"

static int run_with(oir_model *m, const setting *set)
{
    return pass_run_with(&olive_pass_quantize_dynamic, m, set, NULL);
}

static float values[4 * 3 * 3 * 3];

static oir_model *conv_model(int with_bias)
{
    oir_model *m = ir_model(17);
    oir_node *n;
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        values[i] = (float)((int)i % 7) - 3.0f;
    ir_io(m->graph, 0, "X", OIR_FLOAT, 4, (const int64_t[]){1, 3, 8, 8});
    ir_init(m->graph, "W", OIR_FLOAT, 4, (const int64_t[]){4, 3, 3, 3}, values, sizeof values);
    ir_init(m->graph, "B", OIR_FLOAT, 1, (const int64_t[]){4}, values, 4 * sizeof(float));
    n = ir_add(m->graph, "Conv", "conv", with_bias ? LIST("X", "W", "B") : LIST("X", "W"), LIST("Y"));
    CHECK(oir_node_set_attr_ints(n, "pads", (const int64_t[]){1, 1, 1, 1}, 4) == OLIVE_OK);
    ir_io(m->graph, 1, "Y", OIR_FLOAT, 4, (const int64_t[]){1, 4, 8, 8});
    return m;
}

static void conv(void)
{
    oir_model *m = conv_model(1);
    const oir_node *ci, *add;
    const oir_tensor *shape, *q;
    int64_t want[4] = {1, -1, 1, 1};
    CHECK_RC(run_with(m, (const setting[]){{"op_types_to_quantize", "Conv"}, {NULL, NULL}}), OLIVE_OK);
    CHECK(ir_count_ops(m->graph, "ConvInteger") == 1 && ir_count_ops(m->graph, "Conv") == 0);
    CHECK(ir_count_ops(m->graph, "DynamicQuantizeLinear") == 1 && ir_count_ops(m->graph, "Reshape") == 1);
    CHECK((ci = ir_named(m->graph, "conv_quant")) != NULL);
    if (ci) {
        oir_attr *pads = oir_node_attr(ci, "pads");
        CHECK(pads && pads->n == 4 && pads->ints[0] == 1);
        CHECK_STR(ci->inputs[1], "W_quantized");
        CHECK_STR(ci->outputs[0], "Y_output_quantized");
    }
    CHECK((add = ir_named(m->graph, "Y_bias_add")) != NULL);
    if (add) {
        CHECK_STR(add->inputs[0], "Yquant_scaled_output");
        CHECK_STR(add->outputs[0], "Y");
    }
    CHECK(ir_named(m->graph, "conv_quant_scales_mul") && ir_named(m->graph, "conv_quant_output_scale_mul"));
    shape = oir_graph_initializer(m->graph, "Y_bias_reshape_shape");
    CHECK(shape && shape->dtype == OIR_INT64 && shape->nbytes == sizeof want &&
          !memcmp(oir_tensor_data(shape), want, sizeof want));
    q = oir_graph_initializer(m->graph, "W_quantized");
    CHECK(q && q->dtype == OIR_INT8 && q->rank == 4 && q->dims[1] == 3);
    /* per tensor whatever per_channel says: one scale */
    CHECK(!oir_graph_initializer(m->graph, "W"));
    CHECK(oir_model_validate(m) == OLIVE_OK);
    oir_model_free(m);

    /* Without a bias the output Mul writes Y. */
    m = conv_model(0);
    CHECK_RC(run_with(m, (const setting[]){{"op_types_to_quantize", "Conv"}, {"per_channel", "true"}, {NULL, NULL}}),
             OLIVE_OK);
    CHECK(ir_count_ops(m->graph, "Reshape") == 0);
    CHECK(ir_named(m->graph, "conv_quant_output_scale_mul") &&
          !strcmp(ir_named(m->graph, "conv_quant_output_scale_mul")->outputs[0], "Y"));
    CHECK(oir_graph_initializer(m->graph, "W_scale") && oir_graph_initializer(m->graph, "W_scale")->rank == 0);
    oir_model_free(m);

    /* Conv is not in the default op list. */
    m = conv_model(1);
    CHECK_RC(run_with(m, NULL), OLIVE_OK);
    CHECK(ir_count_ops(m->graph, "Conv") == 1 && ir_count_ops(m->graph, "ConvInteger") == 0);
    oir_model_free(m);
}

static oir_model *attention_model(int with_qkv_sizes)
{
    oir_model *m = ir_model(17);
    oir_node *n;
    const char *ins[4] = {"X", "Wqkv", "Bqkv", "mask"}, *outs[1] = {"Y"};
    static float w[8 * 24], b[24];
    for (int i = 0; i < 8 * 24; i++)
        w[i] = (float)(i % 11) * 0.1f - 0.5f;
    oir_model_require_opset(m, "com.microsoft", 1);
    ir_io(m->graph, 0, "X", OIR_FLOAT, 3, (const int64_t[]){1, 2, 8});
    ir_io(m->graph, 0, "mask", OIR_INT32, 2, (const int64_t[]){1, 2});
    ir_init(m->graph, "Wqkv", OIR_FLOAT, 2, (const int64_t[]){8, 24}, w, sizeof w);
    ir_init(m->graph, "Bqkv", OIR_FLOAT, 1, (const int64_t[]){24}, b, sizeof b);
    n = oir_node_new("Attention", "com.microsoft", "attn", 4, ins, 1, outs);
    CHECK(n && oir_node_set_attr_int(n, "num_heads", 2) == OLIVE_OK && oir_graph_add_node(m->graph, n) == OLIVE_OK);
    if (with_qkv_sizes)
        CHECK(oir_node_set_attr_ints(n, "qkv_hidden_sizes", (const int64_t[]){8, 8, 8}, 3) == OLIVE_OK);
    ir_io(m->graph, 1, "Y", OIR_FLOAT, 3, (const int64_t[]){1, 2, 8});
    return m;
}

static void attention(void)
{
    static const char *const want[9] = {"X_quantized",  "Wqkv_quantized",  "Bqkv", "X_scale", "Wqkv_scale", "mask",
                                        "X_zero_point", "Wqkv_zero_point", ""};
    oir_model *m = attention_model(0);
    const oir_node *q;
    CHECK_RC(run_with(m, (const setting[]){{"op_types_to_quantize", "Attention"}, {NULL, NULL}}), OLIVE_OK);
    CHECK((q = ir_named(m->graph, "attn_quant")) != NULL);
    if (q) {
        CHECK_STR(q->op_type, "QAttention");
        CHECK_STR(q->domain, "com.microsoft");
        CHECK(q->n_inputs == 9 && oir_node_attr_int(q, "num_heads", 0) == 2);
        for (size_t i = 0; i < 9 && i < q->n_inputs; i++)
            CHECK_STR(q->inputs[i], want[i]);
    }
    CHECK(!oir_graph_initializer(m->graph, "Wqkv"));
    oir_model_free(m);

    m = attention_model(1); /* QAttention has no qkv_hidden_sizes: it stays */
    CHECK_RC(run_with(m, (const setting[]){{"op_types_to_quantize", "Attention"}, {NULL, NULL}}), OLIVE_OK);
    CHECK(ir_count_ops(m->graph, "Attention") == 1 && ir_count_ops(m->graph, "QAttention") == 0);
    oir_model_free(m);
}

static void qdq(void)
{
    oir_model *m = ir_model(17);
    const oir_node *dq;
    static float w[4 * 3];
    for (int i = 0; i < 12; i++)
        w[i] = (float)i - 5.0f;
    ir_io(m->graph, 0, "A", OIR_FLOAT, 2, (const int64_t[]){2, 4});
    ir_init(m->graph, "W", OIR_FLOAT, 2, (const int64_t[]){4, 3}, w, sizeof w);
    ir_add(m->graph, "MatMul", "mm", LIST("A", "W"), LIST("Y"));
    ir_add(m->graph, "MatMul", "mm2", LIST("A", "W"), LIST("Z"));
    ir_io(m->graph, 1, "Y", OIR_FLOAT, 2, (const int64_t[]){2, 3});
    ir_io(m->graph, 1, "Z", OIR_FLOAT, 2, (const int64_t[]){2, 3});
    CHECK_RC(run_with(m, (const setting[]){{"quant_format", "QDQ"}, {"per_channel", "true"}, {NULL, NULL}}), OLIVE_OK);
    CHECK(ir_count_ops(m->graph, "DequantizeLinear") == 1 && ir_count_ops(m->graph, "MatMul") == 2);
    CHECK((dq = ir_named(m->graph, "W_DequantizeLinear")) != NULL);
    if (dq) {
        CHECK_STR(dq->outputs[0], "W");
        CHECK_STR(dq->inputs[0], "W_quantized");
        CHECK(oir_node_attr_int(dq, "axis", -1) == 1);
    }
    CHECK(!oir_graph_initializer(m->graph, "W"));
    CHECK(oir_graph_initializer(m->graph, "W_scale")->rank == 1);
    CHECK(oir_model_validate(m) == OLIVE_OK);
    oir_model_free(m);
}

int main(void)
{
    conv();
    attention();
    qdq();
    return check_summary("test_dynamic_ops");
}
