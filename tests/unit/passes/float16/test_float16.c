/* The float16 pass on graphs built through the IR: which tensors and nodes change type,
 * where Casts go at block and graph edges, and how values are clamped. Expected half and
 * bfloat16 bit patterns are the IEEE encodings of the numbers. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/ir.h"
#include "passes/float16/float16.h"
#include "pass_test_util.h"
#include "passes/registry.h"

static int run_with(oir_model *m, const setting *set)
{
    return pass_run_with(&olive_pass_float16, m, set, NULL);
}

static const oir_node *producer(const oir_graph *g, const char *value)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
            if (!strcmp(g->nodes[i]->outputs[k], value))
                return g->nodes[i];
    return NULL;
}

static uint16_t half_at(const oir_tensor *t, size_t i)
{
    uint16_t h;
    memcpy(&h, oir_tensor_data(t) + 2 * i, 2);
    return h;
}

static const int64_t D2[1] = {2}, D4[1] = {4};

/* x -> Mul(w) -> Add(b) -> y: weights become float16 with the exact encodings; the graph's
 * inputs and outputs follow; no Cast is needed. */
static oir_model *small_net(void)
{
    oir_model *m = ir_model(17);
    oir_graph *g = m->graph;
    const float w[2] = {1.0f, 0.5f}, b[2] = {-2.0f, 0.0f};
    ir_io(g, 0, "x", OIR_FLOAT, 1, D2);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D2);
    ir_init(g, "w", OIR_FLOAT, 1, D2, w, sizeof w);
    ir_init(g, "b", OIR_FLOAT, 1, D2, b, sizeof b);
    ir_add(g, "Mul", "mul", LIST("x", "w"), LIST("m"));
    ir_add(g, "Add", "add", LIST("m", "b"), LIST("y"));
    return m;
}

static void test_convert_all(void)
{
    oir_model *m = small_net();
    oir_graph *g = m->graph;
    const oir_tensor *w, *b;
    CHECK_RC(run_with(m, NULL), OLIVE_OK);
    w = oir_graph_initializer(g, "w");
    b = oir_graph_initializer(g, "b");
    CHECK(w && w->dtype == OIR_FLOAT16 && w->nbytes == 4 && half_at(w, 0) == 0x3c00 && half_at(w, 1) == 0x3800);
    CHECK(b && b->dtype == OIR_FLOAT16 && half_at(b, 0) == 0xc000 && half_at(b, 1) == 0x0000);
    CHECK(g->inputs[0].type->elem_type == OIR_FLOAT16);
    CHECK(g->outputs[0].type->elem_type == OIR_FLOAT16);
    CHECK(ir_count_ops(g, "Cast") == 0 && g->n_nodes == 2);
    oir_model_free(m);
}

/* keep_io_types: a Cast to float16 reads x, a Cast to float writes y, names unchanged. */
static void test_keep_io_types(void)
{
    oir_model *m = small_net();
    oir_graph *g = m->graph;
    const oir_node *in_cast, *out_cast, *mul;
    CHECK_RC(run_with(m, (const setting[]){{"keep_io_types", "true"}, {NULL, NULL}}), OLIVE_OK);
    CHECK(ir_count_ops(g, "Cast") == 2);
    CHECK_STR(g->inputs[0].name, "x");
    CHECK_STR(g->outputs[0].name, "y");
    CHECK(g->inputs[0].type->elem_type == OIR_FLOAT && g->outputs[0].type->elem_type == OIR_FLOAT);
    mul = ir_named(g, "mul");
    in_cast = mul ? producer(g, mul->inputs[0]) : NULL;
    CHECK(in_cast && !strcmp(in_cast->op_type, "Cast") && !strcmp(in_cast->inputs[0], "x") &&
          oir_node_attr_int(in_cast, "to", 0) == OIR_FLOAT16);
    out_cast = producer(g, "y");
    CHECK(out_cast && !strcmp(out_cast->op_type, "Cast") && oir_node_attr_int(out_cast, "to", 0) == OIR_FLOAT);
    CHECK(out_cast && producer(g, out_cast->inputs[0]) == ir_named(g, "add"));
    oir_model_free(m);
}

/* A blocked op (TopK, in the default list) reads float32 through a Cast and its float
 * result is cast back; its int64 indices are left alone. */
