/* ONNX shape inference for the main graph, as onnx.shape_inference.infer_shapes does for the
 * default-domain ops below: each node's outputs get a type and shape from its inputs', in node
 * order, and every intermediate value that has no value_info yet gets one, appended. Symbolic
 * dimensions merge as onnx merges them (broadcasting keeps a number over 1, one name, or an
 * unknown dimension where two names meet). An op not in the table, or one whose inputs' shapes
 * are unknown, gives its outputs no entry, as onnx does for ops it has no schema for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/shape_infer.h"

#define MAX_RANK 16

typedef struct sdim {
    int has_value;
    int64_t value;
    const char *param; /* borrowed; NULL: none */
} sdim;

typedef struct shape {
    int32_t dtype;
    int has_shape;
    size_t rank;
    sdim d[MAX_RANK];
} shape;

/* The known type of `value`: an initializer's, or a graph input's, output's or value_info's. */
static int lookup(const oir_graph *g, const char *value, shape *s)
{
    const oir_tensor *t = oir_graph_initializer(g, value);
    const oir_type *ty;
    memset(s, 0, sizeof *s);
    if (t && t->rank <= MAX_RANK) {
        s->dtype = t->dtype;
        s->has_shape = 1;
        s->rank = t->rank;
        for (size_t i = 0; i < t->rank; i++)
            s->d[i] = (sdim){1, t->dims[i], NULL};
        return 1;
    }
    ty = sg_value_type(g, value);
    if (!ty || ty->kind != OIR_TYPE_TENSOR || !ty->elem_type)
        return 0;
    s->dtype = ty->elem_type;
    if (ty->has_shape && ty->rank <= MAX_RANK) {
        s->has_shape = 1;
        s->rank = ty->rank;
        for (size_t i = 0; i < ty->rank; i++)
            s->d[i] = (sdim){ty->dims[i].has_value, ty->dims[i].value, ty->dims[i].param};
    }
    return 1;
}

/* onnx's multidirectional broadcast of two shapes. 0 when they cannot broadcast. */
static int broadcast(const shape *const *in, size_t n, shape *out)
{
    size_t rank = 0;
    for (size_t k = 0; k < n; k++)
        if (in[k]->rank > rank)
            rank = in[k]->rank;
    out->rank = rank;
    for (size_t i = 0; i < rank; i++) {
        int64_t value = 1;
        const sdim *sym = NULL;
        int n_sym = 0;
        for (size_t k = 0; k < n; k++) {
            const sdim *d;
            if (i < rank - in[k]->rank)
                continue;
            d = &in[k]->d[i - (rank - in[k]->rank)];
            if (d->has_value) {
                if (d->value != 1) {
                    if (value != 1 && value != d->value)
                        return 0;
                    value = d->value;
                }
            } else if (!n_sym) {
                sym = d;
                n_sym = 1;
            } else if (strcmp(d->param ? d->param : "", sym->param ? sym->param : "")) {
                n_sym++;
            }
        }
        if (value != 1 || !n_sym)
            out->d[i] = (sdim){1, value, NULL};
        else if (n_sym == 1)
            out->d[i] = *sym;
        else
            out->d[i] = (sdim){0, 0, NULL};
    }
    return 1;
}

static int const_ints(const oir_graph *g, const char *name, int64_t *v, size_t max, size_t *n)
{
    const oir_tensor *t = name && name[0] ? oir_graph_initializer(g, name) : NULL;
    uint64_t count;
    if (!t || (t->dtype != OIR_INT64 && t->dtype != OIR_INT32) || oir_tensor_numel(t, &count) != OLIVE_OK ||
        count > max)
        return 0;
    for (uint64_t i = 0; i < count; i++)
        v[i] = (int64_t)sg_decode(t, i);
    *n = (size_t)count;
    return 1;
}

static int infer_slice(const oir_graph *g, const oir_node *n, const shape *a, shape *out);
static int64_t clamp64(int64_t v, int64_t lo, int64_t hi);
static int infer_reduce(const oir_graph *g, const oir_node *n, const shape *a, shape *out);

static int is_one_of(const char *op, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(op, *list))
            return 1;
    return 0;
}

