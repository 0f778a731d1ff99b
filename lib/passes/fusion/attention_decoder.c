/* MultiHeadAttention with past and present key/values for LLaMA-style decoders, after the
 * rotary fusion (as onnxruntime's optimizer fuses them for model_type gpt2). From the residual
 * (an Add, SkipLayerNormalization or SkipSimplifiedLayerNormalization) back:
 *
 *   root -> MatMul -> Reshape -> Transpose(0,2,1,3) -> RotaryEmbedding ................. Q
 *   root -> MatMul -> Reshape -> Transpose(0,2,1,3) -> RotaryEmbedding
 *        -> Concat(past_key, ., axis 2) = present_key -> Transpose(0,1,3,2) ............ K^T
 *   root -> MatMul -> Reshape -> Transpose(0,2,1,3)
 *        -> Concat(past_value, ., axis 2) = present_value .............................. V
 *   Q x K^T -> Div(c) | Mul(c) -> Add(mask) -> Softmax(last) -> x V
 *     -> Transpose(0,2,1,3) -> Reshape -> MatMul -> residual
 *
 * The fused node takes the projections (B, S, N * H) with the rotary embeddings moved onto
 * them, the additive (B | 1, N | 1, S, T) mask as its attention bias (it holds the causal and
 * padding parts the graph built), the past key/values, and gives the present ones. Without
 * past (a first step), K^T and V are read from the rotated and split heads directly, and they
 * become the present outputs when something else reads them. Keys and values with fewer
 * heads than the queries (repeated in the graph) are not matched. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/fusion/fusion_internal.h"

static int has_perm(const oir_node *t, int64_t a, int64_t b, int64_t c3, int64_t d)
{
    const oir_attr *p = oir_node_attr(t, "perm");
    return p && p->type == OIR_ATTR_INTS && p->n == 4 && p->ints[0] == a && p->ints[1] == b && p->ints[2] == c3 &&
           p->ints[3] == d;
}

/* The nodes a fusion replaces, with the dead nodes that read their values. */
#define MAX_REMOVED 64
typedef struct {
    oir_node *v[MAX_REMOVED];
    size_t n;
} node_set;

static int in_set(const node_set *s, const oir_node *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == x)
            return 1;
    return 0;
}

/* Adds `x` and everything reading it to `s` when no live node or graph output reads its
 * results: the shape arithmetic earlier fusions left behind (the clean-up at the end of the
 * pass would remove it, but it must not keep reading values this fusion removes). */
static int collect_dead(const fuse_ctx *c, oir_node *x, node_set *s, int depth)
{
    size_t before = s->n;
    if (in_set(s, x) || x->mark)
        return 1;
    if (depth > 12 || s->n == MAX_REMOVED)
        return 0;
    s->v[s->n++] = x;
    for (size_t o = 0; o < x->n_outputs; o++) {
        const char *v = x->outputs[o];
        size_t uses;
        if (!v[0])
            continue;
        if (oir_index_is_graph_output(&c->ix, v)) {
            s->n = before;
            return 0;
        }
        uses = oir_index_use_count(&c->ix, v);
        for (size_t u = 0; u < uses; u++)
            if (!collect_dead(c, oir_index_consumer(&c->ix, v, u), s, depth + 1)) {
                s->n = before;
                return 0;
            }
    }
    return 1;
}

/* Like oir_match_only_used_inside, with readers that are dead joining the set. */
static int only_used_inside_or_dead(const fuse_ctx *c, node_set *s, const char *const *keep, size_t n_keep)
{
    size_t n = s->n;
    for (size_t i = 0; i < n; i++) {
        const oir_node *x = s->v[i];
        if (x->mark)
            return 0;
        for (size_t o = 0; o < x->n_outputs; o++) {
            const char *v = x->outputs[o];
            size_t uses, k;
            for (k = 0; k < n_keep && strcmp(keep[k], v); k++)
                ;
            if (!v[0] || k < n_keep)
                continue;
            if (oir_index_is_graph_output(&c->ix, v))
                return 0;
            uses = oir_index_use_count(&c->ix, v);
            for (size_t u = 0; u < uses; u++) {
                oir_node *r = oir_index_consumer(&c->ix, v, u);
                if (!in_set(s, r) && !collect_dead(c, r, s, 0))
                    return 0;
            }
        }
    }
    return 1;
}

/* One head split: Transpose(0,2,1,3) <- Reshape(to (B, S, N, H)) <- MatMul(root, W). */
typedef struct {
    oir_node *transpose, *reshape, *matmul;
    int64_t heads, head_size;
} split;

