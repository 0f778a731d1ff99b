#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

void oir_attr_clear(oir_attr *a)
{
    free(a->name);
    free(a->doc_string);
    free(a->ref_attr_name);
    free(a->s.data);
    oir_tensor_free(a->t);
    oir_graph_free(a->g);
    free(a->floats);
    free(a->ints);
    if (a->strings)
        for (size_t i = 0; i < a->n; i++)
            free(a->strings[i].data);
    free(a->strings);
    if (a->tensors)
        for (size_t i = 0; i < a->n; i++)
            oir_tensor_free(a->tensors[i]);
    free(a->tensors);
    if (a->graphs)
        for (size_t i = 0; i < a->n; i++)
            oir_graph_free(a->graphs[i]);
    free(a->graphs);
    free(a->passthrough.data);
    memset(a, 0, sizeof *a);
}

static int dup_bytes(oir_bytes *dst, const oir_bytes *src)
{
    dst->len = src->len;
    dst->data = NULL;
    if (!src->data)
        return OLIVE_OK;
    if (!(dst->data = olive_malloc(src->len + 1)))
        return OLIVE_ENOMEM;
    memcpy(dst->data, src->data, src->len);
    dst->data[src->len] = 0;
    return OLIVE_OK;
}

int oir_attr_copy(oir_attr *dst, const oir_attr *src)
{
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    dst->f = src->f;
    dst->i = src->i;
    dst->n = src->n;
    if (!(dst->name = olive_strdup(src->name ? src->name : "")))
        goto fail;
    if (src->doc_string && !(dst->doc_string = olive_strdup(src->doc_string)))
        goto fail;
    if (src->ref_attr_name && !(dst->ref_attr_name = olive_strdup(src->ref_attr_name)))
        goto fail;
    if (dup_bytes(&dst->s, &src->s) || dup_bytes(&dst->passthrough, &src->passthrough))
        goto fail;
    if (src->t && !(dst->t = oir_tensor_clone(src->t)))
        goto fail;
    if (src->g && !(dst->g = oir_graph_clone(src->g)))
        goto fail;
    if (src->floats && !(dst->floats = olive_memdup(src->floats, src->n * sizeof *src->floats + 1)))
        goto fail;
    if (src->ints && !(dst->ints = olive_memdup(src->ints, src->n * sizeof *src->ints + 1)))
        goto fail;
    if (src->strings) {
        if (!(dst->strings = olive_calloc(src->n, sizeof *dst->strings)))
            goto fail;
        for (size_t i = 0; i < src->n; i++)
            if (dup_bytes(&dst->strings[i], &src->strings[i]))
                goto fail;
    }
    if (src->tensors) {
        if (!(dst->tensors = olive_calloc(src->n, sizeof *dst->tensors)))
            goto fail;
        for (size_t i = 0; i < src->n; i++)
            if (!(dst->tensors[i] = oir_tensor_clone(src->tensors[i])))
                goto fail;
    }
    if (src->graphs) {
        if (!(dst->graphs = olive_calloc(src->n, sizeof *dst->graphs)))
            goto fail;
        for (size_t i = 0; i < src->n; i++)
            if (!(dst->graphs[i] = oir_graph_clone(src->graphs[i])))
                goto fail;
    }
    return OLIVE_OK;
fail:
    oir_attr_clear(dst);
    return OLIVE_ENOMEM;
}

oir_attr *oir_node_attr(const oir_node *n, const char *name)
{
    for (size_t i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name))
            return &n->attrs[i];
    return NULL;
}

int64_t oir_node_attr_int(const oir_node *n, const char *name, int64_t fallback)
{
    oir_attr *a = oir_node_attr(n, name);
    return a && a->type == OIR_ATTR_INT ? a->i : fallback;
}

float oir_node_attr_float(const oir_node *n, const char *name, float fallback)
{
    oir_attr *a = oir_node_attr(n, name);
    return a && a->type == OIR_ATTR_FLOAT ? a->f : fallback;
}

