/* The peephole pass on graphs built through the IR: exactly what is removed, folded or
 * renamed, and the cases that must stay as they are. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pass_test_util.h"
#include "core/status.h"
#include "ir/ir.h"
#include "passes/peephole/peephole.h"
#include "passes/registry.h"

static int run_with(oir_model *m, const setting *set, olive_pass_ctx *ctx)
{
    return pass_run_with(&olive_pass_peephole, m, set, ctx);
}

static int run(oir_model *m)
{
    return run_with(m, NULL, NULL);
}

#define NONE ((const char *const[]){NULL})

static const int64_t D3[1] = {3};

/* x -> Identity -> a -> Relu -> b -> Identity -> y: both Identities go, Relu writes y. */
static void test_identity(void)
{
    oir_model *m = ir_model(17);
    oir_graph *g = m->graph;
    const oir_node *relu;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
    ir_add(g, "Identity", "id1", LIST("x"), LIST("a"));
    ir_add(g, "Relu", "relu", LIST("a"), LIST("b"));
    ir_add(g, "Identity", "id2", LIST("b"), LIST("y"));
    oir_graph_add_value_info(g, "b", NULL);
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_nodes == 1);
    relu = ir_named(g, "relu");
    CHECK(relu && !strcmp(relu->inputs[0], "x") && !strcmp(relu->outputs[0], "y"));
    CHECK_STR(g->outputs[0].name, "y");
    CHECK(g->n_value_info == 0); /* 'b' is gone, so is its entry */
    oir_model_free(m);
}

/* Dropout whose mask is read stays; one whose mask is unused goes. */
static void test_dropout(void)
{
    oir_model *m = ir_model(13);
    oir_graph *g = m->graph;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
    ir_add(g, "Dropout", "drop", LIST("x"), LIST("a", "mask"));
    oir_node_set_attr_int(ir_add(g, "Cast", "cast", LIST("mask"), LIST("mf")), "to", OIR_FLOAT);
    ir_add(g, "Add", "add", LIST("a", "mf"), LIST("y"));
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_nodes == 3 && ir_count_ops(g, "Dropout") == 1 && ir_count_ops(g, "Cast") == 1);
    oir_model_free(m);

    /* training_mode fed at run time: may be true, so the Dropout stays */
    m = ir_model(13);
    g = m->graph;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
    ir_io(g, 0, "train", OIR_BOOL, 0, NULL);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
    ir_add(g, "Dropout", "drop", LIST("x", "", "train"), LIST("a"));
    ir_add(g, "Neg", "neg", LIST("a"), LIST("y"));
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_nodes == 2 && ir_count_ops(g, "Dropout") == 1);
    oir_model_free(m);

    m = ir_model(13);
    g = m->graph;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
    ir_add(g, "Dropout", "drop", LIST("x"), LIST("a", "mask"));
    ir_add(g, "Neg", "neg", LIST("a"), LIST("y"));
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_nodes == 1 && !strcmp(g->nodes[0]->inputs[0], "x"));
    oir_model_free(m);
}

/* Cast whose input type is unknown stays; with the type in value_info it goes. */
static void test_cast(void)
{
    for (int known = 0; known < 2; known++) {
        oir_model *m = ir_model(17);
        oir_graph *g = m->graph;
        ir_io(g, 0, "c", OIR_BOOL, 1, D3);
        ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
        ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
        ir_add(g, "Where", "where", LIST("c", "x", "x"), LIST("a"));
        oir_node_set_attr_int(ir_add(g, "Cast", "cast", LIST("a"), LIST("b")), "to", OIR_FLOAT);
        ir_add(g, "Neg", "neg", LIST("b"), LIST("y"));
        if (known) {
            oir_type *t = oir_type_new_tensor(OIR_FLOAT, 1, D3, NULL);
            oir_graph_add_value_info(g, "a", t);
            oir_type_free(t);
        }
        CHECK_RC(run(m), OLIVE_OK);
        CHECK(ir_count_ops(g, "Cast") == (known ? 0u : 1u));
        CHECK(g->n_nodes == (known ? 2u : 3u));
        oir_model_free(m);
    }
}

