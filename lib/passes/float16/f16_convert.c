/* Converts one graph. Every value that was float32 gets a new element type: the target type
 * when a converted node produces it (or it is a converted initializer or input), float32 when
 * a blocked node produces it. Each node then reads its inputs in the type it needs, through a
 * Cast made once per value and direction; a Cast that would undo one this pass made reads
 * the original value instead, so no Cast pair that cancels out is created. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/float16/f16_internal.h"

static int is_float(int32_t t)
{
    return t == OIR_FLOAT;
}

/* Whether `t` is a type this pass gives values that were float32. */
static int pass_type(const f16_run *r, int32_t t)
{
    return t == OIR_FLOAT || t == r->target || t == r->blocked_type;
}

/* The map of Casts this pass made to `to`. */
static olive_strmap *cast_map(f16_scope *s, int32_t to)
{
    return to == OIR_FLOAT ? &s->to_float : to == s->run->target ? &s->to_target : &s->to_blocked;
}

/* Ops whose ONNX schema accepts no float16 for a float input at the model's opset: they stay
 * float32 whatever the block lists say, or the result would not be a valid model. Sequence
 * ops stay float32 too: sequences keep their element type, tensors are cast at their edges. */
static int float32_only(const f16_scope *s, const oir_node *n)
{
    static const char *const always[] = {
        "Celu",          "DynamicQuantizeLinear", "QLinearConv",        "QLinearMatMul", "MatMulInteger",
        "ConvInteger",   "SequenceConstruct",     "SequenceInsert",     "SequenceAt",    "SequenceErase",
        "SequenceEmpty", "SplitToSequence",       "ConcatFromSequence", "SequenceMap",   NULL};
    const char *op = n->op_type;
    int64_t opset = s->run->opset;
    if (!strcmp(n->domain, "ai.onnx.preview.training"))
        return 1;
    if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return 0;
    for (const char *const *a = always; *a; a++)
        if (!strcmp(op, *a))
            return 1;
    if (!strcmp(op, "QuantizeLinear") || !strcmp(op, "DequantizeLinear"))
        return opset < 19;
    if (!strcmp(op, "IsInf"))
        return opset < 20;
    return 0;
}

static int blocked_node(const f16_scope *s, const oir_node *n)
{
    if (s->blocked || float32_only(s, n))
        return 1;
    return olive_args_list_has(s->run->args, "op_block_list", n->op_type) ||
           (n->name && n->name[0] && olive_args_list_has(s->run->args, "node_block_list", n->name));
}

/* The type a blocked node computes in: float32 for ops with no other choice, else float32
 * or, with use_bfloat16_as_blocked_nodes_dtype, bfloat16. */
static int32_t blocked_type(const f16_scope *s, const oir_node *n)
{
    return float32_only(s, n) ? OIR_FLOAT : s->run->blocked_type;
}

/* Inputs that onnxruntime kernels require in float32 even in a float16 graph: Resize's
 * scales (input 1 in opset 10, 2 later) and GroupNorm's gamma and beta. */
static int always_float_input(const f16_scope *s, const oir_node *n, size_t i)
{
    if (f16_forced_input(s->run, n->op_type, i))
        return 0;
    if (!strcmp(n->op_type, "Resize"))
        return i == (s->run->opset > 0 && s->run->opset < 11 ? 1u : 2u);
    if (!strcmp(n->op_type, "GroupNorm") || !strcmp(n->op_type, "SkipGroupNorm"))
        return i == 1 || i == 2;
    return 0;
}

static int name_visible(const f16_scope *s, const char *name)
{
    for (; s; s = s->outer)
        if (olive_strmap_has(&s->orig, name))
            return 1;
    return 0;
}

/* A fresh value name, unused in this graph and in the scopes around it. */
static char *fresh_name(const f16_scope *s, const char *base)
{
    char *name = oir_graph_unique_name(s->g, base);
    for (unsigned i = 1; name && name_visible(s, name); i++) {
        char *next = olive_asprintf("%s_%u", base, i);
        free(name);
        name = next ? oir_graph_unique_name(s->g, next) : NULL;
        free(next);
    }
    if (!name)
        olive_fail(OLIVE_ENOMEM, "out of memory naming a Cast of '%s'", base);
    return name;
}

