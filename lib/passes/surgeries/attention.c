/* Surgeons around attention: RotaryEmbedding decomposed into standard ops, the rope multi cache
 * (If over two caches) made one, the attention mask replaced by sequence-length inputs, and
 * large negative mask values replaced. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

/* ---- a small builder: nodes "<base>/<op>_<k>" writing "<base>/<op>_<k>_output" ---- */

typedef struct bld {
    oir_graph *g;
    const char *base;
    int k, rc;
    size_t n, cap;
    char **names;     /* outputs made, freed with the builder */
    oir_node *last;
} bld;

static const char *keep(bld *b, char *s)
{
    if (!s || olive_grow((void **)&b->names, &b->cap, b->n + 1, sizeof *b->names) != OLIVE_OK) {
        free(s);
        b->rc = OLIVE_ENOMEM;
        return "";
    }
    return b->names[b->n++] = s;
}

/* Adds op(ins...) and returns its output name ("" after an error). */
static const char *op(bld *b, const char *type, size_t n_in, ...)
{
    const char *ins[8];
    char *name, *out;
    va_list ap;
    if (b->rc != OLIVE_OK || n_in > 8)
        return "";
    va_start(ap, n_in);
    for (size_t i = 0; i < n_in; i++)
        ins[i] = va_arg(ap, const char *);
    va_end(ap);
    name = olive_asprintf("%s/%s_%d", b->base, type, b->k++);
    out = name ? olive_asprintf("%s_output", name) : NULL;
    if (!name || !out || !(b->last = sg_add_node(b->g, type, "", name, n_in, ins, 1, (const char *const *)&out))) {
        free(name);
        free(out);
        b->rc = OLIVE_ENOMEM;
        return "";
    }
    free(name);
    return keep(b, out);
}

static void attr_int(bld *b, const char *name, int64_t v)
{
    if (b->rc == OLIVE_OK)
        b->rc = oir_node_set_attr_int(b->last, name, v);
}

/* A Constant holding an int64 [1] tensor, or a float scalar. */
static const char *const_i64(bld *b, int64_t v)
{
    const char *out = op(b, "Constant", 0);
    oir_tensor *t;
    int64_t one = 1;
    if (b->rc != OLIVE_OK)
        return "";
    if (!(t = oir_tensor_new(out, OIR_INT64, 1, &one)) || oir_tensor_set_copy(t, &v, 8) != OLIVE_OK ||
        oir_node_set_attr_tensor(b->last, "value", t) != OLIVE_OK) {
        oir_tensor_free(t);
        b->rc = OLIVE_ENOMEM;
    }
    return out;
}

static const char *const_f32(bld *b, float v)
{
    const char *out = op(b, "Constant", 0);
    oir_tensor *t;
    if (b->rc != OLIVE_OK)
        return "";
    if (!(t = oir_tensor_new(out, OIR_FLOAT, 0, NULL)) || oir_tensor_set_copy(t, &v, 4) != OLIVE_OK ||
        oir_node_set_attr_tensor(b->last, "value", t) != OLIVE_OK) {
        oir_tensor_free(t);
        b->rc = OLIVE_ENOMEM;
    }
    return out;
}

static void attr_ints(bld *b, const char *name, const int64_t *v, size_t n)
{
    if (b->rc == OLIVE_OK)
        b->rc = oir_node_set_attr_ints(b->last, name, v, n);
}

/* A Constant int64 tensor: rank 0 (one value) when `scalar`, else 1-D of n values. */
static const char *const_i64v(bld *b, const int64_t *v, size_t n, int scalar)
{
    const char *out = op(b, "Constant", 0);
    int64_t dim = (int64_t)n;
    oir_tensor *t;
    if (b->rc != OLIVE_OK)
        return "";
    if (!(t = oir_tensor_new(out, OIR_INT64, scalar ? 0 : 1, &dim)) || oir_tensor_set_copy(t, v, n * 8) != OLIVE_OK ||
        oir_node_set_attr_tensor(b->last, "value", t) != OLIVE_OK) {
        oir_tensor_free(t);
        b->rc = OLIVE_ENOMEM;
    }
    return out;
}

static const char *c1(bld *b, int64_t v) { return const_i64v(b, &v, 1, 0); }
static const char *c0(bld *b, int64_t v) { return const_i64v(b, &v, 1, 1); }

static void bld_free(bld *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->names[i]);
    free(b->names);
}

/* com.microsoft RotaryEmbedding(x, position_ids, cos_cache, sin_cache) lowered as Olive does:
 * cos/sin gathered at the positions and reshaped to [batch, (heads,) seq, half], x split into
 * halves (or even/odd lanes when interleaved), rotated, and joined again. */
