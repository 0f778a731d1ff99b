/* Surgeons that clean up after other tools: duplicate nodes and subgraph initializers that
 * float16 conversion and onnxruntime's optimizer leave, and Memcpy nodes of a pre-partitioned
 * graph. The first two repair graphs the validator refuses, so they run on the model as
 * loaded. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/strmap.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

/* Nodes of the main graph that write a value an earlier node already wrote go. */
static int deduplicate_nodes(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    olive_strmap seen = {0};
    int rc = OLIVE_OK;
    (void)a;
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        oir_node *n = g->nodes[i];
        n->mark = 0;
        for (size_t j = 0; j < n->n_outputs && rc == OLIVE_OK; j++) {
            if (!n->outputs[j][0])
                continue;
            if (olive_strmap_has(&seen, n->outputs[j])) {
                n->mark = 1;
                break;
            }
            rc = olive_strmap_put(&seen, n->outputs[j], NULL);
        }
    }
    /* The map borrows names of nodes about to go: free it first. */
    olive_strmap_free(&seen);
    if (rc == OLIVE_OK)
        oir_graph_remove_marked_nodes(g);
    return rc;
}

/* In each subgraph, initializers with a name an earlier one has go. */
static int dedup_subgraph_initializers_in(oir_graph *g, int depth, void *user)
{
    olive_strmap seen = {0};
    int rc = OLIVE_OK;
    (void)user;
    if (!depth)
        return OLIVE_OK;
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK;) {
        if (olive_strmap_has(&seen, g->initializers[i]->name)) {
            oir_graph_remove_initializer(g, i);
            continue;
        }
        rc = olive_strmap_put(&seen, g->initializers[i]->name, NULL);
        i++;
    }
    olive_strmap_free(&seen);
    return rc;
}

static int deduplicate_subgraph_initializers(oir_model *m, const sg_args *a)
{
    (void)a;
    return oir_model_for_each_graph(m, dedup_subgraph_initializers_in, NULL);
}

static int is_memcpy(const oir_node *n)
{
    return (!strcmp(n->op_type, "MemcpyToHost") || !strcmp(n->op_type, "MemcpyFromHost")) && n->n_inputs == 1 &&
           n->n_outputs == 1 && n->inputs[0][0];
}

/* MemcpyToHost / MemcpyFromHost nodes are bypassed (readers, also inside subgraphs, read the
 * copy's source); a copy that wrote a graph output gives that name to its source. */
static int remove_memcpy_in(oir_graph *g, int depth, void *user)
{
    (void)depth;
    (void)user;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        char *src, *dst;
        int rc;
        if (!is_memcpy(n))
            continue;
        src = olive_strdup(n->inputs[0]);
        dst = olive_strdup(n->outputs[0]);
        rc = src && dst ? OLIVE_OK : OLIVE_ENOMEM;
        if (rc == OLIVE_OK) {
            oir_graph_remove_node(g, i);
            i--;
            if (oir_graph_output_index(g, dst) >= 0 && sg_producer(g, src) && oir_graph_output_index(g, src) < 0 &&
                oir_graph_input_index(g, src) < 0)
                rc = oir_graph_rename_value(g, src, dst);
            else
                rc = oir_graph_replace_uses(g, dst, src);
        }
        free(src);
        free(dst);
        OLIVE_TRY(rc);
    }
    return oir_graph_toposort(g);
}

static int remove_memcpy(oir_model *m, const sg_args *a)
{
    (void)a;
    return oir_model_for_each_graph(m, remove_memcpy_in, NULL);
}

static const sg_param p_none[] = {{NULL, 0, 0}};

const sg_surgeon sg_family_cleanup[] = {
    SG_REPAIR("DeduplicateNodes", "Removes nodes writing a value an earlier node already writes", p_none,
              deduplicate_nodes),
    SG_REPAIR("DeduplicateSubgraphInitializers", "Removes repeated initializer names inside subgraphs", p_none,
              deduplicate_subgraph_initializers),
    SG_SURGEON("RemoveMemcpy", "Bypasses MemcpyToHost / MemcpyFromHost nodes (subgraphs too)", p_none, remove_memcpy),
    SG_END,
};