/* Add(a, b) with both initializers folds, unless b is also a graph input (overridable). */
static void test_overridable_initializer(void)
{
    for (int b_is_input = 0; b_is_input < 2; b_is_input++) {
        float a[3] = {1, 2, 3}, b[3] = {10, 20, 30}, sum[3] = {11, 22, 33};
        oir_model *m = ir_model(17);
        oir_graph *g = m->graph;
        const oir_tensor *s;
        ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
        if (b_is_input)
            ir_io(g, 0, "b", OIR_FLOAT, 1, D3);
        ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
        ir_init(g, "a", OIR_FLOAT, 1, D3, a, sizeof a);
        ir_init(g, "b", OIR_FLOAT, 1, D3, b, sizeof b);
        ir_add(g, "Add", "add", LIST("a", "b"), LIST("s"));
        ir_add(g, "Mul", "mul", LIST("x", "s"), LIST("y"));
        CHECK_RC(run(m), OLIVE_OK);
        s = oir_graph_initializer(g, "s");
        if (b_is_input) {
            CHECK(g->n_nodes == 2 && !s && g->n_initializers == 2 && g->n_inputs == 2);
        } else {
            CHECK(g->n_nodes == 1 && g->n_initializers == 1);
            CHECK(s && s->dtype == OIR_FLOAT && s->rank == 1 && s->dims[0] == 3 && s->nbytes == 12 &&
                  !memcmp(oir_tensor_data(s), sum, 12));
        }
        oir_model_free(m);
    }
}

/* An If whose then-branch reads the outer initializer W and the outer value r (used nowhere
 * else): both stay. Inside the branch, the Identity goes and k1 + k2 (outer constants)
 * folds into a branch initializer; W * r does not fold (r is computed). */
static void test_if_subgraph(void)
{
    float w[3] = {1, 2, 3}, k1[3] = {1, 1, 1}, k2[3] = {2, 2, 2}, k[3] = {3, 3, 3};
    oir_model *m = ir_model(13);
    oir_graph *g = m->graph, *then_g = oir_graph_new("then"), *else_g = oir_graph_new("else");
    oir_node *iff;
    const oir_tensor *kt;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
    ir_io(g, 0, "cond", OIR_BOOL, 0, NULL);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
    ir_init(g, "W", OIR_FLOAT, 1, D3, w, sizeof w);
    ir_init(g, "k1", OIR_FLOAT, 1, D3, k1, sizeof k1);
    ir_init(g, "k2", OIR_FLOAT, 1, D3, k2, sizeof k2);
    ir_init(g, "unused", OIR_FLOAT, 1, D3, w, sizeof w);
    ir_add(g, "Relu", "relu", LIST("x"), LIST("r"));
    ir_add(then_g, "Identity", "tid", LIST("W"), LIST("t0"));
    ir_add(then_g, "Add", "tadd", LIST("k1", "k2"), LIST("tk"));
    ir_add(then_g, "Mul", "tmul", LIST("t0", "r"), LIST("t1"));
    ir_add(then_g, "Add", "tout", LIST("t1", "tk"), LIST("t_out"));
    ir_io(then_g, 1, "t_out", OIR_FLOAT, 1, D3);
    ir_add(else_g, "Neg", "eneg", LIST("x"), LIST("e_out"));
    ir_io(else_g, 1, "e_out", OIR_FLOAT, 1, D3);
    iff = ir_add(g, "If", "if", LIST("cond"), LIST("y"));
    CHECK_RC(oir_node_set_attr_graph(iff, "then_branch", then_g), OLIVE_OK);
    CHECK_RC(oir_node_set_attr_graph(iff, "else_branch", else_g), OLIVE_OK);
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_nodes == 2 && ir_named(g, "relu") && ir_named(g, "if"));
    /* W and r are read only inside the branch; k1, k2 only by the folded Add; `unused` by nobody */
    CHECK(oir_graph_initializer(g, "W") && !oir_graph_initializer(g, "k1") && !oir_graph_initializer(g, "k2"));
    CHECK(!oir_graph_initializer(g, "unused"));
    CHECK(then_g->n_nodes == 2 && ir_named(then_g, "tmul") && ir_named(then_g, "tout"));
    CHECK(ir_named(then_g, "tmul") && !strcmp(ir_named(then_g, "tmul")->inputs[0], "W"));
    CHECK(ir_named(then_g, "tout") && !strcmp(ir_named(then_g, "tout")->inputs[1], "tk"));
    kt = oir_graph_initializer(then_g, "tk");
    CHECK(kt && kt->nbytes == 12 && !memcmp(oir_tensor_data(kt), k, 12));
    CHECK(else_g->n_nodes == 1);
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    oir_model_free(m);
}