static const char *const unary[] = {
    "Relu",     "Sigmoid",     "Tanh",    "Erf",        "Neg",       "Sqrt", "Exp",       "Log",
    "Abs",      "Reciprocal",  "Softmax", "LogSoftmax", "Identity",  "Gelu", "LeakyRelu", "Elu",
    "Softplus", "HardSigmoid", "Floor",   "Ceil",       "Round",     "Sin",  "Cos",       "Not",
    "CumSum",   "Clip",        "Dropout", "Trilu",      "HardSwish", "Sign", "Mish",      NULL};
static const char *const binary[] = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "And", "Or", "Xor", NULL};
static const char *const compare[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", NULL};

/* The quantization ops: their output types are fixed by the op, so they are known even where
 * the input's is not (its shape passes to the quantized output; scale and zero point are
 * scalars for DynamicQuantizeLinear). */
static int infer_quant(const oir_graph *g, const oir_node *n, size_t k, const shape *a, int known, shape *out)
{
    shape b;
    if (!strcmp(n->op_type, "DynamicQuantizeLinear")) {
        if (k == 0) {
            if (known)
                *out = *a;
            out->dtype = OIR_UINT8;
        } else {
            out->dtype = k == 1 ? OIR_FLOAT : OIR_UINT8;
            out->has_shape = 1;
        }
        return 1;
    }
    if (k)
        return 0;
    if (!strcmp(n->op_type, "MatMulInteger")) {
        if (!known || n->n_inputs < 2 || !lookup(g, n->inputs[1], &b))
            return 0;
        out->dtype = OIR_INT32;
        if (!a->has_shape || !b.has_shape || a->rank < 2 || b.rank < 2)
            return 1;
        {
            shape ba = *a, bb = b;
            const shape *batch[2] = {&ba, &bb};
            ba.rank -= 2;
            bb.rank -= 2;
            if (!broadcast(batch, 2, out))
                return 0;
        }
        out->has_shape = 1;
        out->d[out->rank++] = a->d[a->rank - 2];
        out->d[out->rank++] = b.d[b.rank - 1];
        out->dtype = OIR_INT32;
        return 1;
    }
    if (known)
        *out = *a;
    if (!strcmp(n->op_type, "QuantizeLinear")) /* the zero point's type, uint8 without one */
        out->dtype = n->n_inputs > 2 && n->inputs[2][0] && lookup(g, n->inputs[2], &b) ? b.dtype : OIR_UINT8;
    else /* DequantizeLinear: the scale's type */
        out->dtype = n->n_inputs > 1 && lookup(g, n->inputs[1], &b) ? b.dtype : OIR_FLOAT;
    return 1;
}

static int infer_node(const oir_graph *g, const oir_node *n, shape *out);

/* Infers output `k` of `n` into *out; 0 when this op or these inputs give nothing. */
static int infer_output(const oir_graph *g, const oir_node *n, size_t k, shape *out)
{
    static const char *const quant[] = {"DynamicQuantizeLinear", "MatMulInteger", "QuantizeLinear", "DequantizeLinear",
                                        NULL};
    shape a;
    int known;
    memset(out, 0, sizeof *out);
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return 0;
    known = n->n_inputs && lookup(g, n->inputs[0], &a);
    if (is_one_of(n->op_type, quant))
        return infer_quant(g, n, k, &a, known, out);
    if (!strcmp(n->op_type, "Cast") && !k && !known) { /* the type is the attribute's */
        out->dtype = (int32_t)oir_node_attr_int(n, "to", 0);
        return out->dtype != 0;
    }
    return !k && infer_node(g, n, out);
}

static int infer_node(const oir_graph *g, const oir_node *n, shape *out)
{
    shape a, b, c;
    const shape *in[3] = {&a, &b, &c};
    memset(out, 0, sizeof *out);
    if (!strcmp(n->op_type, "Constant")) {
        const oir_attr *v = oir_node_attr(n, "value");
        if (!v || !v->t || v->t->rank > MAX_RANK)
            return 0;
        out->dtype = v->t->dtype;
        out->has_shape = 1;
        out->rank = v->t->rank;
        for (size_t i = 0; i < v->t->rank; i++)
            out->d[i] = (sdim){1, v->t->dims[i], NULL};
        return 1;
    }
    if (!n->n_inputs || !lookup(g, n->inputs[0], &a))
        return 0;
    if (is_one_of(n->op_type, unary) || !strcmp(n->op_type, "LayerNormalization") || !strcmp(n->op_type, "Cast")) {
        *out = a;
        if (!strcmp(n->op_type, "Cast"))
            out->dtype = (int32_t)oir_node_attr_int(n, "to", 0);
        return out->dtype != 0;
    }
    if (is_one_of(n->op_type, binary) || is_one_of(n->op_type, compare) || !strcmp(n->op_type, "Where")) {
        size_t k = !strcmp(n->op_type, "Where") ? 3 : 2;
        if (n->n_inputs < k || !lookup(g, n->inputs[1], &b) || (k == 3 && !lookup(g, n->inputs[2], &c)))
            return 0;
        out->dtype = is_one_of(n->op_type, compare) ? OIR_BOOL : k == 3 ? b.dtype : a.dtype;
        out->has_shape = a.has_shape && b.has_shape && (k == 2 || c.has_shape);
        return !out->has_shape || broadcast(in, k, out);
    }
    if (!strcmp(n->op_type, "MatMul")) {
        shape ba = a, bb;
        if (n->n_inputs < 2 || !lookup(g, n->inputs[1], &b))
            return 0;
        out->dtype = a.dtype;
        if (!a.has_shape || !b.has_shape || !a.rank || !b.rank)
            return 1;
        out->has_shape = 1;
        /* batch dimensions broadcast; 1-D operands are promoted and the added axis dropped */
        bb = b;
        ba.rank = a.rank >= 2 ? a.rank - 2 : 0;
        bb.rank = b.rank >= 2 ? b.rank - 2 : 0;
        {
            const shape *batch[2] = {&ba, &bb};
            if (!broadcast(batch, 2, out))
                return 0;
        }
        if (a.rank >= 2)
            out->d[out->rank++] = a.d[a.rank - 2];
        if (b.rank >= 2)
            out->d[out->rank++] = b.d[b.rank - 1];
        return 1;
    }
    if (!strcmp(n->op_type, "Transpose")) {
        const oir_attr *perm = oir_node_attr(n, "perm");
        *out = a;
        if (!a.has_shape)
            return 1;
        if (perm && perm->n != a.rank)
            return 0;
        for (size_t i = 0; i < a.rank; i++) {
            int64_t p = perm ? perm->ints[i] : (int64_t)(a.rank - 1 - i);
            if (p < 0 || p >= (int64_t)a.rank)
                return 0;
            out->d[i] = a.d[p];
        }
        return 1;
    }
    if (!strcmp(n->op_type, "Unsqueeze") || !strcmp(n->op_type, "Squeeze")) {
        int64_t axes[MAX_RANK];
        size_t n_axes = 0;
        int unsq = !strcmp(n->op_type, "Unsqueeze");
        *out = a;
        if (!a.has_shape)
            return 1;
        const oir_attr *attr_axes = oir_node_attr(n, "axes"); /* before opset 13 */
        if (attr_axes && attr_axes->n <= MAX_RANK) {
            n_axes = attr_axes->n;
            memcpy(axes, attr_axes->ints, n_axes * sizeof *axes);
        } else if (!const_ints(g, n->n_inputs > 1 ? n->inputs[1] : NULL, axes, MAX_RANK, &n_axes)) {
            if (unsq || n->n_inputs > 1)
                return 0;
            /* Squeeze without axes: every dimension known to be 1 goes; an unknown one leaves nothing */
            out->rank = 0;
            for (size_t i = 0; i < a.rank; i++) {
                if (!a.d[i].has_value)
                    return 0;
                if (a.d[i].value != 1)
                    out->d[out->rank++] = a.d[i];
            }
            return 1;
        }
        {
            size_t r = unsq ? a.rank + n_axes : a.rank, src = 0;
            char pick[MAX_RANK] = {0};
            if (r > MAX_RANK)
                return 0;
            for (size_t k = 0; k < n_axes; k++) {
                int64_t ax = axes[k] < 0 ? axes[k] + (int64_t)r : axes[k];
                if (ax < 0 || ax >= (int64_t)r)
                    return 0;
                pick[ax] = 1;
            }
            out->rank = 0;
            for (size_t i = 0; i < r; i++) {
                if (unsq)
                    out->d[out->rank++] = pick[i] ? (sdim){1, 1, NULL} : a.d[src++];
                else if (!pick[i])
                    out->d[out->rank++] = a.d[i];
            }
        }
        return 1;
    }
    if (!strcmp(n->op_type, "Gather")) {
        int64_t axis = oir_node_attr_int(n, "axis", 0);
        if (n->n_inputs < 2 || !lookup(g, n->inputs[1], &b))
            return 0;
        out->dtype = a.dtype;
        if (!a.has_shape || !b.has_shape)
            return 1;
        if (axis < 0)
            axis += (int64_t)a.rank;
        if (axis < 0 || axis >= (int64_t)a.rank || a.rank - 1 + b.rank > MAX_RANK)
            return 0;
        out->has_shape = 1;
        out->rank = 0;
        for (int64_t i = 0; i < axis; i++)
            out->d[out->rank++] = a.d[i];
        for (size_t i = 0; i < b.rank; i++)
            out->d[out->rank++] = b.d[i];
        for (size_t i = (size_t)axis + 1; i < a.rank; i++)
            out->d[out->rank++] = a.d[i];
        return 1;
    }
    if (!strcmp(n->op_type, "Gemm")) {
        int ta = (int)oir_node_attr_int(n, "transA", 0), tb = (int)oir_node_attr_int(n, "transB", 0);
        if (n->n_inputs < 2 || !lookup(g, n->inputs[1], &b))
            return 0;
        out->dtype = a.dtype;
        if (!a.has_shape || !b.has_shape || a.rank != 2 || b.rank != 2)
            return a.has_shape && b.has_shape ? 0 : 1;
        out->has_shape = 1;
        out->rank = 2;
        out->d[0] = a.d[ta ? 1 : 0];
        out->d[1] = b.d[tb ? 0 : 1];
        return 1;
    }
    if (!strcmp(n->op_type, "Slice"))
        return infer_slice(g, n, &a, out);
    if (!strncmp(n->op_type, "Reduce", 6))
        return infer_reduce(g, n, &a, out);
    if (!strcmp(n->op_type, "Concat")) {
        int64_t axis = oir_node_attr_int(n, "axis", 0);
        *out = a;
        if (!a.has_shape)
            return 1;
        if (axis < 0)
            axis += (int64_t)a.rank;
        if (axis < 0 || axis >= (int64_t)a.rank)
            return 0;
        for (size_t k = 1; k < n->n_inputs; k++) {
            if (!lookup(g, n->inputs[k], &b) || !b.has_shape) {
                out->has_shape = 0;
                return 1;
            }
            if (b.rank != a.rank)
                return 0;
            for (size_t i = 0; i < a.rank; i++) {
                sdim *o = &out->d[i];
                if ((int64_t)i == axis) {
                    if (o->has_value && b.d[i].has_value)
                        o->value += b.d[i].value;
                    else
                        *o = (sdim){0, 0, NULL};
                } else if (!o->has_value && b.d[i].has_value) {
                    *o = b.d[i];
                }
            }
        }
        return 1;
    }
    if (!strcmp(n->op_type, "Shape")) { /* start / end (opset 15) pick a range of the dimensions */
        int64_t r = (int64_t)a.rank, st = oir_node_attr_int(n, "start", 0), en = oir_node_attr_int(n, "end", r);
        out->dtype = OIR_INT64;
        if (!a.has_shape)
            return 1;
        st = clamp64(st < 0 ? st + r : st, 0, r);
        en = clamp64(en < 0 ? en + r : en, 0, r);
        out->has_shape = 1;
        out->rank = 1;
        out->d[0] = (sdim){1, en > st ? en - st : 0, NULL};
        return 1;
    }
    return 0;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Slice with constant starts, ends, axes and steps: the length of each sliced axis whose size
 * is known; an unknown one stays unknown. Other inputs give the rank only. */
static int infer_slice(const oir_graph *g, const oir_node *n, const shape *a, shape *out)
{
    int64_t starts[MAX_RANK], ends[MAX_RANK], axes[MAX_RANK], steps[MAX_RANK];
    size_t ns, ne, na, nst;
    *out = *a;
    if (!a->has_shape)
        return 1;
    if (n->n_inputs < 3 || !const_ints(g, n->inputs[1], starts, MAX_RANK, &ns) ||
        !const_ints(g, n->inputs[2], ends, MAX_RANK, &ne) || ns != ne) {
        for (size_t i = 0; i < a->rank; i++)
            out->d[i] = (sdim){0, 0, NULL};
        return 1;
    }
    if (n->n_inputs > 3 && n->inputs[3][0]) {
        if (!const_ints(g, n->inputs[3], axes, MAX_RANK, &na) || na != ns)
            return 0;
    } else {
        for (size_t i = 0; i < ns; i++)
            axes[i] = (int64_t)i;
    }
    if (n->n_inputs > 4 && n->inputs[4][0]) {
        if (!const_ints(g, n->inputs[4], steps, MAX_RANK, &nst) || nst != ns)
            return 0;
    } else {
        for (size_t i = 0; i < ns; i++)
            steps[i] = 1;
    }
    for (size_t k = 0; k < ns; k++) {
        int64_t ax = axes[k] < 0 ? axes[k] + (int64_t)a->rank : axes[k], d, st, en, len;
        if (ax < 0 || ax >= (int64_t)a->rank || !steps[k])
            return 0;
        if (!a->d[ax].has_value) {
            out->d[ax] = (sdim){0, 0, NULL};
            continue;
        }
        d = a->d[ax].value;
        st = starts[k] < 0 ? (starts[k] < -d ? -d : starts[k]) + d : starts[k];
        en = ends[k] < 0 ? (ends[k] < -d ? -d - 1 : ends[k]) + d : ends[k];
        if (steps[k] > 0) {
            st = clamp64(st, 0, d);
            en = clamp64(en, 0, d);
            len = en > st ? (en - st + steps[k] - 1) / steps[k] : 0;
        } else {
            st = clamp64(st, 0, d - 1);
            en = clamp64(en, -1, d - 1);
            len = st > en ? (st - en - steps[k] - 1) / -steps[k] : 0;
        }
        out->d[ax] = (sdim){1, len, NULL};
    }
    return 1;
}

/* The Reduce ops: the axes (an attribute, or a constant input from opset 13 / 18) dropped, or
 * kept as 1 with keepdims; no axes reduce all, unless noop_with_empty_axes. */
static int infer_reduce(const oir_graph *g, const oir_node *n, const shape *a, shape *out)
{
    int64_t axes[MAX_RANK];
    size_t na = 0;
    int keep = (int)oir_node_attr_int(n, "keepdims", 1), all;
    const oir_attr *attr = oir_node_attr(n, "axes");
    char pick[MAX_RANK] = {0};
    *out = *a;
    if (!a->has_shape)
        return 1;
    if (attr && attr->n <= MAX_RANK) {
        na = attr->n;
        memcpy(axes, attr->ints, na * sizeof *axes);
    } else if (n->n_inputs > 1 && n->inputs[1][0] && !const_ints(g, n->inputs[1], axes, MAX_RANK, &na)) {
        return 0;
    }
    all = !na;
    if (all && oir_node_attr_int(n, "noop_with_empty_axes", 0))
        return 1;
    for (size_t k = 0; k < na; k++) {
        int64_t ax = axes[k] < 0 ? axes[k] + (int64_t)a->rank : axes[k];
        if (ax < 0 || ax >= (int64_t)a->rank)
            return 0;
        pick[ax] = 1;
    }
    out->rank = 0;
    for (size_t i = 0; i < a->rank; i++) {
        if (!all && !pick[i])
            out->d[out->rank++] = a->d[i];
        else if (keep)
            out->d[out->rank++] = (sdim){1, 1, NULL};
    }
    return 1;
}

static int param_used_in(const oir_value_info *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        const oir_type *t = v[i].type;
        for (size_t d = 0; t && t->kind == OIR_TYPE_TENSOR && d < t->rank; d++)
            if (t->dims[d].param && !strcmp(t->dims[d].param, name))
                return 1;
    }
    return 0;
}

/* onnx names each unknown dimension of an inferred value "unk__<N>", counting from 0 and
 * skipping names the graph uses, so that values derived from it share the name. */
static void fresh_name(const oir_graph *g, unsigned *counter, char *buf, size_t size)
{
    for (;; (*counter)++) {
        snprintf(buf, size, "unk__%u", *counter);
        if (!param_used_in(g->inputs, g->n_inputs, buf) && !param_used_in(g->outputs, g->n_outputs, buf) &&
            !param_used_in(g->value_info, g->n_value_info, buf))
            break;
    }
    (*counter)++;
}

/* The declared type of `value` that inference may complete (a graph output's or value_info's),
 * or NULL when it has none; *slot is where a missing type goes. */
static oir_type **declared(oir_graph *g, const char *value)
{
    long i = oir_graph_output_index(g, value);
    if (i >= 0)
        return &g->outputs[i].type;
    for (size_t k = 0; k < g->n_value_info; k++)
        if (!strcmp(g->value_info[k].name, value))
            return &g->value_info[k].type;
    return NULL;
}

/* onnx's merge of an inferred type into a declared one: what is declared stays, a missing
 * element type or shape is taken, and unknown dimensions of the same rank are filled. */
static int merge(oir_type **slot, const oir_type *inferred)
{
    oir_type *t = *slot;
    if (!t || t->kind == OIR_TYPE_NONE) {
        oir_type *c = oir_type_clone(inferred);
        if (!c)
            return OLIVE_ENOMEM;
        oir_type_free(t);
        *slot = c;
        return OLIVE_OK;
    }
    if (t->kind != OIR_TYPE_TENSOR)
        return OLIVE_OK;
    if (!t->elem_type)
        t->elem_type = inferred->elem_type;
    if (!t->has_shape && inferred->has_shape) {
        oir_type *c = oir_type_clone(inferred);
        if (!c)
            return OLIVE_ENOMEM;
        c->elem_type = t->elem_type;
        c->denotation = t->denotation;
        t->denotation = NULL;
        oir_type_free(t);
        *slot = c;
        return OLIVE_OK;
    }
    if (t->has_shape && inferred->has_shape && t->rank == inferred->rank)
        for (size_t d = 0; d < t->rank; d++) {
            oir_dim *o = &t->dims[d];
            const oir_dim *in = &inferred->dims[d];
            if (o->has_value || (o->param && o->param[0]))
                continue;
            if (in->has_value) {
                o->has_value = 1;
                o->value = in->value;
            } else if (in->param && !(o->param = olive_strdup(in->param))) {
                return OLIVE_ENOMEM;
            }
        }
    return OLIVE_OK;
}

int sg_infer_shapes(oir_graph *g)
{
    unsigned counter = 0;
    char fresh[MAX_RANK][32];
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i]->n_outputs; k++) {
            const oir_node *n = g->nodes[i];
            const char *name = n->outputs[k];
            shape s;
            int64_t dims[MAX_RANK];
            const char *params[MAX_RANK];
            oir_type *t, **slot;
            int rc;
            if (!name[0] || oir_graph_input_index(g, name) >= 0 || oir_graph_initializer(g, name) ||
                !infer_output(g, n, k, &s))
                continue;
            /* unknown dimensions get fresh names first, whether or not a type is declared */
            for (size_t d = 0; d < s.rank; d++) {
                dims[d] = s.d[d].has_value ? s.d[d].value : -1;
                params[d] = s.d[d].has_value ? NULL : s.d[d].param;
                if (!s.d[d].has_value && (!params[d] || !params[d][0])) {
                    fresh_name(g, &counter, fresh[d], sizeof fresh[d]);
                    params[d] = fresh[d];
                }
            }
            if (!(t = oir_type_new_tensor(s.dtype, s.has_shape ? s.rank : 0, dims, params)))
                return OLIVE_ENOMEM;
            t->has_shape = s.has_shape;
            slot = declared(g, name);
            rc = slot ? merge(slot, t) : oir_graph_add_value_info(g, name, t);
            oir_type_free(t);
            if (rc != OLIVE_OK)
                return rc;
        }
    return OLIVE_OK;
}
