/* use_gqa: the decoder MultiHeadAttention nodes (past and present key/values, rotary
 * embeddings on the projections) become GroupQueryAttention, as Olive does after onnxruntime's
 * optimizer:
 *
 *   MultiHeadAttention(RotaryEmbedding(q), RotaryEmbedding(k), v, bias = mask, past_k, past_v)
 *   -> GroupQueryAttention(q, k, v, past_k, past_v, seqlens_k, total_sequence_length, cos, sin)
 *
 * with the rotary embeddings done inside (do_rotary) and the mask replaced by the op's causal
 * masking and the row lengths of the 2-D attention_mask input, computed once for all layers:
 *
 *   seqlens_k = int32(ReduceSum(attention_mask, axis 1) - 1)
 *   total_sequence_length = int32(Shape(attention_mask)[1])
 *
 * The op reads padding as the end of each row, the form ONNX Runtime GenAI feeds. Only masks
 * built from the attention_mask input are replaced. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

#define MASK_INPUT "attention_mask"

typedef struct {
    const char *seqlens_k, *total_len; /* made once; NULL until then */
} gqa_state;

static int is_ms_op(const oir_node *n, const char *op)
{
    return n && !strcmp(n->op_type, op) && !strcmp(n->domain, FUSE_MS_DOMAIN);
}

/* 1 when `v` is computed from the graph input `input`: a walk up the producers, each value
 * visited once, the recursion bounded. */
static int depends_on(const fuse_ctx *c, const char *v, const char *input, olive_strmap *seen, int *rc, int depth)
{
    const oir_node *p;
    if (!strcmp(v, input))
        return 1;
    if (depth > 2000 || olive_strmap_has(seen, v) || !(p = oir_index_producer(&c->ix, v)))
        return 0;
    if ((*rc = olive_strmap_put(seen, v, NULL)) != OLIVE_OK)
        return 0;
    for (size_t i = 0; i < p->n_inputs && *rc == OLIVE_OK; i++)
        if (p->inputs[i][0] && depends_on(c, p->inputs[i], input, seen, rc, depth + 1))
            return 1;
    return 0;
}

static int mask_from_input(const fuse_ctx *c, const char *v, int *found)
{
    olive_strmap seen = {0};
    int rc = OLIVE_OK;
    *found = depends_on(c, v, MASK_INPUT, &seen, &rc, 0);
    olive_strmap_free(&seen);
    return rc;
}

/* A helper node named after `base` with one fresh output. */
static int helper_node(fuse_ctx *c, const char *op, const char *base, size_t n_in, const char *const *ins,
                       oir_node **out)
{
    char *name = oir_graph_unique_name(c->g, base);
    int rc;
    if (!name)
        return OLIVE_ENOMEM;
    rc = fuse_emit(c, NULL, 0, op, "", base, n_in, ins, 1, (const char *const *)&name, out);
    free(name);
    if (rc == OLIVE_OK)
        c->fused--; /* helper nodes are not fusions */
    return rc;
}

/* seqlens_k and total_sequence_length from the 2-D attention mask. */
static int mask_lengths(fuse_ctx *c, gqa_state *st)
{
    static const int64_t one_v[1] = {1}, one_dims[1] = {1};
    static const int64_t axis_v = 1;
    const char *one, *axis, *ins[2];
    oir_node *sum, *sub, *cast_s, *shape, *gather, *cast_t;
    if (st->seqlens_k)
        return OLIVE_OK;
    OLIVE_TRY(fuse_add_initializer(c, "gqa_one", OIR_INT64, 1, one_dims, one_v, sizeof one_v, &one));
    OLIVE_TRY(fuse_add_initializer(c, "gqa_axis", OIR_INT64, 0, NULL, &axis_v, sizeof axis_v, &axis));
    ins[0] = MASK_INPUT;
    ins[1] = one;
    OLIVE_TRY(
        helper_node(c, "ReduceSum", "attention_mask_row_sums", oir_model_opset(c->m, "") >= 13 ? 2 : 1, ins, &sum));
    OLIVE_TRY(oir_node_set_attr_int(sum, "keepdims", 0));
    if (oir_model_opset(c->m, "") < 13)
        OLIVE_TRY(oir_node_set_attr_ints(sum, "axes", one_v, 1));
    ins[0] = sum->outputs[0];
    OLIVE_TRY(helper_node(c, "Sub", "seqlens_k_int64", 2, ins, &sub));
    ins[0] = sub->outputs[0];
    OLIVE_TRY(helper_node(c, "Cast", "seqlens_k", 1, ins, &cast_s));
    OLIVE_TRY(oir_node_set_attr_int(cast_s, "to", OIR_INT32));
    ins[0] = MASK_INPUT;
    OLIVE_TRY(helper_node(c, "Shape", "attention_mask_shape", 1, ins, &shape));
    ins[0] = shape->outputs[0];
    ins[1] = axis;
    OLIVE_TRY(helper_node(c, "Gather", "total_seq_len_int64", 2, ins, &gather));
    OLIVE_TRY(oir_node_set_attr_int(gather, "axis", 0));
    ins[0] = gather->outputs[0];
    OLIVE_TRY(helper_node(c, "Cast", "total_seq_len", 1, ins, &cast_t));
    OLIVE_TRY(oir_node_set_attr_int(cast_t, "to", OIR_INT32));
    st->seqlens_k = cast_s->outputs[0];
    st->total_len = cast_t->outputs[0];
    return OLIVE_OK;
}