/* Adds Cast(src) -> a fresh value of type `to`; its name into *out (owned by the scope). */
static int add_cast(f16_scope *s, const char *src, int32_t to, const char **out)
{
    const char *suffix = to == OIR_FLOAT ? "_fp32" : to == OIR_BFLOAT16 ? "_bf16" : "_fp16";
    char *base = olive_asprintf("%s%s", src, suffix), *name = NULL, *node_name = NULL;
    const char *owned, *owned_src;
    oir_node *n = NULL;
    int rc = OLIVE_ENOMEM;
    if (!base)
        return olive_fail(OLIVE_ENOMEM, "out of memory adding a Cast of '%s'", src);
    name = fresh_name(s, base);
    node_name = name ? olive_asprintf("%s_cast", name) : NULL;
    if (!node_name)
        goto done;
    n = oir_node_new("Cast", "", node_name, 1, (const char *const[]){src}, 1, (const char *const[]){name});
    if (!n || f16_set_cast_to(s->run, n, to) != OLIVE_OK)
        goto done;
    if ((rc = oir_graph_add_node(s->g, n)) != OLIVE_OK)
        goto done;
    n = NULL;
    if (!(owned = f16_own(s, name)) || !(owned_src = f16_own(s, src))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    if ((rc = f16_set_orig(s, owned, OIR_FLOAT)) != OLIVE_OK || (rc = f16_set_now(s, owned, to)) != OLIVE_OK ||
        (rc = olive_strmap_put(&s->origin, owned, (void *)owned_src)) != OLIVE_OK ||
        (rc = olive_strmap_put(cast_map(s, to), owned_src, (void *)owned)) != OLIVE_OK)
        goto done;
    s->run->casts_added++;
    *out = owned;
done:
    if (rc == OLIVE_ENOMEM)
        olive_fail(OLIVE_ENOMEM, "out of memory adding a Cast of '%s'", src);
    oir_node_free(n);
    free(base);
    free(name);
    free(node_name);
    return rc;
}

/* The name under which `value` reads as type `to`: itself, the value a Cast of this pass
 * was made from, or a (shared) new Cast. */
static int read_as(f16_scope *s, const char *value, int32_t to, const char **out)
{
    int32_t now = f16_now_type(s, value);
    const char *src, *made;
    *out = value;
    if (!value[0] || now == to || !pass_type(s->run, now))
        return OLIVE_OK;
    for (const f16_scope *c = s; c; c = c->outer)
        if ((src = olive_strmap_get(&c->origin, value)) && f16_now_type(s, src) == to) {
            *out = src;
            return OLIVE_OK;
        }
    if ((made = olive_strmap_get(cast_map(s, to), value))) {
        *out = made;
        return OLIVE_OK;
    }
    return add_cast(s, value, to, out);
}

static int retarget_inputs(f16_scope *s, oir_node *n, int blocked)
{
    for (size_t i = 0; i < n->n_inputs; i++) {
        const char *v = n->inputs[i], *use;
        int32_t want;
        if (!v[0] || !is_float(f16_orig_type(s, v)))
            continue;
        want = always_float_input(s, n, i) ? OIR_FLOAT : blocked ? blocked_type(s, n) : s->run->target;
        OLIVE_TRY(read_as(s, v, want, &use));
        if (use != v)
            OLIVE_TRY(oir_node_set_input(n, i, use));
    }
    return OLIVE_OK;
}

static int float_list_to_tensor(f16_scope *s, oir_node *n, const char *attr, int scalar)
{
    oir_attr *a = oir_node_attr(n, attr);
    int64_t dim = a ? (int64_t)(scalar ? 1 : a->n) : 0;
    oir_tensor *t = oir_tensor_new(NULL, OIR_FLOAT, scalar ? 0 : 1, &dim);
    int rc;
    if (!t)
        return olive_fail(OLIVE_ENOMEM, "out of memory converting node '%s'", n->name);
    rc = scalar ? oir_tensor_set_copy(t, &a->f, 4) : oir_tensor_set_copy(t, a->floats, (uint64_t)dim * 4);
    if (rc == OLIVE_OK)
        rc = f16_convert_tensor(s->run, t);
    if (rc == OLIVE_OK)
        rc = oir_node_set_attr_tensor(n, "value", t);
    if (rc != OLIVE_OK) {
        oir_tensor_free(t);
        return rc;
    }
    oir_node_remove_attr(n, attr);
    return OLIVE_OK;
}

/* Attributes that fix a float32 result: Cast's `to`, constants, `dtype`. */
static int retarget_attrs(f16_scope *s, oir_node *n)
{
    const int32_t target = s->run->target;
    oir_attr *a;
    if (n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return OLIVE_OK;
    if (!strcmp(n->op_type, "Cast")) {
        if (f16_cast_to(n) == OIR_FLOAT)
            OLIVE_TRY(f16_set_cast_to(s->run, n, target));
    } else if (!strcmp(n->op_type, "Constant")) {
        if ((a = oir_node_attr(n, "value")) && a->type == OIR_ATTR_TENSOR && a->t)
            OLIVE_TRY(f16_convert_tensor(s->run, a->t));
        else if ((a = oir_node_attr(n, "value_float")) && a->type == OIR_ATTR_FLOAT)
            OLIVE_TRY(float_list_to_tensor(s, n, "value_float", 1));
        else if ((a = oir_node_attr(n, "value_floats")) && a->type == OIR_ATTR_FLOATS)
            OLIVE_TRY(float_list_to_tensor(s, n, "value_floats", 0));
    } else if (!strcmp(n->op_type, "ConstantOfShape")) {
        if ((a = oir_node_attr(n, "value")) && a->type == OIR_ATTR_TENSOR && a->t) {
            OLIVE_TRY(f16_convert_tensor(s->run, a->t));
        } else if (!a) {
            /* The default is a float32 zero: make it explicit in the target type. */
            int64_t one = 1;
            oir_tensor *t = oir_tensor_new(NULL, target, 1, &one);
            uint16_t zero = 0;
            if (!t || oir_tensor_set_copy(t, &zero, 2) != OLIVE_OK ||
                oir_node_set_attr_tensor(n, "value", t) != OLIVE_OK) {
                oir_tensor_free(t);
                return olive_fail(OLIVE_ENOMEM, "out of memory converting node '%s'", n->name);
            }
        }
    } else if (!strcmp(n->op_type, "RandomNormal") || !strcmp(n->op_type, "RandomUniform")) {
        if (oir_node_attr_int(n, "dtype", OIR_FLOAT) == OIR_FLOAT)
            OLIVE_TRY(oir_node_set_attr_int(n, "dtype", target));
    } else if (!strcmp(n->op_type, "RandomNormalLike") || !strcmp(n->op_type, "EyeLike") ||
               !strcmp(n->op_type, "Bernoulli")) {
        if (oir_node_attr_int(n, "dtype", 0) == OIR_FLOAT)
            OLIVE_TRY(oir_node_set_attr_int(n, "dtype", target));
    }
    return OLIVE_OK;
}

static int convert_subgraph(f16_scope *s, oir_graph *child, int blocked)
{
    f16_scope c;
    int rc;
    memset(&c, 0, sizeof c);
    c.outer = s;
    c.run = s->run;
    c.g = child;
    c.blocked = blocked;
    rc = f16_convert_graph(&c);
    f16_scope_free(&c);
    return rc;
}

/* Whether a float32 initializer becomes the target type: yes unless only blocked nodes and
 * inputs that must stay float32 read it (or, with keep_io_types, it is also a main graph
 * input or output). */
static int convert_initializer(f16_scope *s, const oir_graph_index *ix, const char *name)
{
    oir_node *c;
    if (s->is_main && f16_keep_io(s->run, name) &&
        (oir_graph_input_index(s->g, name) >= 0 || oir_graph_output_index(s->g, name) >= 0))
        return 0;
    if (s->run->force_initializers) /* blocked readers get a Cast back to float32 */
        return 1;
    if (s->blocked)
        return 0;
    if (oir_index_is_graph_output(ix, name) || !oir_index_consumer(ix, name, 0))
        return 1;
    for (size_t i = 0; (c = oir_index_consumer(ix, name, i)); i++) {
        int explicit_use = 0;
        if (blocked_node(s, c))
            continue;
        for (size_t k = 0; k < c->n_inputs; k++)
            if (!strcmp(c->inputs[k], name)) {
                explicit_use = 1;
                if (!always_float_input(s, c, k))
                    return 1;
            }
        if (!explicit_use) /* read by a subgraph of a converted node */
            return 1;
    }
    return 0;
}

/* The element type every float32 value has after the pass. */
static int assign_types(f16_scope *s)
{
    oir_graph *g = s->g;
    const int32_t target = s->run->target;
    oir_graph_index ix;
    int rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_inputs && rc == OLIVE_OK; i++) {
        const char *name = g->inputs[i].name;
        int32_t now = s->is_main && f16_keep_io(s->run, name) ? OIR_FLOAT : s->blocked ? s->run->blocked_type : target;
        if (is_float(f16_orig_type(s, name)))
            rc = f16_set_now(s, name, now);
    }
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        const oir_node *n = g->nodes[i];
        int blocked = blocked_node(s, n);
        s->run->blocked_nodes += blocked && !s->blocked;
        for (size_t k = 0; k < n->n_outputs && rc == OLIVE_OK; k++)
            if (n->outputs[k][0] && is_float(f16_orig_type(s, n->outputs[k])))
                rc = f16_set_now(s, n->outputs[k], blocked ? blocked_type(s, n) : target);
    }
    if (rc != OLIVE_OK)
        return rc;
    OLIVE_TRY(oir_graph_index_build(&ix, g));
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++) {
        oir_tensor *t = g->initializers[i];
        if (t->dtype != OIR_FLOAT)
            continue;
        if (convert_initializer(s, &ix, t->name)) {
            if ((rc = f16_convert_tensor(s->run, t)) == OLIVE_OK)
                rc = f16_set_now(s, t->name, target);
        } else {
            rc = f16_set_now(s, t->name, OIR_FLOAT);
        }
    }
    oir_graph_index_free(&ix);
    return rc;
}

