/* Renaming values and finding what subgraphs read from outer scopes. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

static int replace_str(char **slot, const char *from, const char *to)
{
    char *copy;
    if (strcmp(*slot, from))
        return OLIVE_OK;
    if (!(copy = olive_strdup(to)))
        return OLIVE_ENOMEM;
    free(*slot);
    *slot = copy;
    return OLIVE_OK;
}

/* 1 if the graph itself defines `name` (so it shadows an outer value of that name). */
static int defines(const oir_graph *g, const char *name)
{
    if (oir_graph_input_index(g, name) >= 0 || oir_graph_initializer_index(g, name) >= 0)
        return 1;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs; j++)
            if (!strcmp(g->nodes[i]->outputs[j], name))
                return 1;
    return 0;
}

static int replace_in_subgraphs(oir_node *n, const char *from, const char *to);

/* Replaces uses of `from` inside a nested graph that reads it from the outer scope. */
static int replace_outer_uses(oir_graph *g, const char *from, const char *to)
{
    if (defines(g, from))
        return OLIVE_OK;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        for (size_t j = 0; j < n->n_inputs; j++)
            OLIVE_TRY(replace_str(&n->inputs[j], from, to));
        OLIVE_TRY(replace_in_subgraphs(n, from, to));
    }
    for (size_t i = 0; i < g->n_outputs; i++)
        OLIVE_TRY(replace_str(&g->outputs[i].name, from, to));
    return OLIVE_OK;
}

static int replace_in_subgraphs(oir_node *n, const char *from, const char *to)
{
    for (size_t a = 0; a < n->n_attrs; a++) {
        oir_attr *at = &n->attrs[a];
        if (at->g)
            OLIVE_TRY(replace_outer_uses(at->g, from, to));
        if (at->graphs)
            for (size_t k = 0; k < at->n; k++)
                OLIVE_TRY(replace_outer_uses(at->graphs[k], from, to));
    }
    return OLIVE_OK;
}

int oir_graph_replace_uses(oir_graph *g, const char *from, const char *to)
{
    /* `from` may point into a string this call replaces: work on a copy. */
    char *f = olive_strdup(from);
    int rc = OLIVE_OK;
    if (!f)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        oir_node *n = g->nodes[i];
        for (size_t j = 0; j < n->n_inputs && rc == OLIVE_OK; j++)
            rc = replace_str(&n->inputs[j], f, to);
        if (rc == OLIVE_OK)
            rc = replace_in_subgraphs(n, f, to);
    }
    free(f);
    return rc;
}

int oir_graph_rename_value(oir_graph *g, const char *from, const char *to)
{
    char *f = olive_strdup(from);
    int rc;
    if (!f)
        return OLIVE_ENOMEM;
    rc = oir_graph_replace_uses(g, f, to);
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs && rc == OLIVE_OK; j++)
            rc = replace_str(&g->nodes[i]->outputs[j], f, to);
    for (size_t i = 0; i < g->n_inputs && rc == OLIVE_OK; i++)
        rc = replace_str(&g->inputs[i].name, f, to);
    for (size_t i = 0; i < g->n_outputs && rc == OLIVE_OK; i++)
        rc = replace_str(&g->outputs[i].name, f, to);
    for (size_t i = 0; i < g->n_value_info && rc == OLIVE_OK; i++)
        rc = replace_str(&g->value_info[i].name, f, to);
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++)
        rc = replace_str(&g->initializers[i]->name, f, to);
    free(f);
    return rc;
}

/* Adds what `g` reads but does not define to `names`; `defined` holds names defined by `g`
 * and its enclosing nested graphs (not the outermost scope). */
static int collect_outer_reads(const oir_graph *g, olive_strmap *names, olive_strmap *defined_outer)
{
    olive_strmap defined = {0};
    int rc = OLIVE_OK;
    /* Definitions visible inside g: its own plus those of the nested graphs around it. */
    for (size_t i = 0; i < defined_outer->cap && rc == OLIVE_OK; i++)
        if (defined_outer->keys[i] && defined_outer->keys[i][0] != '\0')
            rc = olive_strmap_put(&defined, defined_outer->keys[i], (void *)1);
    for (size_t i = 0; i < g->n_inputs && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&defined, g->inputs[i].name, (void *)1);
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&defined, g->initializers[i]->name, (void *)1);
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs && rc == OLIVE_OK; j++)
            rc = olive_strmap_put(&defined, g->nodes[i]->outputs[j], (void *)1);
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        const oir_node *n = g->nodes[i];
        for (size_t j = 0; j < n->n_inputs && rc == OLIVE_OK; j++)
            if (n->inputs[j][0] && !olive_strmap_has(&defined, n->inputs[j]))
                rc = olive_strmap_put(names, n->inputs[j], (void *)1);
        for (size_t a = 0; a < n->n_attrs && rc == OLIVE_OK; a++) {
            const oir_attr *at = &n->attrs[a];
            if (at->g)
                rc = collect_outer_reads(at->g, names, &defined);
            for (size_t k = 0; at->graphs && k < at->n && rc == OLIVE_OK; k++)
                rc = collect_outer_reads(at->graphs[k], names, &defined);
        }
    }
    for (size_t i = 0; i < g->n_outputs && rc == OLIVE_OK; i++)
        if (!olive_strmap_has(&defined, g->outputs[i].name))
            rc = olive_strmap_put(names, g->outputs[i].name, (void *)1);
    olive_strmap_free(&defined);
    return rc;
}

int oir_node_implicit_inputs(const oir_node *n, olive_strmap *names)
{
    olive_strmap none = {0};
    for (size_t a = 0; a < n->n_attrs; a++) {
        const oir_attr *at = &n->attrs[a];
        if (at->g)
            OLIVE_TRY(collect_outer_reads(at->g, names, &none));
        for (size_t k = 0; at->graphs && k < at->n; k++)
            OLIVE_TRY(collect_outer_reads(at->graphs[k], names, &none));
    }
    return OLIVE_OK;
}
