/* The fuse pass on graphs built through the IR: the fusion forms not covered by the exported
 * fixtures (QuickGelu, the halving of Gelu applied last, FastGelu with x*x*x, RMSNorm with
 * Div, LayerNormalization with opset-18 axes inputs, SkipSimplifiedLayerNormalization), their
 * constants checked, and bad parameters refused with the parameter named. Numerical equality
 * of the fused graphs is checked by the integration tests in onnxruntime. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/ir.h"
#include "pass_test_util.h"
#include "passes/fusion/fusion.h"
#include "passes/registry.h"

static const int64_t D3[3] = {2, 3, 8}, D8[1] = {8}, D1[1] = {1};

static int fuse(oir_model *m, const setting *set)
{
    return pass_run_with(&olive_pass_fuse, m, set, NULL);
}

static oir_model *base(int64_t opset)
{
    oir_model *m = ir_model(opset);
    ir_io(m->graph, 0, "x", OIR_FLOAT, 3, D3);
    ir_io(m->graph, 1, "y", OIR_FLOAT, 3, D3);
    return m;
}

static void scalar(oir_graph *g, const char *name, float v)
{
    ir_init(g, name, OIR_FLOAT, 0, NULL, &v, sizeof v);
}

static const oir_node *only(const oir_graph *g, const char *op)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i]->op_type, op))
            return g->nodes[i];
    return NULL;
}

static oir_model *quick_gelu(float alpha)
{
    oir_model *m = base(17);
    scalar(m->graph, "alpha", alpha);
    ir_add(m->graph, "Mul", "scale", LIST("x", "alpha"), LIST("xa"));
    ir_add(m->graph, "Sigmoid", "sig", LIST("xa"), LIST("s"));
    ir_add(m->graph, "Mul", "gate", LIST("x", "s"), LIST("y"));
    return m;
}

static void test_quick_gelu(void)
{
    oir_model *m = quick_gelu(1.702f), *bad = quick_gelu(1.75f);
    const oir_node *q;
    CHECK_RC(fuse(m, NULL), OLIVE_OK);
    q = only(m->graph, "QuickGelu");
    CHECK(m->graph->n_nodes == 1 && q && !strcmp(q->domain, "com.microsoft") && !strcmp(q->inputs[0], "x") &&
          !strcmp(q->outputs[0], "y") && fabsf(oir_node_attr_float(q, "alpha", 0) - 1.702f) < 1e-6f);
    CHECK(oir_model_opset(m, "com.microsoft") == 1);
    CHECK_RC(fuse(bad, NULL), OLIVE_OK);
    CHECK(ir_count_ops(bad->graph, "QuickGelu") == 0 && ir_count_ops(bad->graph, "Sigmoid") == 1);
    oir_model_free(m);
    oir_model_free(bad);
}

/* x * (1 + erf(x * 0.7071)) then * half */
static oir_model *gelu_half_last(float half)
{
    oir_model *m = base(17);
    scalar(m->graph, "inv_sqrt2", 0.70710678f);
    scalar(m->graph, "one", 1.0f);
    scalar(m->graph, "half", half);
    ir_add(m->graph, "Mul", "s", LIST("x", "inv_sqrt2"), LIST("xs"));
    ir_add(m->graph, "Erf", "erf", LIST("xs"), LIST("e"));
    ir_add(m->graph, "Add", "a", LIST("one", "e"), LIST("e1"));
    ir_add(m->graph, "Mul", "m", LIST("x", "e1"), LIST("xm"));
    ir_add(m->graph, "Mul", "h", LIST("xm", "half"), LIST("y"));
    return m;
}

static void test_gelu_half_last(void)
{
    oir_model *m = gelu_half_last(0.5f), *bad = gelu_half_last(0.25f);
    CHECK_RC(fuse(m, NULL), OLIVE_OK);
    CHECK(m->graph->n_nodes == 1 && only(m->graph, "Gelu"));
    CHECK_RC(fuse(bad, NULL), OLIVE_OK);
    CHECK(ir_count_ops(bad->graph, "Gelu") == 0 && ir_count_ops(bad->graph, "Erf") == 1);
    oir_model_free(m);
    oir_model_free(bad);
}

