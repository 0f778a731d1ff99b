/* The pattern matcher (lib/ir/match.c) on small graphs built through the IR: producer paths
 * by op type and input index, single consumers, constants from initializers and Constant
 * nodes in each float encoding, axes from attributes and inputs, and the "used only inside"
 * check that guards every fusion. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "core/status.h"
#include "ir/ir.h"
#include "ir/match.h"
#include "pass_test_util.h"

static const int64_t D1[1] = {1}, D3[1] = {3};

/* x -> Sub(x, c) -> Mul(., h) -> Div(., two16) -> y, with a Constant node "k" and an extra
 * reader of "s" when `shared`. */
static oir_model *chain(int shared)
{
    oir_model *m = ir_model(18);
    oir_graph *g = m->graph;
    const float c = 0.25f;
    const uint16_t h = 0x3800; /* 0.5 in float16 */
    const uint16_t two = 0x4000;
    const int64_t axes[2] = {-1, 1};
    const int64_t ax2[1] = {2};
    oir_node *k;
    oir_tensor *kt;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
    ir_init(g, "c", OIR_FLOAT, 0, NULL, &c, sizeof c);
    ir_init(g, "h", OIR_FLOAT16, 1, D1, &h, sizeof h);
    ir_init(g, "two16", OIR_FLOAT16, 0, NULL, &two, sizeof two);
    ir_init(g, "axes", OIR_INT64, 1, (const int64_t[1]){2}, axes, sizeof axes);
    k = ir_add(g, "Constant", "k", ((const char *const[]){NULL}), LIST("kv"));
    kt = oir_tensor_new("", OIR_INT64, 1, D1);
    CHECK(kt && oir_tensor_set_copy(kt, ax2, sizeof ax2) == OLIVE_OK &&
          oir_node_set_attr_tensor(k, "value", kt) == OLIVE_OK);
    ir_add(g, "Sub", "sub", LIST("x", "c"), LIST("s"));
    ir_add(g, "Mul", "mul", LIST("s", "h"), LIST("mm"));
    ir_add(g, "Div", "div", LIST("mm", "two16"), LIST("y"));
    ir_add(g, "ReduceMean", "rm_in", LIST("x", "axes"), LIST("r1"));
    ir_add(g, "ReduceMean", "rm_const", LIST("x", "kv"), LIST("r2"));
    oir_node_set_attr_ints(ir_add(g, "ReduceMean", "rm_attr", LIST("x"), LIST("r3")), "axes", ax2, 1);
    if (shared) {
        ir_io(g, 1, "s_out", OIR_FLOAT, 1, D3);
        ir_add(g, "Neg", "neg", LIST("s"), LIST("s_out"));
    }
    return m;
}

