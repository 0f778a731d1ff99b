/* Removing a node whose output equals one of its inputs, keeping graph output names. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/peephole/peephole_internal.h"

/* 1 if a node of g that stays (not marked) produces `value`. */
static int produced_by_kept_node(const oir_graph *g, const char *value)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        if (n->mark)
            continue;
        for (size_t j = 0; j < n->n_outputs; j++)
            if (!strcmp(n->outputs[j], value))
                return 1;
    }
    return 0;
}

static void remove_value_info_named(oir_graph *g, const char *value)
{
    for (size_t i = g->n_value_info; i-- > 0;)
        if (!strcmp(g->value_info[i].name, value))
            oir_graph_remove_value_info(g, i);
}

int peephole_bypass(oir_graph *g, peephole_subst *subst, oir_node *node, const char *src, const char *dst)
{
    char *s = olive_strdup(peephole_subst_resolve(subst, src)), *d = olive_strdup(dst);
    int rc = OLIVE_OK, removed = 0;
    if (!s || !d) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    if (!s[0] || !d[0] || !strcmp(s, d))
        goto out;
    if (peephole_is_graph_output(g, d)) {
        /* The output name must stay: give it to src's producer, if src is an ordinary value
         * of this graph (not an input, initializer, outer value or another output). Pending
         * rewrites go first so that the rename sees every reader. */
        if ((rc = peephole_subst_apply(subst, g)) != OLIVE_OK)
            goto out;
        if (peephole_is_graph_output(g, s) || !produced_by_kept_node(g, s))
            goto out;
        node->mark = 1;
        remove_value_info_named(g, s);
        rc = oir_graph_rename_value(g, s, d);
    } else {
        node->mark = 1;
        rc = peephole_subst_add(subst, d, s);
    }
    removed = rc == OLIVE_OK;
out:
    free(s);
    free(d);
    return rc != OLIVE_OK ? rc : removed;
}
