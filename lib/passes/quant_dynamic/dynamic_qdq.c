/* quant_format=QDQ in the quantize_dynamic pass: the operator stays in float and reads its
 * weight through DequantizeLinear(W_q, W_scale, W_zp) named "<W>_DequantizeLinear" and writing
 * W itself, as ONNX Runtime's quantizer writes a dequantized weight. The codes, scales and zero
 * points are those of the QOperator form (per channel along the last axis of a 2-D weight
 * with per_channel: DequantizeLinear axis 1). The float initializer goes. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/quant_dynamic/dynamic_internal.h"

int dq_rewrite_qdq(dq_run *r, oir_graph *g, size_t *at, size_t index, int per_channel, int reduce_range)
{
    oir_node *n = g->nodes[*at], *dq;
    const dq_value *w;
    oir_tensor *t;
    char *name, *wname;
    long init;
    int rc;
    if (index >= n->n_inputs)
        return 0;
    /* A weight another node had quantized is already DequantizeLinear's output. */
    if (!oir_graph_initializer(g, n->inputs[index]) && dq_list_find(&r->weights, n->inputs[index], 0))
        return 1;
    if (!(t = dq_constant_weight(g, n, n->inputs[index], "weight")))
        return 0;
    if (r->opset < (per_channel && t->rank == 2 ? 13 : 10))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s '%s': quant_format=QDQ needs opset %d or later (DequantizeLinear%s); the model imports "
                          "opset %lld",
                          n->op_type, dq_label(n), per_channel && t->rank == 2 ? 13 : 10,
                          per_channel && t->rank == 2 ? " with axis" : "", (long long)r->opset);
    OLIVE_TRY(dq_weight(r, g, t, 0, per_channel, reduce_range, n, &w));
    if (!(wname = olive_strdup(t->name)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    name = dq_unique(g, "%s_DequantizeLinear", wname);
    {
        const char *ins[3] = {w->names[0], w->names[1], w->names[2]};
        dq = name ? oir_node_new("DequantizeLinear", "", name, 3, ins, 1, (const char *const *)&wname) : NULL;
    }
    free(name);
    if (!dq || (w->axis >= 0 && oir_node_set_attr_int(dq, "axis", w->axis) != OLIVE_OK)) {
        oir_node_free(dq);
        free(wname);
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    }
    /* W is now the DequantizeLinear's output: every reader, quantized or not, gets it. */
    if ((init = oir_graph_initializer_index(g, wname)) >= 0)
        oir_graph_remove_initializer(g, (size_t)init);
    free(wname);
    /* Its inputs are initializers: first in the graph, before any reader. */
    if ((rc = oir_graph_insert_node(g, 0, dq)) != OLIVE_OK) {
        oir_node_free(dq);
        return rc;
    }
    (*at)++;
    return 1;
}
