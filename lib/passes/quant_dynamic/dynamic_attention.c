/* com.microsoft Attention in the quantize_dynamic pass, as ONNX Runtime's AttentionQuant
 * writes it: a com.microsoft QAttention with the Attention's attributes and inputs
 *
 *   [X_q, W_q, bias, X_scale, W_scale, mask_index, X_zp, W_zp, past]
 *
 * where X is quantized by a (shared) DynamicQuantizeLinear and W as set (per channel along
 * its last axis with per_channel). An Attention with qkv_hidden_sizes stays
 * (ONNX Runtime leaves it too), and so does one using inputs QAttention lacks
 * (attention_bias, past_sequence_length). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/quant_dynamic/dynamic_internal.h"

static const char *input_or_empty(const oir_node *n, size_t i)
{
    return i < n->n_inputs ? n->inputs[i] : "";
}

int dq_rewrite_attention(dq_run *r, oir_graph *g, size_t *at)
{
    oir_node *n = g->nodes[*at], *q, *copy;
    const dq_value *w, *a;
    oir_tensor *t;
    char *name;
    if (n->n_inputs < 3 || n->n_outputs < 1 || !n->inputs[0][0] || !n->inputs[1][0]) {
        OLIVE_INFO("quantize_dynamic: skipping Attention '%s': unexpected inputs or outputs", dq_label(n));
        return 0;
    }
    if (oir_node_attr(n, "qkv_hidden_sizes")) {
        OLIVE_INFO("quantize_dynamic: skipping Attention '%s': QAttention has no qkv_hidden_sizes", dq_label(n));
        return 0;
    }
    for (size_t i = 5; i < n->n_inputs; i++)
        if (n->inputs[i][0]) {
            OLIVE_INFO("quantize_dynamic: skipping Attention '%s': QAttention has no input %zu ('%s')", dq_label(n), i,
                       n->inputs[i]);
            return 0;
        }
    if (oir_graph_initializer(g, n->inputs[0])) {
        OLIVE_INFO("quantize_dynamic: skipping Attention '%s': input '%s' is a constant", dq_label(n), n->inputs[0]);
        return 0;
    }
    if (!(t = dq_constant_weight(g, n, n->inputs[1], "weights")))
        return 0;
    if (t->rank != 2) {
        OLIVE_INFO("quantize_dynamic: skipping Attention '%s': weights '%s' are not 2-D", dq_label(n), t->name);
        return 0;
    }
    OLIVE_TRY(dq_require_opset11(r, n));
    OLIVE_TRY(dq_weight(r, g, t, 0, r->per_channel, r->reduce_range, n, &w));
    OLIVE_TRY(dq_activation(r, g, at, n->inputs[0], &a));
    n = g->nodes[*at];
    {
        const char *ins[9] = {a->names[0],          w->names[0], n->inputs[2], a->names[1],         w->names[1],
                              input_or_empty(n, 3), a->names[2], w->names[2],  input_or_empty(n, 4)};
        name = n->name[0] ? dq_unique(g, "%s_quant", n->name) : olive_strdup("");
        q = name ? oir_node_new("QAttention", "com.microsoft", name, 9, ins, n->n_outputs,
                                (const char *const *)n->outputs)
                 : NULL;
        free(name);
    }
    copy = oir_node_clone(n);
    if (!q || !copy) {
        oir_node_free(q);
        oir_node_free(copy);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    q->attrs = copy->attrs; /* the Attention's attributes move over */
    q->n_attrs = copy->n_attrs;
    q->cap_attrs = copy->cap_attrs;
    copy->attrs = NULL;
    copy->n_attrs = copy->cap_attrs = 0;
    oir_node_free(copy);
    oir_graph_replace_node(g, *at, q);
    return 1;
}
