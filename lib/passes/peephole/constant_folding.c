/* Constant folding of one graph: Constant nodes become initializers, and nodes whose inputs
 * are all constant are replaced by their value (see fold.h for the ops). Shape also folds on
 * a main-graph input whose declared shape is fully static, since onnxruntime checks feeds
 * against it. A folded output keeps its name, now as an initializer; outputs that are graph
 * outputs are not folded, so graph outputs stay produced by nodes. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/peephole/fold.h"
#include "passes/peephole/peephole_internal.h"

int peephole_constant_tensor(const oir_node *n, oir_tensor **out)
{
    const char *name = n->outputs[0];
    oir_tensor *t = NULL;
    int rc = OLIVE_OK;
    *out = NULL;
    for (size_t a = 0; a < n->n_attrs && !t && rc == OLIVE_OK; a++) {
        const oir_attr *at = &n->attrs[a];
        int64_t count = (int64_t)at->n;
        if (!strcmp(at->name, "value") && at->type == OIR_ATTR_TENSOR && at->t && at->t->dtype != OIR_STRING) {
            if ((t = oir_tensor_clone(at->t))) {
                char *copy = olive_strdup(name);
                if (!copy) {
                    oir_tensor_free(t);
                    return OLIVE_ENOMEM;
                }
                free(t->name);
                t->name = copy;
            }
        } else if (!strcmp(at->name, "value_float") && at->type == OIR_ATTR_FLOAT) {
            if ((t = oir_tensor_new(name, OIR_FLOAT, 0, NULL)))
                rc = oir_tensor_set_copy(t, &at->f, 4);
        } else if (!strcmp(at->name, "value_int") && at->type == OIR_ATTR_INT) {
            if ((t = oir_tensor_new(name, OIR_INT64, 0, NULL)))
                rc = oir_tensor_set_copy(t, &at->i, 8);
        } else if (!strcmp(at->name, "value_floats") && at->type == OIR_ATTR_FLOATS) {
            if ((t = oir_tensor_new(name, OIR_FLOAT, 1, &count)))
                rc = oir_tensor_set_copy(t, at->floats, 4 * at->n);
        } else if (!strcmp(at->name, "value_ints") && at->type == OIR_ATTR_INTS) {
            if ((t = oir_tensor_new(name, OIR_INT64, 1, &count)))
                rc = oir_tensor_set_copy(t, at->ints, 8 * at->n);
        } else {
            continue;
        }
        if (!t)
            return OLIVE_ENOMEM;
    }
    if (rc != OLIVE_OK) {
        oir_tensor_free(t);
        return rc;
    }
    *out = t;
    return OLIVE_OK;
}

/* Constant nodes whose value the IR holds as a tensor become initializers of the same name. */
static int constants_to_initializers(peephole_run *r, peephole_scope *s, oir_graph *g)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        oir_tensor *t;
        if (!peephole_is_op(n, "Constant") || n->n_outputs != 1 || !n->outputs[0][0] ||
            peephole_is_graph_output(g, n->outputs[0]))
            continue;
        OLIVE_TRY(peephole_constant_tensor(n, &t));
        if (!t)
            continue;
        if (peephole_add_initializer(r, g, t) != OLIVE_OK) {
            oir_tensor_free(t);
            return OLIVE_ENOMEM;
        }
        OLIVE_TRY(peephole_scope_add_const(s, t));
        n->mark = 1;
        r->constants++;
    }
    return OLIVE_OK;
}

/* The value of input `name`, or for Shape a data-less tensor carrying an enforced static
 * shape (*temp then owns it). NULL when not known. */
static const oir_tensor *input_value(const peephole_scope *s, const oir_node *n, const char *name, oir_tensor **temp)
{
    const oir_tensor *t = peephole_const(s, name);
    peephole_vtype vt;
    if (t || !peephole_is_op(n, "Shape"))
        return t;
    peephole_value_type(s, name, &vt);
    if (!vt.enforced || !vt.is_static || !vt.elem)
        return NULL;
    *temp = oir_tensor_new(name, vt.elem, vt.rank, vt.dims);
    return *temp;
}

static int fold_node(peephole_run *r, peephole_scope *s, oir_graph *g, oir_node *n)
{
    const oir_tensor **in = NULL;
    oir_tensor **temps = NULL, *result = NULL;
    int rc = OLIVE_OK, ready = 1;
    if (n->n_outputs != 1 || !olive_fold_supports(n) || peephole_is_graph_output(g, n->outputs[0]))
        return OLIVE_OK;
    in = olive_calloc(n->n_inputs + 1, sizeof *in);
    temps = olive_calloc(n->n_inputs + 1, sizeof *temps);
    if (!in || !temps) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < n->n_inputs && ready; j++) {
        if (!n->inputs[j][0])
            continue;
        in[j] = input_value(s, n, n->inputs[j], &temps[j]);
        ready = in[j] != NULL;
    }
    if (!ready)
        goto out;
    rc = olive_fold_eval(n, in, r->max_fold_bytes, &result);
    if (rc != OLIVE_OK) {
        /* Not foldable (unsupported type, too large, invalid node): the node stays. */
        if (rc != OLIVE_ENOMEM) {
            OLIVE_DEBUG("peephole: not folding: %s", olive_error_last());
            rc = OLIVE_OK;
        }
        goto out;
    }
    if ((rc = peephole_add_initializer(r, g, result)) != OLIVE_OK) {
        oir_tensor_free(result);
        goto out;
    }
    rc = peephole_scope_add_const(s, result);
    n->mark = 1;
    r->folded++;
out:
    for (size_t j = 0; temps && j < n->n_inputs; j++)
        oir_tensor_free(temps[j]);
    free(temps);
    free(in);
    return rc;
}

int peephole_fold_graph(peephole_run *r, oir_graph *g, const peephole_scope *outer)
{
    peephole_scope s;
    int rc;
    /* Before IR version 4 a new initializer needs a graph input, which a subgraph cannot
     * gain without changing its signature: fold only in the main graph there. */
    if (outer && r->initializers_need_inputs)
        return OLIVE_OK;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    OLIVE_TRY(peephole_scope_build(&s, r, g, outer));
    rc = constants_to_initializers(r, &s, g);
    /* Nodes are in topological order, so a folded value is known before its readers. */
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
        if (!g->nodes[i]->mark)
            rc = fold_node(r, &s, g, g->nodes[i]);
    peephole_scope_free(&s);
    oir_graph_remove_marked_nodes(g);
    return rc;
}