/* keep_io_types: float32 graph inputs are cast once at the top and read through the Cast. */
static int cast_main_inputs(f16_scope *s)
{
    for (size_t i = 0; i < s->g->n_inputs; i++) {
        const char *name = s->g->inputs[i].name, *cast;
        if (f16_now_type(s, name) != OIR_FLOAT || oir_graph_initializer(s->g, name))
            continue;
        OLIVE_TRY(add_cast(s, name, s->run->target, &cast));
        /* The Cast itself must keep reading the input. */
        OLIVE_TRY(oir_graph_replace_uses(s->g, name, cast));
        OLIVE_TRY(oir_node_set_input(s->g->nodes[s->g->n_nodes - 1], 0, name));
    }
    return OLIVE_OK;
}

/* Each float32 graph output gets the type the graph must expose: float32 for the main graph
 * with keep_io_types and for blocked subgraphs, the target type otherwise. The producer
 * writes a new name and a Cast writes the output, so the interface keeps its names. */
static int fix_outputs(f16_scope *s)
{
    oir_graph *g = s->g;
    for (size_t i = 0; i < g->n_outputs; i++) {
        char *name = g->outputs[i].name;
        const int32_t want = s->is_main && f16_keep_io(s->run, name) ? OIR_FLOAT
                             : s->blocked                            ? s->run->blocked_type
                                                                     : s->run->target;
        int32_t now = f16_now_type(s, name);
        oir_node *producer = NULL;
        size_t slot = 0;
        const char *cast;
        if (!is_float(f16_orig_type(s, name)) || now == want || !pass_type(s->run, now))
            continue;
        for (size_t j = 0; j < g->n_nodes && !producer; j++)
            for (size_t k = 0; k < g->nodes[j]->n_outputs; k++)
                if (!strcmp(g->nodes[j]->outputs[k], name)) {
                    producer = g->nodes[j];
                    slot = k;
                    break;
                }
        if (producer) {
            char *base = olive_asprintf("%s_%s", name, now == OIR_FLOAT ? "fp32" : "converted");
            char *inner = base ? fresh_name(s, base) : NULL;
            const char *owned = inner ? f16_own(s, inner) : NULL;
            free(base);
            free(inner);
            if (!owned)
                return olive_fail(OLIVE_ENOMEM, "out of memory renaming output '%s'", name);
            OLIVE_TRY(f16_set_orig(s, owned, OIR_FLOAT));
            OLIVE_TRY(f16_set_now(s, owned, now));
            OLIVE_TRY(oir_graph_replace_uses(g, name, owned));
            OLIVE_TRY(oir_node_set_output(producer, slot, owned));
            OLIVE_TRY(add_cast(s, owned, want, &cast));
            /* The Cast writes the output under its own name. */
            OLIVE_TRY(oir_node_set_output(g->nodes[g->n_nodes - 1], 0, name));
            OLIVE_TRY(f16_set_now(s, name, want));
        } else if (!s->is_main) {
            /* A subgraph output read straight from an input or an outer value. */
            char *copy;
            OLIVE_TRY(read_as(s, name, want, &cast));
            if (!(copy = olive_strdup(cast)))
                return olive_fail(OLIVE_ENOMEM, "out of memory renaming output '%s'", name);
            free(g->outputs[i].name);
            g->outputs[i].name = copy;
        }
    }
    return OLIVE_OK;
}

