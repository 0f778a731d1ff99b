/* The quantize pass on graphs built through the IR: which MatMuls become MatMulNBits, the
 * tensors and attributes they get, and the cases that stay or fail. Codes themselves are
 * checked by test_blockwise and, against ONNX Runtime, by the integration test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/ir.h"
#include "passes/quant/quantize.h"
#include "pass_test_util.h"
#include "passes/registry.h"

static int run_with(oir_model *m, const setting *set)
{
    return pass_run_with(&olive_pass_quantize, m, set, NULL);
}

static void init(oir_graph *g, const char *name, int32_t dtype, size_t rank, const int64_t *dims, const void *v,
                 size_t n)
{
    oir_tensor *t = oir_tensor_new(name, dtype, rank, dims);
    CHECK(t && oir_tensor_set_copy(t, v, n) == OLIVE_OK && oir_graph_add_initializer(g, t) == OLIVE_OK);
}

static void matmul(oir_graph *g, const char *name, const char *a, const char *b, const char *y)
{
    const char *ins[2] = {a, b}, *outs[1] = {y};
    oir_node *n = oir_node_new("MatMul", "", name, 2, ins, 1, outs);
    CHECK(n && oir_graph_add_node(g, n) == OLIVE_OK);
}

static void io(oir_graph *g, int output, const char *name, size_t rank, const int64_t *dims)
{
    oir_type *t = oir_type_new_tensor(OIR_FLOAT, rank, dims, NULL);
    CHECK((output ? oir_graph_add_output : oir_graph_add_input)(g, name, t) == OLIVE_OK);
    oir_type_free(t);
}

/* A: [1, 40]; W [40, 3] float with values i*0.1 - 2 (K = 40, not a multiple of 16/32). */
static float w40[120];

static oir_model *one_matmul(void)
{
    oir_model *m = oir_model_new();
    oir_graph *g = m->graph;
    m->ir_version = 8;
    oir_model_require_opset(m, "", 17);
    for (int i = 0; i < 120; i++)
        w40[i] = (float)i * 0.1f - 2.0f;
    io(g, 0, "A", 2, (const int64_t[]){1, 40});
    init(g, "W", OIR_FLOAT, 2, (const int64_t[]){40, 3}, w40, sizeof w40);
    matmul(g, "mm", "A", "W", "Y");
    io(g, 1, "Y", 2, (const int64_t[]){1, 3});
    return m;
}

static const oir_tensor *input_tensor(const oir_model *m, const oir_node *n, size_t i)
{
    return i < n->n_inputs ? oir_graph_initializer(m->graph, n->inputs[i]) : NULL;
}

static void basic(void)
{
    oir_model *m = one_matmul();
    const oir_node *n;
    const oir_tensor *b, *s;
    CHECK_RC(run_with(m, (const setting[]){{"block_size", "32"}, {NULL, NULL}}), OLIVE_OK);
    CHECK(m->graph->n_nodes == 1);
    n = m->graph->nodes[0];
    CHECK_STR(n->op_type, "MatMulNBits");
    CHECK_STR(n->domain, "com.microsoft");
    CHECK_STR(n->name, "mm_Q4");
    CHECK(n->n_inputs == 3 && !strcmp(n->inputs[0], "A") && !strcmp(n->outputs[0], "Y"));
    CHECK(oir_node_attr_int(n, "K", 0) == 40 && oir_node_attr_int(n, "N", 0) == 3);
    CHECK(oir_node_attr_int(n, "bits", 0) == 4 && oir_node_attr_int(n, "block_size", 0) == 32);
    CHECK(oir_node_attr(n, "accuracy_level") == NULL);
    b = input_tensor(m, n, 1);
    s = input_tensor(m, n, 2);
    CHECK(b && b->dtype == OIR_UINT8 && b->rank == 3 && b->dims[0] == 3 && b->dims[1] == 2 && b->dims[2] == 16);
    CHECK(s && s->dtype == OIR_FLOAT && s->rank == 2 && s->dims[0] == 3 && s->dims[1] == 2);
    CHECK(oir_graph_initializer(m->graph, "W") == NULL);
    CHECK(oir_model_opset(m, "com.microsoft") == 1);
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    oir_model_free(m);

    /* Asymmetric 8-bit with an accuracy level: zero points [N, k_blocks]. */
    m = one_matmul();
    CHECK_RC(run_with(m, (const setting[]){{"bits", "8"},
                                           {"block_size", "16"},
                                           {"is_symmetric", "false"},
                                           {"accuracy_level", "4"},
                                           {"algorithm", "rtn"},
                                           {NULL, NULL}}),
             OLIVE_OK);
    n = m->graph->nodes[0];
    CHECK(n->n_inputs == 4 && oir_node_attr_int(n, "accuracy_level", 0) == 4 && oir_node_attr_int(n, "bits", 0) == 8);
    b = input_tensor(m, n, 1);
    s = input_tensor(m, n, 3);
    CHECK(b && b->dims[0] == 3 && b->dims[1] == 3 && b->dims[2] == 16);
    CHECK(s && s->dtype == OIR_UINT8 && s->dims[0] == 3 && s->dims[1] == 3);
    oir_model_free(m);

    /* Asymmetric 4-bit, three blocks: zero points packed two per byte, [N, 2]. */
    m = one_matmul();
    CHECK_RC(run_with(m, (const setting[]){{"block_size", "16"}, {"is_symmetric", "false"}, {NULL, NULL}}), OLIVE_OK);
    s = input_tensor(m, m->graph->nodes[0], 3);
    CHECK(s && s->dims[0] == 3 && s->dims[1] == 2);
    oir_model_free(m);
}