const char *oir_node_attr_string(const oir_node *n, const char *name, const char *fallback)
{
    oir_attr *a = oir_node_attr(n, name);
    /* Strings are stored NUL-terminated (one byte past len) by the loader and setters. */
    return a && a->type == OIR_ATTR_STRING && a->s.data ? (const char *)a->s.data : fallback;
}

/* Returns the slot for `name`, cleared and named, adding one if needed. */
static oir_attr *slot(oir_node *n, const char *name)
{
    oir_attr *a = oir_node_attr(n, name);
    char *nm = olive_strdup(name);
    if (!nm)
        return NULL;
    if (a) {
        oir_attr_clear(a);
    } else {
        if (olive_grow((void **)&n->attrs, &n->cap_attrs, n->n_attrs + 1, sizeof *n->attrs)) {
            free(nm);
            return NULL;
        }
        a = &n->attrs[n->n_attrs++];
        memset(a, 0, sizeof *a);
    }
    a->name = nm;
    return a;
}

int oir_node_set_attr_int(oir_node *n, const char *name, int64_t v)
{
    oir_attr *a = slot(n, name);
    if (!a)
        return OLIVE_ENOMEM;
    a->type = OIR_ATTR_INT;
    a->i = v;
    return OLIVE_OK;
}

int oir_node_set_attr_float(oir_node *n, const char *name, float v)
{
    oir_attr *a = slot(n, name);
    if (!a)
        return OLIVE_ENOMEM;
    a->type = OIR_ATTR_FLOAT;
    a->f = v;
    return OLIVE_OK;
}

int oir_node_set_attr_string(oir_node *n, const char *name, const char *v)
{
    size_t len = strlen(v);
    uint8_t *copy = olive_memdup(v, len + 1);
    oir_attr *a;
    if (!copy)
        return OLIVE_ENOMEM;
    if (!(a = slot(n, name))) {
        free(copy);
        return OLIVE_ENOMEM;
    }
    a->type = OIR_ATTR_STRING;
    a->s.data = copy;
    a->s.len = len;
    return OLIVE_OK;
}

/* Sets a numeric list attribute from a copy of `count` elements of `elem` bytes; the copy
 * has one spare element so an empty list still gets a non-NULL buffer. */
static int set_list(oir_node *n, const char *name, int32_t type, const void *v, size_t count, size_t elem)
{
    void *copy = olive_reallocarray(NULL, count + 1, elem);
    oir_attr *a;
    if (!copy)
        return OLIVE_ENOMEM;
    if (count)
        memcpy(copy, v, count * elem);
    if (!(a = slot(n, name))) {
        free(copy);
        return OLIVE_ENOMEM;
    }
    a->type = type;
    if (type == OIR_ATTR_INTS)
        a->ints = copy;
    else
        a->floats = copy;
    a->n = count;
    return OLIVE_OK;
}

int oir_node_set_attr_ints(oir_node *n, const char *name, const int64_t *v, size_t count)
{
    return set_list(n, name, OIR_ATTR_INTS, v, count, sizeof *v);
}

int oir_node_set_attr_floats(oir_node *n, const char *name, const float *v, size_t count)
{
    return set_list(n, name, OIR_ATTR_FLOATS, v, count, sizeof *v);
}

int oir_node_set_attr_tensor(oir_node *n, const char *name, oir_tensor *t)
{
    oir_attr *a = slot(n, name);
    if (!a)
        return OLIVE_ENOMEM;
    a->type = OIR_ATTR_TENSOR;
    a->t = t;
    return OLIVE_OK;
}

int oir_node_set_attr_graph(oir_node *n, const char *name, oir_graph *g)
{
    oir_attr *a = slot(n, name);
    if (!a)
        return OLIVE_ENOMEM;
    a->type = OIR_ATTR_GRAPH;
    a->g = g;
    return OLIVE_OK;
}

void oir_node_remove_attr(oir_node *n, const char *name)
{
    oir_attr *a = oir_node_attr(n, name);
    size_t i;
    if (!a)
        return;
    i = (size_t)(a - n->attrs);
    oir_attr_clear(a);
    memmove(&n->attrs[i], &n->attrs[i + 1], (n->n_attrs - i - 1) * sizeof *n->attrs);
    n->n_attrs--;
}