/* x -> Identity -> a -> Identity -> b, with b read only inside an If branch (by a node and
 * as the branch's output): both Identities go and the branch reads x. */
static void test_identity_read_by_subgraph(void)
{
    oir_model *m = ir_model(13);
    oir_graph *g = m->graph, *then_g = oir_graph_new("then"), *else_g = oir_graph_new("else");
    oir_node *iff;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
    ir_io(g, 0, "cond", OIR_BOOL, 0, NULL);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
    ir_add(g, "Identity", "i1", LIST("x"), LIST("a"));
    ir_add(g, "Identity", "i2", LIST("a"), LIST("b"));
    ir_add(then_g, "Neg", "neg", LIST("b"), LIST("t"));
    ir_io(then_g, 1, "t", OIR_FLOAT, 1, D3);
    ir_io(else_g, 1, "b", OIR_FLOAT, 1, D3);
    iff = ir_add(g, "If", "if", LIST("cond"), LIST("y"));
    oir_node_set_attr_graph(iff, "then_branch", then_g);
    oir_node_set_attr_graph(iff, "else_branch", else_g);
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_nodes == 1 && ir_named(g, "if"));
    CHECK(then_g->n_nodes == 1 && !strcmp(then_g->nodes[0]->inputs[0], "x"));
    CHECK_STR(else_g->outputs[0].name, "x");
    CHECK_RC(oir_model_validate(m), OLIVE_OK);
    oir_model_free(m);
}

/* A Loop body passing a carried value straight through keeps its Identity: the body's
 * input and output names are both fixed. */
static void test_loop_body_identity(void)
{
    oir_model *m = ir_model(13);
    oir_graph *g = m->graph, *body = oir_graph_new("body");
    oir_node *loop;
    int64_t trip = 2;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
    ir_init(g, "trip", OIR_INT64, 0, NULL, &trip, 8);
    ir_io(body, 0, "i", OIR_INT64, 0, NULL);
    ir_io(body, 0, "cond_in", OIR_BOOL, 0, NULL);
    ir_io(body, 0, "v_in", OIR_FLOAT, 1, D3);
    ir_add(body, "Identity", "cid", LIST("cond_in"), LIST("cond_out"));
    ir_add(body, "Identity", "vid", LIST("v_in"), LIST("v_out"));
    ir_io(body, 1, "cond_out", OIR_BOOL, 0, NULL);
    ir_io(body, 1, "v_out", OIR_FLOAT, 1, D3);
    loop = ir_add(g, "Loop", "loop", LIST("trip", "", "x"), LIST("y"));
    CHECK_RC(oir_node_set_attr_graph(loop, "body", body), OLIVE_OK);
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(body->n_nodes == 2 && body->n_inputs == 3 && body->n_outputs == 2);
    CHECK_STR(body->outputs[1].name, "v_out");
    oir_model_free(m);
}

/* Shape(W) -> Gather -> Unsqueeze -> Concat -> Reshape(W): one initializer of W's bytes in
 * shape [-1, 2] resolved, i.e. [6, 2]. */