/* A target-shape entry that keeps dimension `axis` (0: batch, 1: sequence) of the attention's
 * input `root`: 0 (copy), or Unsqueeze(Gather(Shape(root), axis)). */
static int keeps_dim(const fuse_ctx *c, const char *v, int64_t axis, const char *root)
{
    const oir_node *p = oir_index_producer(&c->ix, v);
    double d;
    if (oir_match_scalar(&c->ix, v, &d))
        return d == 0;
    if (!p || !oir_match_is_op(p, "Unsqueeze") || !(p = oir_index_producer(&c->ix, p->inputs[0])) ||
        !oir_match_is_op(p, "Gather") || p->n_inputs != 2 || !oir_match_scalar(&c->ix, p->inputs[1], &d) || d != axis)
        return 0;
    p = oir_index_producer(&c->ix, p->inputs[0]);
    return p && oir_match_is_op(p, "Shape") && !oir_node_attr(p, "start") && !strcmp(p->inputs[0], root);
}

/* The entries of a Reshape's target shape: a constant [0, 0, a, ..] or a Concat of one-element
 * parts whose first two keep the batch and sequence dims. The rest (n_tail of them) go out. */
static int target_tail(const fuse_ctx *c, const oir_node *reshape, const char *root, size_t n_tail, int64_t *tail)
{
    const oir_tensor *t = oir_match_const(&c->ix, reshape->inputs[1]);
    const oir_node *cat;
    double d;
    if (t) {
        int64_t v[4];
        if (t->dtype != OIR_INT64 || t->rank != 1 || t->dims[0] != (int64_t)(2 + n_tail) ||
            t->nbytes != (2 + n_tail) * sizeof *v || n_tail > 2)
            return 0;
        memcpy(v, oir_tensor_data(t), t->nbytes);
        if (v[0] != 0 || v[1] != 0)
            return 0;
        memcpy(tail, v + 2, n_tail * sizeof *v);
        return 1;
    }
    cat = oir_index_producer(&c->ix, reshape->inputs[1]);
    if (!cat || !oir_match_is_op(cat, "Concat") || cat->n_inputs != 2 + n_tail ||
        !keeps_dim(c, cat->inputs[0], 0, root) || !keeps_dim(c, cat->inputs[1], 1, root))
        return 0;
    for (size_t i = 0; i < n_tail; i++) {
        if (!oir_match_scalar(&c->ix, cat->inputs[2 + i], &d))
            return 0;
        tail[i] = (int64_t)d;
    }
    return 1;
}

/* (B, S, N * H) -> (B, S, N, H): the heads and head size of a split's Reshape. */
static int target_heads(const fuse_ctx *c, const oir_node *reshape, const char *root, int64_t *n, int64_t *h)
{
    int64_t tail[2];
    if (!target_tail(c, reshape, root, 2, tail) || tail[0] <= 0 || tail[1] <= 0)
        return 0;
    *n = tail[0];
    *h = tail[1];
    return 1;
}

static int match_split(const fuse_ctx *c, oir_node *t, split *s)
{
    memset(s, 0, sizeof *s);
    s->transpose = t;
    return t && oir_match_is_op(t, "Transpose") && has_perm(t, 0, 2, 1, 3) &&
           (s->reshape = oir_match_parent(&c->ix, t, 0, "Reshape")) != NULL && s->reshape->n_inputs == 2 &&
           (s->matmul = oir_match_parent(&c->ix, s->reshape, 0, "MatMul")) != NULL && s->matmul->n_inputs == 2 &&
           oir_index_initializer(&c->ix, s->matmul->inputs[1]) != NULL &&
           target_heads(c, s->reshape, s->matmul->inputs[0], &s->heads, &s->head_size);
}

/* A com.microsoft RotaryEmbedding (4 inputs) of a head split. */
static oir_node *rotary_of(const fuse_ctx *c, const char *v, split *s)
{
    oir_node *r = oir_index_producer(&c->ix, v);
    if (!r || r->mark || strcmp(r->op_type, "RotaryEmbedding") || strcmp(r->domain, FUSE_MS_DOMAIN) ||
        r->n_inputs != 4 || r->n_outputs != 1 || oir_node_attr_int(r, "interleaved", 0) != 0 ||
        oir_node_attr(r, "rotary_embedding_dim"))
        return NULL;
    return match_split(c, oir_match_parent(&c->ix, r, 0, NULL), s) ? r : NULL;
}

