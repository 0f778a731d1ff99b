/* BiasGelu / FastGelu with bias: the bias Add between a MatMul and a fused Gelu or FastGelu
 * joins it (the bias must be a 1-D initializer). ONNX's own Gelu (opset 20) counts as Gelu, or
 * as FastGelu with approximate="tanh". The optional approximation then turns Gelu
 * and BiasGelu into FastGelu, which changes outputs slightly, as onnxruntime's option does. */
#include <string.h>

#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

static int is_ms(const oir_node *n, const char *op)
{
    return !strcmp(n->op_type, op) && !strcmp(n->domain, FUSE_MS_DOMAIN);
}

/* Exact GELU (fast = 0) or its tanh approximation (fast = 1), from either domain. */
static int is_gelu_kind(const oir_node *n, int fast)
{
    if (oir_match_is_op(n, "Gelu")) {
        const char *a = oir_node_attr_string(n, "approximate", "none");
        return fast ? !strcmp(a, "tanh") : !strcmp(a, "none");
    }
    return is_ms(n, fast ? "FastGelu" : "Gelu");
}

static int try_fuse(fuse_ctx *c, oir_node *gelu, int fast)
{
    oir_node *add = oir_match_parent(&c->ix, gelu, 0, "Add"), *mm, *nodes[2];
    const char *ins[2];
    int bias_at = -1;
    if (!add || add->n_inputs != 2)
        return OLIVE_OK;
    mm = oir_match_parent_any(&c->ix, add, -1, "MatMul", NULL, NULL);
    if (!mm)
        return OLIVE_OK;
    for (int i = 0; i < 2 && bias_at < 0; i++)
        if (oir_index_initializer(&c->ix, add->inputs[i]))
            bias_at = i;
    if (bias_at < 0 || !fuse_is_1d_float_const(c, add->inputs[bias_at]) ||
        strcmp(add->inputs[1 - bias_at], mm->outputs[0]))
        return OLIVE_OK;
    nodes[0] = gelu;
    nodes[1] = add;
    if (!oir_match_only_used_inside(&c->ix, nodes, 2, (const char *const *)&gelu->outputs[0], 1))
        return OLIVE_OK;
    ins[0] = mm->outputs[0];
    ins[1] = add->inputs[bias_at];
    return fuse_emit(c, nodes, 2, fast ? "FastGelu" : "BiasGelu", FUSE_MS_DOMAIN,
                     fast ? "FastGelu_AddBias" : "Gelu_AddBias", 2, ins, 1, (const char *const *)&gelu->outputs[0],
                     NULL);
}

int fuse_bias_gelu(fuse_ctx *c)
{
    size_t n = c->g->n_nodes;
    /* FastGelu first, as onnxruntime orders them. */
    for (int fast = 1; fast >= 0; fast--)
        for (size_t i = 0; i < n; i++) {
            oir_node *x = c->g->nodes[i];
            if (!x->mark && x->n_inputs == 1 && x->n_outputs == 1 && is_gelu_kind(x, fast))
                OLIVE_TRY(try_fuse(c, x, fast));
        }
    return OLIVE_OK;
}

int fuse_gelu_approximation(fuse_ctx *c)
{
    size_t n = c->g->n_nodes;
    for (size_t i = 0; i < n; i++) {
        oir_node *x = c->g->nodes[i];
        if (!x->mark && (is_gelu_kind(x, 0) || is_ms(x, "BiasGelu")))
            OLIVE_TRY(fuse_emit(c, &x, 1, "FastGelu", FUSE_MS_DOMAIN, "GeluApproximation", x->n_inputs,
                                (const char *const *)x->inputs, x->n_outputs, (const char *const *)x->outputs, NULL));
    }
    return OLIVE_OK;
}
