#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

oir_graph *oir_graph_new(const char *name)
{
    oir_graph *g = olive_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    if (!(g->name = olive_strdup(name ? name : ""))) {
        free(g);
        return NULL;
    }
    return g;
}

static void value_infos_free(oir_value_info *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        oir_value_info_clear(&v[i]);
    free(v);
}

void oir_graph_free(oir_graph *g)
{
    if (!g)
        return;
    free(g->name);
    free(g->doc_string);
    for (size_t i = 0; i < g->n_nodes; i++)
        oir_node_free(g->nodes[i]);
    free(g->nodes);
    for (size_t i = 0; i < g->n_initializers; i++)
        oir_tensor_free(g->initializers[i]);
    free(g->initializers);
    value_infos_free(g->inputs, g->n_inputs);
    value_infos_free(g->outputs, g->n_outputs);
    value_infos_free(g->value_info, g->n_value_info);
    for (size_t i = 0; i < g->n_passthrough; i++)
        free(g->passthrough[i].data);
    free(g->passthrough);
    free(g);
}

static int clone_value_infos(oir_value_info **dst, size_t *n_dst, size_t *cap, const oir_value_info *src, size_t n)
{
    if (!n)
        return OLIVE_OK;
    if (!(*dst = olive_calloc(n, sizeof **dst)))
        return OLIVE_ENOMEM;
    *cap = n;
    for (size_t i = 0; i < n; i++) {
        OLIVE_TRY(oir_value_info_copy(&(*dst)[i], &src[i]));
        (*n_dst)++;
    }
    return OLIVE_OK;
}

oir_graph *oir_graph_clone(const oir_graph *src)
{
    oir_graph *g = oir_graph_new(src->name);
    if (!g)
        return NULL;
    if (src->doc_string && !(g->doc_string = olive_strdup(src->doc_string)))
        goto fail;
    if (src->n_nodes) {
        if (!(g->nodes = olive_calloc(src->n_nodes, sizeof *g->nodes)))
            goto fail;
        g->cap_nodes = src->n_nodes;
        for (size_t i = 0; i < src->n_nodes; i++) {
            if (!(g->nodes[i] = oir_node_clone(src->nodes[i])))
                goto fail;
            g->n_nodes++;
        }
    }
    if (src->n_initializers) {
        if (!(g->initializers = olive_calloc(src->n_initializers, sizeof *g->initializers)))
            goto fail;
        g->cap_initializers = src->n_initializers;
        for (size_t i = 0; i < src->n_initializers; i++) {
            if (!(g->initializers[i] = oir_tensor_clone(src->initializers[i])))
                goto fail;
            g->n_initializers++;
        }
    }
    if (clone_value_infos(&g->inputs, &g->n_inputs, &g->cap_inputs, src->inputs, src->n_inputs) ||
        clone_value_infos(&g->outputs, &g->n_outputs, &g->cap_outputs, src->outputs, src->n_outputs) ||
        clone_value_infos(&g->value_info, &g->n_value_info, &g->cap_value_info, src->value_info, src->n_value_info))
        goto fail;
    if (src->n_passthrough) {
        if (!(g->passthrough = olive_calloc(src->n_passthrough, sizeof *g->passthrough)))
            goto fail;
        for (size_t i = 0; i < src->n_passthrough; i++) {
            const oir_bytes *b = &src->passthrough[i];
            if (!(g->passthrough[i].data = olive_malloc(b->len + 1)))
                goto fail;
            memcpy(g->passthrough[i].data, b->data, b->len);
            g->passthrough[i].data[b->len] = 0;
            g->passthrough[i].len = b->len;
            g->n_passthrough++;
        }
    }
    return g;
fail:
    oir_graph_free(g);
    return NULL;
}

int oir_graph_add_node(oir_graph *g, oir_node *n)
{
    return OLIVE_PUSH(g->nodes, g->n_nodes, g->cap_nodes, n);
}

int oir_graph_insert_node(oir_graph *g, size_t index, oir_node *n)
{
    if (index > g->n_nodes)
        index = g->n_nodes;
    OLIVE_TRY(olive_grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes));
    memmove(&g->nodes[index + 1], &g->nodes[index], (g->n_nodes - index) * sizeof *g->nodes);
    g->nodes[index] = n;
    g->n_nodes++;
    return OLIVE_OK;
}

void oir_graph_remove_node(oir_graph *g, size_t index)
{
    if (index >= g->n_nodes)
        return;
    oir_node_free(g->nodes[index]);
    memmove(&g->nodes[index], &g->nodes[index + 1], (g->n_nodes - index - 1) * sizeof *g->nodes);
    g->n_nodes--;
}

