/* Gelu from its exact (erf) form, in the three orders exporters write it:
 *
 *   (0.5 * x) * (1 + erf(x / sqrt2))
 *   (x * (1 + erf(x / sqrt2))) * 0.5
 *   x * ((1 + erf(x / sqrt2)) * 0.5)
 *
 * x / sqrt2 may also be x * (1 / sqrt2). Constants are checked as onnxruntime checks them
 * (sqrt2 within 1e-3); the half and the one exactly. */
#include <string.h>

#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

#define SQRT2 1.4142135623730951
#define HALF_TOL 1e-6

/* x of the erf argument: Div(x, ~sqrt2) or Mul(x, ~1/sqrt2). */
static oir_node *scaled_input(const fuse_ctx *c, const oir_node *erf, const char **x)
{
    oir_node *p = oir_match_parent(&c->ix, erf, 0, NULL);
    if (!p || p->n_inputs != 2)
        return NULL;
    if (oir_match_is_op(p, "Div") && oir_match_scalar_near(&c->ix, p->inputs[1], SQRT2, 1e-3)) {
        *x = p->inputs[0];
        return p;
    }
    if (oir_match_is_op(p, "Mul")) {
        int k = oir_match_const_input(&c->ix, p, 1.0 / SQRT2, 1e-3);
        if (k >= 0) {
            *x = p->inputs[1 - k];
            return p;
        }
    }
    return NULL;
}

oir_node *fuse_gelu_tail(const fuse_ctx *c, const oir_node *f, const char *x, oir_node **nodes, size_t *nn)
{
    oir_node *add, *mul, *last, *half = NULL;
    const char *other;
    add = oir_match_only_child(&c->ix, f->outputs[0], "Add");
    if (!add || !(other = fuse_other_input(add, f->outputs[0])) || !oir_match_scalar_near(&c->ix, other, 1.0, 0))
        return NULL;
    mul = oir_match_only_child(&c->ix, add->outputs[0], "Mul");
    if (!mul || !(other = fuse_other_input(mul, add->outputs[0])))
        return NULL;
    if (!strcmp(other, x)) {
        /* x * (1 + f) then * 0.5 */
        last = oir_match_only_child(&c->ix, mul->outputs[0], "Mul");
        if (!last || !(other = fuse_other_input(last, mul->outputs[0])) ||
            !oir_match_scalar_near(&c->ix, other, 0.5, HALF_TOL))
            return NULL;
    } else if (oir_match_scalar_near(&c->ix, other, 0.5, HALF_TOL)) {
        /* x * ((1 + f) * 0.5) */
        last = oir_match_only_child(&c->ix, mul->outputs[0], "Mul");
        if (!last || !(other = fuse_other_input(last, mul->outputs[0])) || strcmp(other, x))
            return NULL;
    } else {
        /* (0.5 * x) * (1 + f) */
        half = oir_index_producer(&c->ix, other);
        if (!half || half->mark || !oir_match_is_op(half, "Mul") || !(other = fuse_other_input(half, x)) ||
            !oir_match_scalar_near(&c->ix, other, 0.5, HALF_TOL))
            return NULL;
        last = mul;
    }
    nodes[(*nn)++] = add;
    nodes[(*nn)++] = mul;
    if (last != mul)
        nodes[(*nn)++] = last;
    if (half)
        nodes[(*nn)++] = half;
    return last;
}

static int try_fuse(fuse_ctx *c, oir_node *erf)
{
    oir_node *scale, *last, *nodes[6];
    const char *x = NULL;
    size_t nn = 0;
    if (erf->n_inputs != 1 || !(scale = scaled_input(c, erf, &x)))
        return OLIVE_OK;
    nodes[nn++] = scale;
    nodes[nn++] = erf;
    if (!(last = fuse_gelu_tail(c, erf, x, nodes, &nn)) ||
        !oir_match_only_used_inside(&c->ix, nodes, nn, (const char *const *)&last->outputs[0], 1))
        return OLIVE_OK;
    return fuse_emit(c, nodes, nn, "Gelu", FUSE_MS_DOMAIN, "Gelu", 1, &x, 1, (const char *const *)&last->outputs[0],
                     NULL);
}

int fuse_gelu(fuse_ctx *c)
{
    return fuse_each_op(c, "Erf", try_fuse);
}
