/* The quantize_dynamic pass on graphs built through the IR: the nodes and tensors a MatMul or
 * a Gemm becomes, shared activations and weights, what stays, and the errors. The weight
 * codes themselves are checked by test_weight_quant and, against ONNX Runtime, by the
 * integration test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/ir.h"
#include "passes/quant_dynamic/quantize_dynamic.h"
#include "pass_test_util.h"
#include "passes/registry.h"

static int run_with(oir_model *m, const setting *set)
{
    return pass_run_with(&olive_pass_quantize_dynamic, m, set, NULL);
}

static void init(oir_graph *g, const char *name, size_t rank, const int64_t *dims, const float *v, size_t n)
{
    oir_tensor *t = oir_tensor_new(name, OIR_FLOAT, rank, dims);
    CHECK(t && oir_tensor_set_copy(t, v, n * sizeof *v) == OLIVE_OK && oir_graph_add_initializer(g, t) == OLIVE_OK);
}

static oir_node *node(oir_graph *g, const char *op, const char *name, size_t n_in, const char *const *ins,
                      const char *y)
{
    oir_node *n = oir_node_new(op, "", name, n_in, ins, 1, &y);
    CHECK(n && oir_graph_add_node(g, n) == OLIVE_OK);
    return n;
}

static void io(oir_graph *g, int output, const char *name, int64_t rows, int64_t cols)
{
    int64_t dims[2] = {rows, cols};
    oir_type *t = oir_type_new_tensor(OIR_FLOAT, 2, dims, NULL);
    CHECK((output ? oir_graph_add_output : oir_graph_add_input)(g, name, t) == OLIVE_OK);
    oir_type_free(t);
}

/* W [4, 3]: values i - 5 (-5 .. 6); A [2, 4]. */
static float w43[12];

static oir_model *model_with(int64_t opset)
{
    oir_model *m = oir_model_new();
    m->ir_version = 8;
    oir_model_require_opset(m, "", opset);
    for (int i = 0; i < 12; i++)
        w43[i] = (float)i - 5.0f;
    io(m->graph, 0, "A", 2, 4);
    init(m->graph, "W", 2, (const int64_t[]){4, 3}, w43, 12);
    return m;
}

static const oir_tensor *init_of(const oir_model *m, const char *name)
{
    return oir_graph_initializer(m->graph, name);
}

static void matmul_structure(void)
{
    oir_model *m = model_with(17);
    oir_graph *g = m->graph;
    const oir_node *n;
    const oir_tensor *q, *s, *zp;
    node(g, "MatMul", "mm", 2, (const char *[]){"A", "W"}, "Y");
    io(g, 1, "Y", 2, 3);
    CHECK_RC(run_with(m, NULL), OLIVE_OK);
    CHECK(g->n_nodes == 5);
    if (g->n_nodes == 5) {
        CHECK_STR(g->nodes[0]->op_type, "DynamicQuantizeLinear");
        CHECK_STR(g->nodes[1]->op_type, "MatMulInteger");
        CHECK_STR(g->nodes[2]->op_type, "Cast");
        CHECK_STR(g->nodes[3]->op_type, "Mul");
        CHECK_STR(g->nodes[4]->op_type, "Mul");
        CHECK(oir_node_attr_int(g->nodes[2], "to", 0) == OIR_FLOAT);
        CHECK_STR(g->nodes[4]->outputs[0], "Y");
        n = g->nodes[1];
        CHECK(n->n_inputs == 4);
        CHECK_STR(n->inputs[0], g->nodes[0]->outputs[0]);
        CHECK_STR(n->inputs[2], g->nodes[0]->outputs[2]);
        CHECK_STR(g->nodes[3]->inputs[0], g->nodes[0]->outputs[1]);
        q = init_of(m, n->inputs[1]);
        zp = init_of(m, n->inputs[3]);
        s = init_of(m, g->nodes[3]->inputs[1]);
        CHECK(q && q->dtype == OIR_INT8 && q->rank == 2 && q->dims[0] == 4 && q->dims[1] == 3);
        CHECK(zp && zp->dtype == OIR_INT8 && zp->rank == 0 && oir_tensor_data(zp)[0] == 0);
        /* Symmetric int8: absmax 6 over [-127, 127]: scale 12 / 254; W[0] = -5 -> round(-105.83) = -106. */
        if (s && q) {
            float sv;
            memcpy(&sv, oir_tensor_data(s), 4);
            CHECK(s->dtype == OIR_FLOAT && s->rank == 0 && sv == (float)(12.0 / 254.0));
            CHECK((int8_t)oir_tensor_data(q)[0] == -106 && (int8_t)oir_tensor_data(q)[11] == 127);
        }
    }
    CHECK(init_of(m, "W") == NULL);
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    oir_model_free(m);
}

