/* LayerNormalization from its decomposed form, as exporters write it before opset 17:
 *
 *   x -> ReduceMean -> Sub(x, mean) -> Pow(2) -> ReduceMean -> Add(eps) -> Sqrt -> Div(sub, .)
 *     -> Mul(weight) -> Add(bias)
 *
 * (older exporters compute the Sub twice: both copies go). Both reductions must run over the
 * last axis, the exponent must be 2, epsilon in (0, 1e-4] as onnxruntime accepts it, weight and
 * bias 1-D constants. */
#include <string.h>

#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

/* 1 when `n` reduces exactly the last axis of `value` and keeps dims. */
static int reduces_last_axis(const fuse_ctx *c, const oir_node *n)
{
    int64_t axes[2];
    size_t na;
    int rank;
    if (!oir_node_attr_int(n, "keepdims", 1) || !oir_match_axes(&c->ix, n, axes, 2, &na) || na != 1)
        return 0;
    if (axes[0] == -1)
        return 1;
    rank = fuse_rank(c, n->inputs[0]);
    return rank > 0 && axes[0] == rank - 1;
}

/* The Div that divides a Sub of the pattern. */
static oir_node *div_after(const fuse_ctx *c, oir_node *sub)
{
    size_t uses = oir_index_use_count(&c->ix, sub->outputs[0]);
    for (size_t k = 0; k < uses; k++) {
        oir_node *x = oir_index_consumer(&c->ix, sub->outputs[0], k);
        if (!x || x->mark)
            continue;
        if (oir_match_is_op(x, "Div") && x->n_inputs == 2 && !strcmp(x->inputs[0], sub->outputs[0]))
            return x;
    }
    return NULL;
}

static int try_fuse(fuse_ctx *c, oir_node *rm)
{
    oir_node *subs[2] = {NULL, NULL}, *div, *path[5], *mul, *add, *nodes[12];
    const char *root, *weight, *bias, *ins[3];
    static const char *const ops[] = {"Sqrt", "Add", "ReduceMean", "Pow", "Sub"};
    static const int idx[] = {1, -1, 0, 0, 0};
    size_t n_subs = 0, uses, nn = 0;
    double eps;
    int eps_at;
    oir_node *ln;

    if (rm->n_inputs < 1 || rm->n_outputs != 1 || !reduces_last_axis(c, rm))
        return OLIVE_OK;
    root = rm->inputs[0];
    uses = oir_index_use_count(&c->ix, rm->outputs[0]);
    if (uses < 1 || uses > 2 || oir_index_is_graph_output(&c->ix, rm->outputs[0]))
        return OLIVE_OK;
    for (size_t k = 0; k < uses; k++) {
        oir_node *s = oir_index_consumer(&c->ix, rm->outputs[0], k);
        if (!s || s->mark || !oir_match_is_op(s, "Sub") || s->n_inputs != 2 || strcmp(s->inputs[0], root) ||
            strcmp(s->inputs[1], rm->outputs[0]))
            return OLIVE_OK;
        subs[n_subs++] = s;
    }
    div = NULL;
    for (size_t k = 0; k < n_subs && !div; k++)
        div = div_after(c, subs[k]);
    if (!div || !oir_match_parent_path(&c->ix, div, 5, ops, idx, path, NULL))
        return OLIVE_OK;
    if (path[4] != subs[0] && path[4] != subs[1])
        return OLIVE_OK;
    /* The variance: mean of (x - mean)^2 over the same last axis. */
    if (!reduces_last_axis(c, path[2]) || strcmp(path[3]->inputs[0], path[4]->outputs[0]) || path[3]->n_inputs != 2 ||
        !oir_match_scalar_near(&c->ix, path[3]->inputs[1], 2.0, 0))
        return OLIVE_OK;
    eps_at = !strcmp(path[1]->inputs[0], path[2]->outputs[0]) ? 1 : 0;
    if (path[1]->n_inputs != 2 || !oir_match_scalar(&c->ix, path[1]->inputs[eps_at], &eps) || !(eps > 0) || eps > 1e-4)
        return OLIVE_OK;
    mul = oir_match_only_child(&c->ix, div->outputs[0], "Mul");
    if (!mul || !(weight = fuse_other_input(mul, div->outputs[0])) || !fuse_is_1d_float_const(c, weight))
        return OLIVE_OK;
    add = oir_match_only_child(&c->ix, mul->outputs[0], "Add");
    if (!add || !(bias = fuse_other_input(add, mul->outputs[0])) || !fuse_is_1d_float_const(c, bias))
        return OLIVE_OK;
    nodes[nn++] = rm;
    for (size_t k = 0; k < n_subs; k++)
        nodes[nn++] = subs[k];
    for (size_t k = 0; k < 4; k++)
        nodes[nn++] = path[k];
    nodes[nn++] = div;
    nodes[nn++] = mul;
    nodes[nn++] = add;
    if (!oir_match_only_used_inside(&c->ix, nodes, nn, (const char *const *)&add->outputs[0], 1))
        return OLIVE_OK;
    ins[0] = root;
    ins[1] = weight;
    ins[2] = bias;
    OLIVE_TRY(fuse_emit(c, nodes, nn, "LayerNormalization", "", "LayerNorm", 3, ins, 1,
                        (const char *const *)&add->outputs[0], &ln));
    OLIVE_TRY(oir_node_set_attr_float(ln, "epsilon", (float)eps));
    return oir_node_set_attr_int(ln, "axis", -1);
}

int fuse_layer_norm(fuse_ctx *c)
{
    return fuse_each_op(c, "ReduceMean", try_fuse);
}