static int decompose_one(oir_graph *g, oir_node *re)
{
    int64_t interleaved = oir_node_attr_int(re, "interleaved", 0), heads = oir_node_attr_int(re, "num_heads", 0);
    int64_t rdim = oir_node_attr_int(re, "rotary_embedding_dim", 0);
    float scale = oir_node_attr_float(re, "scale", 1.0f);
    char *x = olive_strdup(re->inputs[0]), *pos = olive_strdup(re->inputs[1]), *cosc = olive_strdup(re->inputs[2]);
    char *sinc = olive_strdup(re->inputs[3]), *y = olive_strdup(re->outputs[0]);
    char *base = olive_strdup(re->name && re->name[0] ? re->name : re->outputs[0]);
    bld b = {g, base, 0, OLIVE_OK, 0, 0, NULL, NULL};
    const char *m1, *z1, *o1, *t1, *flat, *cg, *sg_, *sc, *shape, *batch, *nh = NULL, *seq, *cov, *dims, *cr, *sr;
    const char *last, *half, *in_r, *in_i, *out_r, *out_i, *fin;
    if (!x || !pos || !cosc || !sinc || !y || !base) {
        free(x), free(pos), free(cosc), free(sinc), free(y), free(base);
        return OLIVE_ENOMEM;
    }
    oir_graph_remove_node(g, (size_t)sg_node_index(g, re));
    m1 = const_i64(&b, -1);
    z1 = const_i64(&b, 0);
    o1 = const_i64(&b, 1);
    t1 = const_i64(&b, 2);
    flat = op(&b, "Reshape", 2, pos, m1);
    cg = op(&b, "Gather", 2, cosc, flat);
    attr_int(&b, "axis", 0);
    sg_ = op(&b, "Gather", 2, sinc, flat);
    attr_int(&b, "axis", 0);
    sc = x;
    if (scale != 1.0f)
        sc = op(&b, "Mul", 2, x, const_f32(&b, scale));
    shape = op(&b, "Shape", 1, sc);
    batch = op(&b, "Gather", 2, shape, z1);
    attr_int(&b, "axis", 0);
    if (heads > 0) {
        nh = op(&b, "Gather", 2, shape, o1);
        attr_int(&b, "axis", 0);
        seq = op(&b, "Gather", 2, shape, const_i64(&b, 2));
    } else {
        seq = op(&b, "Gather", 2, shape, o1);
    }
    attr_int(&b, "axis", 0);
    if (rdim > 0) {
        cov = const_i64(&b, interleaved ? rdim : rdim / 2);
    } else {
        const char *l = op(&b, "Gather", 2, shape, m1);
        attr_int(&b, "axis", 0);
        cov = op(&b, "Div", 2, l, t1);
    }
    dims = heads > 0 ? op(&b, "Concat", 4, batch, nh, seq, cov) : op(&b, "Concat", 3, batch, seq, cov);
    attr_int(&b, "axis", 0);
    cr = op(&b, "Reshape", 2, cg, dims);
    sr = op(&b, "Reshape", 2, sg_, dims);
    last = op(&b, "Gather", 2, op(&b, "Shape", 1, sc), m1);
    attr_int(&b, "axis", 0);
    half = op(&b, "Div", 2, last, t1);
    if (interleaved) {
        const char *zs = op(&b, "Squeeze", 2, z1, z1), *ts = op(&b, "Squeeze", 2, t1, z1);
        const char *ls = op(&b, "Squeeze", 2, last, z1), *ir = op(&b, "Range", 3, zs, ls, ts);
        const char *os = op(&b, "Squeeze", 2, o1, z1), *ii = op(&b, "Range", 3, os, ls, ts);
        in_r = op(&b, "Gather", 2, sc, ir);
        attr_int(&b, "axis", -1);
        in_i = op(&b, "Gather", 2, sc, ii);
        attr_int(&b, "axis", -1);
    } else {
        in_r = op(&b, "Slice", 4, sc, z1, half, m1);
        in_i = op(&b, "Slice", 4, sc, half, last, m1);
    }
    out_r = op(&b, "Sub", 2, op(&b, "Mul", 2, in_r, cr), op(&b, "Mul", 2, in_i, sr));
    out_i = op(&b, "Add", 2, op(&b, "Mul", 2, in_r, sr), op(&b, "Mul", 2, in_i, cr));
    if (interleaved) {
        const char *ur = op(&b, "Unsqueeze", 2, out_r, m1), *ui = op(&b, "Unsqueeze", 2, out_i, m1);
        const char *cat = op(&b, "Concat", 2, ur, ui);
        attr_int(&b, "axis", -1);
        fin = op(&b, "Reshape", 2, cat, op(&b, "Shape", 1, x));
    } else {
        fin = op(&b, "Concat", 2, out_r, out_i);
        attr_int(&b, "axis", -1);
    }
    (void)fin;
    /* The last node writes the RotaryEmbedding's output. */
    if (b.rc == OLIVE_OK)
        b.rc = oir_node_set_output(b.last, 0, y);
    bld_free(&b);
    free(x), free(pos), free(cosc), free(sinc), free(y), free(base);
    return b.rc;
}

