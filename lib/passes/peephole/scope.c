/* What a graph defines and what is known of its values: constants and types, looked up
 * through the scopes around a subgraph. */
#include <stdlib.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/peephole/peephole_internal.h"

int peephole_is_op(const oir_node *n, const char *op)
{
    return (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, op);
}

int peephole_is_graph_output(const oir_graph *g, const char *value)
{
    return oir_graph_output_index(g, value) >= 0;
}

static int put_types(olive_strmap *m, const oir_value_info *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].type && v[i].type->kind == OIR_TYPE_TENSOR && !olive_strmap_has(m, v[i].name))
            OLIVE_TRY(olive_strmap_put(m, v[i].name, v[i].type));
    return OLIVE_OK;
}

int peephole_scope_build(peephole_scope *s, const peephole_run *r, oir_graph *g, const peephole_scope *outer)
{
    int rc;
    memset(s, 0, sizeof *s);
    s->outer = outer;
    s->g = g;
    s->is_main = outer == NULL;
    if ((rc = oir_graph_index_build(&s->ix, g)) != OLIVE_OK)
        return rc;
    /* Inputs first, so their (enforced) types win over value_info entries of the same name. */
    rc = put_types(&s->types, g->inputs, g->n_inputs);
    if (rc == OLIVE_OK)
        rc = put_types(&s->types, g->value_info, g->n_value_info);
    if (rc == OLIVE_OK)
        rc = put_types(&s->types, g->outputs, g->n_outputs);
    for (size_t i = 0; i < g->n_inputs && rc == OLIVE_OK; i++)
        rc = olive_strmap_put(&s->defined, g->inputs[i].name, (void *)1);
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++) {
        oir_tensor *t = g->initializers[i];
        rc = olive_strmap_put(&s->defined, t->name, (void *)1);
        /* An initializer that is also an input is only a default: callers may override it. */
        if (rc == OLIVE_OK && peephole_initializer_is_const(r, g, t->name))
            rc = olive_strmap_put(&s->consts, t->name, t);
    }
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++)
        for (size_t j = 0; j < g->nodes[i]->n_outputs && rc == OLIVE_OK; j++)
            if (g->nodes[i]->outputs[j][0])
                rc = olive_strmap_put(&s->defined, g->nodes[i]->outputs[j], (void *)1);
    if (rc != OLIVE_OK)
        peephole_scope_free(s);
    return rc;
}

void peephole_scope_free(peephole_scope *s)
{
    oir_graph_index_free(&s->ix);
    olive_strmap_free(&s->defined);
    olive_strmap_free(&s->types);
    olive_strmap_free(&s->consts);
    memset(s, 0, sizeof *s);
}

int peephole_scope_visible(const peephole_scope *s, const char *value)
{
    for (; s; s = s->outer)
        if (olive_strmap_has(&s->defined, value))
            return 1;
    return 0;
}

int peephole_scope_add_const(peephole_scope *s, oir_tensor *t)
{
    OLIVE_TRY(olive_strmap_put(&s->consts, t->name, t));
    return olive_strmap_put(&s->defined, t->name, (void *)1);
}

static const oir_tensor *constant_node_value(const oir_node *n)
{
    const oir_attr *a;
    if (!n || !peephole_is_op(n, "Constant"))
        return NULL;
    a = oir_node_attr(n, "value");
    return a && a->type == OIR_ATTR_TENSOR ? a->t : NULL;
}

const oir_tensor *peephole_const(const peephole_scope *s, const char *value)
{
    if (!value[0])
        return NULL;
    for (; s; s = s->outer) {
        const oir_tensor *t = olive_strmap_get(&s->consts, value);
        if (t)
            return t;
        if (olive_strmap_has(&s->defined, value))
            return constant_node_value(oir_index_producer(&s->ix, value));
    }
    return NULL;
}

static void from_tensor(const oir_tensor *t, peephole_vtype *out)
{
    out->elem = t->dtype;
    if (t->rank > PEEPHOLE_MAX_RANK)
        return;
    out->has_rank = 1;
    out->rank = t->rank;
    if (t->rank)
        memcpy(out->dims, t->dims, t->rank * sizeof *t->dims);
    out->is_static = 1;
    out->enforced = 1;
}

static void from_type(const oir_type *t, peephole_vtype *out)
{
    out->elem = t->elem_type;
    if (!t->has_shape || t->rank > PEEPHOLE_MAX_RANK)
        return;
    out->has_rank = 1;
    out->rank = t->rank;
    out->is_static = 1;
    for (size_t i = 0; i < t->rank; i++) {
        int known = t->dims[i].has_value && t->dims[i].value >= 0;
        out->dims[i] = known ? t->dims[i].value : -1;
        if (!known)
            out->is_static = 0;
    }
}

