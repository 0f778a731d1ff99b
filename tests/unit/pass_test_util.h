/* Helpers for C unit tests of passes: running a pass definition directly on an IR model with
 * chosen parameters (the others keep their defaults), and small graph builders. Include
 * check.h first. */
#ifndef OLIVE_TEST_PASS_UTIL_H
#define OLIVE_TEST_PASS_UTIL_H

#include <string.h>

#include "ir/ir.h"
#include "passes/registry.h"

typedef struct {
    const char *key, *value;
} setting;

/* `set` is NULL or an array ending with {NULL, NULL}; `ctx` may be NULL. */
static inline int pass_run_with(const olive_pass_def *d, oir_model *m, const setting *set, olive_pass_ctx *ctx)
{
    char *values[32];
    olive_pass_args args = {d, values};
    if (d->n_params > 32)
        return OLIVE_EINTERNAL;
    for (size_t i = 0; i < d->n_params; i++) {
        values[i] = (char *)d->params[i].default_value;
        for (const setting *s = set; s && s->key; s++)
            if (!strcmp(s->key, d->params[i].name))
                values[i] = (char *)s->value;
    }
    return olive_pass_run_def(d, &args, m, ctx);
}

/* Small graph builders for pass tests; CHECK (check.h) records a failed step. */

/* A NULL-terminated list of value names: LIST("a", "b"). */
#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

static inline size_t ir_list_count(const char *const *l)
{
    size_t n = 0;
    while (l[n])
        n++;
    return n;
}

/* Appends a default-domain node with NULL-terminated input and output name lists. */
static inline oir_node *ir_add(oir_graph *g, const char *op, const char *name, const char *const *ins,
                               const char *const *outs)
{
    oir_node *n = oir_node_new(op, "", name, ir_list_count(ins), ins, ir_list_count(outs), outs);
    CHECK(n && oir_graph_add_node(g, n) == OLIVE_OK);
    return n;
}
static inline void ir_io(oir_graph *g, int output, const char *name, int32_t elem, size_t rank, const int64_t *dims)
{
    oir_type *t = elem ? oir_type_new_tensor(elem, rank, dims, NULL) : NULL;
    CHECK((output ? oir_graph_add_output : oir_graph_add_input)(g, name, t) == OLIVE_OK);
    oir_type_free(t);
}

static inline void ir_init(oir_graph *g, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                           const void *v, size_t n)
{
    oir_tensor *t = oir_tensor_new(name, dtype, rank, dims);
    CHECK(t && oir_tensor_set_copy(t, v, n) == OLIVE_OK && oir_graph_add_initializer(g, t) == OLIVE_OK);
}

/* A new model importing the default domain at `opset`. */
static inline oir_model *ir_model(int64_t opset)
{
    oir_model *m = oir_model_new();
    oir_model_require_opset(m, "", opset);
    return m;
}

/* Number of nodes of `op` in the graph (not in subgraphs). */
static inline size_t ir_count_ops(const oir_graph *g, const char *op)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        n += !strcmp(g->nodes[i]->op_type, op);
    return n;
}

static inline const oir_node *ir_named(const oir_graph *g, const char *name)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i]->name, name))
            return g->nodes[i];
    return NULL;
}

#endif