static int decompose_rotary_embedding(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    (void)a;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        if (strcmp(n->op_type, "RotaryEmbedding") || strcmp(n->domain, "com.microsoft") || n->n_inputs != 4 ||
            n->n_outputs != 1)
            continue;
        OLIVE_TRY(decompose_one(g, n));
        i--;
    }
    /* Olive's rewriter drops what nothing reads afterwards (the unused half width when
     * interleaved, and any other dead node). */
    return sg_remove_dead_nodes(g);
}

/* The Constant node producing `value` anywhere in the graph or its subgraphs. */
static const oir_tensor *constant_value(const oir_graph *g, const char *value)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        if (!strcmp(n->op_type, "Constant") && n->n_outputs == 1 && !strcmp(n->outputs[0], value)) {
            const oir_attr *v = oir_node_attr(n, "value");
            return v ? v->t : NULL;
        }
        for (size_t k = 0; k < n->n_attrs; k++) {
            const oir_tensor *t = NULL;
            if (n->attrs[k].g)
                t = constant_value(n->attrs[k].g, value);
            for (size_t j = 0; !t && n->attrs[k].graphs && j < n->attrs[k].n; j++)
                t = constant_value(n->attrs[k].graphs[j], value);
            if (t)
                return t;
        }
    }
    return NULL;
}

/* The rope caches chosen by an If (small / large) become one initializer "<cos|sin>_cache_single"
 * copied from "<name>_small" (or "_large" with use_large_cache); the If and the node computing
 * its condition go. */
static int remove_rope_multi_cache(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    static const char *const keys[2] = {"cos_cache", "sin_cache"};
    oir_node *first = NULL, *ifn, *cond;
    char *values[2] = {0};
    int large = sg_bool(a, "use_large_cache", 0), rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_nodes && !first; i++)
        if (!strcmp(g->nodes[i]->op_type, "GroupQueryAttention") || !strcmp(g->nodes[i]->op_type, "RotaryEmbedding"))
            first = g->nodes[i];
    if (!first || first->n_inputs < 9)
        return OLIVE_OK;
    for (int k = 0; k < 2; k++) {
        const char *v = first->inputs[7 + k];
        oir_node *p = sg_producer(g, v);
        if (oir_graph_input_index(g, v) >= 0 || oir_graph_initializer(g, v) || !p || strcmp(p->op_type, "If"))
            return OLIVE_OK;
    }
    ifn = sg_producer(g, first->inputs[7]);
    for (int k = 0; k < 2 && rc == OLIVE_OK; k++) {
        char *src = olive_asprintf("%s_%s", keys[k], large ? "large" : "small");
        char *dst = olive_asprintf("%s_single", keys[k]);
        const oir_tensor *t = src ? oir_graph_initializer(g, src) : NULL;
        if (!src || !dst || !(values[k] = olive_strdup(first->inputs[7 + k])))
            rc = OLIVE_ENOMEM;
        else if (!t && !(t = constant_value(g, src)))
            rc = sg_fail(a, "use_large_cache", "no initializer or Constant named '%s'", src);
        if (rc == OLIVE_OK) {
            oir_tensor *c = oir_tensor_clone(t);
            char *nm = olive_strdup(dst);
            if (!c || !nm) {
                oir_tensor_free(c);
                free(nm);
                rc = OLIVE_ENOMEM;
            } else {
                free(c->name);
                c->name = nm;
                if ((rc = oir_graph_add_initializer(g, c)) != OLIVE_OK)
                    oir_tensor_free(c);
            }
        }
        if (rc == OLIVE_OK)
            rc = sg_replace_input(g, values[k], dst);
        free(src);
        free(dst);
    }
    if (rc == OLIVE_OK) {
        cond = ifn->n_inputs ? sg_producer(g, ifn->inputs[0]) : NULL;
        oir_graph_remove_node(g, (size_t)sg_node_index(g, ifn));
        if (cond && !sg_use_count(g, cond->outputs[0]) && oir_graph_output_index(g, cond->outputs[0]) < 0)
            oir_graph_remove_node(g, (size_t)sg_node_index(g, cond));
        rc = sg_dag_update(g);
    }
    free(values[0]);
    free(values[1]);
    return rc;
}

