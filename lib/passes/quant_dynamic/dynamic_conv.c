/* Conv in the quantize_dynamic pass, as ONNX Runtime's ConvInteger quantizer writes it:
 *
 *   DynamicQuantizeLinear(X) -> X_q, X_scale, X_zp           (shared per activation)
 *   ConvInteger(X_q, W_q, X_zp, W_zp) -> <Y>_output_quantized  (the Conv's attributes)
 *   Cast(to float) -> <Y>_output_quantized_cast_output
 *   Mul(X_scale, W_scale) -> <conv>_quant_scales_mul:0
 *   Mul(cast, scales) -> Y, or <Y>quant_scaled_output when there is a bias B, then
 *   Reshape(B, [1, -1, 1, ...]) and Add -> Y
 *
 * The weight is quantized per tensor whatever per_channel says (ConvInteger takes one weight
 * zero point), with reduce_range as set. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/quant_dynamic/dynamic_internal.h"

/* Moves the attributes of `src` to `dst` (which has none). */
static void take_attrs(oir_node *dst, oir_node *src)
{
    dst->attrs = src->attrs;
    dst->n_attrs = src->n_attrs;
    dst->cap_attrs = src->cap_attrs;
    src->attrs = NULL;
    src->n_attrs = src->cap_attrs = 0;
}

/* ConvInteger with the Conv's attributes; NULL on ENOMEM. */
static oir_node *conv_integer(const oir_node *conv, const char *name, const char *const *ins, const char *out)
{
    oir_node *q = oir_node_new("ConvInteger", "", name, 4, ins, 1, &out), *copy = oir_node_clone(conv);
    if (q && copy)
        take_attrs(q, copy);
    oir_node_free(copy);
    if (q && !q->attrs && conv->n_attrs) {
        oir_node_free(q);
        return NULL;
    }
    return q;
}

static int add_shape(oir_graph *g, const char *name, size_t rank)
{
    int64_t *shape = calloc(rank, sizeof *shape), dim = (int64_t)rank;
    oir_tensor *t = oir_tensor_new(name, OIR_INT64, 1, &dim);
    int rc;
    if (!shape || !t) {
        free(shape);
        oir_tensor_free(t);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < rank; i++)
        shape[i] = i == 1 ? -1 : 1;
    rc = oir_tensor_set_copy(t, shape, rank * sizeof *shape);
    free(shape);
    if (rc == OLIVE_OK)
        rc = oir_graph_add_initializer(g, t);
    if (rc != OLIVE_OK)
        oir_tensor_free(t);
    return rc;
}

int dq_rewrite_conv(dq_run *r, oir_graph *g, size_t *at)
{
    oir_node *n = g->nodes[*at], *nodes[6] = {NULL};
    const int has_bias = n->n_inputs == 3 && n->inputs[2][0];
    const char *y;
    const dq_value *w, *a;
    oir_tensor *t;
    char *nm[10] = {NULL};
    size_t count = has_bias ? 6 : 4;
    int rc = OLIVE_OK;
    if (n->n_inputs < 2 || n->n_inputs > 3 || n->n_outputs != 1 || !n->inputs[0][0] || !n->outputs[0][0]) {
        OLIVE_INFO("quantize_dynamic: skipping Conv '%s': unexpected inputs or outputs", dq_label(n));
        return 0;
    }
    if (oir_graph_initializer(g, n->inputs[0])) {
        OLIVE_INFO("quantize_dynamic: skipping Conv '%s': X '%s' is a constant, not an activation", dq_label(n),
                   n->inputs[0]);
        return 0;
    }
    if (!(t = dq_constant_weight(g, n, n->inputs[1], "W")))
        return 0;
    if (t->rank < 3) {
        OLIVE_INFO("quantize_dynamic: skipping Conv '%s': W '%s' has rank %zu", dq_label(n), t->name, t->rank);
        return 0;
    }
    OLIVE_TRY(dq_require_opset11(r, n));
    OLIVE_TRY(dq_weight(r, g, t, 0, 0, r->reduce_range, n, &w));
    OLIVE_TRY(dq_activation(r, g, at, n->inputs[0], &a));
    n = g->nodes[*at];
    y = n->outputs[0];
    /* 0 ConvInteger, 1 its output, 2 Cast, 3 its output, 4 scales Mul, 5 its output, 6 output
     * Mul, 7 its output, 8 bias shape, 9 reshaped bias */
    nm[0] = n->name[0] ? dq_unique(g, "%s_quant", n->name) : olive_strdup("");
    nm[1] = dq_unique(g, "%s_output_quantized", y);
    nm[2] = nm[1] ? dq_unique(g, "%s_cast", nm[1]) : NULL;
    nm[3] = nm[1] ? dq_unique(g, "%s_cast_output", nm[1]) : NULL;
    if (nm[0] && nm[0][0])
        nm[4] = dq_unique(g, "%s_scales_mul", nm[0]);
    else
        nm[4] = dq_unique(g, "%s_%s_mul", a->names[1], w->names[1]);
    nm[5] = nm[4] ? olive_asprintf("%s:0", nm[4]) : NULL;
    nm[6] = nm[0] && nm[0][0] ? dq_unique(g, "%s_output_scale_mul", nm[0]) : olive_strdup("");
    nm[7] = has_bias ? dq_unique(g, "%squant_scaled_output", y) : olive_strdup(y);
    if (has_bias) {
        nm[8] = dq_unique(g, "%s_bias_reshape_shape", y);
        nm[9] = dq_unique(g, "%s_bias_reshape_output", y);
    }
    for (size_t j = 0; j < (has_bias ? 10u : 8u); j++)
        if (!nm[j])
            rc = olive_fail(OLIVE_ENOMEM, "out of memory");
    if (rc == OLIVE_OK && has_bias)
        rc = add_shape(g, nm[8], t->rank);
    if (rc == OLIVE_OK) {
        const char *ci_in[4] = {a->names[0], w->names[0], a->names[2], w->names[2]};
        const char *smul_in[2] = {a->names[1], w->names[1]};
        const char *omul_in[2] = {nm[3], nm[5]};
        nodes[0] = conv_integer(n, nm[0], ci_in, nm[1]);
        nodes[1] = oir_node_new("Cast", "", nm[2], 1, (const char *const *)&nm[1], 1, (const char *const *)&nm[3]);
        nodes[2] = oir_node_new("Mul", "", nm[4], 2, smul_in, 1, (const char *const *)&nm[5]);
        nodes[3] = oir_node_new("Mul", "", nm[6], 2, omul_in, 1, (const char *const *)&nm[7]);
        if (has_bias) {
            const char *rs_in[2] = {n->inputs[2], nm[8]}, *add_in[2] = {nm[7], nm[9]};
            char *add_name = dq_unique(g, "%s_bias_add", y);
            nodes[4] = oir_node_new("Reshape", "", "", 2, rs_in, 1, (const char *const *)&nm[9]);
            nodes[5] = add_name ? oir_node_new("Add", "", add_name, 2, add_in, 1, &y) : NULL;
            free(add_name);
        }
        if (nodes[1] && oir_node_set_attr_int(nodes[1], "to", OIR_FLOAT) != OLIVE_OK) {
            oir_node_free(nodes[1]);
            nodes[1] = NULL;
        }
        rc = dq_splice(g, at, nodes, count);
    }
    for (size_t j = 0; j < 10; j++)
        free(nm[j]);
    return rc == OLIVE_OK ? 1 : rc;
}
