/* The IR: building graphs, index, renaming, toposort, validation, cloning. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/ir.h"

static oir_node *node1(const char *op, const char *name, const char *in0, const char *in1, const char *out)
{
    const char *ins[2] = {in0, in1};
    const char *outs[1] = {out};
    return oir_node_new(op, "", name, in1 ? 2 : 1, ins, 1, outs);
}

/* X -> Add(X, W) -> a -> Relu -> Y, plus an If whose branches read W from the outer scope. */
static oir_model *make_model(void)
{
    oir_model *m = oir_model_new();
    oir_graph *g = m->graph;
    int64_t dims[1] = {4};
    float w[4] = {1, 2, 3, 4};
    oir_type *t = oir_type_new_tensor(OIR_FLOAT, 1, dims, NULL);
    oir_tensor *wt = oir_tensor_new("W", OIR_FLOAT, 1, dims);
    oir_graph *then_g = oir_graph_new("then"), *else_g = oir_graph_new("else");
    const char *if_in[1] = {"cond"}, *if_out[1] = {"z"};
    oir_node *iff = oir_node_new("If", "", "if0", 1, if_in, 1, if_out);
    CHECK(oir_tensor_set_copy(wt, w, sizeof w) == OLIVE_OK);
    oir_graph_add_initializer(g, wt);
    oir_graph_add_input(g, "X", t);
    oir_graph_add_input(g, "cond", NULL);
    oir_graph_add_output(g, "Y", t);
    oir_graph_add_output(g, "z", t);
    /* then: z_then = Neg(W); else: outputs W directly */
    oir_graph_add_node(then_g, node1("Neg", "neg", "W", NULL, "z_then"));
    oir_graph_add_output(then_g, "z_then", t);
    oir_graph_add_output(else_g, "W", t);
    oir_node_set_attr_graph(iff, "then_branch", then_g);
    oir_node_set_attr_graph(iff, "else_branch", else_g);
    /* out of order on purpose: Relu before Add */
    oir_graph_add_node(g, node1("Relu", "relu", "a", NULL, "Y"));
    oir_graph_add_node(g, node1("Add", "add", "X", "W", "a"));
    oir_graph_add_node(g, iff);
    oir_model_require_opset(m, "", 17);
    oir_type_free(t);
    return m;
}

static void test_index(void)
{
    oir_model *m = make_model();
    oir_graph_index ix;
    CHECK_RC(oir_graph_index_build(&ix, m->graph), OLIVE_OK);
    CHECK(oir_index_producer(&ix, "a") && !strcmp(oir_index_producer(&ix, "a")->name, "add"));
    CHECK(oir_index_producer(&ix, "X") == NULL);
    CHECK(oir_index_initializer(&ix, "W") != NULL);
    /* W: read by Add explicitly and by If implicitly through both branches (counted once). */
    CHECK(oir_index_use_count(&ix, "W") == 2);
    CHECK(oir_index_use_count(&ix, "Y") == 1); /* graph output */
    CHECK(oir_index_is_graph_output(&ix, "Y"));
    CHECK(oir_index_consumer(&ix, "a", 0) && !strcmp(oir_index_consumer(&ix, "a", 0)->name, "relu"));
    CHECK(oir_index_consumer(&ix, "a", 1) == NULL);
    oir_graph_index_free(&ix);
    oir_model_free(m);
}

