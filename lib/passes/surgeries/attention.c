/* Surgeons around attention: RotaryEmbedding decomposed into standard ops, the rope multi cache
 * (If over two caches) made one, the attention mask replaced by sequence-length inputs, and
 * large negative mask values replaced. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/surgeries/sg_build.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

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
    sg_bld b = {.g = g, .base = base, .rc = OLIVE_OK};
    const char *m1, *z1, *o1, *t1, *flat, *cg, *sg_, *sc, *shape, *batch, *nh = NULL, *seq, *cov, *dims, *cr, *sr;
    const char *last, *half, *in_r, *in_i, *out_r, *out_i, *fin;
    if (!x || !pos || !cosc || !sinc || !y || !base) {
        free(x), free(pos), free(cosc), free(sinc), free(y), free(base);
        return OLIVE_ENOMEM;
    }
    oir_graph_remove_node(g, (size_t)sg_node_index(g, re));
    m1 = sg_const_i64(&b, -1);
    z1 = sg_const_i64(&b, 0);
    o1 = sg_const_i64(&b, 1);
    t1 = sg_const_i64(&b, 2);
    flat = sg_op(&b, "Reshape", 2, pos, m1);
    cg = sg_op(&b, "Gather", 2, cosc, flat);
    sg_attr_int(&b, "axis", 0);
    sg_ = sg_op(&b, "Gather", 2, sinc, flat);
    sg_attr_int(&b, "axis", 0);
    sc = x;
    if (scale != 1.0f)
        sc = sg_op(&b, "Mul", 2, x, sg_const_f32(&b, scale));
    shape = sg_op(&b, "Shape", 1, sc);
    batch = sg_op(&b, "Gather", 2, shape, z1);
    sg_attr_int(&b, "axis", 0);
    if (heads > 0) {
        nh = sg_op(&b, "Gather", 2, shape, o1);
        sg_attr_int(&b, "axis", 0);
        seq = sg_op(&b, "Gather", 2, shape, sg_const_i64(&b, 2));
    } else {
        seq = sg_op(&b, "Gather", 2, shape, o1);
    }
    sg_attr_int(&b, "axis", 0);
    if (rdim > 0) {
        cov = sg_const_i64(&b, interleaved ? rdim : rdim / 2);
    } else {
        const char *l = sg_op(&b, "Gather", 2, shape, m1);
        sg_attr_int(&b, "axis", 0);
        cov = sg_op(&b, "Div", 2, l, t1);
    }
    dims = heads > 0 ? sg_op(&b, "Concat", 4, batch, nh, seq, cov) : sg_op(&b, "Concat", 3, batch, seq, cov);
    sg_attr_int(&b, "axis", 0);
    cr = sg_op(&b, "Reshape", 2, cg, dims);
    sr = sg_op(&b, "Reshape", 2, sg_, dims);
    last = sg_op(&b, "Gather", 2, sg_op(&b, "Shape", 1, sc), m1);
    sg_attr_int(&b, "axis", 0);
    half = sg_op(&b, "Div", 2, last, t1);
    if (interleaved) {
        const char *zs = sg_op(&b, "Squeeze", 2, z1, z1), *ts = sg_op(&b, "Squeeze", 2, t1, z1);
        const char *ls = sg_op(&b, "Squeeze", 2, last, z1), *ir = sg_op(&b, "Range", 3, zs, ls, ts);
        const char *os = sg_op(&b, "Squeeze", 2, o1, z1), *ii = sg_op(&b, "Range", 3, os, ls, ts);
        in_r = sg_op(&b, "Gather", 2, sc, ir);
        sg_attr_int(&b, "axis", -1);
        in_i = sg_op(&b, "Gather", 2, sc, ii);
        sg_attr_int(&b, "axis", -1);
    } else {
        in_r = sg_op(&b, "Slice", 4, sc, z1, half, m1);
        in_i = sg_op(&b, "Slice", 4, sc, half, last, m1);
    }
    out_r = sg_op(&b, "Sub", 2, sg_op(&b, "Mul", 2, in_r, cr), sg_op(&b, "Mul", 2, in_i, sr));
    out_i = sg_op(&b, "Add", 2, sg_op(&b, "Mul", 2, in_r, sr), sg_op(&b, "Mul", 2, in_i, cr));
    if (interleaved) {
        const char *ur = sg_op(&b, "Unsqueeze", 2, out_r, m1), *ui = sg_op(&b, "Unsqueeze", 2, out_i, m1);
        const char *cat = sg_op(&b, "Concat", 2, ur, ui);
        sg_attr_int(&b, "axis", -1);
        fin = sg_op(&b, "Reshape", 2, cat, sg_op(&b, "Shape", 1, x));
    } else {
        fin = sg_op(&b, "Concat", 2, out_r, out_i);
        sg_attr_int(&b, "axis", -1);
    }
    (void)fin;
    /* The last node writes the RotaryEmbedding's output. */
    if (b.rc == OLIVE_OK)
        b.rc = oir_node_set_output(b.last, 0, y);
    sg_bld_free(&b);
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
                reads = !strcmp(n->inputs[j], "attention_mask") || ((p = sg_producer(g, n->inputs[j])) && p->mark);
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
                return sg_fail(a, NULL,
                               "GroupQueryAttention node '%s' reads '%s', computed from attention_mask, "
                               "at input %zu (only 5 and 6 can be replaced)",
                               n->name, n->inputs[j], j);
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
        if (!mask_consumers(g, g->initializers[i]->name) || !(t = replaced(g->initializers[i], threshold, repl, &rc)))
            continue;
        oir_tensor_free(g->initializers[i]);
        g->initializers[i] = t;
    }
    OLIVE_TRY(rc);
    return sg_dag_update(g);
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
               "GroupQueryAttention",
               p_none, attention_mask_to_sequence_lengths),
    SG_SURGEON("ReplaceAttentionMaskValue", "Replaces mask values below threshold with replacement", p_mask,
               replace_attention_mask_value),
    SG_END,
};
