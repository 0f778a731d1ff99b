/* Shape-only chains that cancel or collapse:
 *  - Unsqueeze(axes) then Squeeze(same axes), and Squeeze(axes) then Unsqueeze(same axes):
 *    the second node is removed (its output is the first node's input);
 *  - Reshape fed by Reshape / Squeeze / Unsqueeze / Flatten, with a constant target shape
 *    that does not copy dims from its input (no 0 entry): it reads the first node's input;
 *  - Reshape whose input has a known static shape equal to the target shape: removed.
 * Axes may be attributes (before opset 13) or constant inputs (opset 13+). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/peephole/peephole_internal.h"

enum { ACT_SKIP_PRODUCER, ACT_BYPASS_TO_PRODUCER_INPUT, ACT_BYPASS_TO_INPUT };

typedef struct action {
    int kind;
    oir_node *node, *producer;
} action;

static oir_node *producer_of(const peephole_scope *s, const oir_node *n)
{
    return n->n_inputs && n->inputs[0][0] ? oir_index_producer(&s->ix, n->inputs[0]) : NULL;
}

/* The constant shape input of a Reshape as int64 values (NULL when not constant). */
static int64_t *reshape_target(const peephole_scope *s, const oir_node *n, size_t *count)
{
    const oir_tensor *t;
    const uint8_t *p;
    uint64_t numel;
    int64_t *v;
    if (n->n_inputs < 2 || !(t = peephole_const(s, n->inputs[1])) || t->dtype != OIR_INT64 || t->rank != 1)
        return NULL;
    p = oir_tensor_data(t);
    if (oir_tensor_numel(t, &numel) != OLIVE_OK || t->nbytes != numel * 8 || (numel && !p))
        return NULL;
    if (!(v = olive_calloc(numel ? numel : 1, sizeof *v)))
        return NULL;
    if (numel)
        memcpy(v, p, numel * 8);
    *count = (size_t)numel;
    return v;
}

static int is_view_op(const oir_node *n)
{
    return peephole_is_op(n, "Reshape") || peephole_is_op(n, "Squeeze") || peephole_is_op(n, "Unsqueeze") ||
           peephole_is_op(n, "Flatten");
}

/* Reshape(view(X), shape) == Reshape(X, shape) when no entry of shape copies an input dim. */
static int skips_producer(const peephole_scope *s, const oir_node *n, const oir_node *p)
{
    size_t count;
    int64_t *target;
    int ok = 1;
    if (!p || !is_view_op(p) || !p->n_inputs || !p->inputs[0][0] || p->n_outputs < 1)
        return 0;
    if (!(target = reshape_target(s, n, &count)))
        return 0;
    if (!oir_node_attr_int(n, "allowzero", 0))
        for (size_t i = 0; i < count; i++)
            if (target[i] == 0)
                ok = 0;
    free(target);
    return ok;
}