static void test_shape_chain_folds(void)
{
    float w[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    int64_t dw[2] = {3, 4}, one = 1, idx = 0, minus1[1] = {-1}, two[1] = {2}, ax0[1] = {0};
    oir_model *m = ir_model(13);
    oir_graph *g = m->graph;
    const oir_tensor *t;
    ir_io(g, 0, "x", OIR_FLOAT, 2, (int64_t[]){6, 2});
    ir_io(g, 1, "y", OIR_FLOAT, 2, (int64_t[]){6, 2});
    ir_init(g, "W", OIR_FLOAT, 2, dw, w, sizeof w);
    ir_init(g, "idx", OIR_INT64, 0, NULL, &idx, 8);
    ir_init(g, "ax0", OIR_INT64, 1, &one, ax0, 8);
    ir_init(g, "minus1", OIR_INT64, 1, &one, minus1, 8);
    ir_init(g, "two", OIR_INT64, 1, &one, two, 8);
    ir_add(g, "Shape", "shape", LIST("W"), LIST("sh"));
    ir_add(g, "Gather", "gather", LIST("sh", "idx"), LIST("d0"));
    ir_add(g, "Unsqueeze", "unsq", LIST("d0", "ax0"), LIST("d0u"));
    ir_add(g, "Div", "div", LIST("two", "two"), LIST("unit")); /* [1], exercises Div too */
    ir_add(g, "Mul", "mul", LIST("two", "unit"), LIST("two2"));
    oir_node_set_attr_int(ir_add(g, "Concat", "concat", LIST("minus1", "two2"), LIST("target")), "axis", 0);
    ir_add(g, "Reshape", "reshape", LIST("W", "target"), LIST("w2"));
    ir_add(g, "Add", "add", LIST("x", "w2"), LIST("y"));
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_nodes == 1 && ir_named(g, "add"));
    CHECK(g->n_initializers == 1);
    t = oir_graph_initializer(g, "w2");
    CHECK(t && t->dtype == OIR_FLOAT && t->rank == 2 && t->dims[0] == 6 && t->dims[1] == 2 && t->nbytes == sizeof w &&
          !memcmp(oir_tensor_data(t), w, sizeof w));
    oir_model_free(m);
}

/* Constant nodes become initializers; one that is a graph output stays a node. */
static void test_constant_nodes(void)
{
    oir_model *m = ir_model(17);
    oir_graph *g = m->graph;
    oir_node *c1, *c2;
    const oir_tensor *t;
    int64_t ints[2] = {4, 5};
    ir_io(g, 0, "x", OIR_INT64, 1, (int64_t[]){2});
    ir_io(g, 1, "y", OIR_INT64, 1, (int64_t[]){2});
    ir_io(g, 1, "c_out", OIR_INT64, 0, NULL);
    c1 = ir_add(g, "Constant", "c1", NONE, LIST("c"));
    oir_node_set_attr_ints(c1, "value_ints", ints, 2);
    c2 = ir_add(g, "Constant", "c2", NONE, LIST("c_out"));
    oir_node_set_attr_int(c2, "value_int", 7);
    ir_add(g, "Add", "add", LIST("x", "c"), LIST("y"));
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_nodes == 2 && ir_named(g, "c2") && ir_named(g, "add"));
    t = oir_graph_initializer(g, "c");
    CHECK(t && t->dtype == OIR_INT64 && t->rank == 1 && t->dims[0] == 2 && !memcmp(oir_tensor_data(t), ints, 16));
    oir_model_free(m);
}

/* Unsqueeze then Squeeze on the same axes cancel (attribute axes, opset 11; negative and
 * positive spellings of the same axis); other axes do not. */
