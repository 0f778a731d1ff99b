/* SkipLayerNormalization / SkipSimplifiedLayerNormalization: the residual Add before a
 * (simplified) layer normalization over the last axis joins it. The op takes a 3-D input and a
 * skip of the same shape (or (S, H) broadcast over the batch), so both ranks must be known; an
 * Add of embeddings (a Gather of a constant table) is left for EmbedLayerNormalization. When the
 * sum is read elsewhere it becomes the fused node's fourth output.
 *
 * Then, after the other fusions: a bias Add between a MatMul and the SkipLayerNormalization
 * becomes its fifth input. */
#include <string.h>

#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

/* An embedding lookup: a Gather whose indices are neither a graph input nor made by
 * ConstantOfShape (onnxruntime leaves those Adds to its embedding fusion). */
static int is_embedding_gather(const fuse_ctx *c, const oir_node *add)
{
    for (size_t i = 0; i < add->n_inputs; i++) {
        const oir_node *p = oir_match_parent(&c->ix, add, i, "Gather");
        const oir_node *q;
        if (!p || p->n_inputs < 2)
            continue;
        if (oir_graph_input_index(c->g, p->inputs[1]) >= 0)
            continue;
        q = oir_index_producer(&c->ix, p->inputs[1]);
        if (q && oir_match_is_op(q, "ConstantOfShape"))
            continue;
        return 1;
    }
    return 0;
}

static int normalizes_last_axis(const fuse_ctx *c, const oir_node *ln)
{
    int64_t axis = oir_node_attr_int(ln, "axis", -1);
    int rank = fuse_rank(c, ln->inputs[0]);
    return axis == -1 || (rank > 0 && axis == rank - 1);
}

static int try_fuse(fuse_ctx *c, oir_node *ln, int simplified)
{
    oir_node *add, *nodes[2], *out;
    const char *ins[4], *outs[4], *keep[2];
    size_t uses, n_outs = 1, n_ins;
    int skip = 1, r0, r1, shared;
    if (ln->n_inputs < 2 || ln->n_outputs < 1 || !normalizes_last_axis(c, ln))
        return OLIVE_OK;
    /* The mean / inverse std outputs have no counterpart that keeps their meaning. */
    for (size_t o = 1; o < ln->n_outputs; o++)
        if (ln->outputs[o][0] && oir_index_use_count(&c->ix, ln->outputs[o]))
            return OLIVE_OK;
    add = oir_match_parent(&c->ix, ln, 0, "Add");
    if (!add || add->n_inputs != 2 || oir_match_const(&c->ix, add->inputs[0]) ||
        oir_match_const(&c->ix, add->inputs[1]))
        return OLIVE_OK;
    r0 = fuse_rank(c, add->inputs[0]);
    r1 = fuse_rank(c, add->inputs[1]);
    if (r0 == 3 && r1 == 3)
        skip = 1;
    else if (r0 == 3 && r1 == 2)
        skip = 1;
    else if (r0 == 2 && r1 == 3)
        skip = 0;
    else
        return OLIVE_OK;
    if (is_embedding_gather(c, add))
        return OLIVE_OK;
    uses = oir_index_use_count(&c->ix, add->outputs[0]);
    shared = uses > 1 || oir_index_is_graph_output(&c->ix, add->outputs[0]);
    nodes[0] = add;
    nodes[1] = ln;
    keep[0] = ln->outputs[0];
    keep[1] = add->outputs[0];
    if (!oir_match_only_used_inside(&c->ix, nodes, 2, keep, shared ? 2 : 1))
        return OLIVE_OK;
    ins[0] = add->inputs[1 - skip];
    ins[1] = add->inputs[skip];
    ins[2] = ln->inputs[1];
    ins[3] = ln->n_inputs > 2 ? ln->inputs[2] : "";
    n_ins = simplified ? 3 : (ins[3][0] ? 4 : 3);
    outs[0] = ln->outputs[0];
    if (shared) {
        outs[1] = outs[2] = "";
        outs[3] = add->outputs[0];
        n_outs = 4;
    }
    OLIVE_TRY(fuse_emit(c, nodes, 2, simplified ? "SkipSimplifiedLayerNormalization" : "SkipLayerNormalization",
                        FUSE_MS_DOMAIN, "SkipLayerNorm", n_ins, ins, n_outs, outs, &out));
    /* Both normalizations default to epsilon 1e-5 when the attribute is absent. */
    return oir_node_set_attr_float(out, "epsilon", oir_node_attr_float(ln, "epsilon", 1e-5f));
}

int fuse_skip_layer_norm(fuse_ctx *c)
{
    size_t n = c->g->n_nodes;
    for (size_t i = 0; i < n; i++) {
        oir_node *x = c->g->nodes[i];
        if (x->mark)
            continue;
        if (oir_match_is_op(x, "LayerNormalization"))
            OLIVE_TRY(try_fuse(c, x, 0));
        else if (oir_match_is_op(x, "SimplifiedLayerNormalization"))
            OLIVE_TRY(try_fuse(c, x, 1));
    }
    return OLIVE_OK;
}

static int try_fuse_bias(fuse_ctx *c, oir_node *sln)
{
    for (int side = 0; side < 2; side++) {
        oir_node *add = oir_match_parent(&c->ix, sln, (size_t)side, "Add"), *mm, *nodes[2], *out;
        const char *ins[5];
        int at;
        if (!add || add->n_inputs != 2)
            continue;
        mm = oir_match_parent_any(&c->ix, add, -1, "MatMul", NULL, &at);
        if (!mm || !fuse_is_1d_float_const(c, add->inputs[1 - at]) ||
            oir_index_initializer(&c->ix, add->inputs[1 - at]) == NULL)
            continue;
        nodes[0] = add;
        nodes[1] = sln;
        if (!oir_match_only_used_inside(&c->ix, nodes, 2, (const char *const *)sln->outputs, sln->n_outputs))
            return OLIVE_OK;
        ins[0] = add->inputs[at];
        ins[1] = sln->inputs[1 - side];
        ins[2] = sln->inputs[2];
        ins[3] = sln->inputs[3];
        ins[4] = add->inputs[1 - at];
        OLIVE_TRY(fuse_emit(c, nodes, 2, "SkipLayerNormalization", FUSE_MS_DOMAIN, "SkipLayerNorm_AddBias", 5, ins,
                            sln->n_outputs, (const char *const *)sln->outputs, &out));
        return oir_node_set_attr_float(out, "epsilon", oir_node_attr_float(sln, "epsilon", 1e-12f));
    }
    return OLIVE_OK;
}

int fuse_bias_skip_layer_norm(fuse_ctx *c)
{
    size_t n = c->g->n_nodes;
    for (size_t i = 0; i < n; i++) {
        oir_node *x = c->g->nodes[i];
        if (!x->mark && !strcmp(x->op_type, "SkipLayerNormalization") && !strcmp(x->domain, FUSE_MS_DOMAIN) &&
            x->n_inputs == 4)
            OLIVE_TRY(try_fuse_bias(c, x));
    }
    return OLIVE_OK;
}