static void per_channel_uint8_gemm(void)
{
    /* Gemm transB=1 with C: W read as its transpose [3, 4]; per channel: 4 scales. */
    oir_model *m = model_with(17);
    oir_graph *g = m->graph;
    oir_node *gemm;
    const oir_node *mmi = NULL, *add = NULL, *scales = NULL;
    init(g, "C", 1, (const int64_t[]){4}, w43, 4);
    io(g, 0, "A3", 2, 3);
    gemm = node(g, "Gemm", "g", 3, (const char *[]){"A3", "W", "C"}, "Y");
    CHECK(oir_node_set_attr_int(gemm, "transB", 1) == OLIVE_OK);
    io(g, 1, "Y", 2, 4);
    CHECK_RC(run_with(m, (const setting[]){{"weight_type", "QUInt8"}, {"per_channel", "true"}, {NULL, NULL}}),
             OLIVE_OK);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        if (!strcmp(n->op_type, "MatMulInteger"))
            mmi = n;
        else if (!strcmp(n->op_type, "Add"))
            add = n;
        else if (!strcmp(n->op_type, "Mul") && init_of(m, n->inputs[1]))
            scales = n;
    }
    CHECK(g->n_nodes == 6 && mmi && add && scales);
    if (mmi && add && scales) {
        const oir_tensor *q = init_of(m, mmi->inputs[1]), *zp = init_of(m, mmi->inputs[3]);
        const oir_tensor *s = init_of(m, scales->inputs[1]);
        CHECK_STR(mmi->inputs[1], "W_Transposed_quantized");
        CHECK(q && q->dtype == OIR_UINT8 && q->dims[0] == 3 && q->dims[1] == 4);
        CHECK(zp && zp->dtype == OIR_UINT8 && zp->rank == 1 && zp->dims[0] == 4);
        CHECK(s && s->dtype == OIR_FLOAT && s->rank == 1 && s->dims[0] == 4);
        /* Channel 0 is W's row 0, {-5, -4, -3}: range [-5, 0], scale 5 / 255, zero point 255. */
        if (zp && s && q) {
            float s0;
            memcpy(&s0, oir_tensor_data(s), 4);
            CHECK(oir_tensor_data(zp)[0] == 255 && s0 == (float)(5.0 / 255.0));
            CHECK(oir_tensor_data(q)[0] == 0); /* -5 is the bottom of the range */
        }
        CHECK_STR(add->outputs[0], "Y");
        CHECK_STR(add->inputs[1], "C");
    }
    CHECK(init_of(m, "W") == NULL);
    oir_model_free(m);
}