static void test_unsqueeze_squeeze(void)
{
    for (int same = 0; same < 2; same++) {
        oir_model *m = ir_model(11);
        oir_graph *g = m->graph;
        oir_node *u, *s;
        ir_io(g, 0, "x", OIR_FLOAT, 2, (int64_t[]){2, 3});
        ir_io(g, 1, "y", OIR_FLOAT, 2, (int64_t[]){2, 3});
        u = ir_add(g, "Unsqueeze", "u", LIST("x"), LIST("a"));
        oir_node_set_attr_ints(u, "axes", (int64_t[]){-1}, 1);
        s = ir_add(g, "Squeeze", "s", LIST("a"), LIST("b"));
        oir_node_set_attr_ints(s, "axes", (int64_t[]){same ? 2 : 0}, 1);
        ir_add(g, "Relu", "relu", LIST("b"), LIST("y"));
        CHECK_RC(run(m), OLIVE_OK);
        CHECK(g->n_nodes == (same ? 1u : 3u));
        CHECK(ir_named(g, "relu") && !strcmp(ir_named(g, "relu")->inputs[0], same ? "x" : "b"));
        oir_model_free(m);
    }
}

/* Byte-identical initializers merge into the first; same bytes with other dims do not. */
static void test_dedup(void)
{
    float v[2] = {1, 2};
    int64_t d2[1] = {2}, d12[2] = {1, 2};
    oir_model *m = ir_model(17);
    oir_graph *g = m->graph;
    ir_io(g, 0, "x", OIR_FLOAT, 1, d2);
    ir_io(g, 1, "y", OIR_FLOAT, 2, d12);
    ir_init(g, "w1", OIR_FLOAT, 1, d2, v, sizeof v);
    ir_init(g, "w2", OIR_FLOAT, 1, d2, v, sizeof v);
    ir_init(g, "w3", OIR_FLOAT, 2, d12, v, sizeof v);
    ir_init(g, "w4", OIR_FLOAT, 1, d2, v, sizeof v);
    ir_add(g, "Add", "a1", LIST("x", "w1"), LIST("a"));
    ir_add(g, "Mul", "a2", LIST("a", "w2"), LIST("b"));
    ir_add(g, "Sub", "a3", LIST("b", "w3"), LIST("c"));
    ir_add(g, "Div", "a4", LIST("c", "w4"), LIST("y"));
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_initializers == 2 && oir_graph_initializer(g, "w1") && oir_graph_initializer(g, "w3"));
    CHECK(!strcmp(ir_named(g, "a2")->inputs[1], "w1") && !strcmp(ir_named(g, "a4")->inputs[1], "w1"));
    CHECK(!strcmp(ir_named(g, "a3")->inputs[1], "w3"));
    oir_model_free(m);
}

/* Dead nodes and unused initializers go; graph inputs stay even when unused. */
static void test_dead_code(void)
{
    float v[3] = {1, 2, 3};
    oir_model *m = ir_model(17);
    oir_graph *g = m->graph;
    ir_io(g, 0, "x", OIR_FLOAT, 1, D3);
    ir_io(g, 0, "unused_input", OIR_FLOAT, 1, D3);
    ir_io(g, 1, "y", OIR_FLOAT, 1, D3);
    ir_init(g, "w", OIR_FLOAT, 1, D3, v, sizeof v);
    ir_init(g, "w_dead", OIR_FLOAT, 1, (int64_t[]){3}, (float[]){4, 5, 6}, 12);
    ir_add(g, "Mul", "dead1", LIST("x", "w_dead"), LIST("d1"));
    ir_add(g, "Relu", "dead2", LIST("d1"), LIST("d2"));
    ir_add(g, "Add", "live", LIST("x", "w"), LIST("y"));
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_nodes == 1 && ir_named(g, "live"));
    CHECK(g->n_initializers == 1 && oir_graph_initializer(g, "w"));
    CHECK(g->n_inputs == 2);
    oir_model_free(m);
}