/* Head size from the value projection's weight (MatMul(root, W), W of N * H columns); 0 when
 * it cannot be told. */
static int64_t head_size_of(const fuse_ctx *c, const oir_node *mha, int64_t heads)
{
    const oir_node *mm = oir_index_producer(&c->ix, mha->inputs[2]);
    const oir_tensor *w = mm && oir_match_is_op(mm, "MatMul") && mm->n_inputs == 2
                              ? oir_index_initializer(&c->ix, mm->inputs[1])
                              : NULL;
    if (!w || w->rank != 2 || w->dims[1] % heads)
        return 0;
    return w->dims[1] / heads;
}

/* The RotaryEmbedding feeding input `i` of the attention node, when only it reads that
 * rotary's output; NULL otherwise. */
static oir_node *rotary_input(const fuse_ctx *c, const oir_node *mha, size_t i)
{
    oir_node *r = oir_index_producer(&c->ix, mha->inputs[i]);
    if (!is_ms_op(r, "RotaryEmbedding") || r->mark || r->n_inputs != 4 || oir_node_attr(r, "rotary_embedding_dim") ||
        oir_index_use_count(&c->ix, r->outputs[0]) != 1 || oir_index_is_graph_output(&c->ix, r->outputs[0]))
        return NULL;
    return r;
}

static int try_convert(fuse_ctx *c, gqa_state *st, oir_node *mha)
{
    oir_node *rq, *rk, *remove[3], *gqa;
    const char *ins[9];
    const oir_attr *scale;
    int64_t heads = oir_node_attr_int(mha, "num_heads", 0), head;
    size_t n_remove = 0;
    int from_mask;
    if (mha->n_inputs != 8 || mha->n_outputs != 3 || mha->inputs[3][0] || mha->inputs[4][0] || !mha->inputs[6][0] ||
        !mha->inputs[7][0] || heads <= 0 || oir_node_attr(mha, "unidirectional"))
        return OLIVE_OK;
    /* The bias must be the mask built from the attention_mask input. */
    if (!mha->inputs[5][0])
        return OLIVE_OK;
    OLIVE_TRY(mask_from_input(c, mha->inputs[5], &from_mask));
    if (!from_mask)
        return OLIVE_OK;
    rq = rotary_input(c, mha, 0);
    rk = rotary_input(c, mha, 1);
    if (!rq != !rk)
        return OLIVE_OK;
    /* onnxruntime's CPU kernel takes head sizes that are multiples of 8, of 16 with rotary. */
    head = head_size_of(c, mha, heads);
    if (!head || head % (rq ? 16 : 8))
        return OLIVE_OK;
    if (rq && (strcmp(rq->inputs[2], rk->inputs[2]) || strcmp(rq->inputs[3], rk->inputs[3]) ||
               strcmp(rq->inputs[1], rk->inputs[1]) ||
               oir_node_attr_int(rq, "interleaved", 0) != oir_node_attr_int(rk, "interleaved", 0)))
        return OLIVE_OK;
    OLIVE_TRY(mask_lengths(c, st));
    remove[n_remove++] = mha;
    ins[0] = rq ? rq->inputs[0] : mha->inputs[0];
    ins[1] = rk ? rk->inputs[0] : mha->inputs[1];
    ins[2] = mha->inputs[2];
    ins[3] = mha->inputs[6];
    ins[4] = mha->inputs[7];
    ins[5] = st->seqlens_k;
    ins[6] = st->total_len;
    ins[7] = rq ? rq->inputs[2] : "";
    ins[8] = rq ? rq->inputs[3] : "";
    if (rq) {
        remove[n_remove++] = rq;
        remove[n_remove++] = rk;
    }
    OLIVE_TRY(fuse_emit(c, remove, n_remove, "GroupQueryAttention", FUSE_MS_DOMAIN, "GroupQueryAttention", rq ? 9 : 7,
                        ins, 3, (const char *const *)mha->outputs, &gqa));
    OLIVE_TRY(oir_node_set_attr_int(gqa, "num_heads", heads));
    OLIVE_TRY(oir_node_set_attr_int(gqa, "kv_num_heads", heads));
    OLIVE_TRY(oir_node_set_attr_int(gqa, "do_rotary", rq != NULL));
    OLIVE_TRY(oir_node_set_attr_int(gqa, "rotary_interleaved", rq ? oir_node_attr_int(rq, "interleaved", 0) : 0));
    if ((scale = oir_node_attr(mha, "scale")) != NULL)
        OLIVE_TRY(oir_node_set_attr_float(gqa, "scale", scale->f));
    return OLIVE_OK;
}

int fuse_group_query_attention(fuse_ctx *c)
{
    gqa_state st = {NULL, NULL};
    size_t n = c->g->n_nodes;
    long in = oir_graph_input_index(c->g, MASK_INPUT);
    const oir_type *t = in >= 0 ? c->g->inputs[in].type : NULL;
    if (!t || t->kind != OIR_TYPE_TENSOR || (t->has_shape && t->rank != 2) || t->elem_type != OIR_INT64)
        return OLIVE_OK;
    for (size_t i = 0; i < n; i++) {
        oir_node *x = c->g->nodes[i];
        if (!x->mark && is_ms_op(x, "MultiHeadAttention"))
            OLIVE_TRY(try_convert(c, &st, x));
    }
    return OLIVE_OK;
}
