/* EmbedLayerNormalization for BERT and DistilBERT encoders: the word, position (and segment)
 * embedding lookups, their sum and the LayerNormalization after it:
 *
 *   Gather(word, input_ids) + Gather(segment, token_type_ids) + Gather(position, pos) -> LayerNorm
 *
 * With a segment lookup (BERT), pos must be the positions 0..S-1 (the exporters' slice of the
 * position buffer up to input_ids' second dimension, or Range(0, S, 1) expanded), which the fused
 * op computes itself; without one (DistilBERT) pos is passed to it as its position_ids input, as
 * onnxruntime does. The normalized value must feed the attention of the first layer. When that Attention takes a mask index, the index moves to the fused op (its
 * second output), as onnxruntime does for BERT. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

/* 1 if `v` is a constant holding the single integer `want`. */
static int is_int(const fuse_ctx *c, const char *v, double want)
{
    return oir_match_scalar_near(&c->ix, v, want, 0);
}

/* x is input_ids or the word embeddings looked up from them: their second dim is S. */
static int is_ids_like(const char *x, const char *ids, const char *words)
{
    return !strcmp(x, ids) || !strcmp(x, words);
}

/* The scalar S: Gather(Shape(x), 1), optionally + 0 and Cast. */
static int is_seq_len(const fuse_ctx *c, const char *v, const char *ids, const char *words)
{
    const oir_node *p = oir_index_producer(&c->ix, v);
    while (p && (oir_match_is_op(p, "Cast") ||
                 (oir_match_is_op(p, "Add") && p->n_inputs == 2 && is_int(c, p->inputs[1], 0))))
        p = oir_index_producer(&c->ix, p->inputs[0]);
    if (!p || !oir_match_is_op(p, "Gather") || p->n_inputs != 2 || !is_int(c, p->inputs[1], 1))
        return 0;
    p = oir_index_producer(&c->ix, p->inputs[0]);
    return p && oir_match_is_op(p, "Shape") && is_ids_like(p->inputs[0], ids, words) && !oir_node_attr(p, "start") &&
           !oir_node_attr(p, "end");
}

/* The vector [S]: Unsqueeze(S, 0). */
static int is_seq_len_vector(const fuse_ctx *c, const char *v, const char *ids, const char *words)
{
    const oir_node *p = oir_index_producer(&c->ix, v);
    int64_t axes[2];
    size_t na;
    return p && oir_match_is_op(p, "Unsqueeze") && oir_match_axes(&c->ix, p, axes, 2, &na) && na == 1 && axes[0] == 0 &&
           is_seq_len(c, p->inputs[0], ids, words);
}

/* The position ids of the position Gather are 0..S-1 for S = input_ids' second dim. */
static int is_position_range(const fuse_ctx *c, const oir_node *pos_gather, const char *ids, const char *words)
{
    const oir_node *p = oir_index_producer(&c->ix, pos_gather->inputs[1]);
    const oir_tensor *buf;
    if (!p)
        return 0;
    if (oir_match_is_op(p, "Slice") && p->n_inputs >= 4) {
        /* position_ids[:, :S] of a constant [1, N] buffer holding 0..N-1 */
        buf = oir_match_const(&c->ix, p->inputs[0]);
        if (!buf || buf->rank != 2 || buf->dims[0] != 1 || buf->dtype != OIR_INT64 || !is_int(c, p->inputs[1], 0) ||
            !is_int(c, p->inputs[3], 1) || (p->n_inputs > 4 && p->inputs[4][0] && !is_int(c, p->inputs[4], 1)))
            return 0;
        for (int64_t i = 0; i < buf->dims[1]; i++) {
            int64_t x;
            if (buf->nbytes < (uint64_t)(i + 1) * 8)
                return 0;
            memcpy(&x, oir_tensor_data(buf) + i * 8, 8);
            if (x != i)
                return 0;
        }
        return is_seq_len_vector(c, p->inputs[2], ids, words);
    }
    if (oir_match_is_op(p, "Expand") || oir_match_is_op(p, "Unsqueeze")) {
        /* Range(0, S, 1), unsqueezed and expanded to the batch */
        const oir_node *r = p;
        while (r && (oir_match_is_op(r, "Expand") || oir_match_is_op(r, "Unsqueeze")))
            r = oir_index_producer(&c->ix, r->inputs[0]);
        return r && oir_match_is_op(r, "Range") && r->n_inputs == 3 && is_int(c, r->inputs[0], 0) &&
               is_int(c, r->inputs[2], 1) && is_seq_len(c, r->inputs[1], ids, words);
    }
    return 0;
}