/* GroupQueryAttention's seqlens_k and total_sequence_length (inputs 5 and 6 of the first one)
 * become int32 graph inputs past_seq_len [batch, 1] and total_seq_len []; the subgraph computing
 * them from attention_mask goes, and so does attention_mask. */
static int attention_mask_to_sequence_lengths(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    static const char *const names[2] = {"past_seq_len", "total_seq_len"};
    oir_node *first = NULL;
    oir_type *ty;
    const oir_type *ids;
    long mi;
    int rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_nodes && !first; i++)
        if (!strcmp(g->nodes[i]->op_type, "GroupQueryAttention"))
            first = g->nodes[i];
    if (!first)
        return OLIVE_OK;
    if (first->n_inputs < 7)
        return sg_fail(a, NULL, "GroupQueryAttention node '%s' has %zu inputs (7 or more expected)", first->name,
                       first->n_inputs);
    for (int k = 0; k < 2; k++)
        if (oir_graph_input_index(g, first->inputs[5 + k]) >= 0)
            return OLIVE_OK;
    if ((mi = oir_graph_input_index(g, "attention_mask")) < 0)
        return sg_fail(a, NULL, "the model has no attention_mask input");
    for (int k = 0; k < 2; k++)
        if (oir_graph_input_index(g, names[k]) >= 0 || sg_producer(g, names[k]))
            return sg_fail(a, NULL, "the model already has a value named '%s'", names[k]);
    ids = sg_value_type(g, "input_ids");
    for (int k = 0; k < 2 && rc == OLIVE_OK; k++) {
        char *old = olive_strdup(first->inputs[5 + k]);
        int64_t one[2] = {1, 1};
        const char *params[2] = {NULL, NULL};
        ty = NULL;
        if (!old) {
            rc = OLIVE_ENOMEM;
            break;
        }
        if (k == 0) {
            if (ids && ids->kind == OIR_TYPE_TENSOR && ids->has_shape && ids->rank) {
                if (ids->dims[0].has_value)
                    one[0] = ids->dims[0].value;
                else if (ids->dims[0].param)
                    params[0] = ids->dims[0].param, one[0] = -1;
            }
            ty = oir_type_new_tensor(OIR_INT32, 2, one, params[0] ? params : NULL);
        } else {
            ty = oir_type_new_tensor(OIR_INT32, 0, NULL, NULL);
        }
        rc = ty ? oir_graph_add_input(g, names[k], ty) : OLIVE_ENOMEM;
        oir_type_free(ty);
        if (rc == OLIVE_OK)
            rc = sg_replace_input(g, old, names[k]);
        free(old);
    }
    /* Everything downstream of attention_mask goes. */
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i]->mark = 0;
    for (int changed = 1; changed && rc == OLIVE_OK;) {
        changed = 0;
        for (size_t i = 0; i < g->n_nodes; i++) {
            oir_node *n = g->nodes[i];
            int reads = 0;
            if (n->mark || !strcmp(n->op_type, "GroupQueryAttention"))
                continue;
            for (size_t j = 0; j < n->n_inputs && !reads; j++) {
                oir_node *p;
                reads = !strcmp(n->inputs[j], "attention_mask") ||
                        ((p = sg_producer(g, n->inputs[j])) && p->mark);
            }
            if (!reads)
                continue;
            for (size_t j = 0; j < n->n_outputs; j++)
                if (oir_graph_output_index(g, n->outputs[j]) >= 0)
                    return sg_fail(a, NULL, "node '%s', computed from attention_mask, writes graph output '%s'",
                                   n->name, n->outputs[j]);
            n->mark = 1;
            changed = 1;
        }
    }
    for (size_t i = 0; rc == OLIVE_OK && i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        if (n->mark || strcmp(n->op_type, "GroupQueryAttention") != 0)
            continue;
        for (size_t j = 0; j < n->n_inputs; j++) {
            oir_node *p = sg_producer(g, n->inputs[j]);
            if (p && p->mark)
                return sg_fail(a, NULL, "GroupQueryAttention node '%s' reads '%s', computed from attention_mask, "
                               "at input %zu (only 5 and 6 can be replaced)", n->name, n->inputs[j], j);
        }
    }
    OLIVE_TRY(rc);
    oir_graph_remove_marked_nodes(g);
    oir_graph_remove_input(g, (size_t)oir_graph_input_index(g, "attention_mask"));
    return sg_dag_update(g);
}

