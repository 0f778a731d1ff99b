/* FastGelu from the tanh approximation of GELU:
 *
 *   0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * x^3)))
 *
 * with the halving applied to x first, to the product last, or to (1 + tanh) (fuse_gelu_tail);
 * x^3 as Pow(x, 3) or x * x * x. The two coefficients are checked within 1e-4 as onnxruntime
 * checks them. */
#include <string.h>

#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

/* The cube of x: Pow(x, 3) or a product of three x. Appends its nodes; 1 on success. */
static int is_cube(const fuse_ctx *c, const char *v, const char *x, oir_node **nodes, size_t *nn)
{
    oir_node *p = oir_index_producer(&c->ix, v), *q;
    const char *o;
    if (!p || p->mark || p->n_inputs != 2)
        return 0;
    if (oir_match_is_op(p, "Pow"))
        return !strcmp(p->inputs[0], x) && oir_match_scalar_near(&c->ix, p->inputs[1], 3.0, 0) &&
               (nodes[(*nn)++] = p, 1);
    if (!oir_match_is_op(p, "Mul") || !(o = fuse_other_input(p, x)))
        return 0;
    q = oir_index_producer(&c->ix, o);
    if (!q || q->mark || !oir_match_is_op(q, "Mul") || q->n_inputs != 2 || strcmp(q->inputs[0], x) ||
        strcmp(q->inputs[1], x))
        return 0;
    nodes[(*nn)++] = p;
    nodes[(*nn)++] = q;
    return 1;
}

/* tanh's argument: Mul(~0.79788, Add(x, Mul(~0.044715, x^3))); finds x. */
static int tanh_argument(const fuse_ctx *c, const oir_node *tanh, const char **x, oir_node **nodes, size_t *nn)
{
    oir_node *m = oir_match_parent(&c->ix, tanh, 0, "Mul"), *add, *cm;
    int k;
    if (!m || m->n_inputs != 2 || (k = oir_match_const_input(&c->ix, m, 0.7978845608, 1e-4)) < 0)
        return 0;
    add = oir_match_parent(&c->ix, m, (size_t)(1 - k), "Add");
    if (!add || add->n_inputs != 2)
        return 0;
    for (int side = 0; side < 2; side++) {
        size_t save = *nn;
        cm = oir_match_parent(&c->ix, add, (size_t)side, "Mul");
        if (!cm || cm->n_inputs != 2 || (k = oir_match_const_input(&c->ix, cm, 0.044715, 1e-4)) < 0)
            continue;
        *x = add->inputs[1 - side];
        nodes[(*nn)++] = m;
        nodes[(*nn)++] = add;
        nodes[(*nn)++] = cm;
        if (is_cube(c, cm->inputs[1 - k], *x, nodes, nn))
            return 1;
        *nn = save;
    }
    return 0;
}

static int try_fuse(fuse_ctx *c, oir_node *tanh)
{
    oir_node *last, *nodes[12];
    const char *x = NULL;
    size_t nn = 0;
    if (tanh->n_inputs != 1 || !tanh_argument(c, tanh, &x, nodes, &nn))
        return OLIVE_OK;
    nodes[nn++] = tanh;
    if (!(last = fuse_gelu_tail(c, tanh, x, nodes, &nn)) ||
        !oir_match_only_used_inside(&c->ix, nodes, nn, (const char *const *)&last->outputs[0], 1))
        return OLIVE_OK;
    return fuse_emit(c, nodes, nn, "FastGelu", FUSE_MS_DOMAIN, "FastGelu", 1, &x, 1,
                     (const char *const *)&last->outputs[0], NULL);
}

int fuse_fast_gelu(fuse_ctx *c)
{
    return fuse_each_op(c, "Tanh", try_fuse);
}