static void test_blocked_op(void)
{
    oir_model *m = ir_model(17);
    oir_graph *g = m->graph;
    const int64_t k = 2, one[1] = {1};
    const oir_node *topk, *before, *after, *relu;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D4);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D2);
    ir_io(g, 1, "i", OIR_INT64, 1, D2);
    ir_init(g, "k", OIR_INT64, 1, one, &k, sizeof k);
    ir_add(g, "Neg", "neg", LIST("x"), LIST("n"));
    ir_add(g, "TopK", "topk", LIST("n", "k"), LIST("v", "i"));
    ir_add(g, "Relu", "relu", LIST("v"), LIST("y"));
    CHECK_RC(run_with(m, NULL), OLIVE_OK);
    CHECK(ir_count_ops(g, "Cast") == 2);
    topk = ir_named(g, "topk");
    before = topk ? producer(g, topk->inputs[0]) : NULL;
    CHECK(before && !strcmp(before->op_type, "Cast") && oir_node_attr_int(before, "to", 0) == OIR_FLOAT &&
          !strcmp(before->inputs[0], "n"));
    relu = ir_named(g, "relu");
    after = relu ? producer(g, relu->inputs[0]) : NULL;
    CHECK(after && !strcmp(after->op_type, "Cast") && oir_node_attr_int(after, "to", 0) == OIR_FLOAT16 &&
          !strcmp(after->inputs[0], "v"));
    CHECK(topk && !strcmp(topk->outputs[1], "i"));
    CHECK(g->outputs[0].type->elem_type == OIR_FLOAT16 && g->outputs[1].type->elem_type == OIR_INT64);
    oir_model_free(m);

    /* The same graph with an empty block list has no Cast at all. */
    m = ir_model(17);
    g = m->graph;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D4);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D2);
    ir_init(g, "k", OIR_INT64, 1, one, &k, sizeof k);
    ir_add(g, "TopK", "topk", LIST("x", "k"), LIST("v", "i"));
    ir_add(g, "Relu", "relu", LIST("v"), LIST("y"));
    CHECK_RC(run_with(m, (const setting[]){{"op_block_list", ""}, {NULL, NULL}}), OLIVE_OK);
    CHECK(ir_count_ops(g, "Cast") == 0);
    oir_model_free(m);
}

/* node_block_list: the blocked node's own weight stays float32 (nothing else reads it). */
static void test_node_block_list(void)
{
    oir_model *m = small_net();
    oir_graph *g = m->graph;
    const oir_node *addn, *c;
    CHECK_RC(run_with(m, (const setting[]){{"node_block_list", "add"}, {NULL, NULL}}), OLIVE_OK);
    CHECK(oir_graph_initializer(g, "b")->dtype == OIR_FLOAT);
    CHECK(oir_graph_initializer(g, "w")->dtype == OIR_FLOAT16);
    addn = ir_named(g, "add");
    c = addn ? producer(g, addn->inputs[0]) : NULL;
    CHECK(c && !strcmp(c->op_type, "Cast") && oir_node_attr_int(c, "to", 0) == OIR_FLOAT);
    c = producer(g, "y");
    CHECK(c && !strcmp(c->op_type, "Cast") && oir_node_attr_int(c, "to", 0) == OIR_FLOAT16);
    CHECK(g->outputs[0].type->elem_type == OIR_FLOAT16);
    oir_model_free(m);
}

/* Values out of float16's range are clamped: tiny ones to the smallest subnormal, huge ones
 * to 65504; zero and infinities stay. bfloat16 is not clamped. */
static void test_clamping(void)
{
    const float v[6] = {1e-9f, -1e-9f, 1e6f, -1e6f, 0.0f, 1.0f / 0.0f};
    const int64_t d6[1] = {6};
    const uint16_t half[6] = {0x0001, 0x8001, 0x7bff, 0xfbff, 0x0000, 0x7c00};
    /* 1e-9 = 0x3089705f, 1e6 = 0x49742400 in float32: bfloat16 keeps the top halves (rounded) */
    const uint16_t bf[6] = {0x3089, 0xb089, 0x4974, 0xc974, 0x0000, 0x7f80};
    for (int pass = 0; pass < 2; pass++) {
        oir_model *m = ir_model(17);
        oir_graph *g = m->graph;
        const oir_tensor *c;
        ir_io(g, 0, "x", OIR_FLOAT, 1, d6);
        ir_io(g, 1, "y", OIR_FLOAT, 1, d6);
        ir_init(g, "c", OIR_FLOAT, 1, d6, v, sizeof v);
        ir_add(g, "Add", "add", LIST("x", "c"), LIST("y"));
        CHECK_RC(run_with(m, pass ? (const setting[]){{"dtype", "bfloat16"}, {NULL, NULL}} : NULL), OLIVE_OK);
        c = oir_graph_initializer(g, "c");
        CHECK(c && c->dtype == (pass ? OIR_BFLOAT16 : OIR_FLOAT16));
        for (size_t i = 0; c && i < 6; i++)
            CHECK(half_at(c, i) == (pass ? bf[i] : half[i]));
        oir_model_free(m);
    }
}

/* Constant value_float becomes a float16 tensor; a Cast to float in the converted graph
 * would cast float16 to float16 and is removed. */
static void test_constant_and_cast(void)
{
    oir_model *m = ir_model(17);
    oir_graph *g = m->graph;
    const oir_node *c;
    const oir_attr *a;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D2);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D2);
    oir_node_set_attr_float(ir_add(g, "Constant", "k", (const char *const[]){NULL}, LIST("half")), "value_float", 0.5f);
    ir_add(g, "Mul", "mul", LIST("x", "half"), LIST("m"));
    oir_node_set_attr_int(ir_add(g, "Cast", "cast", LIST("m"), LIST("y")), "to", OIR_FLOAT);
    CHECK_RC(run_with(m, NULL), OLIVE_OK);
    c = ir_named(g, "k");
    a = c ? oir_node_attr(c, "value") : NULL;
    CHECK(a && a->t && a->t->dtype == OIR_FLOAT16 && a->t->rank == 0 && half_at(a->t, 0) == 0x3800);
    CHECK(c && !oir_node_attr(c, "value_float"));
    CHECK(ir_count_ops(g, "Cast") == 0);
    c = producer(g, "y");
    CHECK(c && !strcmp(c->op_type, "Mul"));
    oir_model_free(m);
}

