/* Subgraph pattern matching helpers (see match.h). */
#include <math.h>
#include <string.h>

#include "core/status.h"
#include "ir/match.h"

int oir_match_is_op(const oir_node *n, const char *op)
{
    return n && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, op);
}

oir_node *oir_match_parent(const oir_graph_index *ix, const oir_node *n, size_t input, const char *op)
{
    oir_node *p;
    if (!n || input >= n->n_inputs || !n->inputs[input][0])
        return NULL;
    p = oir_index_producer(ix, n->inputs[input]);
    if (!p || p->mark || (op && !oir_match_is_op(p, op)))
        return NULL;
    return p;
}

oir_node *oir_match_parent_any(const oir_graph_index *ix, const oir_node *n, int input, const char *op,
                               const oir_node *exclude, int *which)
{
    if (!n)
        return NULL;
    for (size_t i = 0; i < n->n_inputs; i++) {
        oir_node *p;
        if (input >= 0 && (size_t)input != i)
            continue;
        p = oir_match_parent(ix, n, i, op);
        if (p && p != exclude) {
            if (which)
                *which = (int)i;
            return p;
        }
    }
    return NULL;
}

int oir_match_parent_path(const oir_graph_index *ix, const oir_node *n, size_t len, const char *const *ops,
                          const int *inputs, oir_node **out, int *which)
{
    const oir_node *cur = n;
    for (size_t k = 0; k < len; k++) {
        int w = -1;
        oir_node *p = oir_match_parent_any(ix, cur, inputs[k], ops[k], NULL, &w);
        if (!p)
            return 0;
        out[k] = p;
        if (which)
            which[k] = w;
        cur = p;
    }
    return 1;
}

oir_node *oir_match_only_child(const oir_graph_index *ix, const char *value, const char *op)
{
    oir_node *c;
    if (!value || !value[0] || oir_index_use_count(ix, value) != 1 || oir_index_is_graph_output(ix, value))
        return NULL;
    c = oir_index_consumer(ix, value, 0);
    if (!c || c->mark || (op && !oir_match_is_op(c, op)))
        return NULL;
    return c;
}

const oir_tensor *oir_match_const(const oir_graph_index *ix, const char *value)
{
    const oir_node *p;
    const oir_attr *a;
    oir_tensor *t;
    if (!value || !value[0])
        return NULL;
    if ((t = oir_index_initializer(ix, value)) != NULL)
        return t;
    p = oir_index_producer(ix, value);
    if (!p || !oir_match_is_op(p, "Constant") || p->n_outputs != 1)
        return NULL;
    a = oir_node_attr(p, "value");
    return a && a->type == OIR_ATTR_TENSOR ? a->t : NULL;
}

