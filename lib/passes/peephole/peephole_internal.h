/* Shared state of the peephole pass's steps (one file per rewrite family). */
#ifndef OLIVE_PASSES_PEEPHOLE_INTERNAL_H
#define OLIVE_PASSES_PEEPHOLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/strmap.h"
#include "ir/ir.h"
#include "passes/registry.h"

typedef struct peephole_run {
    olive_pass_ctx *ctx;
    int fold, remove_noops, simplify_reshapes, remove_unused, dedup;
    uint64_t max_fold_bytes;
    int64_t opset; /* default-domain opset of the model */
    /* Before IR version 4 every initializer must also be a graph input. Initializers this
     * pass adds to such a model get an input too; their names (owned here) are still
     * constants and may be removed again. */
    int initializers_need_inputs;
    olive_strmap created;
    /* What changed, for the log line and for the fixpoint loop. */
    size_t folded, constants, noops, reshapes, dead_nodes, dead_initializers, duplicates;
    /* Progress within a round. */
    size_t nodes_total, nodes_done;
    int round;
} peephole_run;

static inline size_t peephole_changes(const peephole_run *r)
{
    return r->folded + r->constants + r->noops + r->reshapes + r->dead_nodes + r->dead_initializers + r->duplicates;
}

/* What one graph defines and knows about its values, linked to the scopes around it (a
 * subgraph reads values of outer graphs). Built from a graph and valid until it changes. */
typedef struct peephole_scope {
    const struct peephole_scope *outer;
    oir_graph *g;
    int is_main; /* the model's graph: onnxruntime enforces its inputs' shapes */
    oir_graph_index ix;
    olive_strmap defined; /* every value the graph defines: inputs, initializers, node outputs */
    olive_strmap types;   /* value -> oir_type* from inputs, outputs and value_info */
    olive_strmap consts;  /* value -> oir_tensor*: initializers that are not graph inputs */
} peephole_scope;

int peephole_scope_build(peephole_scope *s, const peephole_run *r, oir_graph *g, const peephole_scope *outer);
void peephole_scope_free(peephole_scope *s);
/* Adds `t` to g's initializers (taking it on success), with a graph input where the IR
 * version requires one. */
int peephole_add_initializer(peephole_run *r, oir_graph *g, oir_tensor *t);
/* Removes initializer `index` of g, and the graph input this pass gave it. */
void peephole_remove_initializer(peephole_run *r, oir_graph *g, size_t index);
/* 1 if initializer `name` of g is a constant: not a graph input, or one this pass added. */
int peephole_initializer_is_const(const peephole_run *r, const oir_graph *g, const char *name);

/* 1 if the value is defined in s or a scope around it. */
int peephole_scope_visible(const peephole_scope *s, const char *value);
/* Adds a tensor added to s->g as an initializer to the constants of s. */
int peephole_scope_add_const(peephole_scope *s, oir_tensor *t);

/* The constant value of `value`: a non-overridable initializer or a Constant node's tensor,
 * in s or an outer scope (NULL when not constant). */
const oir_tensor *peephole_const(const peephole_scope *s, const char *value);

#define PEEPHOLE_MAX_RANK 16

/* What is known of a value's type. */
typedef struct peephole_vtype {
    int32_t elem; /* 0 when unknown */
    int has_rank;
    size_t rank;
    int64_t dims[PEEPHOLE_MAX_RANK]; /* -1 where unknown */
    int is_static;                   /* rank and every dim known */
    int enforced;                    /* the shape is certain: a constant or a main-graph input */
} peephole_vtype;

/* Fills *out from initializers, Constant / Cast producers, graph inputs, outputs and
 * value_info, looking through outer scopes. */
void peephole_value_type(const peephole_scope *s, const char *value, peephole_vtype *out);

/* Pending "read `to` instead of `from`" rewrites for one graph, applied together. */
typedef struct peephole_subst {
    olive_strmap map; /* from -> to, both owned */
} peephole_subst;

/* Records a rewrite; `to` is first resolved through the pending ones. */
int peephole_subst_add(peephole_subst *s, const char *from, const char *to);
/* What `name` will be read as once the pending rewrites are applied. */
const char *peephole_subst_resolve(const peephole_subst *s, const char *name);
/* Applies the pending rewrites to node inputs of g and reads inside its subgraphs, and
 * forgets them. */
int peephole_subst_apply(peephole_subst *s, oir_graph *g);
void peephole_subst_free(peephole_subst *s);

/* Removes `node` (marks it; the step sweeps marked nodes) so that its output `dst` becomes
 * the equal value `src` (read through the pending rewrites of `subst`, which gains dst ->
 * src). Graph output names never change: when dst is a graph output, src's producer is
 * renamed to dst instead, and when that is impossible the node is kept.
 * Returns 1 when removed, 0 when kept, or an error. */
int peephole_bypass(oir_graph *g, peephole_subst *subst, oir_node *node, const char *src, const char *dst);

/* 1 if `value` is one of g's outputs. */
int peephole_is_graph_output(const oir_graph *g, const char *value);

/* 1 if the node is in the default ONNX domain and has op type `op`. */
int peephole_is_op(const oir_node *n, const char *op);

/* Axes of a Squeeze / Unsqueeze node, from its attribute or its constant input (*known 0
 * otherwise). The caller frees *axes. */
int peephole_node_axes(const peephole_scope *s, const oir_node *n, int64_t **axes, size_t *count, int *known);

/* The steps, each on one graph. */
int peephole_fold_graph(peephole_run *r, oir_graph *g, const peephole_scope *outer);
int peephole_remove_noops(peephole_run *r, oir_graph *g, const peephole_scope *outer);
int peephole_simplify_reshapes(peephole_run *r, oir_graph *g, const peephole_scope *outer);
int peephole_remove_dead(peephole_run *r, oir_graph *g, const peephole_scope *outer);
int peephole_dedup_initializers(peephole_run *r, oir_graph *g);
int peephole_drop_stale_value_info(oir_graph *g, const peephole_scope *outer);

/* Turns Constant node `n`'s value into a new tensor named after its output; *out is NULL
 * when the attribute kind is not one the IR holds as a tensor (strings, sparse). */
int peephole_constant_tensor(const oir_node *n, oir_tensor **out);

#endif