/* Concat(past, new, axis 2) where past is a rank-4 graph input: the present key or value. */
static oir_node *present_of(const fuse_ctx *c, const char *v)
{
    oir_node *cat = oir_index_producer(&c->ix, v);
    if (!cat || cat->mark || !oir_match_is_op(cat, "Concat") || cat->n_inputs != 2 || cat->n_outputs != 1)
        return NULL;
    if (oir_node_attr_int(cat, "axis", 0) != 2 && oir_node_attr_int(cat, "axis", 0) != -2)
        return NULL;
    if (oir_graph_input_index(c->g, cat->inputs[0]) < 0 || fuse_rank(c, cat->inputs[0]) != 4)
        return NULL;
    return cat;
}

/* Emits a RotaryEmbedding like `r` on the (B, S, N * H) projection instead of the heads. */
static int rotary_on_projection(fuse_ctx *c, oir_node *r, const split *s, const char **out)
{
    char *name = olive_asprintf("%s_rotary", s->matmul->outputs[0]), *unique = NULL;
    const char *ins[4];
    oir_node *n;
    int rc;
    if (!name || !(unique = oir_graph_unique_name(c->g, name))) {
        free(name);
        return OLIVE_ENOMEM;
    }
    free(name);
    ins[0] = s->matmul->outputs[0];
    ins[1] = r->inputs[1];
    ins[2] = r->inputs[2];
    ins[3] = r->inputs[3];
    rc = fuse_emit(c, &r, 1, "RotaryEmbedding", FUSE_MS_DOMAIN, "RotaryEmbedding", 4, ins, 1,
                   (const char *const *)&unique, &n);
    free(unique);
    OLIVE_TRY(rc);
    c->fused--; /* moved, not a new fusion */
    *out = n->outputs[0];
    return oir_node_set_attr_int(n, "interleaved", 0);
}

