/* Producer / consumer index over one graph. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

static int add_use(oir_graph_index *ix, const char *value, oir_node *n)
{
    oir_use_list *u = olive_strmap_get(&ix->consumers, value);
    if (!u) {
        if (!(u = olive_calloc(1, sizeof *u)))
            return OLIVE_ENOMEM;
        if (olive_strmap_put(&ix->consumers, value, u)) {
            free(u);
            return OLIVE_ENOMEM;
        }
    }
    return OLIVE_PUSH(u->nodes, u->n, u->cap, n);
}

int oir_graph_index_build(oir_graph_index *ix, const oir_graph *g)
{
    int rc = OLIVE_OK;
    memset(ix, 0, sizeof *ix);
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&ix->inits, g->initializers[i]->name, g->initializers[i]);
    for (size_t i = 0; i < g->n_outputs && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&ix->outputs, g->outputs[i].name, (void *)1);
    for (size_t i = 0; i < g->n_inputs && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&ix->inputs, g->inputs[i].name, (void *)1);
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        oir_node *n = g->nodes[i];
        olive_strmap implicit = {0};
        for (size_t j = 0; j < n->n_outputs && rc == OLIVE_OK; j++)
            if (n->outputs[j][0])
                rc = olive_strmap_put(&ix->producers, n->outputs[j], n);
        for (size_t j = 0; j < n->n_inputs && rc == OLIVE_OK; j++)
            if (n->inputs[j][0])
                rc = add_use(ix, n->inputs[j], n);
        if (rc == OLIVE_OK && n->n_attrs)
            rc = oir_node_implicit_inputs(n, &implicit);
        for (size_t k = 0; k < implicit.cap && rc == OLIVE_OK; k++)
            if (implicit.keys[k] && implicit.keys[k][0])
                rc = add_use(ix, implicit.keys[k], n);
        olive_strmap_free(&implicit);
    }
    if (rc != OLIVE_OK)
        oir_graph_index_free(ix);
    return rc;
}

void oir_graph_index_free(oir_graph_index *ix)
{
    for (size_t i = 0; i < ix->consumers.cap; i++) {
        oir_use_list *u = ix->consumers.values ? ix->consumers.values[i] : NULL;
        if (ix->consumers.keys[i] && u) {
            free(u->nodes);
            free(u);
        }
    }
    olive_strmap_free(&ix->producers);
    olive_strmap_free(&ix->consumers);
    olive_strmap_free(&ix->inits);
    olive_strmap_free(&ix->outputs);
    olive_strmap_free(&ix->inputs);
}

oir_node *oir_index_producer(const oir_graph_index *ix, const char *value)
{
    return olive_strmap_get(&ix->producers, value);
}

oir_tensor *oir_index_initializer(const oir_graph_index *ix, const char *name)
{
    return olive_strmap_get(&ix->inits, name);
}

size_t oir_index_use_count(const oir_graph_index *ix, const char *value)
{
    const oir_use_list *u = olive_strmap_get(&ix->consumers, value);
    return (u ? u->n : 0) + (olive_strmap_has(&ix->outputs, value) ? 1 : 0);
}

oir_node *oir_index_consumer(const oir_graph_index *ix, const char *value, size_t i)
{
    const oir_use_list *u = olive_strmap_get(&ix->consumers, value);
    return u && i < u->n ? u->nodes[i] : NULL;
}

int oir_index_is_graph_output(const oir_graph_index *ix, const char *value)
{
    return olive_strmap_has(&ix->outputs, value);
}