/* A Reshape whose input shape is static and equal to its resolved target. */
static int reshape_is_noop(const peephole_scope *s, const oir_node *n)
{
    peephole_vtype in;
    size_t count;
    int64_t *target;
    uint64_t numel = 1, known = 1;
    int ok, infer = -1;
    peephole_value_type(s, n->inputs[0], &in);
    if (!in.is_static || !(target = reshape_target(s, n, &count)))
        return 0;
    ok = count == in.rank;
    for (size_t i = 0; i < in.rank; i++)
        if (!olive_mul_ok(numel, (uint64_t)in.dims[i], &numel))
            ok = 0;
    for (size_t i = 0; i < count && ok; i++) {
        if (target[i] == 0 && !oir_node_attr_int(n, "allowzero", 0))
            target[i] = in.dims[i];
        if (target[i] == -1 && infer < 0)
            infer = (int)i;
        else if (target[i] < 0 || !olive_mul_ok(known, (uint64_t)target[i], &known))
            ok = 0;
    }
    if (ok && infer >= 0) {
        if (known == 0 || numel % known)
            ok = 0;
        else
            target[infer] = (int64_t)(numel / known);
    }
    for (size_t i = 0; i < count && ok; i++)
        if (target[i] != in.dims[i])
            ok = 0;
    free(target);
    return ok;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Normalizes axes against rank (when known) and sorts them. 0 if an axis is out of range. */
static int canonical_axes(int64_t *axes, size_t count, int has_rank, size_t rank)
{
    for (size_t i = 0; i < count && has_rank; i++) {
        if (axes[i] < -(int64_t)rank || axes[i] >= (int64_t)rank)
            return 0;
        if (axes[i] < 0)
            axes[i] += (int64_t)rank;
    }
    qsort(axes, count, sizeof *axes, cmp_i64);
    for (size_t i = 1; i < count; i++)
        if (axes[i] == axes[i - 1])
            return 0;
    return 1;
}

/* Unsqueeze(A) then Squeeze(A), or Squeeze(A) then Unsqueeze(A): both axis lists refer to the
 * rank between the two nodes, so equal lists cancel. */
static int cancels(const peephole_scope *s, const oir_node *n, const oir_node *p, int *out)
{
    int64_t *a = NULL, *b = NULL;
    size_t na, nb;
    int ka, kb, rc;
    peephole_vtype x;
    int has_rank = 0;
    size_t mid_rank = 0;
    *out = 0;
    if (!p || !p->n_inputs || !p->inputs[0][0] || p->n_outputs != 1)
        return OLIVE_OK;
    if (!((peephole_is_op(n, "Squeeze") && peephole_is_op(p, "Unsqueeze")) ||
          (peephole_is_op(n, "Unsqueeze") && peephole_is_op(p, "Squeeze"))))
        return OLIVE_OK;
    if ((rc = peephole_node_axes(s, p, &a, &na, &ka)) != OLIVE_OK)
        return rc;
    if ((rc = peephole_node_axes(s, n, &b, &nb, &kb)) != OLIVE_OK) {
        free(a);
        return rc;
    }
    peephole_value_type(s, p->inputs[0], &x);
    if (x.has_rank) {
        /* The rank between the nodes: X's rank, plus the axes when Unsqueeze comes first. */
        has_rank = 1;
        mid_rank = x.rank + (peephole_is_op(p, "Unsqueeze") ? na : 0);
    }
    if (ka && kb && na && na == nb && canonical_axes(a, na, has_rank, mid_rank) &&
        canonical_axes(b, nb, has_rank, mid_rank))
        *out = !memcmp(a, b, na * sizeof *a);
    free(a);
    free(b);
    return OLIVE_OK;
}

static int decide(const peephole_scope *s, oir_graph *g, action **acts, size_t *n_acts, size_t *cap)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i], *p;
        action a = {0, n, NULL};
        int hit = 0;
        if (n->mark || n->n_outputs < 1 || !n->n_inputs || !n->inputs[0][0])
            continue;
        p = producer_of(s, n);
        if (p && p->mark)
            p = NULL;
        if (peephole_is_op(n, "Reshape")) {
            if (reshape_is_noop(s, n)) {
                a.kind = ACT_BYPASS_TO_INPUT;
                hit = 1;
            } else if (p && skips_producer(s, n, p)) {
                a.kind = ACT_SKIP_PRODUCER;
                a.producer = p;
                hit = 1;
            }
        } else if (p) {
            OLIVE_TRY(cancels(s, n, p, &hit));
            a.kind = ACT_BYPASS_TO_PRODUCER_INPUT;
            a.producer = p;
        }
        if (!hit)
            continue;
        /* One rewrite per node per round: a node both rewritten and read by another rewrite
         * is left for the next round. */
        n->mark = 1;
        if (a.producer)
            a.producer->mark = 1;
        OLIVE_TRY(OLIVE_PUSH(*acts, *n_acts, *cap, a));
    }
    return OLIVE_OK;
}

int peephole_simplify_reshapes(peephole_run *r, oir_graph *g, const peephole_scope *outer)
{
    peephole_scope s;
    peephole_subst subst = {{0}};
    action *acts = NULL;
    size_t n_acts = 0, cap = 0;
    int rc;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    OLIVE_TRY(peephole_scope_build(&s, r, g, outer));
    rc = decide(&s, g, &acts, &n_acts, &cap);
    peephole_scope_free(&s);
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; i < n_acts && rc == OLIVE_OK; i++) {
        action *a = &acts[i];
        int removed = 0;
        switch (a->kind) {
        case ACT_SKIP_PRODUCER:
            rc = oir_node_set_input(a->node, 0, peephole_subst_resolve(&subst, a->producer->inputs[0]));
            removed = 1;
            break;
        case ACT_BYPASS_TO_INPUT:
            removed = peephole_bypass(g, &subst, a->node, a->node->inputs[0], a->node->outputs[0]);
            break;
        default: removed = peephole_bypass(g, &subst, a->node, a->producer->inputs[0], a->node->outputs[0]); break;
        }
        if (removed < 0)
            rc = removed;
        else
            r->reshapes += (size_t)removed;
    }
    if (rc == OLIVE_OK)
        rc = peephole_subst_apply(&subst, g);
    peephole_subst_free(&subst);
    free(acts);
    oir_graph_remove_marked_nodes(g);
    return rc;
}