/* Little-endian loads: tensor bytes need not be aligned. */
static uint64_t load_le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static double half_to_double(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

int oir_match_scalar(const oir_graph_index *ix, const char *value, double *out)
{
    const oir_tensor *t = oir_match_const(ix, value);
    const uint8_t *d;
    uint64_t numel, need;
    if (!t || oir_tensor_numel(t, &numel) != OLIVE_OK || numel != 1 || !(d = oir_tensor_data(t)) ||
        oir_tensor_expected_bytes(t, &need) != OLIVE_OK || t->nbytes < need)
        return 0;
    switch (t->dtype) {
    case OIR_FLOAT: {
        uint32_t u = (uint32_t)load_le(d, 4);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
        return 1;
    }
    case OIR_DOUBLE: {
        uint64_t u = load_le(d, 8);
        memcpy(out, &u, 8);
        return 1;
    }
    case OIR_FLOAT16: *out = half_to_double((uint16_t)load_le(d, 2)); return 1;
    case OIR_BFLOAT16: {
        uint32_t u = (uint32_t)load_le(d, 2) << 16;
        float f;
        memcpy(&f, &u, 4);
        *out = f;
        return 1;
    }
    case OIR_INT64: *out = (double)(int64_t)load_le(d, 8); return 1;
    case OIR_INT32: *out = (double)(int32_t)load_le(d, 4); return 1;
    default: return 0;
    }
}

int oir_match_scalar_near(const oir_graph_index *ix, const char *value, double expected, double tol)
{
    double v;
    return oir_match_scalar(ix, value, &v) && fabs(v - expected) <= tol;
}

int oir_match_const_input(const oir_graph_index *ix, const oir_node *n, double expected, double tol)
{
    for (size_t i = 0; n && i < n->n_inputs; i++)
        if (oir_match_scalar_near(ix, n->inputs[i], expected, tol))
            return (int)i;
    return -1;
}

int oir_match_axes(const oir_graph_index *ix, const oir_node *n, int64_t *axes, size_t max, size_t *count)
{
    const oir_attr *a = oir_node_attr(n, "axes");
    *count = 0;
    if (a) {
        if (a->type != OIR_ATTR_INTS || a->n > max)
            return 0;
        memcpy(axes, a->ints, a->n * sizeof *axes);
        *count = a->n;
        return 1;
    }
    if (n->n_inputs >= 2 && n->inputs[1][0]) {
        const oir_tensor *t = oir_match_const(ix, n->inputs[1]);
        const uint8_t *d;
        uint64_t numel;
        if (!t || t->dtype != OIR_INT64 || oir_tensor_numel(t, &numel) != OLIVE_OK || numel > max ||
            t->nbytes < numel * 8 || (numel && !(d = oir_tensor_data(t))))
            return 0;
        for (uint64_t i = 0; i < numel; i++)
            axes[i] = (int64_t)load_le(d + 8 * i, 8);
        *count = (size_t)numel;
    }
    return 1;
}

static int in_set(oir_node *const *nodes, size_t n, const oir_node *x)
{
    for (size_t i = 0; i < n; i++)
        if (nodes[i] == x)
            return 1;
    return 0;
}

int oir_match_only_used_inside(const oir_graph_index *ix, oir_node *const *nodes, size_t n, const char *const *keep,
                               size_t n_keep)
{
    for (size_t i = 0; i < n; i++) {
        const oir_node *x = nodes[i];
        if (!x || x->mark)
            return 0;
        for (size_t o = 0; o < x->n_outputs; o++) {
            const char *v = x->outputs[o];
            size_t uses, k;
            int kept = 0;
            if (!v[0])
                continue;
            for (k = 0; k < n_keep; k++)
                kept |= !strcmp(keep[k], v);
            if (kept)
                continue;
            if (oir_index_is_graph_output(ix, v))
                return 0;
            uses = oir_index_use_count(ix, v);
            for (k = 0; k < uses; k++) {
                const oir_node *c = oir_index_consumer(ix, v, k);
                if (!c || !in_set(nodes, n, c))
                    return 0;
            }
        }
    }
    return 1;
}

static int rank_of_type(const oir_type *t, int64_t *dims, size_t max)
{
    if (!t || t->kind != OIR_TYPE_TENSOR || !t->has_shape)
        return -1;
    for (size_t i = 0; i < t->rank && i < max; i++)
        dims[i] = t->dims[i].has_value ? t->dims[i].value : -1;
    return (int)t->rank;
}

int oir_match_value_rank(const oir_graph *g, const oir_graph_index *ix, const char *value, int64_t *dims, size_t max)
{
    const oir_tensor *t = oir_match_const(ix, value);
    if (t) {
        for (size_t i = 0; i < t->rank && i < max; i++)
            dims[i] = t->dims[i];
        return (int)t->rank;
    }
    for (size_t i = 0; i < g->n_inputs; i++)
        if (!strcmp(g->inputs[i].name, value))
            return rank_of_type(g->inputs[i].type, dims, max);
    for (size_t i = 0; i < g->n_outputs; i++)
        if (!strcmp(g->outputs[i].name, value))
            return rank_of_type(g->outputs[i].type, dims, max);
    for (size_t i = 0; i < g->n_value_info; i++)
        if (!strcmp(g->value_info[i].name, value))
            return rank_of_type(g->value_info[i].type, dims, max);
    return -1;
}