/* Ops whose first output has the element type of their first input (ONNX type constraints). */
static const char *const same_type_ops[] = {
    "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten",   "Transpose",  "Gather",    "GatherElements",
    "GatherND", "Concat",  "Slice",   "Expand",    "Tile",      "Pad",        "Split",     "Relu",
    "Neg",      "Abs",     "Add",     "Sub",       "Mul",       "Div",        "Sqrt",      "Exp",
    "Log",      "Tanh",    "Sigmoid", "Softmax",   "MatMul",    "Gemm",       "Max",       "Min",
    "Floor",    "Ceil",    "Clip",    "Erf",       "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
    "Dropout",
};

/* How deep element types are followed through producers. */
#define TYPE_DEPTH 32

static void value_type(const peephole_scope *s, const char *value, peephole_vtype *out, int depth);

/* The element type a producer gives `value`, or 0. */
static int32_t producer_elem(const peephole_scope *s, const oir_node *p, const char *value, int depth)
{
    peephole_vtype in;
    if (peephole_is_op(p, "Cast")) {
        const oir_attr *to = oir_node_attr(p, "to");
        return to && to->type == OIR_ATTR_INT ? (int32_t)to->i : 0;
    }
    if (peephole_is_op(p, "Shape") || peephole_is_op(p, "Size"))
        return OIR_INT64;
    if (depth >= TYPE_DEPTH || !p->n_inputs || !p->inputs[0][0])
        return 0;
    if (!peephole_is_op(p, "Split") && strcmp(p->outputs[0], value))
        return 0;
    for (size_t i = 0; i < sizeof same_type_ops / sizeof *same_type_ops; i++) {
        if (peephole_is_op(p, same_type_ops[i])) {
            value_type(s, p->inputs[0], &in, depth + 1);
            return in.elem;
        }
    }
    return 0;
}

static void value_type(const peephole_scope *s, const char *value, peephole_vtype *out, int depth)
{
    memset(out, 0, sizeof *out);
    if (!value[0])
        return;
    for (; s; s = s->outer) {
        const oir_tensor *t = olive_strmap_get(&s->consts, value);
        const oir_type *ty;
        const oir_node *p;
        if (t) {
            from_tensor(t, out);
            return;
        }
        if (!olive_strmap_has(&s->defined, value))
            continue;
        p = oir_index_producer(&s->ix, value);
        if ((t = constant_node_value(p))) {
            from_tensor(t, out);
            return;
        }
        if ((ty = olive_strmap_get(&s->types, value)) && ty->elem_type) {
            from_type(ty, out);
            /* Only the main graph's inputs have shapes onnxruntime checks against the feeds. */
            out->enforced = s->is_main && !p && oir_graph_input_index(s->g, value) >= 0 && out->is_static;
        }
        if (p) {
            /* What the producer implies is certain; a recorded type may be stale. */
            int32_t e = producer_elem(s, p, value, depth);
            if (e)
                out->elem = e;
        } else if (!out->elem) {
            /* An initializer that is also an input, with no declared type: the default
             * value's type. */
            long i = oir_graph_initializer_index(s->g, value);
            if (i >= 0)
                out->elem = s->g->initializers[i]->dtype;
        }
        return;
    }
}

void peephole_value_type(const peephole_scope *s, const char *value, peephole_vtype *out)
{
    value_type(s, value, out, 0);
}

int peephole_node_axes(const peephole_scope *s, const oir_node *n, int64_t **axes, size_t *count, int *known)
{
    const oir_attr *a = oir_node_attr(n, "axes");
    const oir_tensor *t;
    *axes = NULL;
    *count = 0;
    *known = 0;
    if (a && a->type == OIR_ATTR_INTS) {
        if (!(*axes = olive_calloc(a->n + 1, sizeof *a->ints)))
            return OLIVE_ENOMEM;
        if (a->n)
            memcpy(*axes, a->ints, a->n * sizeof *a->ints);
        *count = a->n;
        *known = 1;
        return OLIVE_OK;
    }
    if (n->n_inputs < 2 || !n->inputs[1][0] || !(t = peephole_const(s, n->inputs[1])))
        return OLIVE_OK;
    if ((t->dtype != OIR_INT64 && t->dtype != OIR_INT32) || t->rank > 1)
        return OLIVE_OK;
    {
        uint64_t numel, want;
        const uint8_t *p = oir_tensor_data(t);
        if (oir_tensor_numel(t, &numel) || oir_tensor_expected_bytes(t, &want) || t->nbytes != want || (numel && !p))
            return OLIVE_OK;
        if (!(*axes = olive_calloc(numel ? numel : 1, sizeof **axes)))
            return OLIVE_ENOMEM;
        for (uint64_t i = 0; i < numel; i++) {
            if (t->dtype == OIR_INT64) {
                memcpy(&(*axes)[i], p + 8 * i, 8);
            } else {
                int32_t v;
                memcpy(&v, p + 4 * i, 4);
                (*axes)[i] = v;
            }
        }
        *count = (size_t)numel;
        *known = 1;
    }
    return OLIVE_OK;
}