static void shared_and_kept(void)
{
    /* Two MatMuls on A and W share one DynamicQuantizeLinear and one quantized W; a third,
     * excluded, keeps W in float; a Gemm with alpha 2 stays as it is. */
    oir_model *m = model_with(17);
    oir_graph *g = m->graph;
    oir_node *gemm;
    size_t dql = 0, mmi = 0, matmul = 0, gemms = 0;
    node(g, "MatMul", "mm1", 2, (const char *[]){"A", "W"}, "Y1");
    node(g, "MatMul", "mm2", 2, (const char *[]){"A", "W"}, "Y2");
    node(g, "MatMul", "kept", 2, (const char *[]){"A", "W"}, "Y3");
    gemm = node(g, "Gemm", "scaled", 2, (const char *[]){"A", "W"}, "Y4");
    CHECK(oir_node_set_attr_float(gemm, "alpha", 2.0f) == OLIVE_OK);
    for (int i = 1; i <= 4; i++) {
        char y[4] = {'Y', (char)('0' + i), 0};
        io(g, 1, y, 2, 3);
    }
    CHECK_RC(run_with(m, (const setting[]){{"nodes_to_exclude", "kept,other"}, {NULL, NULL}}), OLIVE_OK);
    for (size_t i = 0; i < g->n_nodes; i++) {
        dql += !strcmp(g->nodes[i]->op_type, "DynamicQuantizeLinear");
        mmi += !strcmp(g->nodes[i]->op_type, "MatMulInteger");
        matmul += !strcmp(g->nodes[i]->op_type, "MatMul");
        gemms += !strcmp(g->nodes[i]->op_type, "Gemm");
    }
    CHECK(dql == 1 && mmi == 2 && matmul == 1 && gemms == 1);
    CHECK(init_of(m, "W") != NULL);
    CHECK(g->n_initializers == 4); /* W, its codes, scale, zero point */
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    oir_model_free(m);

    /* nodes_to_include picks by name; other op types are not touched. */
    m = model_with(17);
    g = m->graph;
    node(g, "MatMul", "mm1", 2, (const char *[]){"A", "W"}, "Y1");
    node(g, "MatMul", "mm2", 2, (const char *[]){"A", "W"}, "Y2");
    io(g, 1, "Y1", 2, 3);
    io(g, 1, "Y2", 2, 3);
    CHECK_RC(run_with(m, (const setting[]){{"nodes_to_include", "mm2"}, {NULL, NULL}}), OLIVE_OK);
    CHECK_STR(g->nodes[0]->op_type, "MatMul");
    CHECK(g->n_nodes == 6);
    oir_model_free(m);
}

static void stays(void)
{
    /* B a graph input, A a constant: nothing to quantize. */
    oir_model *m = model_with(17);
    oir_graph *g = m->graph;
    io(g, 0, "B", 4, 3);
    node(g, "MatMul", "mm", 2, (const char *[]){"A", "B"}, "Y");
    node(g, "MatMul", "const_a", 2, (const char *[]){"W", "B2"}, "Z");
    io(g, 0, "B2", 3, 2);
    io(g, 1, "Y", 2, 3);
    io(g, 1, "Z", 4, 2);
    CHECK_RC(run_with(m, NULL), OLIVE_OK);
    CHECK(g->n_nodes == 2 && !strcmp(g->nodes[0]->op_type, "MatMul") && !strcmp(g->nodes[1]->op_type, "MatMul"));
    CHECK(g->n_initializers == 1);
    oir_model_free(m);
}

static void errors(void)
{
    oir_model *m = model_with(17);
    oir_graph *g = m->graph;
    oir_tensor *w = oir_graph_initializer(g, "W");
    float bad[12];
    memcpy(bad, w43, sizeof bad);
    bad[7] = NAN; /* [2, 1] */
    CHECK(oir_tensor_set_copy(w, bad, sizeof bad) == OLIVE_OK);
    node(g, "MatMul", "mm", 2, (const char *[]){"A", "W"}, "Y");
    io(g, 1, "Y", 2, 3);
    CHECK_RC(run_with(m, NULL), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("'W'");
    CHECK_ERROR_HAS("'mm'");
    CHECK_ERROR_HAS("[2, 1]");
    oir_model_free(m);

    /* The same position named in the stored layout when read transposed, per channel. */
    m = model_with(17);
    g = m->graph;
    w = oir_graph_initializer(g, "W");
    CHECK(oir_tensor_set_copy(w, bad, sizeof bad) == OLIVE_OK);
    io(g, 0, "A3", 2, 3);
    CHECK(oir_node_set_attr_int(node(g, "Gemm", "g", 2, (const char *[]){"A3", "W"}, "Y"), "transB", 1) == OLIVE_OK);
    io(g, 1, "Y", 2, 4);
    CHECK_RC(run_with(m, (const setting[]){{"per_channel", "true"}, {NULL, NULL}}), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("[2, 1]");
    oir_model_free(m);

    m = model_with(10);
    g = m->graph;
    node(g, "MatMul", "mm", 2, (const char *[]){"A", "W"}, "Y");
    io(g, 1, "Y", 2, 3);
    CHECK_RC(run_with(m, NULL), OLIVE_EUNSUPPORTED);
    CHECK_ERROR_HAS("opset 11");
    oir_model_free(m);
}

int main(void)
{
    matmul_structure();
    per_channel_uint8_gemm();
    shared_and_kept();
    stays();
    errors();
    return check_summary("test_quantize_dynamic");
}