static const oir_tensor *table(const fuse_ctx *c, const oir_node *gather)
{
    const oir_tensor *t = oir_index_initializer(&c->ix, gather->inputs[0]);
    return t && t->rank == 2 && oir_node_attr_int(gather, "axis", 0) == 0 ? t : NULL;
}

/* The Attention reading the normalized value (NULL if none) in *att; returns 1 when there is
 * one or an unfused attention-like reader: exactly the three Q, K, V MatMuls and the residual
 * (Add or SkipLayerNormalization), the readers onnxruntime accepts. */
static int feeds_attention(const fuse_ctx *c, const char *v, oir_node **att)
{
    size_t uses = oir_index_use_count(&c->ix, v), matmuls = 0, residual = 0, other = 0;
    *att = NULL;
    for (size_t i = 0; i < uses; i++) {
        oir_node *x = oir_index_consumer(&c->ix, v, i);
        if (!x)
            other++;
        else if (!strcmp(x->domain, FUSE_MS_DOMAIN) &&
                 (!strcmp(x->op_type, "Attention") || !strcmp(x->op_type, "MultiHeadAttention")))
            *att = x;
        else if (oir_match_is_op(x, "MatMul"))
            matmuls++;
        else if (oir_match_is_op(x, "Add") || !strcmp(x->op_type, "SkipLayerNormalization"))
            residual++;
        else
            other++;
    }
    return *att || (matmuls == 3 && residual == 1 && !other);
}

/* Adds a lookup to the replaced nodes unless something else reads it (the word lookup also
 * feeds Shape nodes of the position and mask computations): then it stays. */
static void add_if_private(const fuse_ctx *c, oir_node **nodes, size_t *nn, oir_node *g, const oir_node *add)
{
    size_t uses = oir_index_use_count(&c->ix, g->outputs[0]);
    if (oir_index_is_graph_output(&c->ix, g->outputs[0]))
        return;
    for (size_t i = 0; i < uses; i++)
        if (oir_index_consumer(&c->ix, g->outputs[0], i) != add)
            return;
    nodes[(*nn)++] = g;
}

/* An int32 version of an integer graph input or value (a Cast unless it is int32 already). */
static int as_int32(fuse_ctx *c, const char *v, const char **out)
{
    oir_node *cast;
    char *name;
    int rc;
    long gi = oir_graph_input_index(c->g, v);
    if (gi >= 0 && c->g->inputs[gi].type && c->g->inputs[gi].type->elem_type == OIR_INT32) {
        *out = v;
        return OLIVE_OK;
    }
    {
        char *base = olive_asprintf("%s_int32", v);
        name = base ? oir_graph_unique_name(c->g, base) : NULL;
        free(base);
    }
    if (!name)
        return OLIVE_ENOMEM;
    rc = fuse_emit(c, NULL, 0, "Cast", "", "CastToInt32", 1, &v, 1, (const char *const *)&name, &cast);
    free(name);
    OLIVE_TRY(rc);
    c->fused--;
    *out = cast->outputs[0];
    return oir_node_set_attr_int(cast, "to", OIR_INT32);
}

