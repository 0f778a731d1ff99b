/* Surgeons for Olive's custom::PackedAttention (vision encoders with packed sequences): as a
 * Loop of com.microsoft MultiHeadAttention, or as one PackedMultiHeadAttention. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/surgeries/sg_build.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

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
    sg_bld b = {.g = g, .base = base, .rc = OLIVE_OK};
    const char *n_p, *starts, *ends, *len, *maxl, *rows, *cols, *rows2, *cols2, *pos, *pshape, *mask, *mask1, *pad;
    const char *off, *q3, *s3, *q2, *k2, *v2, *att, *a3;
    if (!q || !k || !v || !cu || !y || !base) {
        free(q), free(k), free(v), free(cu), free(y), free(base);
        return OLIVE_ENOMEM;
    }
    oir_graph_remove_node(g, (size_t)sg_node_index(g, pa));
    n_p = sg_op(&b, "Cast", 1, sg_op(&b, "Size", 1, cu));
    sg_attr_int(&b, "to", OIR_INT32);
    n_p = sg_op(&b, "Sub", 2, n_p, sg_op(&b, "CastLike", 2, sg_c0(&b, 1), n_p));
    starts = sg_op(&b, "Slice", 4, cu, sg_c1(&b, 0), sg_c1(&b, -1), sg_c1(&b, 0));
    ends = sg_op(&b, "Slice", 4, cu, sg_c1(&b, 1), sg_c1(&b, INT64_MAX), sg_c1(&b, 0));
    len = sg_op(&b, "Sub", 2, ends, starts);
    maxl = sg_op(&b, "ReduceMax", 2, len, sg_c1(&b, 0));
    sg_attr_int(&b, "keepdims", 0);
    rows = sg_op(&b, "Range", 3, sg_op(&b, "CastLike", 2, sg_c0(&b, 0), n_p), n_p,
                 sg_op(&b, "CastLike", 2, sg_c0(&b, 1), n_p));
    rows2 = sg_op(&b, "Unsqueeze", 2, rows, sg_c1(&b, 1));
    cols = sg_op(&b, "Range", 3, sg_op(&b, "CastLike", 2, sg_c0(&b, 0), maxl), maxl,
                 sg_op(&b, "CastLike", 2, sg_c0(&b, 1), maxl));
    cols2 = sg_op(&b, "Unsqueeze", 2, cols, sg_c1(&b, 0));
    pos = sg_op(&b, "Add", 2, sg_op(&b, "Mul", 2, rows2, maxl), cols2);
    pshape = sg_op(&b, "Shape", 1, pos);
    mask = sg_op(&b, "Less", 2, cols2, sg_op(&b, "Unsqueeze", 2, len, sg_c1(&b, 1)));
    mask1 = sg_op(&b, "Reshape", 2, mask, sg_c1(&b, -1));
    pad = sg_op(&b, "Not", 1, mask1);
    off = sg_op(&b, "Concat", 2, sg_op(&b, "Compress", 2, pos, mask), sg_op(&b, "Compress", 2, pos, pad));
    sg_attr_int(&b, "axis", 0);
    off = sg_op(&b, "Reshape", 2, off, pshape);
    q3 = sg_op(&b, "Transpose", 1, sg_op(&b, "Squeeze", 2, q, sg_c1(&b, 0)));
    sg_attr_ints(&b, "perm", perm, 3);
    s3 = sg_op(&b, "Shape", 1, q3);
    q2 = sg_op(&b, "Reshape", 2, q3, sg_const_i64v(&b, flat, 2, 0));
    k2 = sg_op(&b, "Transpose", 1, sg_op(&b, "Squeeze", 2, k, sg_c1(&b, 0)));
    sg_attr_ints(&b, "perm", perm, 3);
    k2 = sg_op(&b, "Reshape", 2, k2, sg_const_i64v(&b, flat, 2, 0));
    v2 = sg_op(&b, "Transpose", 1, sg_op(&b, "Squeeze", 2, v, sg_c1(&b, 0)));
    sg_attr_ints(&b, "perm", perm, 3);
    v2 = sg_op(&b, "Reshape", 2, v2, sg_const_i64v(&b, flat, 2, 0));
    b.next_domain = "com.microsoft";
    att = sg_op(&b, "PackedMultiHeadAttention", 6, q2, k2, v2, "", off, cu);
    if (b.rc == OLIVE_OK && (b.rc = oir_node_set_attr_float(b.last, "scale", scale)) == OLIVE_OK)
        b.rc = oir_node_set_attr_int(b.last, "num_heads", heads);
    a3 = sg_op(&b, "Reshape", 2, att, s3);
    sg_op(&b, "Unsqueeze", 2, a3, sg_c1(&b, 0));
    if (b.rc == OLIVE_OK)
        b.rc = oir_node_set_output(b.last, 0, y);
    sg_bld_free(&b);
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
    sg_bld b = {.g = g, .base = base, .rc = OLIVE_OK}, bb;
    oir_graph *body = oir_graph_new("loop_body");
    oir_type *ti = oir_type_new_tensor(OIR_INT64, 0, NULL, NULL), *tc = oir_type_new_tensor(OIR_BOOL, 0, NULL, NULL);
    const char *shape3, *qt, *oshape, *q3, *v3, *k3, *size, *np, *seq, *seq32, *init, *loop_out, *i1, *ip1, *st, *en;
    const char *qi, *ki, *vi_, *mha, *acc;
    if (!q || !k || !v || !cu || !y || !base || !body || !ti || !tc || !(body_base = olive_asprintf("%s/loop", base))) {
        b.rc = OLIVE_ENOMEM;
        goto done;
    }
    oir_graph_remove_node(g, (size_t)sg_node_index(g, pa));
    shape3 = sg_op(&b, "Constant", 0);
    sg_attr_ints(&b, "value_ints", to3d, 3);
    qt = sg_op(&b, "Transpose", 1, q);
    sg_attr_ints(&b, "perm", perm, 4);
    oshape = sg_op(&b, "Shape", 1, qt);
    q3 = sg_op(&b, "Reshape", 2, qt, shape3);
    v3 = sg_op(&b, "Transpose", 1, v);
    sg_attr_ints(&b, "perm", perm, 4);
    v3 = sg_op(&b, "Reshape", 2, v3, shape3);
    k3 = sg_op(&b, "Transpose", 1, k);
    sg_attr_ints(&b, "perm", perm, 4);
    k3 = sg_op(&b, "Reshape", 2, k3, shape3);
    size = sg_op(&b, "Size", 1, cu);
    np = sg_op(&b, "Sub", 2, size, sg_op(&b, "CastLike", 2, sg_c0(&b, 1), size));
    seq = sg_op(&b, "Constant", 0);
    sg_attr_ints(&b, "value_ints", &one, 1);
    seq32 = sg_op(&b, "Cast", 1, seq);
    sg_attr_int(&b, "to", OIR_INT32);
    init = sg_op(&b, "Slice", 4, v3, sg_op(&b, "CastLike", 2, sg_c1(&b, 0), seq),
                 sg_op(&b, "CastLike", 2, sg_c1(&b, 0), seq), seq);
    /* The body reads the outer values by name. */
    bb = (sg_bld){.g = body, .base = body_base, .rc = OLIVE_OK};
    if (b.rc == OLIVE_OK &&
        (oir_graph_add_input(body, "i", ti) != OLIVE_OK || oir_graph_add_input(body, "cond_in", tc) != OLIVE_OK ||
         oir_graph_add_input(body, "attn_output_in", NULL) != OLIVE_OK))
        b.rc = OLIVE_ENOMEM;
    i1 = sg_op(&bb, "Reshape", 2, "i", sg_c1(&bb, 1));
    ip1 = sg_op(&bb, "Add", 2, i1, sg_op(&bb, "CastLike", 2, sg_c0(&bb, 1), i1));
    st = sg_op(&bb, "Gather", 2, cu, i1);
    sg_attr_int(&bb, "axis", 0);
    en = sg_op(&bb, "Gather", 2, cu, ip1);
    sg_attr_int(&bb, "axis", 0);
    qi = sg_op(&bb, "Slice", 4, q3, st, en, seq32);
    ki = sg_op(&bb, "Slice", 4, k3, st, en, seq32);
    vi_ = sg_op(&bb, "Slice", 4, v3, st, en, seq32);
    bb.next_domain = "com.microsoft";
    mha = sg_op(&bb, "MultiHeadAttention", 3, qi, ki, vi_);
    if (bb.rc == OLIVE_OK && (bb.rc = oir_node_set_attr_int(bb.last, "num_heads", heads)) == OLIVE_OK)
        bb.rc = oir_node_set_attr_float(bb.last, "scale", scale);
    acc = sg_op(&bb, "Concat", 2, "attn_output_in", mha);
    sg_attr_int(&bb, "axis", 1);
    {
        const char *cond = sg_op(&bb, "Identity", 1, "cond_in");
        if (bb.rc == OLIVE_OK &&
            (oir_graph_add_output(body, cond, NULL) != OLIVE_OK || oir_graph_add_output(body, acc, NULL) != OLIVE_OK))
            bb.rc = OLIVE_ENOMEM;
    }
    if (b.rc == OLIVE_OK)
        b.rc = bb.rc;
    loop_out = sg_op(&b, "Loop", 3, np, "", init);
    if (b.rc == OLIVE_OK) {
        if ((b.rc = oir_node_set_attr_graph(b.last, "body", body)) == OLIVE_OK)
            body = NULL;
    }
    sg_op(&b, "Reshape", 2, loop_out, oshape);
    if (b.rc == OLIVE_OK)
        b.rc = oir_node_set_output(b.last, 0, y);
    sg_bld_free(&bb);