/* Reshape(Reshape(x, [6]), [2, 3]) of a static [2, 3] input is x itself. */
static void test_reshape_back(void)
{
    int64_t flat[1] = {6}, back[2] = {2, -1}, one = 1, two = 2;
    oir_model *m = ir_model(14);
    oir_graph *g = m->graph;
    ir_io(g, 0, "x", OIR_FLOAT, 2, (int64_t[]){2, 3});
    ir_io(g, 1, "y", OIR_FLOAT, 2, (int64_t[]){2, 3});
    ir_init(g, "flat", OIR_INT64, 1, &one, flat, 8);
    ir_init(g, "back", OIR_INT64, 1, &two, back, 16);
    ir_add(g, "Reshape", "r1", LIST("x", "flat"), LIST("a"));
    ir_add(g, "Reshape", "r2", LIST("a", "back"), LIST("b"));
    ir_add(g, "Sigmoid", "sig", LIST("b"), LIST("y"));
    CHECK_RC(run(m), OLIVE_OK);
    CHECK(g->n_nodes == 1 && !strcmp(g->nodes[0]->inputs[0], "x") && g->n_initializers == 0);
    oir_model_free(m);
}

/* Progress is reported, ends at 1, and a cancel stops the pass. */
typedef struct {
    double last;
    int calls, monotonic, cancel_at;
} progress_log;

static int on_progress(olive_pass_ctx *ctx, double f)
{
    progress_log *p = ctx->user;
    if (f < p->last)
        p->monotonic = 0;
    p->last = f;
    if (++p->calls == p->cancel_at)
        return olive_fail(OLIVE_ECANCELLED, "cancelled");
    return OLIVE_OK;
}

static oir_model *small_model(void)
{
    oir_model *m = ir_model(17);
    ir_io(m->graph, 0, "x", OIR_FLOAT, 1, D3);
    ir_io(m->graph, 1, "y", OIR_FLOAT, 1, D3);
    ir_add(m->graph, "Identity", "id", LIST("x"), LIST("a"));
    ir_add(m->graph, "Relu", "relu", LIST("a"), LIST("y"));
    return m;
}

static void test_progress_and_cancel(void)
{
    progress_log log = {0, 0, 1, 0};
    olive_pass_ctx ctx = {NULL, on_progress, &log};
    oir_model *m = small_model();
    CHECK_RC(run_with(m, NULL, &ctx), OLIVE_OK);
    CHECK(log.calls >= 2 && log.monotonic && log.last == 1.0);
    oir_model_free(m);

    log = (progress_log){0, 0, 1, 1};
    m = small_model();
    CHECK_RC(run_with(m, NULL, &ctx), OLIVE_ECANCELLED);
    CHECK(log.calls == 1);
    oir_model_free(m);
}

/* Switches: with everything off the graph is unchanged. */
static void test_switches(void)
{
    static const setting off[] = {{"fold_constants", "false"},           {"remove_noops", "false"},
                                  {"simplify_reshapes", "false"},        {"remove_unused", "false"},
                                  {"deduplicate_initializers", "false"}, {NULL, NULL}};
    oir_model *m = small_model();
    CHECK_RC(run_with(m, off, NULL), OLIVE_OK);
    CHECK(m->graph->n_nodes == 2);
    oir_model_free(m);
}

/* A broken input graph is refused with the node named, not rewritten. */
static void test_invalid_model(void)
{
    oir_model *m = small_model();
    oir_node_set_input(m->graph->nodes[1], 0, "nowhere");
    CHECK_RC(run(m), OLIVE_EFORMAT);
    CHECK_ERROR_HAS("'nowhere'");
    CHECK_ERROR_HAS("peephole");
    oir_model_free(m);
}

int main(void)
{
    test_identity();
    test_dropout();
    test_cast();
    test_overridable_initializer();
    test_if_subgraph();
    test_identity_read_by_subgraph();
    test_loop_body_identity();
    test_shape_chain_folds();
    test_constant_nodes();
    test_unsqueeze_squeeze();
    test_dedup();
    test_dead_code();
    test_reshape_back();
    test_progress_and_cancel();
    test_switches();
    test_invalid_model();
    return check_summary("test_peephole");
}
