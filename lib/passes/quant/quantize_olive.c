/* layout=olive: the parts of Olive's OnnxBlockWiseRtnQuantization output that are not the
 * quantized tensors themselves. Olive renames the output of every node it replaces to
 * "<output>_Q<bits>", always imports com.microsoft at version 1 (set, not raised), and at the
 * end drops every initializer of the main graph that no node of any graph and no graph output
 * reads, whether or not the pass made it unread. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/strmap.h"
#include "passes/quant/quantize_internal.h"

int olive_qrun_olive_output(const quant_run *r, oir_graph *g, const oir_node *q, int bits)
{
    char *to;
    int rc;
    (void)r;
    if (q->n_outputs != 1 || !q->outputs[0][0])
        return OLIVE_OK;
    if (!(to = olive_asprintf("%s_Q%d", q->outputs[0], bits)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    rc = oir_graph_rename_value(g, q->outputs[0], to);
    free(to);
    return rc;
}

static int note_reads(oir_graph *g, int depth, void *user)
{
    olive_strmap *read = user;
    (void)depth;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i]->n_inputs; j++)
            if (g->nodes[i]->inputs[j][0])
                OLIVE_TRY(olive_strmap_put(read, g->nodes[i]->inputs[j], NULL));
    return OLIVE_OK;
}

int olive_quantize_olive_finish(oir_model *m)
{
    olive_strmap read = {0};
    oir_graph *g = m->graph;
    int rc = OLIVE_OK, found = 0;
    size_t i;
    for (i = 0; i < m->n_opsets; i++)
        if (!strcmp(m->opsets[i].domain, "com.microsoft")) {
            m->opsets[i].version = 1;
            found = 1;
        }
    if (!found)
        OLIVE_TRY(oir_model_require_opset(m, "com.microsoft", 1));
    if (!g)
        return OLIVE_OK;
    rc = oir_model_for_each_graph(m, note_reads, &read);
    for (i = 0; i < g->n_outputs && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&read, g->outputs[i].name, NULL);
    for (i = g->n_initializers; rc == OLIVE_OK && i-- > 0;)
        if (!olive_strmap_has(&read, g->initializers[i]->name))
            oir_graph_remove_initializer(g, i);
    olive_strmap_free(&read);
    return rc;
}