/* Nodes reading `value` are all Add, Mul, Expand, Where or Shape (Olive's mask consumers). */
static int mask_consumers(const oir_graph *g, const char *value)
{
    static const char *const ok[] = {"Add", "Mul", "Expand", "Where", "Shape"};
    for (size_t i = 0; i < g->n_nodes; i++) {
        const oir_node *n = g->nodes[i];
        int reads = 0, allowed = 0;
        for (size_t j = 0; j < n->n_inputs && !reads; j++)
            reads = !strcmp(n->inputs[j], value);
        for (size_t k = 0; k < 5 && reads && !allowed; k++)
            allowed = !strcmp(n->op_type, ok[k]);
        if (reads && !allowed)
            return 0;
    }
    return 1;
}

/* A float32 copy of `t` with values below threshold replaced; NULL when none is below. */
static oir_tensor *replaced(const oir_tensor *t, float threshold, float replacement, int *rc)
{
    uint64_t n;
    const float *src = (const float *)oir_tensor_data(t);
    float *dst;
    oir_tensor *out;
    int any = 0;
    *rc = OLIVE_OK;
    if (t->dtype != OIR_FLOAT || !src || oir_tensor_numel(t, &n) != OLIVE_OK)
        return NULL;
    for (uint64_t i = 0; i < n && !any; i++) {
        float v;
        memcpy(&v, src + i, 4);
        any = v < threshold;
    }
    if (!any)
        return NULL;
    if (!(dst = olive_malloc((size_t)n * 4 + 4)) || !(out = oir_tensor_new(t->name, OIR_FLOAT, t->rank, t->dims))) {
        free(dst);
        *rc = OLIVE_ENOMEM;
        return NULL;
    }
    for (uint64_t i = 0; i < n; i++) {
        float v;
        memcpy(&v, src + i, 4);
        dst[i] = v < threshold ? replacement : v;
    }
    if ((*rc = oir_tensor_set_copy(out, dst, n * 4)) != OLIVE_OK) {
        oir_tensor_free(out);
        out = NULL;
    }
    free(dst);
    return out;
}

/* Float Constant / ConstantOfShape values and initializers read only by mask-like ops: values
 * below `threshold` become `replacement`. */
static int replace_attention_mask_value(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    float threshold = (float)sg_float(a, "threshold", -3e30), repl = (float)sg_float(a, "replacement", -1e4);
    int rc = OLIVE_OK;
    for (size_t i = 0; i < g->n_nodes && rc == OLIVE_OK; i++) {
        oir_node *n = g->nodes[i];
        oir_tensor *t;
        int reads_ok = 1;
        if ((strcmp(n->op_type, "Constant") && strcmp(n->op_type, "ConstantOfShape")) || !n->n_attrs ||
            !n->attrs[0].t || n->attrs[0].type != OIR_ATTR_TENSOR)
            continue;
        for (size_t j = 0; j < n->n_outputs && reads_ok; j++)
            reads_ok = mask_consumers(g, n->outputs[j]);
        if (!reads_ok || !(t = replaced(n->attrs[0].t, threshold, repl, &rc)))
            continue;
        free(t->name);
        if (!(t->name = olive_strdup(""))) {
            oir_tensor_free(t);
            return OLIVE_ENOMEM;
        }
        oir_node_remove_attr(n, n->attrs[0].name);
        if ((rc = oir_node_set_attr_tensor(n, "value", t)) != OLIVE_OK)
            oir_tensor_free(t);
    }
    for (size_t i = 0; i < g->n_initializers && rc == OLIVE_OK; i++) {
        oir_tensor *t;
        if (!mask_consumers(g, g->initializers[i]->name) ||
            !(t = replaced(g->initializers[i], threshold, repl, &rc)))
            continue;
        oir_tensor_free(g->initializers[i]);
        g->initializers[i] = t;
    }
    OLIVE_TRY(rc);
    return sg_dag_update(g);
}

/* custom::PackedAttention(query, key, value, cu_seqlens; scale, num_heads) with Q/K/V
 * [1, heads, seq, head_dim] -> com.microsoft PackedMultiHeadAttention on [seq, heads*head_dim]
 * with the token offsets computed from cu_seqlens, as Olive's onnxscript function writes it
 * (inlined): valid token positions first, padding after. */
