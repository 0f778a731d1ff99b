/* Structural validation of a model: the checks a runtime would fail on later, reported early
 * with the node and value at fault. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

typedef struct scope {
    const struct scope *outer;
    olive_strmap names; /* values defined in this graph */
} scope;

static int visible(const scope *s, const char *name)
{
    for (; s; s = s->outer)
        if (olive_strmap_has(&s->names, name))
            return 1;
    return 0;
}

static const char *gname(const oir_graph *g)
{
    return g->name && g->name[0] ? g->name : "(unnamed)";
}

static int define(scope *s, const oir_graph *g, const char *name, const char *what)
{
    if (!name[0])
        return OLIVE_OK;
    if (olive_strmap_has(&s->names, name))
        return olive_fail(OLIVE_EFORMAT, "graph '%s': value '%s' is defined twice (again as %s)", gname(g), name, what);
    return olive_strmap_put(&s->names, name, (void *)1);
}

static int check_graph(const oir_model *m, const oir_graph *g, const scope *outer);

static int check_node_domain(const oir_model *m, const oir_graph *g, const oir_node *n)
{
    if (oir_model_opset(m, n->domain) < 0)
        return olive_fail(
            OLIVE_EFORMAT,
            "graph '%s': node '%s' (%s) uses domain '%s', which the model does not import (no opset_import entry)",
            gname(g), n->name, n->op_type, n->domain[0] ? n->domain : "ai.onnx");
    return OLIVE_OK;
}

static int check_graph(const oir_model *m, const oir_graph *g, const scope *outer)
{
    scope s = {outer, {0}};
    int rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_inputs && rc == OLIVE_OK; i++)
        rc = define(&s, g, g->inputs[i].name, "a graph input");
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++) {
        /* An initializer may share its name with a graph input (a default value). */
        if (oir_graph_input_index(g, g->initializers[i]->name) >= 0)
            continue;
        rc = define(&s, g, g->initializers[i]->name, "an initializer");
    }
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs && rc == OLIVE_OK; j++) {
            rc = define(&s, g, g->nodes[i]->outputs[j], "an output of another node");
            if (rc != OLIVE_OK)
                olive_fail_context(rc, "node '%s' (%s)", g->nodes[i]->name, g->nodes[i]->op_type);
        }
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        const oir_node *n = g->nodes[i];
        rc = check_node_domain(m, g, n);
        for (size_t j = 0; j < n->n_inputs && rc == OLIVE_OK; j++)
            if (n->inputs[j][0] && !visible(&s, n->inputs[j]))
                rc = olive_fail(
                    OLIVE_EFORMAT,
                    "graph '%s': input '%s' of node '%s' (%s) is not produced by any node, initializer or graph input",
                    gname(g), n->inputs[j], n->name, n->op_type);
        for (size_t a = 0; a < n->n_attrs && rc == OLIVE_OK; a++) {
            const oir_attr *at = &n->attrs[a];
            if (at->g)
                rc = check_graph(m, at->g, &s);
            for (size_t k = 0; at->graphs && k < at->n && rc == OLIVE_OK; k++)
                rc = check_graph(m, at->graphs[k], &s);
            if (rc != OLIVE_OK)
                olive_fail_context(rc, "in attribute '%s' of node '%s' (%s)", at->name, n->name, n->op_type);
        }
    }
    for (size_t i = 0; i < g->n_outputs && rc == OLIVE_OK; i++)
        if (!visible(&s, g->outputs[i].name))
            rc = olive_fail(OLIVE_EFORMAT,
                            "graph '%s': output '%s' is not produced by any node, initializer or graph input", gname(g),
                            g->outputs[i].name);
    olive_strmap_free(&s.names); /* not needed by the cycle check, which builds its own */
    if (rc == OLIVE_OK && g->n_nodes > 0) {
        /* Cycle check on a copy of the node order: toposort permutes only the array. */
        oir_graph tmp = *g;
        tmp.nodes = olive_memdup(g->nodes, g->n_nodes * sizeof *g->nodes);
        rc = tmp.nodes ? oir_graph_toposort(&tmp) : OLIVE_ENOMEM;
        free(tmp.nodes);
    }
    return rc;
}

int oir_model_validate(const oir_model *m)
{
    if (!m->graph)
        return olive_fail(OLIVE_EFORMAT, "model has no graph");
    return check_graph(m, m->graph, NULL);
}