/* Celu has no float16 in ONNX: it stays float32 even with an empty block list. Before opset
 * 6 Cast names its type as a string. */
static void test_float32_only_and_old_cast(void)
{
    oir_model *m = ir_model(12);
    oir_graph *g = m->graph;
    const oir_node *celu, *c;
    const oir_attr *to;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D2);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D2);
    ir_add(g, "Celu", "celu", LIST("x"), LIST("y"));
    CHECK_RC(run_with(m, (const setting[]){{"op_block_list", ""}, {NULL, NULL}}), OLIVE_OK);
    celu = ir_named(g, "celu");
    c = celu ? producer(g, celu->inputs[0]) : NULL;
    CHECK(c && !strcmp(c->op_type, "Cast") && oir_node_attr_int(c, "to", 0) == OIR_FLOAT);
    oir_model_free(m);

    m = ir_model(1);
    g = m->graph;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D2);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D2);
    ir_add(g, "Relu", "relu", LIST("x"), LIST("y"));
    CHECK_RC(run_with(m, (const setting[]){{"keep_io_types", "true"}, {NULL, NULL}}), OLIVE_OK);
    c = producer(g, "y");
    to = c ? oir_node_attr(c, "to") : NULL;
    CHECK(to && to->type == OIR_ATTR_STRING && !strcmp((const char *)to->s.data, "FLOAT"));
    c = ir_named(g, "relu");
    c = c ? producer(g, c->inputs[0]) : NULL;
    to = c ? oir_node_attr(c, "to") : NULL;
    CHECK(to && to->type == OIR_ATTR_STRING && !strcmp((const char *)to->s.data, "FLOAT16"));
    CHECK_RC(run_with(m, (const setting[]){{"dtype", "bfloat16"}, {NULL, NULL}}), OLIVE_EUNSUPPORTED);
    CHECK_ERROR_HAS("opset 13");
    oir_model_free(m);
}

/* io_datatype: only matching float16 edges become float; Casts keep the graph inside as it
 * was and the interface keeps its names. */
static void test_io_datatype(void)
{
    const olive_pass_def *d = &olive_pass_io_datatype;
    const char *values[3] = {"logits", "10", "1"};
    olive_pass_args args = {d, (char **)values};
    oir_model *m = ir_model(17);
    oir_graph *g = m->graph;
    const oir_node *c, *relu;
    ir_io(g, 0, "logits_in", OIR_FLOAT16, 1, D2);
    ir_io(g, 0, "other", OIR_FLOAT16, 1, D2);
    ir_io(g, 1, "logits", OIR_FLOAT16, 1, D2);
    ir_add(g, "Add", "add", LIST("logits_in", "other"), LIST("s"));
    ir_add(g, "Relu", "relu", LIST("s"), LIST("logits"));
    CHECK(d->n_params == 3);
    CHECK_RC(olive_pass_run_def(d, &args, m, NULL), OLIVE_OK);
    CHECK(g->inputs[0].type->elem_type == OIR_FLOAT && g->inputs[1].type->elem_type == OIR_FLOAT16);
    CHECK(g->outputs[0].type->elem_type == OIR_FLOAT);
    CHECK_STR(g->outputs[0].name, "logits");
    c = producer(g, "logits");
    CHECK(c && !strcmp(c->op_type, "Cast") && oir_node_attr_int(c, "to", 0) == OIR_FLOAT);
    relu = ir_named(g, "relu");
    CHECK(c && relu && !strcmp(c->inputs[0], relu->outputs[0]));
    c = ir_named(g, "add");
    c = c ? producer(g, c->inputs[0]) : NULL;
    CHECK(c && !strcmp(c->op_type, "Cast") && !strcmp(c->inputs[0], "logits_in") &&
          oir_node_attr_int(c, "to", 0) == OIR_FLOAT16);
    values[0] = "(";
    CHECK_RC(olive_pass_run_def(d, &args, m, NULL), OLIVE_EINVALID);
    CHECK_ERROR_HAS("name_pattern");
    oir_model_free(m);
}

static void test_bad_settings(void)
{
    oir_model *m = small_net();
    CHECK_RC(run_with(m, (const setting[]){{"min_positive_val", "2"}, {"max_finite_val", "1"}, {NULL, NULL}}),
             OLIVE_EINVALID);
    CHECK_ERROR_HAS("min_positive_val");
    oir_model_free(m);
}

int main(void)
{
    test_convert_all();
    test_keep_io_types();
    test_blocked_op();
    test_node_block_list();
    test_clamping();
    test_constant_and_cast();
    test_float32_only_and_old_cast();
    test_io_datatype();
    test_bad_settings();
    return check_summary("test_float16");
}