done:
    sg_bld_free(&b);
    oir_graph_free(body);
    oir_type_free(ti);
    oir_type_free(tc);
    free(q), free(k), free(v), free(cu), free(y), free(base), free(body_base);
    return b.rc;
}

/* Rewrites every custom PackedAttention node of the main graph with `one`, which replaces the
 * node (so the same index holds the next one). */
static int replace_packed_attention(oir_model *m, const sg_args *a, int (*one)(oir_graph *g, oir_node *n))
{
    oir_graph *g = m->graph;
    int found = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        oir_node *n = g->nodes[i];
        if (strcmp(n->op_type, "PackedAttention") || strcmp(n->domain, "custom"))
            continue;
        if (n->n_inputs != 4 || n->n_outputs != 1)
            return sg_fail(a, NULL, "custom PackedAttention node '%s' needs 4 inputs and 1 output", n->name);
        OLIVE_TRY(one(g, n));
        found = 1;
        i--;
    }
    if (found)
        OLIVE_TRY(oir_model_require_opset(m, "com.microsoft", 1));
    return OLIVE_OK;
}

static int packed_attention_to_loop_mha(oir_model *m, const sg_args *a)
{
    return replace_packed_attention(m, a, loop_one);
}

static int packed_attention_to_packed_mha(oir_model *m, const sg_args *a)
{
    return replace_packed_attention(m, a, packed_one);
}

static const sg_param p_none[] = {{NULL, 0, 0}};

const sg_surgeon sg_family_packed[] = {
    SG_SURGEON("PackedAttentionToLoopMHA",
               "Replaces custom PackedAttention with a Loop of com.microsoft MultiHeadAttention over the segments",
               p_none, packed_attention_to_loop_mha),
    SG_SURGEON("PackedAttentionToPackedMHA",
               "Replaces custom PackedAttention with com.microsoft PackedMultiHeadAttention and its token offsets",
               p_none, packed_attention_to_packed_mha),
    SG_END,
};