static void retype(f16_scope *s, oir_value_info *v)
{
    int32_t now;
    if (!v->type || v->type->kind != OIR_TYPE_TENSOR || v->type->elem_type != OIR_FLOAT)
        return;
    now = f16_now_type(s, v->name);
    if (now == s->run->target || now == s->run->blocked_type)
        v->type->elem_type = now;
}

/* Cast nodes whose input already has the type they cast to (a float Cast in a converted
 * region, or a model's own float16 -> float -> float16 round trip) are dropped. */
static int drop_same_type_casts(f16_scope *s)
{
    oir_graph *g = s->g;
    size_t dropped = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        const char *in, *out;
        int32_t from;
        if (strcmp(n->op_type, "Cast") || n->domain[0] || n->n_inputs != 1 || n->n_outputs != 1)
            continue;
        in = n->inputs[0];
        out = n->outputs[0];
        from = f16_now_type(s, in);
        if (from == OIR_UNDEFINED || from != f16_cast_to(n))
            continue;
        if (oir_graph_output_index(g, out) < 0) {
            OLIVE_TRY(oir_graph_replace_uses(g, out, in));
        } else {
            oir_node *producer = NULL;
            size_t slot = 0;
            if (oir_graph_output_index(g, in) >= 0 || oir_graph_input_index(g, in) >= 0)
                continue;
            for (size_t j = 0; j < g->n_nodes && !producer; j++)
                for (size_t k = 0; k < g->nodes[j]->n_outputs; k++)
                    if (j != i && !strcmp(g->nodes[j]->outputs[k], in)) {
                        producer = g->nodes[j];
                        slot = k;
                    }
            if (!producer)
                continue;
            /* The producer writes the output directly; readers of its old name follow. */
            char *keep = olive_strdup(in);
            if (!keep)
                return olive_fail(OLIVE_ENOMEM, "out of memory removing Cast '%s'", n->name);
            n->mark = 1;
            if (oir_graph_replace_uses(g, keep, out) != OLIVE_OK ||
                oir_node_set_output(producer, slot, out) != OLIVE_OK) {
                free(keep);
                return olive_error_code();
            }
            free(keep);
            dropped++;
            continue;
        }
        n->mark = 1;
        dropped++;
    }
    if (dropped)
        oir_graph_remove_marked_nodes(g);
    s->run->casts_removed += dropped;
    return OLIVE_OK;
}

