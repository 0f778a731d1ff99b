/* Batched value substitution: many "read B instead of A" rewrites applied in one walk over a
 * graph and its subgraphs, instead of one walk per rewrite (which is quadratic on graphs
 * with thousands of Identity nodes or duplicate weights). Subgraphs that define a name of
 * their own keep reading it. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/peephole/peephole_internal.h"

/* Follows from -> to links to the end (they may chain when rewrites were recorded out of
 * order); bounded so that a cycle cannot hang. */
static const char *resolve(const olive_strmap *m, const char *name)
{
    for (size_t hops = 0; hops <= m->count; hops++) {
        const char *to = olive_strmap_get(m, name);
        if (!to)
            break;
        name = to;
    }
    return name;
}

const char *peephole_subst_resolve(const peephole_subst *s, const char *name)
{
    return resolve(&s->map, name);
}

int peephole_subst_add(peephole_subst *s, const char *from, const char *to)
{
    char *f, *t;
    if (olive_strmap_has(&s->map, from))
        return OLIVE_OK; /* a value is replaced once */
    f = olive_strdup(from);
    t = olive_strdup(peephole_subst_resolve(s, to));
    if (!f || !t || olive_strmap_put(&s->map, f, t) != OLIVE_OK) {
        free(f);
        free(t);
        return OLIVE_ENOMEM;
    }
    return OLIVE_OK;
}

static void clear(olive_strmap *m, int owned)
{
    for (size_t i = 0; owned && i < m->cap; i++) {
        if (m->keys[i] && m->keys[i][0]) {
            free((char *)m->keys[i]);
            free(m->values[i]);
        }
    }
    olive_strmap_free(m);
}

void peephole_subst_free(peephole_subst *s)
{
    clear(&s->map, 1);
}

static int replace_inputs(oir_node *n, const olive_strmap *map)
{
    for (size_t j = 0; j < n->n_inputs; j++) {
        const char *to = n->inputs[j][0] ? resolve(map, n->inputs[j]) : NULL;
        if (to && to != n->inputs[j])
            OLIVE_TRY(oir_node_set_input(n, j, to));
    }
    return OLIVE_OK;
}

static int apply_nested(oir_graph *g, const olive_strmap *map);

static int apply_to_subgraphs(oir_node *n, const olive_strmap *map)
{
    for (size_t a = 0; a < n->n_attrs; a++) {
        oir_attr *at = &n->attrs[a];
        if (at->g)
            OLIVE_TRY(apply_nested(at->g, map));
        for (size_t k = 0; at->graphs && k < at->n; k++)
            OLIVE_TRY(apply_nested(at->graphs[k], map));
    }
    return OLIVE_OK;
}

/* Names a nested graph defines itself: inputs, initializers, node outputs. */
static int defined_names(const oir_graph *g, olive_strmap *out)
{
    for (size_t i = 0; i < g->n_inputs; i++)
        OLIVE_TRY(olive_strmap_put(out, g->inputs[i].name, (void *)1));
    for (size_t i = 0; i < g->n_initializers; i++)
        OLIVE_TRY(olive_strmap_put(out, g->initializers[i]->name, (void *)1));
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs; j++)
            OLIVE_TRY(olive_strmap_put(out, g->nodes[i]->outputs[j], (void *)1));
    return OLIVE_OK;
}

/* Inside a subgraph, outer values are read by nodes and may be named as outputs. */
static int apply_nested(oir_graph *g, const olive_strmap *map)
{
    olive_strmap defined = {0}, filtered = {0};
    const olive_strmap *use = map;
    int rc = defined_names(g, &defined), shadowed = 0;
    for (size_t i = 0; i < map->cap && rc == OLIVE_OK && !shadowed; i++)
        if (map->keys[i] && map->keys[i][0] && olive_strmap_has(&defined, map->keys[i]))
            shadowed = 1;
    if (shadowed) {
        for (size_t i = 0; i < map->cap && rc == OLIVE_OK; i++)
            if (map->keys[i] && map->keys[i][0] && !olive_strmap_has(&defined, map->keys[i]))
                rc = olive_strmap_put(&filtered, map->keys[i], map->values[i]);
        use = &filtered;
    }
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        rc = replace_inputs(g->nodes[i], use);
        if (rc == OLIVE_OK)
            rc = apply_to_subgraphs(g->nodes[i], use);
    }
    for (size_t i = 0; i < g->n_outputs && rc == OLIVE_OK; i++) {
        const char *to = resolve(use, g->outputs[i].name);
        char *copy;
        if (to == g->outputs[i].name)
            continue;
        if (!(copy = olive_strdup(to))) {
            rc = OLIVE_ENOMEM;
            break;
        }
        free(g->outputs[i].name);
        g->outputs[i].name = copy;
    }
    olive_strmap_free(&filtered);
    olive_strmap_free(&defined);
    return rc;
}

int peephole_subst_apply(peephole_subst *s, oir_graph *g)
{
    int rc = OLIVE_OK;
    if (!s->map.count)
        return OLIVE_OK;
    /* Collapse chains first, so a subgraph that shadows a middle link cannot misread it. */
    for (size_t i = 0; i < s->map.cap && rc == OLIVE_OK; i++) {
        const char *end;
        char *copy;
        if (!s->map.keys[i] || !s->map.keys[i][0])
            continue;
        end = resolve(&s->map, s->map.values[i]);
        if (end == s->map.values[i])
            continue;
        /* `end` is the value of a last link, which this loop never frees. */
        if (!(copy = olive_strdup(end))) {
            rc = OLIVE_ENOMEM;
            break;
        }
        free(s->map.values[i]);
        s->map.values[i] = copy;
    }
    /* The graph's own outputs are never keys: graph output names do not change. */
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        rc = replace_inputs(g->nodes[i], &s->map);
        if (rc == OLIVE_OK)
            rc = apply_to_subgraphs(g->nodes[i], &s->map);
    }
    clear(&s->map, 1);
    return rc;
}