/* 0.5x * (1 + tanh(0.79788 * (x + 0.044715 * x*x*x))) */
static oir_model *fast_gelu(float c1)
{
    oir_model *m = base(17);
    scalar(m->graph, "c1", c1);
    scalar(m->graph, "c2", 0.7978845608f);
    scalar(m->graph, "one", 1.0f);
    scalar(m->graph, "half", 0.5f);
    ir_add(m->graph, "Mul", "sq", LIST("x", "x"), LIST("x2"));
    ir_add(m->graph, "Mul", "cube", LIST("x", "x2"), LIST("x3"));
    ir_add(m->graph, "Mul", "k1", LIST("x3", "c1"), LIST("t1"));
    ir_add(m->graph, "Add", "inner", LIST("x", "t1"), LIST("t2"));
    ir_add(m->graph, "Mul", "k2", LIST("c2", "t2"), LIST("t3"));
    ir_add(m->graph, "Tanh", "tanh", LIST("t3"), LIST("th"));
    ir_add(m->graph, "Add", "p1", LIST("th", "one"), LIST("th1"));
    ir_add(m->graph, "Mul", "hx", LIST("half", "x"), LIST("xh"));
    ir_add(m->graph, "Mul", "out", LIST("xh", "th1"), LIST("y"));
    return m;
}

static void test_fast_gelu(void)
{
    oir_model *m = fast_gelu(0.044715f), *bad = fast_gelu(0.05f);
    CHECK_RC(fuse(m, NULL), OLIVE_OK);
    CHECK(m->graph->n_nodes == 1 && only(m->graph, "FastGelu"));
    CHECK_RC(fuse(bad, NULL), OLIVE_OK);
    CHECK(ir_count_ops(bad->graph, "FastGelu") == 0 && ir_count_ops(bad->graph, "Tanh") == 1);
    oir_model_free(m);
    oir_model_free(bad);
}

/* RMSNorm with Div(x, sqrt(mean(x*x) + eps)), then a residual Add before it */
static void test_rmsnorm_div_and_skip(void)
{
    oir_model *m = base(18);
    oir_graph *g = m->graph;
    const int64_t axes[1] = {-1};
    float w[8];
    const oir_node *n;
    for (int i = 0; i < 8; i++)
        w[i] = 1.0f + 0.1f * (float)i;
    ir_io(g, 0, "r", OIR_FLOAT, 3, D3);
    ir_init(g, "w", OIR_FLOAT, 1, D8, w, sizeof w);
    ir_init(g, "axes", OIR_INT64, 1, D1, axes, sizeof axes);
    scalar(g, "eps", 1e-6f);
    ir_add(g, "Add", "res", LIST("x", "r"), LIST("h"));
    ir_add(g, "Mul", "sq", LIST("h", "h"), LIST("h2"));
    ir_add(g, "ReduceMean", "rm", LIST("h2", "axes"), LIST("ms"));
    ir_add(g, "Add", "ae", LIST("ms", "eps"), LIST("mse"));
    ir_add(g, "Sqrt", "sqrt", LIST("mse"), LIST("rms"));
    ir_add(g, "Div", "div", LIST("h", "rms"), LIST("n"));
    ir_add(g, "Mul", "scale", LIST("n", "w"), LIST("y"));
    CHECK_RC(fuse(m, NULL), OLIVE_OK);
    n = only(g, "SkipSimplifiedLayerNormalization");
    CHECK(g->n_nodes == 1 && n && n->n_inputs == 3 && !strcmp(n->inputs[2], "w") && !strcmp(n->outputs[0], "y") &&
          fabsf(oir_node_attr_float(n, "epsilon", 0) - 1e-6f) < 1e-12f);
    oir_model_free(m);
}