static int packed_one(oir_graph *g, oir_node *pa)
{
    char *q = olive_strdup(pa->inputs[0]), *k = olive_strdup(pa->inputs[1]), *v = olive_strdup(pa->inputs[2]);
    char *cu = olive_strdup(pa->inputs[3]), *y = olive_strdup(pa->outputs[0]);
    char *base = olive_strdup(pa->name && pa->name[0] ? pa->name : pa->outputs[0]);
    float scale = oir_node_attr_float(pa, "scale", 0.0f);
    int64_t heads = oir_node_attr_int(pa, "num_heads", 0), perm[3] = {1, 0, 2}, flat[2] = {0, -1};
    bld b = {g, base, 0, OLIVE_OK, 0, 0, NULL, NULL};
    const char *n_p, *starts, *ends, *len, *maxl, *rows, *cols, *rows2, *cols2, *pos, *pshape, *mask, *mask1, *pad;
    const char *off, *q3, *s3, *q2, *k2, *v2, *att, *a3;
    if (!q || !k || !v || !cu || !y || !base) {
        free(q), free(k), free(v), free(cu), free(y), free(base);
        return OLIVE_ENOMEM;
    }
    oir_graph_remove_node(g, (size_t)sg_node_index(g, pa));
    n_p = op(&b, "Cast", 1, op(&b, "Size", 1, cu));
    attr_int(&b, "to", OIR_INT32);
    n_p = op(&b, "Sub", 2, n_p, op(&b, "CastLike", 2, c0(&b, 1), n_p));
    starts = op(&b, "Slice", 4, cu, c1(&b, 0), c1(&b, -1), c1(&b, 0));
    ends = op(&b, "Slice", 4, cu, c1(&b, 1), c1(&b, INT64_MAX), c1(&b, 0));
    len = op(&b, "Sub", 2, ends, starts);
    maxl = op(&b, "ReduceMax", 2, len, c1(&b, 0));
    attr_int(&b, "keepdims", 0);
    rows = op(&b, "Range", 3, op(&b, "CastLike", 2, c0(&b, 0), n_p), n_p, op(&b, "CastLike", 2, c0(&b, 1), n_p));
    rows2 = op(&b, "Unsqueeze", 2, rows, c1(&b, 1));
    cols = op(&b, "Range", 3, op(&b, "CastLike", 2, c0(&b, 0), maxl), maxl, op(&b, "CastLike", 2, c0(&b, 1), maxl));
    cols2 = op(&b, "Unsqueeze", 2, cols, c1(&b, 0));
    pos = op(&b, "Add", 2, op(&b, "Mul", 2, rows2, maxl), cols2);
    pshape = op(&b, "Shape", 1, pos);
    mask = op(&b, "Less", 2, cols2, op(&b, "Unsqueeze", 2, len, c1(&b, 1)));
    mask1 = op(&b, "Reshape", 2, mask, c1(&b, -1));
    pad = op(&b, "Not", 1, mask1);
    off = op(&b, "Concat", 2, op(&b, "Compress", 2, pos, mask), op(&b, "Compress", 2, pos, pad));
    attr_int(&b, "axis", 0);
    off = op(&b, "Reshape", 2, off, pshape);
    q3 = op(&b, "Transpose", 1, op(&b, "Squeeze", 2, q, c1(&b, 0)));
    attr_ints(&b, "perm", perm, 3);
    s3 = op(&b, "Shape", 1, q3);
    q2 = op(&b, "Reshape", 2, q3, const_i64v(&b, flat, 2, 0));
    k2 = op(&b, "Transpose", 1, op(&b, "Squeeze", 2, k, c1(&b, 0)));
    attr_ints(&b, "perm", perm, 3);
    k2 = op(&b, "Reshape", 2, k2, const_i64v(&b, flat, 2, 0));
    v2 = op(&b, "Transpose", 1, op(&b, "Squeeze", 2, v, c1(&b, 0)));
    attr_ints(&b, "perm", perm, 3);
    v2 = op(&b, "Reshape", 2, v2, const_i64v(&b, flat, 2, 0));
    att = op(&b, "PackedMultiHeadAttention", 6, q2, k2, v2, "", off, cu);
    if (b.rc == OLIVE_OK) {
        char *d = olive_strdup("com.microsoft");
        if (!d)
            b.rc = OLIVE_ENOMEM;
        else
            free(b.last->domain), b.last->domain = d;
    }
    if (b.rc == OLIVE_OK && (b.rc = oir_node_set_attr_float(b.last, "scale", scale)) == OLIVE_OK)
        b.rc = oir_node_set_attr_int(b.last, "num_heads", heads);
    a3 = op(&b, "Reshape", 2, att, s3);
    op(&b, "Unsqueeze", 2, a3, c1(&b, 0));
    if (b.rc == OLIVE_OK)
        b.rc = oir_node_set_output(b.last, 0, y);
    bld_free(&b);
    free(q), free(k), free(v), free(cu), free(y), free(base);
    return b.rc;
}