void oir_graph_remove_marked_nodes(oir_graph *g)
{
    size_t kept = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i]->mark)
            oir_node_free(g->nodes[i]);
        else
            g->nodes[kept++] = g->nodes[i];
    }
    g->n_nodes = kept;
}

void oir_graph_replace_node(oir_graph *g, size_t index, oir_node *n)
{
    if (index >= g->n_nodes)
        return;
    oir_node_free(g->nodes[index]);
    g->nodes[index] = n;
}

int oir_graph_add_initializer(oir_graph *g, oir_tensor *t)
{
    return OLIVE_PUSH(g->initializers, g->n_initializers, g->cap_initializers, t);
}

long oir_graph_initializer_index(const oir_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializers; i++)
        if (!strcmp(g->initializers[i]->name, name))
            return (long)i;
    return -1;
}

oir_tensor *oir_graph_initializer(const oir_graph *g, const char *name)
{
    long i = oir_graph_initializer_index(g, name);
    return i < 0 ? NULL : g->initializers[i];
}

void oir_graph_remove_initializer(oir_graph *g, size_t index)
{
    if (index >= g->n_initializers)
        return;
    oir_tensor_free(g->initializers[index]);
    memmove(&g->initializers[index], &g->initializers[index + 1],
            (g->n_initializers - index - 1) * sizeof *g->initializers);
    g->n_initializers--;
}

static int add_vi(oir_value_info **arr, size_t *n, size_t *cap, const char *name, const oir_type *type)
{
    oir_value_info vi = {0};
    vi.name = olive_strdup(name ? name : "");
    vi.type = type ? oir_type_clone(type) : NULL;
    if (!vi.name || (type && !vi.type) || OLIVE_PUSH(*arr, *n, *cap, vi)) {
        oir_value_info_clear(&vi);
        return OLIVE_ENOMEM;
    }
    return OLIVE_OK;
}

int oir_graph_add_input(oir_graph *g, const char *name, const oir_type *type)
{
    return add_vi(&g->inputs, &g->n_inputs, &g->cap_inputs, name, type);
}

int oir_graph_add_output(oir_graph *g, const char *name, const oir_type *type)
{
    return add_vi(&g->outputs, &g->n_outputs, &g->cap_outputs, name, type);
}

int oir_graph_add_value_info(oir_graph *g, const char *name, const oir_type *type)
{
    return add_vi(&g->value_info, &g->n_value_info, &g->cap_value_info, name, type);
}

static long vi_index(const oir_value_info *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, name))
            return (long)i;
    return -1;
}

long oir_graph_input_index(const oir_graph *g, const char *name)
{
    return vi_index(g->inputs, g->n_inputs, name);
}
long oir_graph_output_index(const oir_graph *g, const char *name)
{
    return vi_index(g->outputs, g->n_outputs, name);
}

static void vi_remove(oir_value_info *v, size_t *n, size_t index)
{
    if (index >= *n)
        return;
    oir_value_info_clear(&v[index]);
    memmove(&v[index], &v[index + 1], (*n - index - 1) * sizeof *v);
    (*n)--;
}

void oir_graph_remove_input(oir_graph *g, size_t index)
{
    vi_remove(g->inputs, &g->n_inputs, index);
}
void oir_graph_remove_output(oir_graph *g, size_t index)
{
    vi_remove(g->outputs, &g->n_outputs, index);
}
void oir_graph_remove_value_info(oir_graph *g, size_t index)
{
    vi_remove(g->value_info, &g->n_value_info, index);
}

static int name_taken(const oir_graph *g, const char *name)
{
    if (oir_graph_initializer_index(g, name) >= 0 || oir_graph_input_index(g, name) >= 0 ||
        oir_graph_output_index(g, name) >= 0 || vi_index(g->value_info, g->n_value_info, name) >= 0)
        return 1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        if (!strcmp(n->name, name))
            return 1;
        for (size_t j = 0; j < n->n_outputs; j++)
            if (!strcmp(n->outputs[j], name))
                return 1;
        for (size_t j = 0; j < n->n_inputs; j++)
            if (!strcmp(n->inputs[j], name))
                return 1;
    }
    return 0;
}

char *oir_graph_unique_name(const oir_graph *g, const char *base)
{
    char *candidate;
    if (!name_taken(g, base))
        return olive_strdup(base);
    for (unsigned long i = 1;; i++) {
        candidate = olive_asprintf("%s_%lu", base, i);
        if (!candidate || !name_taken(g, candidate))
            return candidate;
        free(candidate);
    }
}
