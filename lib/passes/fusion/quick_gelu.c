/* QuickGelu: x * Sigmoid(alpha * x) with alpha about 1.702 (within 1e-3 of the float16 value
 * 1.7021484375 that onnxruntime accepts); alpha becomes the node's attribute. */
#include <string.h>

#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

static int try_fuse(fuse_ctx *c, oir_node *outer)
{
    if (outer->n_inputs != 2)
        return OLIVE_OK;
    for (int side = 0; side < 2; side++) {
        oir_node *sig = oir_match_parent(&c->ix, outer, (size_t)side, "Sigmoid"), *inner, *nodes[3], *q;
        const char *x = outer->inputs[1 - side];
        double alpha;
        int k;
        if (!sig || sig->n_inputs != 1 || !(inner = oir_match_parent(&c->ix, sig, 0, "Mul")) || inner->n_inputs != 2)
            continue;
        k = !strcmp(inner->inputs[0], x) ? 1 : !strcmp(inner->inputs[1], x) ? 0 : -1;
        if (k < 0 || !oir_match_scalar(&c->ix, inner->inputs[k], &alpha) || !(alpha > 1.7021484375 - 1e-3) ||
            !(alpha < 1.7021484375 + 1e-3))
            continue;
        nodes[0] = inner;
        nodes[1] = sig;
        nodes[2] = outer;
        if (!oir_match_only_used_inside(&c->ix, nodes, 3, (const char *const *)&outer->outputs[0], 1))
            return OLIVE_OK;
        OLIVE_TRY(fuse_emit(c, nodes, 3, "QuickGelu", FUSE_MS_DOMAIN, "QuickGelu", 1, &x, 1,
                            (const char *const *)&outer->outputs[0], &q));
        return oir_node_set_attr_float(q, "alpha", (float)alpha);
    }
    return OLIVE_OK;
}

int fuse_quick_gelu(fuse_ctx *c)
{
    return fuse_each_op(c, "Mul", try_fuse);
}
