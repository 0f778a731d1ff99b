/* Nodes that pass their input through unchanged: Identity, Dropout at inference, and Cast to
 * the type its input already has. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/peephole/peephole_internal.h"

/* 1 if the constant is a single false bool. */
static int is_const_false(const oir_tensor *t)
{
    uint64_t numel;
    if (!t || t->dtype != OIR_BOOL || oir_tensor_numel(t, &numel) != OLIVE_OK || numel != 1 || t->nbytes != 1 ||
        !t->blob)
        return 0;
    return oir_tensor_data(t)[0] == 0;
}

/* Dropout is the identity at inference: in opset 12+ unless training_mode may be true, in
 * opsets 7..11 always, before opset 7 only with is_test set. Its mask has no stand-in here,
 * so a Dropout whose mask is read stays. */
static int dropout_is_identity(const peephole_run *r, const peephole_scope *s, const oir_node *n)
{
    if (n->n_inputs < 1 || !n->inputs[0][0] || n->n_outputs < 1)
        return 0;
    if (r->opset >= 0 && r->opset < 7 && oir_node_attr_int(n, "is_test", 0) == 0)
        return 0;
    if (n->n_inputs >= 3 && n->inputs[2][0] && !is_const_false(peephole_const(s, n->inputs[2])))
        return 0;
    for (size_t j = 1; j < n->n_outputs; j++)
        if (n->outputs[j][0] && oir_index_use_count(&s->ix, n->outputs[j]) > 0)
            return 0;
    return 1;
}

static int cast_is_identity(const peephole_scope *s, const oir_node *n)
{
    const oir_attr *to = oir_node_attr(n, "to");
    peephole_vtype t;
    if (n->n_inputs != 1 || !n->inputs[0][0] || n->n_outputs != 1 || !to || to->type != OIR_ATTR_INT)
        return 0;
    peephole_value_type(s, n->inputs[0], &t);
    return t.elem != 0 && t.elem == to->i;
}

static int is_noop(const peephole_run *r, const peephole_scope *s, const oir_node *n)
{
    if (peephole_is_op(n, "Identity"))
        return n->n_inputs == 1 && n->inputs[0][0] && n->n_outputs == 1;
    if (peephole_is_op(n, "Dropout"))
        return dropout_is_identity(r, s, n);
    if (peephole_is_op(n, "Cast"))
        return cast_is_identity(s, n);
    return 0;
}

int peephole_remove_noops(peephole_run *r, oir_graph *g, const peephole_scope *outer)
{
    peephole_scope s;
    peephole_subst subst = {{0}};
    oir_node **found = NULL;
    size_t n_found = 0, cap = 0;
    int rc;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    OLIVE_TRY(peephole_scope_build(&s, r, g, outer));
    /* Decide on the unchanged graph, then rewrite: each rewrite only replaces a value by an
     * equal one, so the decisions stay true. */
    rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
        if (is_noop(r, &s, g->nodes[i]))
            rc = OLIVE_PUSH(found, n_found, cap, g->nodes[i]);
    peephole_scope_free(&s);
    for (size_t i = 0; i < n_found && rc == OLIVE_OK; i++) {
        oir_node *n = found[i];
        int removed = peephole_bypass(g, &subst, n, n->inputs[0], n->outputs[0]);
        if (removed < 0)
            rc = removed;
        else
            r->noops += (size_t)removed;
    }
    if (rc == OLIVE_OK)
        rc = peephole_subst_apply(&subst, g);
    peephole_subst_free(&subst);
    free(found);
    oir_graph_remove_marked_nodes(g);
    return rc;
}
