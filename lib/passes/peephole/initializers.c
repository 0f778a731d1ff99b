/* Adding and removing initializers the way the model's IR version wants: before IR version 4
 * every initializer must also be listed as a graph input. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/peephole/peephole_internal.h"

int peephole_initializer_is_const(const peephole_run *r, const oir_graph *g, const char *name)
{
    return oir_graph_input_index(g, name) < 0 || olive_strmap_has(&r->created, name);
}

int peephole_add_initializer(peephole_run *r, oir_graph *g, oir_tensor *t)
{
    oir_type *type;
    char *name;
    int rc;
    if (!r->initializers_need_inputs)
        return oir_graph_add_initializer(g, t);
    if (!(type = oir_type_new_tensor(t->dtype, t->rank, t->dims, NULL)))
        return OLIVE_ENOMEM;
    if (!olive_strmap_has(&r->created, t->name)) {
        if (!(name = olive_strdup(t->name)) || olive_strmap_put(&r->created, name, name) != OLIVE_OK) {
            free(name);
            oir_type_free(type);
            return OLIVE_ENOMEM;
        }
    }
    rc = oir_graph_add_input(g, t->name, type);
    oir_type_free(type);
    if (rc == OLIVE_OK && (rc = oir_graph_add_initializer(g, t)) != OLIVE_OK)
        oir_graph_remove_input(g, g->n_inputs - 1);
    return rc;
}

void peephole_remove_initializer(peephole_run *r, oir_graph *g, size_t index)
{
    const char *name = g->initializers[index]->name;
    long input = olive_strmap_has(&r->created, name) ? oir_graph_input_index(g, name) : -1;
    if (input >= 0)
        oir_graph_remove_input(g, (size_t)input);
    oir_graph_remove_initializer(g, index);
}