static void test_paths_and_constants(void)
{
    oir_model *m = chain(0);
    oir_graph_index ix;
    oir_node *out[3];
    int which[3];
    double v;
    int64_t axes[4];
    size_t na;
    static const char *const ops[] = {"Mul", "Sub"};
    static const int idx[] = {0, -1};
    static const int wrong[] = {1, -1};
    const oir_node *div = ir_named(m->graph, "div");
    CHECK_RC(oir_graph_index_build(&ix, m->graph), OLIVE_OK);
    CHECK(oir_match_parent_path(&ix, div, 2, ops, idx, out, which) == 1);
    CHECK(out[0] == ir_named(m->graph, "mul") && out[1] == ir_named(m->graph, "sub") && which[0] == 0 && which[1] == 0);
    CHECK(oir_match_parent_path(&ix, div, 2, ops, wrong, out, NULL) == 0);
    CHECK(oir_match_parent(&ix, div, 0, "Sub") == NULL);
    CHECK(oir_match_only_child(&ix, "s", "Mul") == ir_named(m->graph, "mul"));
    CHECK(oir_match_only_child(&ix, "s", "Add") == NULL);
    CHECK(oir_match_only_child(&ix, "y", NULL) == NULL); /* a graph output */
    CHECK(oir_match_scalar(&ix, "c", &v) && v == 0.25);
    CHECK(oir_match_scalar(&ix, "h", &v) && v == 0.5);
    CHECK(oir_match_scalar(&ix, "two16", &v) && v == 2.0);
    CHECK(oir_match_scalar(&ix, "kv", &v) && v == 2.0); /* from the Constant node */
    CHECK(!oir_match_scalar(&ix, "axes", &v));          /* two elements */
    CHECK(!oir_match_scalar(&ix, "x", &v));             /* not a constant */
    CHECK(oir_match_scalar_near(&ix, "c", 0.2501, 1e-3) && !oir_match_scalar_near(&ix, "c", 0.3, 1e-3));
    CHECK(oir_match_const_input(&ix, ir_named(m->graph, "mul"), 0.5, 0) == 1);
    CHECK(oir_match_const_input(&ix, ir_named(m->graph, "mul"), 0.4, 0) == -1);
    CHECK(oir_match_axes(&ix, ir_named(m->graph, "rm_in"), axes, 4, &na) && na == 2 && axes[0] == -1 && axes[1] == 1);
    CHECK(oir_match_axes(&ix, ir_named(m->graph, "rm_const"), axes, 4, &na) && na == 1 && axes[0] == 2);
    CHECK(oir_match_axes(&ix, ir_named(m->graph, "rm_attr"), axes, 4, &na) && na == 1 && axes[0] == 2);
    CHECK(!oir_match_axes(&ix, ir_named(m->graph, "rm_in"), axes, 1, &na)); /* more than max */
    /* a marked node is claimed: it neither matches nor may be replaced again */
    ((oir_node *)ir_named(m->graph, "mul"))->mark = 1;
    CHECK(oir_match_parent(&ix, div, 0, "Mul") == NULL);
    oir_graph_index_free(&ix);
    oir_model_free(m);
}

static void test_only_used_inside(void)
{
    oir_model *m = chain(0), *s = chain(1);
    oir_graph_index ix;
    oir_node *set[3];
    const char *keep[1] = {"y"};
    CHECK_RC(oir_graph_index_build(&ix, m->graph), OLIVE_OK);
    set[0] = (oir_node *)ir_named(m->graph, "sub");
    set[1] = (oir_node *)ir_named(m->graph, "mul");
    set[2] = (oir_node *)ir_named(m->graph, "div");
    CHECK(oir_match_only_used_inside(&ix, set, 3, keep, 1) == 1);
    CHECK(oir_match_only_used_inside(&ix, set, 3, NULL, 0) == 0); /* y is a graph output */
    CHECK(oir_match_only_used_inside(&ix, set + 1, 2, keep, 1) == 1);
    oir_graph_index_free(&ix);
    CHECK_RC(oir_graph_index_build(&ix, s->graph), OLIVE_OK);
    set[0] = (oir_node *)ir_named(s->graph, "sub");
    set[1] = (oir_node *)ir_named(s->graph, "mul");
    set[2] = (oir_node *)ir_named(s->graph, "div");
    CHECK(oir_match_only_used_inside(&ix, set, 3, keep, 1) == 0); /* s is also read by Neg */
    oir_graph_index_free(&ix);
    oir_model_free(m);
    oir_model_free(s);
}

static void test_value_rank(void)
{
    oir_model *m = chain(0);
    oir_graph_index ix;
    int64_t dims[4] = {0};
    CHECK_RC(oir_graph_index_build(&ix, m->graph), OLIVE_OK);
    CHECK(oir_match_value_rank(m->graph, &ix, "x", dims, 4) == 1 && dims[0] == 3);
    CHECK(oir_match_value_rank(m->graph, &ix, "axes", dims, 4) == 1 && dims[0] == 2);
    CHECK(oir_match_value_rank(m->graph, &ix, "c", dims, 4) == 0);
    CHECK(oir_match_value_rank(m->graph, &ix, "s", dims, 4) == -1);
    oir_graph_index_free(&ix);
    oir_model_free(m);
}

int main(void)
{
    test_paths_and_constants();
    test_only_used_inside();
    test_value_rank();
    return check_summary("test_match");
}