static void shared_and_selection(void)
{
    oir_model *m = one_matmul();
    oir_graph *g = m->graph;
    /* W is also a graph output: it must stay. A second MatMul on W shares its quantized data. */
    matmul(g, "mm2", "A", "W", "Y2");
    io(g, 1, "Y2", 2, (const int64_t[]){1, 3});
    io(g, 1, "W", 2, (const int64_t[]){40, 3});
    CHECK_RC(run_with(m, NULL), OLIVE_OK);
    CHECK(oir_graph_initializer(g, "W") != NULL);
    CHECK_STR(g->nodes[0]->op_type, "MatMulNBits");
    CHECK_STR(g->nodes[1]->op_type, "MatMulNBits");
    CHECK_STR(g->nodes[0]->inputs[1], g->nodes[1]->inputs[1]);
    CHECK(g->n_initializers == 3);
    oir_model_free(m);

    m = one_matmul();
    g = m->graph;
    matmul(g, "mm2", "A", "W", "Y2");
    io(g, 1, "Y2", 2, (const int64_t[]){1, 3});
    CHECK_RC(run_with(m, (const setting[]){{"nodes_to_exclude", "mm"}, {NULL, NULL}}), OLIVE_OK);
    CHECK_STR(g->nodes[0]->op_type, "MatMul");
    CHECK_STR(g->nodes[1]->op_type, "MatMulNBits");
    CHECK(oir_graph_initializer(g, "W") != NULL); /* mm still reads it */
    oir_model_free(m);

    m = one_matmul();
    g = m->graph;
    matmul(g, "mm2", "A", "W", "Y2");
    io(g, 1, "Y2", 2, (const int64_t[]){1, 3});
    CHECK_RC(run_with(m, (const setting[]){{"nodes_to_include", "mm2"}, {NULL, NULL}}), OLIVE_OK);
    CHECK_STR(g->nodes[0]->op_type, "MatMul");
    CHECK_STR(g->nodes[1]->op_type, "MatMulNBits");
    oir_model_free(m);

    m = one_matmul();
    CHECK_RC(run_with(m, (const setting[]){{"op_types_to_quantize", "Gemm"}, {NULL, NULL}}), OLIVE_OK);
    CHECK_STR(m->graph->nodes[0]->op_type, "MatMul");
    CHECK(oir_model_opset(m, "com.microsoft") == -1);
    oir_model_free(m);
}

static void skipped(void)
{
    static const int32_t ints[6] = {1, 2, 3, 4, 5, 6};
    static const float f6[6] = {1, 2, 3, 4, 5, 6};
    oir_model *m = oir_model_new();
    oir_graph *g = m->graph;
    m->ir_version = 8;
    oir_model_require_opset(m, "", 17);
    io(g, 0, "A", 2, (const int64_t[]){1, 2});
    io(g, 0, "B", 2, (const int64_t[]){2, 3});
    init(g, "B", OIR_FLOAT, 2, (const int64_t[]){2, 3}, f6, sizeof f6); /* overridable: a graph input */
    init(g, "I", OIR_INT32, 2, (const int64_t[]){2, 3}, ints, sizeof ints);
    init(g, "V", OIR_FLOAT, 1, (const int64_t[]){6}, f6, sizeof f6);
    init(g, "T", OIR_FLOAT, 3, (const int64_t[]){1, 2, 3}, f6, sizeof f6);
    matmul(g, "from_input", "A", "B", "Y1");
    matmul(g, "int_weight", "A", "I", "Y2");
    matmul(g, "vector", "A", "V", "Y3");
    matmul(g, "three_d", "A", "T", "Y4");
    matmul(g, "computed", "A", "Y1", "Y5");
    for (int i = 1; i <= 5; i++) {
        char name[4] = {'Y', (char)('0' + i), 0};
        io(g, 1, name, 0, NULL);
    }
    CHECK_RC(run_with(m, NULL), OLIVE_OK);
    for (size_t i = 0; i < g->n_nodes; i++)
        CHECK_STR(g->nodes[i]->op_type, "MatMul");
    CHECK(g->n_initializers == 4);
    oir_model_free(m);
}

static void errors(void)
{
    oir_model *m = one_matmul();
    w40[7] = INFINITY;
    CHECK(oir_tensor_set_copy(m->graph->initializers[0], w40, sizeof w40) == OLIVE_OK);
    CHECK_RC(run_with(m, NULL), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("'W'");
    CHECK_ERROR_HAS("inf");
    CHECK_ERROR_HAS("[2, 1]");
    oir_model_free(m);

    m = one_matmul();
    CHECK_RC(run_with(m, (const setting[]){{"bits", "5"}, {NULL, NULL}}), OLIVE_EINVALID);
    CHECK_ERROR_HAS("bits");
    CHECK_RC(run_with(m, (const setting[]){{"block_size", "48"}, {NULL, NULL}}), OLIVE_EINVALID);
    CHECK_ERROR_HAS("block_size");
    CHECK_STR(m->graph->nodes[0]->op_type, "MatMul");
    oir_model_free(m);

    CHECK(olive_registry_find("OnnxBlockWiseRtnQuantization") == &olive_pass_quantize);
}

int main(void)
{
    basic();
    shared_and_selection();
    skipped();
    errors();
    return check_summary("test_quantize");
}
