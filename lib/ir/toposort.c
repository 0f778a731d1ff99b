/* Kahn's algorithm over explicit and implicit (subgraph) inputs, stable: among ready nodes
 * the original order is kept, so an already sorted graph is unchanged. The from-sinks variant
 * runs it backwards (consumers before producers, the latest ready node first) and reverses the
 * result: the stable order onnx_ir's Graph.sort gives, which differs on unsorted graphs. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "ir/ir.h"

/* Producer -> consumer edges, gathered as pairs and then laid out per producer (one flat
 * array, not one allocation per node: a graph may have millions of nodes). */
typedef struct edge {
    size_t producer, consumer;
} edge;

typedef struct {
    edge *list;
    size_t n, cap;
} edges;

static int add_edge(edges *e, const olive_strmap *producer_of, const char *value, size_t consumer)
{
    size_t p;
    edge ed;
    void *v = olive_strmap_get(producer_of, value);
    if (!v)
        return OLIVE_OK; /* initializer, graph input or outer-scope value */
    p = (size_t)v - 1;
    if (p == consumer)
        return olive_fail(OLIVE_EFORMAT, "a node consumes its own output '%s' (cycle)", value);
    ed.producer = p;
    ed.consumer = consumer;
    return OLIVE_PUSH(e->list, e->n, e->cap, ed);
}

static int toposort(oir_graph *g, int from_sinks)
{
    size_t n = g->n_nodes, done = 0;
    olive_strmap producer_of = {0};
    edges e = {0};
    size_t *queue = NULL, *deps = NULL, *first = NULL, *users = NULL;
    oir_node **sorted = NULL;
    int rc = OLIVE_OK;
    if (n == 0)
        return OLIVE_OK;
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs && rc == OLIVE_OK; j++)
            if (g->nodes[i]->outputs[j][0])
                rc = olive_strmap_put(&producer_of, g->nodes[i]->outputs[j], (void *)(i + 1));
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        oir_node *node = g->nodes[i];
        olive_strmap implicit = {0};
        for (size_t j = 0; j < node->n_inputs && rc == OLIVE_OK; j++)
            if (node->inputs[j][0])
                rc = add_edge(&e, &producer_of, node->inputs[j], i);
        if (rc == OLIVE_OK && node->n_attrs)
            rc = oir_node_implicit_inputs(node, &implicit);
        for (size_t k = 0; k < implicit.cap && rc == OLIVE_OK; k++)
            if (implicit.keys[k] && implicit.keys[k][0])
                rc = add_edge(&e, &producer_of, implicit.keys[k], i);
        olive_strmap_free(&implicit);
        if (rc != OLIVE_OK)
            olive_fail_context(rc, "node '%s' (%s)", node->name, node->op_type);
    }
    olive_strmap_free(&producer_of);
    if (rc != OLIVE_OK)
        goto out;
    /* users[first[p] .. first[p + 1]) are the consumers of node p, in the order found. */
    deps = olive_calloc(n, sizeof *deps);
    first = olive_calloc(n + 1, sizeof *first);
    users = olive_calloc(e.n ? e.n : 1, sizeof *users);
    if (!deps || !first || !users) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    for (size_t k = 0; from_sinks && k < e.n; k++) { /* walk consumer -> producer */
        size_t p = e.list[k].producer;
        e.list[k].producer = e.list[k].consumer;
        e.list[k].consumer = p;
    }
    for (size_t k = 0; k < e.n; k++) {
        first[e.list[k].producer + 1]++;
        deps[e.list[k].consumer]++;
    }
    for (size_t i = 0; i < n; i++)
        first[i + 1] += first[i];
    for (size_t k = 0; k < e.n; k++)
        users[first[e.list[k].producer]++] = e.list[k].consumer;
    for (size_t i = n; i > 0; i--) /* the fill moved each start to the next: move them back */
        first[i] = first[i - 1];
    first[0] = 0;
    free(e.list);
    e.list = NULL;
    queue = olive_calloc(n, sizeof *queue);
    sorted = olive_calloc(n, sizeof *sorted);
    if (!queue || !sorted) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    /* A min-ordered ready set keeps the original order among independent nodes; a simple
     * scan-based selection is O(n^2) worst case, so use a heap of indices. */
    {
        size_t heap_n = 0;
#define HEAP_PUSH(x)                                                                                                   \
    do {                                                                                                               \
        size_t c_ = heap_n++;                                                                                          \
        queue[c_] = (x);                                                                                               \
        while (c_ && queue[(c_ - 1) / 2] > queue[c_]) {                                                                \
            size_t t_ = queue[c_];                                                                                     \
            queue[c_] = queue[(c_ - 1) / 2];                                                                           \
            queue[(c_ - 1) / 2] = t_;                                                                                  \
            c_ = (c_ - 1) / 2;                                                                                         \
        }                                                                                                              \
    } while (0)
        /* the heap holds keys: the index, or n - 1 - index from the sinks (latest first) */
        for (size_t i = 0; i < n; i++)
            if (deps[i] == 0)
                HEAP_PUSH(from_sinks ? n - 1 - i : i);
        while (heap_n) {
            size_t top = from_sinks ? n - 1 - queue[0] : queue[0], c = 0;
            queue[0] = queue[--heap_n];
            for (;;) {
                size_t l = 2 * c + 1, r = l + 1, m = c;
                if (l < heap_n && queue[l] < queue[m])
                    m = l;
                if (r < heap_n && queue[r] < queue[m])
                    m = r;
                if (m == c)
                    break;
                size_t t = queue[c];
                queue[c] = queue[m];
                queue[m] = t;
                c = m;
            }
            sorted[done++] = g->nodes[top];
            for (size_t k = first[top]; k < first[top + 1]; k++)
                if (--deps[users[k]] == 0)
                    HEAP_PUSH(from_sinks ? n - 1 - users[k] : users[k]);
        }
#undef HEAP_PUSH
    }
    if (done != n) {
        for (size_t i = 0; i < n; i++) {
            if (deps[i]) {
                rc = olive_fail(OLIVE_EFORMAT, "graph '%s' has a cycle through node '%s' (%s)", g->name,
                                g->nodes[i]->name, g->nodes[i]->op_type);
                break;
            }
        }
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        g->nodes[i] = sorted[from_sinks ? n - 1 - i : i];
out:
    olive_strmap_free(&producer_of);
    free(e.list);
    free(deps);
    free(first);
    free(users);
    free(queue);
    free(sorted);
    return rc;
}

int oir_graph_toposort(oir_graph *g)
{
    return toposort(g, 0);
}

int oir_graph_toposort_from_sinks(oir_graph *g)
{
    return toposort(g, 1);
}