/* custom::PackedAttention -> a Loop over the segments of cu_seqlens, each a com.microsoft
 * MultiHeadAttention on its slice of Q/K/V ([batch, seq, heads*head_dim]), concatenated along
 * the sequence, as Olive's onnxscript function writes it (inlined). */
static int loop_one(oir_graph *g, oir_node *pa)
{
    char *q = olive_strdup(pa->inputs[0]), *k = olive_strdup(pa->inputs[1]), *v = olive_strdup(pa->inputs[2]);
    char *cu = olive_strdup(pa->inputs[3]), *y = olive_strdup(pa->outputs[0]);
    char *base = olive_strdup(pa->name && pa->name[0] ? pa->name : pa->outputs[0]), *body_base = NULL;
    float scale = oir_node_attr_float(pa, "scale", 0.0f);
    int64_t heads = oir_node_attr_int(pa, "num_heads", 0), perm[4] = {0, 2, 1, 3}, to3d[3] = {0, 0, -1}, one = 1;
    bld b = {g, base, 0, OLIVE_OK, 0, 0, NULL, NULL}, bb;
    oir_graph *body = oir_graph_new("loop_body");
    oir_type *ti = oir_type_new_tensor(OIR_INT64, 0, NULL, NULL), *tc = oir_type_new_tensor(OIR_BOOL, 0, NULL, NULL);
    const char *shape3, *qt, *oshape, *q3, *v3, *k3, *size, *np, *seq, *seq32, *init, *loop_out, *i1, *ip1, *st, *en;
    const char *qi, *ki, *vi_, *mha, *acc;
    if (!q || !k || !v || !cu || !y || !base || !body || !ti || !tc || !(body_base = olive_asprintf("%s/loop", base))) {
        b.rc = OLIVE_ENOMEM;
        goto done;
    }
    oir_graph_remove_node(g, (size_t)sg_node_index(g, pa));
    shape3 = op(&b, "Constant", 0);
    attr_ints(&b, "value_ints", to3d, 3);
    qt = op(&b, "Transpose", 1, q);
    attr_ints(&b, "perm", perm, 4);
    oshape = op(&b, "Shape", 1, qt);
    q3 = op(&b, "Reshape", 2, qt, shape3);
    v3 = op(&b, "Transpose", 1, v);
    attr_ints(&b, "perm", perm, 4);
    v3 = op(&b, "Reshape", 2, v3, shape3);
    k3 = op(&b, "Transpose", 1, k);
    attr_ints(&b, "perm", perm, 4);
    k3 = op(&b, "Reshape", 2, k3, shape3);
    size = op(&b, "Size", 1, cu);
    np = op(&b, "Sub", 2, size, op(&b, "CastLike", 2, c0(&b, 1), size));
    seq = op(&b, "Constant", 0);
    attr_ints(&b, "value_ints", &one, 1);
    seq32 = op(&b, "Cast", 1, seq);
    attr_int(&b, "to", OIR_INT32);
    init = op(&b, "Slice", 4, v3, op(&b, "CastLike", 2, c1(&b, 0), seq), op(&b, "CastLike", 2, c1(&b, 0), seq), seq);
    /* The body reads the outer values by name. */
    bb = (bld){body, body_base, 0, OLIVE_OK, 0, 0, NULL, NULL};
    if (b.rc == OLIVE_OK && (oir_graph_add_input(body, "i", ti) != OLIVE_OK ||
                             oir_graph_add_input(body, "cond_in", tc) != OLIVE_OK ||
                             oir_graph_add_input(body, "attn_output_in", NULL) != OLIVE_OK))
        b.rc = OLIVE_ENOMEM;
    i1 = op(&bb, "Reshape", 2, "i", c1(&bb, 1));
    ip1 = op(&bb, "Add", 2, i1, op(&bb, "CastLike", 2, c0(&bb, 1), i1));
    st = op(&bb, "Gather", 2, cu, i1);
    attr_int(&bb, "axis", 0);
    en = op(&bb, "Gather", 2, cu, ip1);
    attr_int(&bb, "axis", 0);
    qi = op(&bb, "Slice", 4, q3, st, en, seq32);
    ki = op(&bb, "Slice", 4, k3, st, en, seq32);
    vi_ = op(&bb, "Slice", 4, v3, st, en, seq32);
    mha = op(&bb, "MultiHeadAttention", 3, qi, ki, vi_);
    if (bb.rc == OLIVE_OK) {
        char *d = olive_strdup("com.microsoft");
        if (!d)
            bb.rc = OLIVE_ENOMEM;
        else
            free(bb.last->domain), bb.last->domain = d;
    }
    if (bb.rc == OLIVE_OK && (bb.rc = oir_node_set_attr_int(bb.last, "num_heads", heads)) == OLIVE_OK)
        bb.rc = oir_node_set_attr_float(bb.last, "scale", scale);
    acc = op(&bb, "Concat", 2, "attn_output_in", mha);
    attr_int(&bb, "axis", 1);
    {
        const char *cond = op(&bb, "Identity", 1, "cond_in");
        if (bb.rc == OLIVE_OK && (oir_graph_add_output(body, cond, NULL) != OLIVE_OK ||
                                  oir_graph_add_output(body, acc, NULL) != OLIVE_OK))
            bb.rc = OLIVE_ENOMEM;
    }
    if (b.rc == OLIVE_OK)
        b.rc = bb.rc;
    loop_out = op(&b, "Loop", 3, np, "", init);
    if (b.rc == OLIVE_OK) {
        if ((b.rc = oir_node_set_attr_graph(b.last, "body", body)) == OLIVE_OK)
            body = NULL;
    }
    op(&b, "Reshape", 2, loop_out, oshape);
    if (b.rc == OLIVE_OK)
        b.rc = oir_node_set_output(b.last, 0, y);
    bld_free(&bb);
done:
    bld_free(&b);
    oir_graph_free(body);
    oir_type_free(ti);
    oir_type_free(tc);
    free(q), free(k), free(v), free(cu), free(y), free(base), free(body_base);
    return b.rc;
}

