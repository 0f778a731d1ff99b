/* Element types of a graph's values before conversion: declared types (inputs, outputs,
 * value_info, initializers) first, then simple per-op rules for the rest. Values whose type
 * cannot be told stay unknown and are never cast. */
#include <string.h>

#include "core/status.h"
#include "passes/float16/f16_internal.h"

int32_t f16_cast_to(const oir_node *n)
{
    const oir_attr *a = oir_node_attr(n, "to");
    if (a && a->type == OIR_ATTR_INT)
        return (int32_t)a->i;
    if (a && a->type == OIR_ATTR_STRING) /* opsets 1-5 spell it: "FLOAT16", "FLOAT", ... */
        return oir_dtype_from_name((const char *)a->s.data);
    return OIR_UNDEFINED;
}

int f16_set_cast_to(const f16_run *r, oir_node *n, int32_t to)
{
    if (r->opset > 0 && r->opset < 6)
        return oir_node_set_attr_string(n, "to", to == OIR_FLOAT ? "FLOAT" : "FLOAT16");
    return oir_node_set_attr_int(n, "to", to);
}

static int is(const oir_node *n, const char *op)
{
    return !strcmp(n->op_type, op);
}

static int in_list(const char *op, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(op, *list))
            return 1;
    return 0;
}

static int32_t input_type(const f16_scope *s, const oir_node *n, size_t i)
{
    return i < n->n_inputs && n->inputs[i][0] ? f16_orig_type(s, n->inputs[i]) : OIR_UNDEFINED;
}

static int32_t declared_output(const oir_graph *g, size_t k)
{
    if (!g || k >= g->n_outputs || !g->outputs[k].type || g->outputs[k].type->kind != OIR_TYPE_TENSOR)
        return OIR_UNDEFINED;
    return g->outputs[k].type->elem_type;
}

static const oir_graph *graph_attr(const oir_node *n, const char *name)
{
    const oir_attr *a = oir_node_attr(n, name);
    return a && a->type == OIR_ATTR_GRAPH ? a->g : NULL;
}

static int32_t output_type(const f16_scope *s, const oir_node *n, size_t k)
{
    static const char *const to_int64[] = {"Shape", "Size", "NonZero", "ArgMax", "ArgMin", NULL};
    static const char *const to_bool[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not",
                                          "And",   "Or",   "Xor",     "IsNaN",       "IsInf",          NULL};
    const oir_attr *a;
    if (n->domain[0] && strcmp(n->domain, "ai.onnx") && strcmp(n->domain, "com.microsoft"))
        return OIR_UNDEFINED;
    if (is(n, "Constant")) {
        if ((a = oir_node_attr(n, "value")) && a->type == OIR_ATTR_TENSOR && a->t)
            return a->t->dtype;
        if (oir_node_attr(n, "value_float") || oir_node_attr(n, "value_floats"))
            return OIR_FLOAT;
        if (oir_node_attr(n, "value_int") || oir_node_attr(n, "value_ints"))
            return OIR_INT64;
        return OIR_UNDEFINED;
    }
    if (is(n, "Cast"))
        return f16_cast_to(n);
    if (is(n, "CastLike"))
        return input_type(s, n, 1);
    if (is(n, "ConstantOfShape")) {
        a = oir_node_attr(n, "value");
        return a && a->type == OIR_ATTR_TENSOR && a->t ? a->t->dtype : OIR_FLOAT;
    }
    if (is(n, "SequenceConstruct") || is(n, "SplitToSequence"))
        return F16_SEQ | input_type(s, n, 0);
    if (is(n, "SequenceEmpty"))
        return F16_SEQ | (int32_t)oir_node_attr_int(n, "dtype", OIR_FLOAT);
    if (is(n, "SequenceAt") || is(n, "ConcatFromSequence"))
        return input_type(s, n, 0) & ~F16_SEQ;
    if (is(n, "SequenceLength"))
        return OIR_INT64;
    if (in_list(n->op_type, to_int64))
        return OIR_INT64;
    if (in_list(n->op_type, to_bool))
        return OIR_BOOL;
    if ((is(n, "TopK") || is(n, "MaxPool") || is(n, "Unique")) && k > 0)
        return OIR_INT64;
    if (is(n, "RandomNormal") || is(n, "RandomUniform"))
        return (int32_t)oir_node_attr_int(n, "dtype", OIR_FLOAT);
    if (is(n, "RandomNormalLike") || is(n, "RandomUniformLike") || is(n, "EyeLike") || is(n, "Bernoulli"))
        return (int32_t)oir_node_attr_int(n, "dtype", input_type(s, n, 0));
    if (is(n, "Multinomial"))
        return (int32_t)oir_node_attr_int(n, "dtype", OIR_INT32);
    if (is(n, "Where"))
        return input_type(s, n, 1);
    if (is(n, "QuantizeLinear"))
        return n->n_inputs > 2 && n->inputs[2][0] ? input_type(s, n, 2) : OIR_UINT8;
    if (is(n, "DequantizeLinear"))
        return input_type(s, n, 1);
    if (is(n, "DynamicQuantizeLinear"))
        return k == 1 ? OIR_FLOAT : OIR_UINT8;
    if (is(n, "If"))
        return declared_output(graph_attr(n, "then_branch"), k);
    if (is(n, "Loop"))
        return declared_output(graph_attr(n, "body"), k + 1);
    if (is(n, "Scan"))
        return declared_output(graph_attr(n, "body"), k);
    for (size_t i = 0; i < n->n_inputs; i++)
        if (n->inputs[i][0])
            return input_type(s, n, i);
    return OIR_UNDEFINED;
}

static int declare(f16_scope *s, const oir_value_info *v)
{
    const oir_type *t = v->type;
    if (t && t->kind == OIR_TYPE_TENSOR && t->elem_type != OIR_UNDEFINED)
        return f16_set_orig(s, v->name, t->elem_type);
    if (t && t->kind == OIR_TYPE_SEQUENCE && t->inner && t->inner->kind == OIR_TYPE_TENSOR &&
        t->inner->elem_type != OIR_UNDEFINED)
        return f16_set_orig(s, v->name, F16_SEQ | t->inner->elem_type);
    return OLIVE_OK;
}

int f16_infer_types(f16_scope *s)
{
    const oir_graph *g = s->g;
    for (size_t i = 0; i < g->n_inputs; i++)
        OLIVE_TRY(declare(s, &g->inputs[i]));
    for (size_t i = 0; i < g->n_initializers; i++)
        OLIVE_TRY(f16_set_orig(s, g->initializers[i]->name, g->initializers[i]->dtype));
    for (size_t i = 0; i < g->n_value_info; i++)
        OLIVE_TRY(declare(s, &g->value_info[i]));
    for (size_t i = 0; i < g->n_outputs; i++)
        OLIVE_TRY(declare(s, &g->outputs[i]));
    /* Nodes are in topological order, so inputs are typed before their readers. */
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        for (size_t k = 0; k < n->n_outputs; k++) {
            int32_t t;
            if (!n->outputs[k][0] || olive_strmap_has(&s->orig, n->outputs[k]))
                continue;
            t = output_type(s, n, k);
            OLIVE_TRY(f16_set_orig(s, n->outputs[k], t));
        }
    }
    return OLIVE_OK;
}