static void test_toposort_validate(void)
{
    oir_model *m = make_model();
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    CHECK_RC(oir_graph_toposort(m->graph), OLIVE_OK);
    CHECK_STR(m->graph->nodes[0]->name, "add");
    CHECK_STR(m->graph->nodes[1]->name, "relu");
    CHECK_STR(m->graph->nodes[2]->name, "if0");

    /* dangling input */
    oir_node_set_input(m->graph->nodes[1], 0, "nowhere");
    CHECK_RC(oir_model_validate(m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("'nowhere'");
    CHECK_ERROR_HAS("'relu'");
    oir_node_set_input(m->graph->nodes[1], 0, "a");

    /* dangling read inside a subgraph */
    oir_node_set_input(m->graph->nodes[2]->attrs[0].g->nodes[0], 0, "ghost");
    CHECK_RC(oir_model_validate(m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("'ghost'");
    CHECK_ERROR_HAS("then_branch");
    oir_node_set_input(m->graph->nodes[2]->attrs[0].g->nodes[0], 0, "W");
    CHECK_RC(oir_model_validate(m), OLIVE_OK);

    /* a value produced twice */
    oir_node_set_output(m->graph->nodes[1], 0, "a");
    CHECK_RC(oir_model_validate(m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("defined twice");
    oir_node_set_output(m->graph->nodes[1], 0, "Y");

    /* missing opset import */
    {
        const oir_node *old = m->graph->nodes[1];
        oir_graph_replace_node(m->graph, 1,
                               oir_node_new(old->op_type, "com.example", old->name, old->n_inputs,
                                            (const char *const *)old->inputs, old->n_outputs,
                                            (const char *const *)old->outputs));
    }
    CHECK_RC(oir_model_validate(m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("com.example");
    oir_model_require_opset(m, "com.example", 1);
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    oir_model_free(m);

    /* a cycle: b = Relu(c), c = Relu(b) */
    m = oir_model_new();
    oir_model_require_opset(m, "", 17);
    oir_graph_add_node(m->graph, node1("Relu", "r1", "c", NULL, "b"));
    oir_graph_add_node(m->graph, node1("Relu", "r2", "b", NULL, "c"));
    oir_graph_add_output(m->graph, "c", NULL);
    CHECK_RC(oir_graph_toposort(m->graph), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("cycle");
    CHECK_RC(oir_model_validate(m), OLIVE_EFORMAT);
    oir_model_free(m);

    /* c = Relu(b) listed before b = Relu(X), two independent nodes between them: the forward sort
     * moves c down after b; from the sinks (onnx_ir's order) b moves up before c. */
    {
        static const char *const forward[] = {"r", "n", "b", "c"}, *const sinks[] = {"b", "c", "r", "n"};
        for (int from_sinks = 0; from_sinks < 2; from_sinks++) {
            m = oir_model_new();
            oir_model_require_opset(m, "", 17);
            oir_graph_add_node(m->graph, node1("Relu", "c", "b", NULL, "C"));
            oir_graph_add_node(m->graph, node1("Relu", "r", "X", NULL, "R"));
            oir_graph_add_node(m->graph, node1("Neg", "n", "X", NULL, "N"));
            oir_graph_add_node(m->graph, node1("Relu", "b", "X", NULL, "b"));
            CHECK_RC(from_sinks ? oir_graph_toposort_from_sinks(m->graph) : oir_graph_toposort(m->graph), OLIVE_OK);
            for (size_t i = 0; i < 4; i++)
                CHECK_MSG(!strcmp(m->graph->nodes[i]->name, (from_sinks ? sinks : forward)[i]), "node %zu is %s", i,
                          m->graph->nodes[i]->name);
            oir_model_free(m);
        }
    }

    /* a node reading its own output */
    m = oir_model_new();
    oir_model_require_opset(m, "", 17);
    oir_graph_add_node(m->graph, node1("Relu", "self", "s", NULL, "s"));
    oir_graph_add_output(m->graph, "s", NULL);
    CHECK_RC(oir_model_validate(m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("cycle");
    oir_model_free(m);
}

static void test_rename_and_clone(void)
{
    oir_model *m = make_model(), *c;
    oir_tensor *w;
    char *u;
    c = oir_model_clone(m);
    CHECK(c != NULL);
    w = oir_graph_initializer(m->graph, "W");
    CHECK(w && w->blob->refs == 2); /* clone shares the bytes */
    CHECK_RC(oir_graph_rename_value(c->graph, "W", "W2"), OLIVE_OK);
    CHECK(oir_graph_initializer(c->graph, "W2") != NULL);
    CHECK_STR(c->graph->nodes[1]->inputs[1], "W2");
    /* the If's then branch reads the outer value and follows the rename */
    CHECK_STR(c->graph->nodes[2]->attrs[0].g->nodes[0]->inputs[0], "W2");
    CHECK_STR(c->graph->nodes[2]->attrs[1].g->outputs[0].name, "W2");
    CHECK_RC(oir_model_validate(c), OLIVE_OK);
    /* the original is untouched */
    CHECK_STR(m->graph->nodes[1]->inputs[1], "W");
    u = oir_graph_unique_name(m->graph, "a");
    CHECK_STR(u, "a_1");
    free(u);
    u = oir_graph_unique_name(m->graph, "fresh");
    CHECK_STR(u, "fresh");
    free(u);
    oir_model_free(c);
    CHECK(w->blob->refs == 1);
    oir_model_free(m);
}

static void test_tensor_checks(void)
{
    int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    int64_t neg[1] = {-3};
    int64_t d4[1] = {3};
    uint64_t n;
    uint8_t bytes[2] = {0x21, 0x03};
    oir_tensor *t = oir_tensor_new("big", OIR_FLOAT, 2, huge);
    CHECK_RC(oir_tensor_expected_bytes(t, &n), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("'big'");
    CHECK_RC(oir_tensor_set_copy(t, bytes, 2), OLIVE_EFORMAT);
    oir_tensor_free(t);
    t = oir_tensor_new("neg", OIR_FLOAT, 1, neg);
    CHECK_RC(oir_tensor_numel(t, &n), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("negative");
    oir_tensor_free(t);
    t = oir_tensor_new("q", OIR_INT4, 1, d4); /* 3 int4 values pack into 2 bytes */
    CHECK_RC(oir_tensor_expected_bytes(t, &n), OLIVE_OK);
    CHECK(n == 2);
    CHECK_RC(oir_tensor_set_copy(t, bytes, 2), OLIVE_OK);
    CHECK_RC(oir_tensor_set_copy(t, bytes, 1), OLIVE_EFORMAT);
    CHECK(t->nbytes == 2); /* unchanged by the failed call */
    oir_tensor_free(t);
    CHECK(oir_dtype_from_name("fp16") == OIR_FLOAT16);
    CHECK(oir_dtype_from_name("float") == OIR_FLOAT);
    CHECK(oir_dtype_from_name("nope") == 0);
    CHECK_STR(oir_dtype_name(OIR_BFLOAT16), "bfloat16");
}

static void test_attrs(void)
{
    oir_node *n = node1("Cast", "c", "x", NULL, "y");
    int64_t perm[3] = {2, 0, 1};
    CHECK_RC(oir_node_set_attr_int(n, "to", OIR_FLOAT16), OLIVE_OK);
    CHECK(oir_node_attr_int(n, "to", 0) == OIR_FLOAT16);
    CHECK_RC(oir_node_set_attr_int(n, "to", OIR_FLOAT), OLIVE_OK); /* replace, not duplicate */
    CHECK(n->n_attrs == 1);
    CHECK_RC(oir_node_set_attr_string(n, "mode", "linear"), OLIVE_OK);
    CHECK_STR(oir_node_attr_string(n, "mode", NULL), "linear");
    CHECK_RC(oir_node_set_attr_ints(n, "perm", perm, 3), OLIVE_OK);
    oir_node *c = oir_node_clone(n);
    CHECK(c && c->n_attrs == 3 && oir_node_attr(c, "perm")->ints[0] == 2);
    oir_node_remove_attr(n, "mode");
    CHECK(n->n_attrs == 2 && !oir_node_attr(n, "mode"));
    CHECK(oir_node_attr_float(n, "absent", 1.5f) == 1.5f);
    CHECK_RC(oir_node_set_input(n, 3, "late"), OLIVE_OK); /* grows with "" entries */
    CHECK(n->n_inputs == 4);
    CHECK_STR(n->inputs[2], "");
    oir_node_free(c);
    oir_node_free(n);
}

int main(void)
{
    test_index();
    test_toposort_validate();
    test_rename_and_clone();
    test_tensor_checks();
    test_attrs();
    return check_summary("test_ir");
}
