/* Dead nodes (no output reaches a graph output, reads by subgraphs included), initializers
 * nothing reads, and value_info entries left over from removed values. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/peephole/peephole_internal.h"

/* Adds every value node n reads, explicitly or from inside its subgraphs, to `live`. */
static int add_reads(olive_strmap *live, const oir_node *n)
{
    for (size_t j = 0; j < n->n_inputs; j++)
        if (n->inputs[j][0])
            OLIVE_TRY(olive_strmap_put(live, n->inputs[j], (void *)1));
    return n->n_attrs ? oir_node_implicit_inputs(n, live) : OLIVE_OK;
}

int peephole_remove_dead(peephole_run *r, oir_graph *g, const peephole_scope *outer)
{
    olive_strmap live = {0};
    int rc = OLIVE_OK;
    (void)outer;
    OLIVE_TRY(oir_graph_toposort(g));
    for (size_t i = 0; i < g->n_outputs && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&live, g->outputs[i].name, (void *)1);
    /* Readers come after producers: walking backwards, a node is live once a live node or a
     * graph output has read one of its outputs. */
    for (size_t i = g->n_nodes; i-- > 0 && rc == OLIVE_OK;) {
        oir_node *n = g->nodes[i];
        n->mark = 1;
        for (size_t j = 0; j < n->n_outputs && n->mark; j++)
            if (n->outputs[j][0] && olive_strmap_has(&live, n->outputs[j]))
                n->mark = 0;
        if (!n->mark)
            rc = add_reads(&live, n);
    }
    if (rc == OLIVE_OK) {
        for (size_t i = 0; i < g->n_nodes; i++)
            r->dead_nodes += g->nodes[i]->mark ? 1 : 0;
    } else {
        for (size_t i = 0; i < g->n_nodes; i++)
            g->nodes[i]->mark = 0;
    }
    /* `live` holds keys inside the nodes about to be freed: drop it first. */
    olive_strmap_free(&live);
    if (rc != OLIVE_OK)
        return rc;
    oir_graph_remove_marked_nodes(g);

    /* Initializers: kept when read by a node (here or in a subgraph), when a graph output, or
     * when they give a graph input its default value. */
    for (size_t i = 0; i < g->n_outputs && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&live, g->outputs[i].name, (void *)1);
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
        rc = add_reads(&live, g->nodes[i]);
    for (size_t i = g->n_initializers; i-- > 0 && rc == OLIVE_OK;) {
        const char *name = g->initializers[i]->name;
        if (olive_strmap_has(&live, name) || !peephole_initializer_is_const(r, g, name))
            continue;
        peephole_remove_initializer(r, g, i);
        r->dead_initializers++;
    }
    olive_strmap_free(&live);
    return rc;
}

int peephole_drop_stale_value_info(oir_graph *g, const peephole_scope *outer)
{
    olive_strmap defined = {0};
    int rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_inputs && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&defined, g->inputs[i].name, (void *)1);
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&defined, g->initializers[i]->name, (void *)1);
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs && rc == OLIVE_OK; j++)
            rc = olive_strmap_put(&defined, g->nodes[i]->outputs[j], (void *)1);
    for (size_t i = g->n_value_info; i-- > 0 && rc == OLIVE_OK;) {
        const char *name = g->value_info[i].name;
        if (!olive_strmap_has(&defined, name) && !peephole_scope_visible(outer, name))
            oir_graph_remove_value_info(g, i);
    }
    olive_strmap_free(&defined);
    return rc;
}