/* LayerNorm at opset 18: ReduceMean takes its axes as an input */
static void test_layernorm_axes_input(void)
{
    oir_model *m = base(18);
    oir_graph *g = m->graph;
    const int64_t axes[1] = {2};
    float w[8], b[8];
    const oir_node *n;
    for (int i = 0; i < 8; i++) {
        w[i] = 1.0f;
        b[i] = 0.5f;
    }
    ir_init(g, "axes", OIR_INT64, 1, D1, axes, sizeof axes);
    ir_init(g, "w", OIR_FLOAT, 1, D8, w, sizeof w);
    ir_init(g, "b", OIR_FLOAT, 1, D8, b, sizeof b);
    scalar(g, "two", 2.0f);
    scalar(g, "eps", 1e-12f);
    ir_add(g, "ReduceMean", "m", LIST("x", "axes"), LIST("mean"));
    ir_add(g, "Sub", "d", LIST("x", "mean"), LIST("dx"));
    ir_add(g, "Pow", "p", LIST("dx", "two"), LIST("d2"));
    ir_add(g, "ReduceMean", "v", LIST("d2", "axes"), LIST("var"));
    ir_add(g, "Add", "e", LIST("var", "eps"), LIST("ve"));
    ir_add(g, "Sqrt", "s", LIST("ve"), LIST("sd"));
    ir_add(g, "Div", "q", LIST("dx", "sd"), LIST("nx"));
    ir_add(g, "Mul", "mw", LIST("nx", "w"), LIST("nw"));
    ir_add(g, "Add", "ab", LIST("b", "nw"), LIST("y"));
    CHECK_RC(fuse(m, NULL), OLIVE_OK);
    n = only(g, "LayerNormalization");
    CHECK(g->n_nodes == 1 && n && !strcmp(n->inputs[0], "x") && !strcmp(n->inputs[1], "w") &&
          !strcmp(n->inputs[2], "b") && oir_node_attr_float(n, "epsilon", 0) == 1e-12f);
    oir_model_free(m);
}

static void test_bad_parameters(void)
{
    oir_model *m = quick_gelu(1.702f);
    const setting bad_value[] = {{"optimization_options", "enable_gelu=perhaps"}, {NULL, NULL}};
    const setting bad_key[] = {{"optimization_options", "{\"enable_nothing\": true}"}, {NULL, NULL}};
    const setting no_value[] = {{"optimization_options", "enable_gelu"}, {NULL, NULL}};
    const setting unclosed[] = {{"optimization_options", "{\"enable_gelu\": true"}, {NULL, NULL}};
    const setting off[] = {{"optimization_options", "{\"enable_gelu\": false}"}, {NULL, NULL}};
    CHECK_RC(fuse(m, bad_value), OLIVE_EINVALID);
    CHECK_ERROR_HAS("enable_gelu");
    CHECK_ERROR_HAS("perhaps");
    CHECK_RC(fuse(m, bad_key), OLIVE_EINVALID);
    CHECK_ERROR_HAS("enable_nothing");
    CHECK_RC(fuse(m, no_value), OLIVE_EINVALID);
    CHECK_ERROR_HAS("enable_gelu");
    CHECK_RC(fuse(m, unclosed), OLIVE_EINVALID);
    CHECK_ERROR_HAS("optimization_options");
    CHECK(m->graph->n_nodes == 3);
    CHECK_RC(fuse(m, off), OLIVE_OK);
    CHECK(ir_count_ops(m->graph, "QuickGelu") == 0);
    oir_model_free(m);
}

static void test_checkpoint_refused(void)
{
    oir_model *m = oir_model_new();
    m->checkpoint_path = strdup("/nonexistent/hf-folder");
    CHECK_RC(fuse(m, NULL), OLIVE_EINVALID);
    CHECK_ERROR_HAS("hf-folder");
    oir_model_free(m);
}

/* A graph reading a value nothing produces is refused before anything changes. */
static void test_invalid_model_refused(void)
{
    oir_model *m = quick_gelu(1.702f);
    ir_add(m->graph, "Neg", "dangling", LIST("nowhere"), LIST("z"));
    CHECK_RC(fuse(m, NULL), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("nowhere");
    CHECK(m->graph->n_nodes == 4 && ir_count_ops(m->graph, "QuickGelu") == 0);
    oir_model_free(m);
}

int main(void)
{
    test_invalid_model_refused();
    test_quick_gelu();
    test_gelu_half_last();
    test_fast_gelu();
    test_rmsnorm_div_and_skip();
    test_layernorm_axes_input();
    test_bad_parameters();
    test_checkpoint_refused();
    return check_summary("test_fusion");
}