static int packed_attention_to_loop_mha(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    int found = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        if (strcmp(n->op_type, "PackedAttention") || strcmp(n->domain, "custom"))
            continue;
        if (n->n_inputs != 4 || n->n_outputs != 1)
            return sg_fail(a, NULL, "custom PackedAttention node '%s' needs 4 inputs and 1 output", n->name);
        OLIVE_TRY(loop_one(g, n));
        found = 1;
        i--;
    }
    if (found)
        OLIVE_TRY(oir_model_require_opset(m, "com.microsoft", 1));
    return OLIVE_OK;
}

static int packed_attention_to_packed_mha(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    int found = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        if (strcmp(n->op_type, "PackedAttention") || strcmp(n->domain, "custom"))
            continue;
        if (n->n_inputs != 4 || n->n_outputs != 1)
            return sg_fail(a, NULL, "custom PackedAttention node '%s' needs 4 inputs and 1 output", n->name);
        OLIVE_TRY(packed_one(g, n));
        found = 1;
        i--;
    }
    if (found)
        OLIVE_TRY(oir_model_require_opset(m, "com.microsoft", 1));
    return OLIVE_OK;
}

static const sg_param p_none[] = {{NULL, 0, 0}};
static const sg_param p_large[] = {{"use_large_cache", SG_BOOL, 0}, {NULL, 0, 0}};
static const sg_param p_mask[] = {{"threshold", SG_FLOAT, 0}, {"replacement", SG_FLOAT, 0}, {NULL, 0, 0}};

const sg_surgeon sg_family_attention[] = {
    SG_SURGEON("DecomposeRotaryEmbedding", "Lowers com.microsoft RotaryEmbedding to standard ONNX ops", p_none,
               decompose_rotary_embedding),
    SG_SURGEON("RemoveRopeMultiCache", "Replaces the If choosing between small and large rope caches with one cache",
               p_large, remove_rope_multi_cache),
    SG_SURGEON("AttentionMaskToSequenceLengths",
               "Replaces attention_mask and its subgraph with past_seq_len / total_seq_len inputs for "
               "GroupQueryAttention", p_none, attention_mask_to_sequence_lengths),
    SG_SURGEON("PackedAttentionToLoopMHA",
               "Replaces custom PackedAttention with a Loop of com.microsoft MultiHeadAttention over the segments",
               p_none, packed_attention_to_loop_mha),
    SG_SURGEON("PackedAttentionToPackedMHA",
               "Replaces custom PackedAttention with com.microsoft PackedMultiHeadAttention and its token offsets",
               p_none, packed_attention_to_packed_mha),
    SG_SURGEON("ReplaceAttentionMaskValue", "Replaces mask values below threshold with replacement", p_mask,
               replace_attention_mask_value),
    SG_END,
};
