/* The peephole pass: runs its steps over every graph, subgraphs included, until nothing
 * changes. Per graph: constant folding, no-op removal, shape-chain simplification, then the
 * subgraphs, then dead code, unused and duplicate initializers, stale value_info, and a
 * topological sort. Graph inputs and outputs keep their names. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/peephole/peephole.h"
#include "passes/peephole/peephole_internal.h"

/* Rounds until a fixpoint; each round usually exposes less, so a few suffice. */
#define MAX_ROUNDS 8

static size_t count_nodes(const oir_graph *g)
{
    size_t n = g->n_nodes;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t a = 0; a < g->nodes[i]->n_attrs; a++) {
            const oir_attr *at = &g->nodes[i]->attrs[a];
            if (at->g)
                n += count_nodes(at->g);
            for (size_t k = 0; at->graphs && k < at->n; k++)
                n += count_nodes(at->graphs[k]);
        }
    return n;
}

static int report_progress(peephole_run *r)
{
    /* Round k covers [1 - 2^-k, 1 - 2^-(k+1)): monotonic however many rounds run. */
    double base = 1.0, width, f;
    for (int i = 0; i < r->round; i++)
        base *= 0.5;
    width = base * 0.5;
    f = r->nodes_total ? (double)r->nodes_done / (double)r->nodes_total : 1.0;
    return olive_pass_progress(r->ctx, 1.0 - base + width * (f > 1 ? 1 : f));
}

static int process_graph(peephole_run *r, oir_graph *g, const peephole_scope *outer)
{
    peephole_scope s;
    int rc = OLIVE_OK;
    OLIVE_TRY(oir_graph_toposort(g));
    if (r->fold)
        OLIVE_TRY(peephole_fold_graph(r, g, outer));
    if (r->remove_noops)
        OLIVE_TRY(peephole_remove_noops(r, g, outer));
    if (r->simplify_reshapes)
        OLIVE_TRY(peephole_simplify_reshapes(r, g, outer));
    /* Subgraphs see this graph's values as their outer scope. */
    OLIVE_TRY(peephole_scope_build(&s, r, g, outer));
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        oir_node *n = g->nodes[i];
        for (size_t a = 0; a < n->n_attrs && rc == OLIVE_OK; a++) {
            oir_attr *at = &n->attrs[a];
            if (at->g)
                rc = process_graph(r, at->g, &s);
            for (size_t k = 0; at->graphs && k < at->n && rc == OLIVE_OK; k++)
                rc = process_graph(r, at->graphs[k], &s);
        }
    }
    peephole_scope_free(&s);
    if (rc != OLIVE_OK)
        return rc;
    /* After the subgraphs, whose reads keep this graph's values alive. */
    if (r->remove_unused)
        OLIVE_TRY(peephole_remove_dead(r, g, outer));
    if (r->dedup)
        OLIVE_TRY(peephole_dedup_initializers(r, g));
    OLIVE_TRY(peephole_drop_stale_value_info(g, outer));
    OLIVE_TRY(oir_graph_toposort(g));
    r->nodes_done += g->n_nodes;
    return report_progress(r);
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    peephole_run r;
    int rc = OLIVE_OK;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.fold = olive_args_bool(args, "fold_constants");
    r.max_fold_bytes = (uint64_t)olive_args_int(args, "max_fold_bytes");
    r.remove_noops = olive_args_bool(args, "remove_noops");
    r.simplify_reshapes = olive_args_bool(args, "simplify_reshapes");
    r.remove_unused = olive_args_bool(args, "remove_unused");
    r.dedup = olive_args_bool(args, "deduplicate_initializers");
    r.opset = oir_model_opset(m, "");
    r.initializers_need_inputs = m->ir_version > 0 && m->ir_version < 4;
    for (r.round = 0; r.round < MAX_ROUNDS && rc == OLIVE_OK; r.round++) {
        size_t before = peephole_changes(&r);
        r.nodes_total = count_nodes(m->graph);
        r.nodes_done = 0;
        rc = process_graph(&r, m->graph, NULL);
        if (peephole_changes(&r) == before)
            break;
    }
    for (size_t i = 0; i < r.created.cap; i++)
        if (r.created.keys[i] && r.created.keys[i][0])
            free(r.created.values[i]);
    olive_strmap_free(&r.created);
    if (rc != OLIVE_OK)
        return rc;
    OLIVE_INFO("peephole: folded %zu nodes, %zu Constant nodes to initializers, removed %zu no-op nodes, "
               "simplified %zu shape chains, removed %zu dead nodes and %zu unused initializers, merged %zu "
               "duplicate initializers",
               r.folded, r.constants, r.noops, r.reshapes, r.dead_nodes, r.dead_initializers, r.duplicates);
    return olive_pass_progress(ctx, 1.0);
}

static const olive_param_spec params[] = {
    {.name = "fold_constants",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .help = "Evaluate shape, index and arithmetic ops on constants; Constant nodes become initializers",
     .details = "Folded: Shape, Gather, Unsqueeze, Squeeze, Concat, Reshape, Cast, Add, Sub, Mul, Div, Transpose, "
                "Range"},
    {.name = "max_fold_bytes",
     .type = OLIVE_PARAM_INT,
     .default_value = "16777216",
     .min = 0,
     .max = 1099511627776.0,
     .help = "Largest result, in bytes, that constant folding may create (larger nodes stay)"},
    {.name = "remove_noops",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .help = "Remove Identity, unused-mask Dropout and Cast to the type its input already has",
     .details = "Dropout goes only in inference mode and when its mask output is unused"},
    {.name = "simplify_reshapes",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .help = "Cancel Unsqueeze/Squeeze pairs, collapse Reshape chains, drop identity Reshapes",
     .details = "Pairs cancel when they act on the same axes; a Reshape to the input's own shape is dropped"},
    {.name = "remove_unused",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .help = "Remove nodes whose outputs reach no graph output, and initializers nothing reads"},
    {.name = "deduplicate_initializers",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "true",
     .help = "Merge initializers with the same type, shape and bytes"},
};

static const olive_pass_type olive_types[] = {{"OnnxPeepholeOptimizer", NULL, NULL, NULL}, {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_peephole = {
    .name = "peephole",
    .summary = "Removes no-ops, cancels shape chains, folds constants, drops dead nodes and initializers",
    .details = "No-ops: Identity, Dropout, same-type Cast. Folded: Shape, Gather, Unsqueeze, Squeeze, Concat, "
               "Reshape, Cast, Add, Sub, Mul, Div, Transpose, Range. Unused or duplicate initializers go",
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