int f16_convert_graph(f16_scope *s)
{
    oir_graph *g = s->g;
    size_t n_original;
    OLIVE_TRY(oir_graph_toposort(g));
    OLIVE_TRY(f16_infer_types(s));
    OLIVE_TRY(assign_types(s));
    /* Only the model's own nodes are visited; the Casts added below are already right. */
    n_original = g->n_nodes;
    if (s->is_main && (s->run->keep_io_all || s->run->keep_io_list))
        OLIVE_TRY(cast_main_inputs(s));
    for (size_t i = 0; i < n_original; i++) {
        oir_node *n = g->nodes[i];
        int blocked = blocked_node(s, n);
        /* The main graph's nodes measure progress; a cancel request stops here. */
        if (s->is_main && i % 256 == 255)
            OLIVE_TRY(olive_pass_progress(s->run->ctx, 0.95 * (double)i / (double)n_original));
        OLIVE_TRY(retarget_inputs(s, n, blocked));
        if (!blocked)
            OLIVE_TRY(retarget_attrs(s, n));
        for (size_t a = 0; a < n->n_attrs; a++) {
            oir_attr *at = &n->attrs[a];
            if (at->type == OIR_ATTR_GRAPH && at->g)
                OLIVE_TRY(convert_subgraph(s, at->g, blocked));
            for (size_t k = 0; at->type == OIR_ATTR_GRAPHS && k < at->n; k++)
                OLIVE_TRY(convert_subgraph(s, at->graphs[k], blocked));
        }
    }
    OLIVE_TRY(fix_outputs(s));
    for (size_t i = 0; i < g->n_inputs; i++)
        retype(s, &g->inputs[i]);
    for (size_t i = 0; i < g->n_outputs; i++)
        retype(s, &g->outputs[i]);
    for (size_t i = 0; i < g->n_value_info; i++)
        retype(s, &g->value_info[i]);
    OLIVE_TRY(drop_same_type_casts(s));
    return oir_graph_toposort(g);
}