static int try_fuse(fuse_ctx *c, oir_node *ln)
{
    oir_node *add, *add2 = NULL, *gw, *gs = NULL, *gp, *att, *nodes[8], *emb;
    const oir_tensor *tw, *ts = NULL, *tp;
    const char *ids, *ins[9], *outs[2];
    char *mask_name;
    size_t nn = 0, n_in = 7;
    int rc;
    if (ln->n_inputs < 3 || !(add = oir_match_parent(&c->ix, ln, 0, "Add")) || add->n_inputs != 2 ||
        oir_node_attr_int(ln, "axis", -1) != -1)
        return OLIVE_OK;
    gp = oir_match_parent(&c->ix, add, 1, "Gather");
    if ((add2 = oir_match_parent(&c->ix, add, 0, "Add")) != NULL) {
        /* BERT: (word + segment) + position */
        if (add2->n_inputs != 2 || !(gw = oir_match_parent(&c->ix, add2, 0, "Gather")) ||
            !(gs = oir_match_parent(&c->ix, add2, 1, "Gather")))
            return OLIVE_OK;
    } else if (!(gw = oir_match_parent(&c->ix, add, 0, "Gather"))) {
        return OLIVE_OK;
    }
    if (!gp)
        return OLIVE_OK;
    ids = gw->inputs[1];
    if (gs && !is_position_range(c, gp, ids, gw->outputs[0])) {
        /* the segment and position lookups may come in the other order */
        oir_node *t = gs;
        if (!gs || !is_position_range(c, gs, ids, gw->outputs[0]))
            return OLIVE_OK;
        gs = gp;
        gp = t;
    }
    tw = table(c, gw);
    tp = table(c, gp);
    if (gs)
        ts = table(c, gs);
    if (!tw || !tp || (gs && !ts) || tw->dims[1] != tp->dims[1] || (ts && ts->dims[1] != tw->dims[1]) ||
        fuse_rank(c, ids) != 2 || (gs && fuse_rank(c, gs->inputs[1]) != 2) || (!gs && fuse_rank(c, gp->inputs[1]) != 2))
        return OLIVE_OK;
    if (!feeds_attention(c, ln->outputs[0], &att))
        return OLIVE_OK;
    nodes[nn++] = ln;
    nodes[nn++] = add;
    if (add2)
        nodes[nn++] = add2;
    add_if_private(c, nodes, &nn, gw, add2 ? add2 : add);
    add_if_private(c, nodes, &nn, gp, add);
    if (gs)
        add_if_private(c, nodes, &nn, gs, add2 ? add2 : add);
    if (!oir_match_only_used_inside(&c->ix, nodes, nn, (const char *const *)&ln->outputs[0], 1))
        return OLIVE_OK;
    OLIVE_TRY(as_int32(c, ids, &ins[0]));
    ins[1] = "";
    if (gs)
        OLIVE_TRY(as_int32(c, gs->inputs[1], &ins[1]));
    ins[2] = gw->inputs[0];
    ins[3] = gp->inputs[0];
    ins[4] = gs ? gs->inputs[0] : "";
    ins[5] = ln->inputs[1];
    ins[6] = ln->inputs[2];
    ins[7] = "";
    if (!gs) {
        OLIVE_TRY(as_int32(c, gp->inputs[1], &ins[8]));
        n_in = 9;
    }
    /* Attention(..., mask_index) with mask_index = ReduceSum(int32 mask): the mask goes in here. */
    if (att) {
        size_t mi = !strcmp(att->op_type, "Attention") ? 3 : 4;
        oir_node *sum = att->n_inputs > mi && att->inputs[mi][0] ? oir_index_producer(&c->ix, att->inputs[mi]) : NULL;
        if (!c->opt.use_raw_attention_mask && sum && oir_match_is_op(sum, "ReduceSum") &&
            oir_node_attr_int(sum, "keepdims", 1) == 0) {
            ins[7] = sum->inputs[0];
            if (n_in < 8)
                n_in = 8;
        }
    }
    mask_name = oir_graph_unique_name(c->g, "embed_mask_index");
    if (!mask_name)
        return OLIVE_ENOMEM;
    outs[0] = ln->outputs[0];
    outs[1] = mask_name;
    rc = fuse_emit(c, nodes, nn, "EmbedLayerNormalization", FUSE_MS_DOMAIN, "EmbedLayerNormalization", n_in, ins, 2,
                   outs, &emb);
    free(mask_name);
    OLIVE_TRY(rc);
    OLIVE_TRY(oir_node_set_attr_float(emb, "epsilon", oir_node_attr_float(ln, "epsilon", 1e-5f)));
    if (ins[7][0]) {
        /* Every attention reading the old mask index reads the fused op's instead. */
        OLIVE_TRY(fuse_replace_uses_later(c, att->inputs[!strcmp(att->op_type, "Attention") ? 3 : 4], emb->outputs[1]));
    }
    return OLIVE_OK;
}

int fuse_embed_layer_norm(fuse_ctx *c)
{
    return fuse_each_op(c, "LayerNormalization", try_fuse);
}
