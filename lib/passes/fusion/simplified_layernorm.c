/* SimplifiedLayerNormalization (RMSNorm) from its decomposed forms:
 *
 *   x -> Pow(2) | Mul(x, x) -> ReduceMean -> Add(eps) -> Sqrt -> Reciprocal -> Mul(x, .) -> Mul(weight)
 *                                                          \-> Div(1, .) ----/
 *                                                          \-> Div(x, .) -------------> Mul(weight)
 *
 * The reduction must keep dims over one axis, epsilon in (0, 1e-4] as onnxruntime accepts it,
 * the weight a 1-D constant. */
#include <string.h>

#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

/* The normalized value's producer chain below the final Mul: fills the nodes from the scaling
 * node down to the ReduceMean; returns how many (0: no match). */
static size_t match_norm(const fuse_ctx *c, oir_node *scale, int *scale_input, oir_node **nodes)
{
    for (int i = 0; i < 2; i++) {
        oir_node *p = oir_match_parent(&c->ix, scale, (size_t)i, NULL), *q[4];
        static const char *const recip[] = {"Reciprocal", "Sqrt", "Add", "ReduceMean"};
        static const char *const div1[] = {"Div", "Sqrt", "Add", "ReduceMean"};
        static const char *const div2[] = {"Sqrt", "Add", "ReduceMean"};
        static const int any4[] = {-1, 0, 0, -1}, div4[] = {-1, 1, 0, -1}, idx3[] = {1, 0, -1};
        if (!p)
            continue;
        *scale_input = i;
        nodes[0] = p;
        if (oir_match_is_op(p, "Mul")) {
            if (oir_match_parent_path(&c->ix, p, 4, recip, any4, q, NULL)) {
                memcpy(nodes + 1, q, sizeof q);
                return 5;
            }
            if (oir_match_parent_path(&c->ix, p, 4, div1, div4, q, NULL) && q[0]->n_inputs == 2 &&
                !strcmp(q[0]->inputs[1], q[1]->outputs[0]) && oir_match_scalar_near(&c->ix, q[0]->inputs[0], 1.0, 0)) {
                memcpy(nodes + 1, q, sizeof q);
                return 5;
            }
        } else if (oir_match_is_op(p, "Div") && oir_match_parent_path(&c->ix, p, 3, div2, idx3, q, NULL)) {
            memcpy(nodes + 1, q, 3 * sizeof *q);
            return 4;
        }
    }
    return 0;
}

static int try_fuse(fuse_ctx *c, oir_node *node)
{
    oir_node *nodes[8], *rm, *add, *sq, *out;
    const char *root, *weight, *ins[2];
    int scale_input = 0, eps_at;
    size_t nn = match_norm(c, node, &scale_input, nodes);
    int64_t axes[2];
    size_t na;
    double eps;
    if (!nn || node->n_inputs != 2)
        return OLIVE_OK;
    rm = nodes[nn - 1];
    add = nodes[nn - 2];
    sq = oir_match_parent(&c->ix, rm, 0, NULL);
    if (!sq)
        return OLIVE_OK;
    if (oir_match_is_op(sq, "Pow")) {
        if (sq->n_inputs != 2 || !oir_match_scalar_near(&c->ix, sq->inputs[1], 2.0, 0))
            return OLIVE_OK;
    } else if (!oir_match_is_op(sq, "Mul") || sq->n_inputs != 2 || strcmp(sq->inputs[0], sq->inputs[1])) {
        return OLIVE_OK;
    }
    root = sq->inputs[0];
    if (!fuse_has_input(nodes[0], root))
        return OLIVE_OK;
    /* A Div form divides x itself: Div(x, sqrt); Mul forms multiply x by the reciprocal. */
    if (oir_match_is_op(nodes[0], "Div") ? strcmp(nodes[0]->inputs[0], root)
                                         : !fuse_other_input(nodes[0], nodes[1]->outputs[0]) ||
                                               strcmp(fuse_other_input(nodes[0], nodes[1]->outputs[0]), root))
        return OLIVE_OK;
    eps_at = !strcmp(add->inputs[0], rm->outputs[0]) ? 1 : 0;
    if (add->n_inputs != 2 || !oir_match_scalar(&c->ix, add->inputs[eps_at], &eps) || !(eps > 0) || eps > 1e-4)
        return OLIVE_OK;
    /* One reduced axis, the last: SimplifiedLayerNormalization normalizes from `axis` to the end. */
    if (!oir_node_attr_int(rm, "keepdims", 1) || !oir_match_axes(&c->ix, rm, axes, 2, &na) || na != 1 ||
        (axes[0] != -1 && axes[0] != fuse_rank(c, root) - 1))
        return OLIVE_OK;
    weight = node->inputs[1 - scale_input];
    if (!fuse_is_1d_float_const(c, weight))
        return OLIVE_OK;
    nodes[nn++] = sq;
    nodes[nn++] = node;
    if (!oir_match_only_used_inside(&c->ix, nodes, nn, (const char *const *)&node->outputs[0], 1))
        return OLIVE_OK;
    ins[0] = root;
    ins[1] = weight;
    OLIVE_TRY(fuse_emit(c, nodes, nn, "SimplifiedLayerNormalization", "", "RMSNorm", 2, ins, 1,
                        (const char *const *)&node->outputs[0], &out));
    OLIVE_TRY(oir_node_set_attr_float(out, "epsilon", (float)eps));
    OLIVE_TRY(oir_node_set_attr_int(out, "axis", axes[0]));
    return oir_node_set_attr_int(out, "stash_type", 1);
}

int fuse_simplified_layer_norm(fuse_ctx *c)
{
    return fuse_each_op(c, "Mul", try_fuse);
}