static int try_fuse(fuse_ctx *c, oir_node *res)
{
    oir_node *o_mm = NULL, *merge = NULL, *ctx_t = NULL, *mm_qkv = NULL, *softmax, *add_mask, *scale, *mm_qk, *kt;
    oir_node *cat_k, *cat_v, *rot_q, *rot_k, *mha;
    node_set set;
    split q, k, v;
    const char *mask = NULL, *ins[8], *outs[3], *root, *rq, *rk;
    size_t n_out;
    double sv, got, want;
    int at;

    /* The output projection feeding the residual: MatMul <- Reshape <- Transpose <- MatMul. */
    for (size_t i = 0; i < 2 && i < res->n_inputs && !mm_qkv; i++) {
        if (!(o_mm = oir_match_parent(&c->ix, res, i, "MatMul")) || o_mm->n_inputs != 2 ||
            !(merge = oir_match_parent(&c->ix, o_mm, 0, "Reshape")) ||
            !(ctx_t = oir_match_parent(&c->ix, merge, 0, "Transpose")) || !has_perm(ctx_t, 0, 2, 1, 3))
            continue;
        mm_qkv = oir_match_parent(&c->ix, ctx_t, 0, "MatMul");
    }
    if (!mm_qkv || mm_qkv->n_inputs != 2)
        return OLIVE_OK;
    /* V: the present value, or (first step, no past) the head split itself. */
    cat_v = present_of(c, mm_qkv->inputs[1]);
    if (!match_split(c, cat_v ? oir_match_parent(&c->ix, cat_v, 1, NULL) : oir_match_parent(&c->ix, mm_qkv, 1, NULL),
                     &v))
        return OLIVE_OK;
    /* Softmax over the last axis (before opset 13 the axis defaults to 1). */
    softmax = oir_match_parent(&c->ix, mm_qkv, 0, "Softmax");
    if (!softmax || (!oir_node_attr(softmax, "axis") && oir_model_opset(c->m, "") < 13) ||
        (oir_node_attr_int(softmax, "axis", -1) != -1 && oir_node_attr_int(softmax, "axis", -1) != 3) ||
        !(add_mask = oir_match_parent(&c->ix, softmax, 0, "Add")) || add_mask->n_inputs != 2)
        return OLIVE_OK;
    scale = oir_match_parent_any(&c->ix, add_mask, -1, "Div", NULL, &at);
    if (!scale)
        scale = oir_match_parent_any(&c->ix, add_mask, -1, "Mul", NULL, &at);
    if (!scale || scale->n_inputs != 2 || !oir_match_scalar(&c->ix, scale->inputs[1], &sv) ||
        !(mm_qk = oir_match_parent(&c->ix, scale, 0, "MatMul")) || mm_qk->n_inputs != 2)
        return OLIVE_OK;
    mask = add_mask->inputs[1 - at];
    if (fuse_rank(c, mask) != 4)
        return OLIVE_OK;
    if (!(kt = oir_match_parent(&c->ix, mm_qk, 1, "Transpose")) || !has_perm(kt, 0, 1, 3, 2))
        return OLIVE_OK;
    cat_k = present_of(c, kt->inputs[0]);
    if (!cat_k != !cat_v || !(rot_q = rotary_of(c, mm_qk->inputs[0], &q)) ||
        !(rot_k = rotary_of(c, cat_k ? cat_k->inputs[1] : kt->inputs[0], &k)))
        return OLIVE_OK;
    {
        /* The merge back to (B, S, N * H). */
        int64_t d;
        if (!target_tail(c, merge, q.matmul->inputs[0], 1, &d) || (d != q.heads * q.head_size && d != -1))
            return OLIVE_OK;
    }
    root = q.matmul->inputs[0];
    if (strcmp(k.matmul->inputs[0], root) || strcmp(v.matmul->inputs[0], root) || q.heads != k.heads ||
        q.heads != v.heads || q.head_size != k.head_size || q.head_size != v.head_size)
        return OLIVE_OK;
    {
        /* The projections must give N * H columns. */
        const oir_tensor *w[3] = {oir_index_initializer(&c->ix, q.matmul->inputs[1]),
                                  oir_index_initializer(&c->ix, k.matmul->inputs[1]),
                                  oir_index_initializer(&c->ix, v.matmul->inputs[1])};
        for (int i = 0; i < 3; i++)
            if (!w[i] || w[i]->rank != 2 || w[i]->dims[1] != q.heads * q.head_size)
                return OLIVE_OK;
    }
    got = oir_match_is_op(scale, "Mul") ? sv : (sv != 0 ? 1.0 / sv : 0);
    want = 1.0 / sqrt((double)q.head_size);
    if (!(got > 0))
        return OLIVE_OK;
    {
        oir_node *const first[] = {merge,       ctx_t,     mm_qkv,      softmax,   add_mask,    scale,
                                   mm_qk,       kt,        rot_q,       rot_k,     q.transpose, q.reshape,
                                   k.transpose, k.reshape, v.transpose, v.reshape, cat_k,       cat_v};
        set.n = sizeof first / sizeof *first - (cat_k ? 0 : 2);
        memcpy(set.v, first, set.n * sizeof *first);
    }
    /* The present key/values: the Concats' results, or without past the rotated K and the
     * split V (given only when read outside). */
    outs[0] = merge->outputs[0];
    outs[1] = cat_k ? cat_k->outputs[0] : rot_k->outputs[0];
    outs[2] = cat_k ? cat_v->outputs[0] : v.transpose->outputs[0];
    n_out = cat_k || oir_index_use_count(&c->ix, outs[1]) > 1 || oir_index_use_count(&c->ix, outs[2]) > 1 ||
                    oir_index_is_graph_output(&c->ix, outs[1]) || oir_index_is_graph_output(&c->ix, outs[2])
                ? 3
                : 1;
    if (!only_used_inside_or_dead(c, &set, outs, n_out))
        return OLIVE_OK;
    /* The rotary nodes are marked by the moves; the rest by the fused node. */
    OLIVE_TRY(rotary_on_projection(c, rot_q, &q, &rq));
    OLIVE_TRY(rotary_on_projection(c, rot_k, &k, &rk));
    ins[0] = rq;
    ins[1] = rk;
    ins[2] = v.matmul->outputs[0];
    ins[3] = "";
    ins[4] = "";
    ins[5] = mask;
    ins[6] = cat_k ? cat_k->inputs[0] : "";
    ins[7] = cat_k ? cat_v->inputs[0] : "";
    OLIVE_TRY(fuse_emit(c, set.v, set.n, "MultiHeadAttention", FUSE_MS_DOMAIN, "MultiHeadAttention", cat_k ? 8 : 6, ins,
                        n_out, outs, &mha));
    OLIVE_TRY(oir_node_set_attr_int(mha, "num_heads", q.heads));
    if (fabs(got - want) > 1e-6 * want)
        OLIVE_TRY(oir_node_set_attr_float(mha, "scale", (float)got));
    return OLIVE_OK;
}

int fuse_decoder_attention(fuse_ctx *c)
{
    size_t n = c->g->n_nodes;
    for (size_t i = 0; i < n; i++) {
        oir_node *x = c->g->nodes[i];
        if (x->mark)
            continue;
        if (oir_match_is_op(x, "Add") ||
            (!strcmp(x->domain, FUSE_MS_DOMAIN) && (!strcmp(x->op_type, "SkipLayerNormalization") ||
                                                    !strcmp(x->op_type, "SkipSimplifiedLayerNormalization"))))
            OLIVE_TRY(try_fuse(c, x));
    }
    return OLIVE_OK;
}
