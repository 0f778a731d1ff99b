/* Attention (or MultiHeadAttention) for BERT-style encoders. From the residual
 * SkipLayerNormalization (or the Add before a LayerNormalization) back:
 *
 *   root -> MatMul -> Add(bias) -> Reshape -> Transpose(0,2,1,3) ........................ Q
 *   root -> MatMul -> Add(bias) -> Reshape -> Transpose(0,2,3,1) ........................ K^T
 *   root -> MatMul -> Add(bias) -> Reshape -> Transpose(0,2,1,3) ........................ V
 *   Q x K^T -> Mul(1/sqrt(h)) | Div(sqrt(h)) -> [Add(mask)] -> Softmax(last) -> x V
 *     -> Transpose(0,2,1,3) -> Reshape -> MatMul -> Add(bias) -> residual
 *
 * The additive mask must be the padding mask exporters build from a 2-D attention_mask: either
 * (1 - mask) * (negative), or transformers' Where(padding & always-true, 0, negative); it
 * becomes a mask index (the count of ones per row, onnxruntime's format for BERT: right
 * padding) or, for other model types, the raw mask. The Q, K, V weights and biases are packed
 * into one initializer each. */
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

/* One projection: Transpose <- Reshape <- Add(bias) <- MatMul, starting at the Transpose. */
typedef struct {
    oir_node *transpose, *transpose2, *reshape, *add, *matmul;
    const char *weight, *bias;
} projection;

static int match_projection(const fuse_ctx *c, oir_node *t, projection *p)
{
    int at;
    memset(p, 0, sizeof *p);
    p->transpose = t;
    if (!t || !oir_match_is_op(t, "Transpose") || !(p->reshape = oir_match_parent(&c->ix, t, 0, "Reshape")) ||
        !(p->add = oir_match_parent(&c->ix, p->reshape, 0, "Add")) || p->add->n_inputs != 2 ||
        !(p->matmul = oir_match_parent_any(&c->ix, p->add, -1, "MatMul", NULL, &at)) || p->matmul->n_inputs != 2)
        return 0;
    p->weight = p->matmul->inputs[1];
    p->bias = p->add->inputs[1 - at];
    return oir_index_initializer(&c->ix, p->weight) && oir_index_initializer(&c->ix, p->bias);
}

/* Index values that are never negative: Unsqueezes of Range(start >= 0, _, delta > 0). */
static int is_nonnegative_index(const fuse_ctx *c, const char *v, int depth)
{
    const oir_node *p = oir_index_producer(&c->ix, v);
    double s, d;
    if (!p || depth > 6)
        return 0;
    if (oir_match_is_op(p, "Unsqueeze") || oir_match_is_op(p, "Reshape"))
        return is_nonnegative_index(c, p->inputs[0], depth + 1);
    return oir_match_is_op(p, "Range") && p->n_inputs == 3 && oir_match_scalar(&c->ix, p->inputs[0], &s) && s >= 0 &&
           oir_match_scalar(&c->ix, p->inputs[2], &d) && d > 0;
}

/* 1 when a boolean value is true everywhere: true constants, x >= 0 on non-negative indices,
 * and And / Expand / Cast-to-bool of such values (the bidirectional part of transformers'
 * encoder masks). */
static int always_true(const fuse_ctx *c, const char *v, int depth)
{
    const oir_tensor *t = oir_match_const(&c->ix, v);
    const oir_node *p;
    double z;
    if (t) {
        const uint8_t *d = oir_tensor_data(t);
        if (t->dtype != OIR_BOOL || !d)
            return 0;
        for (uint64_t i = 0; i < t->nbytes; i++)
            if (!d[i])
                return 0;
        return 1;
    }
    p = oir_index_producer(&c->ix, v);
    if (!p || depth > 8)
        return 0;
    if (oir_match_is_op(p, "ConstantOfShape")) {
        const oir_attr *a = oir_node_attr(p, "value");
        const uint8_t *d = a && a->t ? oir_tensor_data(a->t) : NULL;
        return a && a->t && a->t->dtype == OIR_BOOL && d && a->t->nbytes == 1 && d[0];
    }
    if (oir_match_is_op(p, "Cast") && oir_node_attr_int(p, "to", 0) == OIR_BOOL)
        return always_true(c, p->inputs[0], depth + 1);
    if (oir_match_is_op(p, "Expand"))
        return always_true(c, p->inputs[0], depth + 1);
    if (oir_match_is_op(p, "And"))
        return p->n_inputs == 2 && always_true(c, p->inputs[0], depth + 1) && always_true(c, p->inputs[1], depth + 1);
    if (oir_match_is_op(p, "GreaterOrEqual"))
        return p->n_inputs == 2 && oir_match_scalar(&c->ix, p->inputs[1], &z) && z == 0 &&
               is_nonnegative_index(c, p->inputs[0], depth + 1);
    return 0;
}

/* The 2-D padding mask behind an additive attention mask, or NULL. */
static const char *mask_source(const fuse_ctx *c, const char *additive)
{
    const oir_node *p = oir_index_producer(&c->ix, additive), *q;
    double v;
    if (!p)
        return NULL;
    if (oir_match_is_op(p, "Where") && p->n_inputs == 3) {
        /* Where(padding & always-true, 0, negative) */
        if (!oir_match_scalar(&c->ix, p->inputs[1], &v) || v != 0 || !oir_match_scalar(&c->ix, p->inputs[2], &v) ||
            !(v <= -1e4))
            return NULL;
        q = oir_index_producer(&c->ix, p->inputs[0]);
        if (q && oir_match_is_op(q, "Expand"))
            q = oir_index_producer(&c->ix, q->inputs[0]);
        if (!q || !oir_match_is_op(q, "And") || q->n_inputs != 2 || !always_true(c, q->inputs[0], 0))
            return NULL;
        q = oir_index_producer(&c->ix, q->inputs[1]);
        while (q && ((oir_match_is_op(q, "Cast") && oir_node_attr_int(q, "to", 0) == OIR_BOOL) ||
                     oir_match_is_op(q, "Reshape")))
            q = oir_index_producer(&c->ix, q->inputs[0]);
        if (!q || !oir_match_is_op(q, "Gather") || oir_node_attr_int(q, "axis", 0) != 0)
            return NULL;
        q = oir_index_producer(&c->ix, q->inputs[0]);
        return q && oir_match_is_op(q, "Flatten") ? q->inputs[0] : NULL;
    }
    if (oir_match_is_op(p, "Mul") && p->n_inputs == 2) {
        /* (1 - mask[:, None, None, :]) * negative */
        int k = -1;
        for (int i = 0; i < 2 && k < 0; i++)
            if (oir_match_scalar(&c->ix, p->inputs[i], &v) && v <= -1e4)
                k = i;
        if (k < 0 || !(q = oir_match_parent(&c->ix, p, (size_t)(1 - k), "Sub")) || q->n_inputs != 2 ||
            !oir_match_scalar_near(&c->ix, q->inputs[0], 1.0, 0))
            return NULL;
        q = oir_index_producer(&c->ix, q->inputs[1]);
        if (q && oir_match_is_op(q, "Cast"))
            q = oir_index_producer(&c->ix, q->inputs[0]);
        if (!q || !oir_match_is_op(q, "Unsqueeze") || !(q = oir_index_producer(&c->ix, q->inputs[0])) ||
            !oir_match_is_op(q, "Unsqueeze"))
            return NULL;
        return q->inputs[0];
    }
    return NULL;
}

/* Where the int32 mask is cast from: as onnxruntime does, a 2-D mask that is itself a Cast of
 * a graph input (the exporters cast attention_mask to bool) is read from the input directly;
 * the exporter's Cast then has no reader left and goes. Masks are 0/1, so both read the same,
 * and the extra step cost onnxruntime about 1.5% on BERT-base. */
static const char *mask_cast_source(const fuse_ctx *c, const char *mask2d)
{
    const oir_node *p = oir_index_producer(&c->ix, mask2d);
    if (p && oir_match_is_op(p, "Cast") && p->n_inputs == 1 && olive_strmap_has(&c->ix.inputs, p->inputs[0]))
        return p->inputs[0];
    return mask2d;
}

/* The mask input of the fused node for a 2-D mask: int32 Cast, then (mask index format) the
 * sum of each row. Made once per mask and shared by every layer. */
static int mask_input(fuse_ctx *c, const char *mask2d, const char **out)
{
    oir_node *cast, *sum;
    char *base;
    const char *cin[1], *sin[2];
    int rc;
    if ((*out = olive_strmap_get(&c->masks, mask2d)) != NULL)
        return OLIVE_OK;
    base = olive_asprintf("%s_int32", mask2d);
    if (!base)
        return OLIVE_ENOMEM;
    cin[0] = mask_cast_source(c, mask2d);
    {
        char *name = oir_graph_unique_name(c->g, base);
        free(base);
        if (!name)
            return OLIVE_ENOMEM;
        rc = fuse_emit(c, NULL, 0, "Cast", "", "MaskCast", 1, cin, 1, (const char *const *)&name, &cast);
        free(name);
        OLIVE_TRY(rc);
    }
    OLIVE_TRY(oir_node_set_attr_int(cast, "to", OIR_INT32));
    c->fused--; /* helper nodes are not fusions */
    if (c->opt.use_raw_attention_mask) {
        *out = cast->outputs[0];
        return olive_strmap_put(&c->masks, mask2d, (void *)*out);
    }
    sin[0] = cast->outputs[0];
    sin[1] = "";
    {
        char *name = oir_graph_unique_name(c->g, "mask_index");
        size_t n_in = 1;
        if (!name)
            return OLIVE_ENOMEM;
        if (oir_model_opset(c->m, "") >= 13) {
            static const int64_t one[1] = {1};
            static const int64_t dims[1] = {1};
            if ((rc = fuse_add_initializer(c, "mask_index_axes", OIR_INT64, 1, dims, one, sizeof one, &sin[1])) !=
                OLIVE_OK) {
                free(name);
                return rc;
            }
            n_in = 2;
        }
        rc = fuse_emit(c, NULL, 0, "ReduceSum", "", "MaskReduceSum", n_in, sin, 1, (const char *const *)&name, &sum);
        free(name);
        OLIVE_TRY(rc);
    }
    c->fused--;
    OLIVE_TRY(oir_node_set_attr_int(sum, "keepdims", 0));
    if (oir_model_opset(c->m, "") < 13) {
        static const int64_t one[1] = {1};
        OLIVE_TRY(oir_node_set_attr_ints(sum, "axes", one, 1));
    }
    *out = sum->outputs[0];
    return olive_strmap_put(&c->masks, mask2d, (void *)*out);
}

/* Heads from the Q Reshape's target shape: a constant [.., .., N, h] or a Concat whose last two
 * parts are constants; the user's num_heads when it says -1 or cannot be told (then the head
 * size, when known, still tells them apart from the hidden size). */
static int64_t detect_heads(const fuse_ctx *c, const oir_node *reshape_q, int64_t *head_size)
{
    const oir_tensor *t = oir_match_const(&c->ix, reshape_q->inputs[1]);
    const oir_node *cat;
    double n = -1, h = -1;
    *head_size = 0;
    if (t && t->dtype == OIR_INT64 && t->rank == 1 && t->dims[0] == 4 && t->nbytes == 32) {
        int64_t v[4];
        memcpy(v, oir_tensor_data(t), sizeof v);
        n = (double)v[2];
        h = (double)v[3];
    } else if ((cat = oir_index_producer(&c->ix, reshape_q->inputs[1])) != NULL && oir_match_is_op(cat, "Concat") &&
               cat->n_inputs == 4) {
        if (!oir_match_scalar(&c->ix, cat->inputs[2], &n) || !oir_match_scalar(&c->ix, cat->inputs[3], &h))
            n = h = -1;
    }
    if (h > 0)
        *head_size = (int64_t)h;
    if (n > 0)
        return (int64_t)n;
    return c->opt.num_heads;
}

/* Packs the Q, K, V weights ([in, out] each) into [in, 3 * out], or the biases into [3 * out]. */
static int pack_qkv(fuse_ctx *c, const char *const names[3], const char *base, const char **out)
{
    const oir_tensor *t[3];
    uint64_t rows, cols, esz;
    uint8_t *buf;
    int64_t dims[2];
    int rc;
    for (int i = 0; i < 3; i++) {
        t[i] = oir_index_initializer(&c->ix, names[i]);
        if (!t[i] || !oir_tensor_data(t[i]) || t[i]->dtype != t[0]->dtype || t[i]->rank != t[0]->rank ||
            (t[i]->rank != 1 && t[i]->rank != 2) || memcmp(t[i]->dims, t[0]->dims, t[0]->rank * sizeof *t[0]->dims))
            return 1;
    }
    if ((t[0]->dtype != OIR_FLOAT && t[0]->dtype != OIR_FLOAT16) || t[0]->dims[0] <= 0)
        return 1;
    esz = oir_dtype_bits(t[0]->dtype) / 8;
    rows = t[0]->rank == 2 ? (uint64_t)t[0]->dims[0] : 1;
    cols = (uint64_t)t[0]->dims[t[0]->rank - 1];
    for (int i = 0; i < 3; i++)
        if (t[i]->nbytes != rows * cols * esz)
            return 1;
    buf = olive_malloc(rows * cols * esz * 3);
    if (!buf)
        return OLIVE_ENOMEM;
    for (uint64_t r = 0; r < rows; r++)
        for (int i = 0; i < 3; i++)
            memcpy(buf + (r * 3 + (uint64_t)i) * cols * esz, oir_tensor_data(t[i]) + r * cols * esz, cols * esz);
    dims[0] = (int64_t)rows;
    dims[1] = (int64_t)(3 * cols);
    if (t[0]->rank == 1)
        dims[0] = (int64_t)(3 * cols);
    rc = fuse_add_initializer(c, base, t[0]->dtype, t[0]->rank, dims, buf, rows * cols * esz * 3, out);
    free(buf);
    return rc == OLIVE_OK ? 0 : rc;
}

/* What match_attention finds: the nodes the fused node replaces and what it needs. Matching
 * changes nothing in the graph; emit_attention then writes the fused node. */
typedef struct attention_match {
    const char *root;   /* the hidden states Q, K and V are projected from */
    const char *mask2d; /* the 2-D padding mask behind the additive mask, or NULL */
    /* The context: Softmax(scores) x V -> Transpose -> Reshape back to [B, S, hidden]. */
    oir_node *matmul_qkv, *transpose_qkv, *reshape_qkv;
    /* The scores: MatMul(Q, K^T) -> Mul | Div (scale) -> [Add(mask)] -> Softmax. */
    oir_node *matmul_qk, *scale, *add_qk, *softmax;
    oir_node *casts[2];    /* CLIP: Cast, Cast between Softmax and the context MatMul, or NULL */
    double scale_constant; /* the Mul's factor or the Div's divisor */
    projection q, k, v;
    int64_t heads;
    int custom_scale; /* the scale is not 1/sqrt(head_size): written as an attribute */
    float scale_value;
    oir_node *nodes[26]; /* every node the fused one replaces */
    size_t n_nodes;
} attention_match;

/* From the residual Add (before a LayerNormalization) or SkipLayerNormalization `ln` back to the
 * attention output's dense layer, Add(bias) <- MatMul <- Reshape <- Transpose <- MatMul(probs, V),
 * to the root that feeds exactly three MatMuls, and to the V projection. */
static int match_context(const fuse_ctx *c, oir_node *ln, attention_match *m)
{
    oir_node *start = ln, *add_out, *mm_out;
    size_t uses, n_matmul = 0;
    if (oir_match_is_op(ln, "LayerNormalization") && !(start = oir_match_parent(&c->ix, ln, 0, "Add")))
        return 0;
    if (start->n_inputs < 2)
        return 0;
    for (size_t i = 0; i < 2 && !m->root; i++) {
        add_out = oir_match_parent(&c->ix, start, i, "Add");
        if (!add_out || add_out->n_inputs != 2 ||
            !(mm_out = oir_match_parent_any(&c->ix, add_out, -1, "MatMul", NULL, NULL)) ||
            !(m->reshape_qkv = oir_match_parent(&c->ix, mm_out, 0, "Reshape")) ||
            !(m->transpose_qkv = oir_match_parent(&c->ix, m->reshape_qkv, 0, "Transpose")) ||
            !(m->matmul_qkv = oir_match_parent(&c->ix, m->transpose_qkv, 0, "MatMul")))
            continue;
        m->root = start->inputs[1 - i];
    }
    if (!m->root || !m->root[0] || !has_perm(m->transpose_qkv, 0, 2, 1, 3))
        return 0;
    /* Pre-norm layers (ViT, CLIP): the residual stream feeds a LayerNormalization whose output
     * is what Q, K and V are projected from (the last such reader, as onnxruntime takes it). */
    uses = oir_index_use_count(&c->ix, m->root);
    {
        const char *normed = NULL;
        for (size_t i = 0; i < uses; i++) {
            const oir_node *x = oir_index_consumer(&c->ix, m->root, i);
            if (x && oir_match_is_op(x, "LayerNormalization") && x->n_outputs > 0)
                normed = x->outputs[0];
        }
        if (normed)
            m->root = normed;
    }
    {
        const oir_node *rp = oir_index_producer(&c->ix, m->root);
        if (rp && !strcmp(rp->op_type, "SkipLayerNormalization") && rp->n_outputs == 4)
            m->root = rp->outputs[0];
    }
    uses = oir_index_use_count(&c->ix, m->root);
    for (size_t i = 0; i < uses; i++) {
        const oir_node *x = oir_index_consumer(&c->ix, m->root, i);
        n_matmul += x && oir_match_is_op(x, "MatMul");
    }
    return n_matmul == 3 && match_projection(c, oir_match_parent(&c->ix, m->matmul_qkv, 1, NULL), &m->v) &&
           has_perm(m->v.transpose, 0, 2, 1, 3);
}

/* The scores: Softmax <- [Add(mask)] <- Mul | Div (scale) <- MatMul(Q, K^T). */
static int match_scores(const fuse_ctx *c, attention_match *m)
{
    int clip = c->opt.model_type == FUSE_MODEL_CLIP;
    oir_node *softmax = oir_match_parent(&c->ix, m->matmul_qkv, 0, NULL), *scale;
    /* CLIP's exports cast the probabilities to float and back; onnxruntime's CLIP fusion takes
     * the two Casts in. */
    if (clip && softmax && oir_match_is_op(softmax, "Cast")) {
        m->casts[0] = softmax;
        if (!(m->casts[1] = oir_match_parent(&c->ix, softmax, 0, "Cast")))
            return 0;
        softmax = oir_match_parent(&c->ix, m->casts[1], 0, NULL);
    }
    if (softmax && !oir_match_is_op(softmax, "Softmax"))
        return 0;
    /* Before opset 13 an absent axis means 1 over flattened dims, not the last axis. */
    if (!softmax || (!oir_node_attr(softmax, "axis") && oir_model_opset(c->m, "") < 13) ||
        (oir_node_attr_int(softmax, "axis", -1) != -1 && oir_node_attr_int(softmax, "axis", -1) != 3))
        return 0;
    m->softmax = softmax;
    scale = oir_match_parent(&c->ix, softmax, 0, NULL);
    if (scale && oir_match_is_op(scale, "Add") && scale->n_inputs == 2) {
        int si = -1;
        m->add_qk = scale;
        for (int i = 0; i < 2 && si < 0; i++) {
            oir_node *s = oir_match_parent(&c->ix, m->add_qk, (size_t)i, NULL);
            if (s && (oir_match_is_op(s, "Mul") || oir_match_is_op(s, "Div")))
                si = i;
        }
        if (si < 0 || !(m->mask2d = mask_source(c, m->add_qk->inputs[1 - si])) ||
            (fuse_rank(c, m->mask2d) >= 0 && fuse_rank(c, m->mask2d) != 2))
            return 0;
        scale = oir_match_parent(&c->ix, m->add_qk, (size_t)si, NULL);
    }
    /* Without a mask onnxruntime fuses only the Div form (its CLIP fusion the Mul form too);
     * the counts stay comparable. */
    if (!m->add_qk && !clip && scale && !oir_match_is_op(scale, "Div"))
        return 0;
    if (!scale || scale->n_inputs != 2 || (!oir_match_is_op(scale, "Mul") && !oir_match_is_op(scale, "Div")) ||
        !oir_match_scalar(&c->ix, scale->inputs[1], &m->scale_constant) ||
        !(m->matmul_qk = oir_match_parent(&c->ix, scale, 0, "MatMul")))
        return 0;
    m->scale = scale;
    return 1;
}

/* The Q and K projections feeding the scores, from the same root as V. K arrives transposed
 * (0,2,3,1), or as (0,2,1,3) then (0,1,3,2). */
static int match_qk(const fuse_ctx *c, attention_match *m)
{
    oir_node *qt = oir_match_parent(&c->ix, m->matmul_qk, 0, NULL);
    oir_node *kt = oir_match_parent(&c->ix, m->matmul_qk, 1, "Transpose");
    /* A scale applied to Q before the product is not a form handled here. */
    if (!match_projection(c, qt, &m->q) || !has_perm(m->q.transpose, 0, 2, 1, 3) || !kt)
        return 0;
    if (has_perm(kt, 0, 2, 3, 1)) {
        if (!match_projection(c, kt, &m->k))
            return 0;
    } else if (has_perm(kt, 0, 1, 3, 2)) {
        oir_node *kt2 = oir_match_parent(&c->ix, kt, 0, "Transpose");
        if (!kt2 || !has_perm(kt2, 0, 2, 1, 3) || !match_projection(c, kt2, &m->k))
            return 0;
        m->k.transpose2 = kt;
    } else {
        return 0;
    }
    return !strcmp(m->q.matmul->inputs[0], m->root) && !strcmp(m->k.matmul->inputs[0], m->root) &&
           !strcmp(m->v.matmul->inputs[0], m->root);
}

/* The head count and the scale, which must fit the Q weight's hidden size. */
static int match_heads(const fuse_ctx *c, attention_match *m)
{
    const oir_tensor *qw = oir_index_initializer(&c->ix, m->q.weight);
    int64_t head_size, hidden, heads = detect_heads(c, m->q.reshape, &head_size);
    double want, got;
    if (!qw || qw->rank != 2)
        return 0;
    hidden = qw->dims[1];
    if (heads <= 0 && head_size > 0 && hidden % head_size == 0)
        heads = hidden / head_size;
    if (heads <= 0 || hidden % heads || (head_size > 0 && head_size * heads != hidden))
        return 0;
    head_size = hidden / heads;
    m->heads = heads;
    /* The default scale is 1/sqrt(head_size); another one becomes the node's attribute. */
    want = 1.0 / sqrt((double)head_size);
    got = oir_match_is_op(m->scale, "Mul") ? m->scale_constant : (m->scale_constant != 0 ? 1.0 / m->scale_constant : 0);
    if (!(got > 0))
        return 0;
    if (fabs(got - want) > 1e-6 * want) {
        m->custom_scale = 1;
        m->scale_value = (float)got;
    }
    return 1;
}

/* The nodes the fused one replaces, which nothing outside may read but the context's output.
 * MultiHeadAttention keeps the projection MatMuls (it takes Q, K and V). */
static int match_nodes(const fuse_ctx *c, attention_match *m)
{
    projection *ps[3] = {&m->q, &m->k, &m->v};
    size_t nn = 0;
    m->nodes[nn++] = m->reshape_qkv;
    m->nodes[nn++] = m->transpose_qkv;
    m->nodes[nn++] = m->matmul_qkv;
    m->nodes[nn++] = m->softmax;
    for (int i = 0; i < 2; i++)
        if (m->casts[i])
            m->nodes[nn++] = m->casts[i];
    if (m->add_qk)
        m->nodes[nn++] = m->add_qk;
    m->nodes[nn++] = m->scale;
    m->nodes[nn++] = m->matmul_qk;
    for (int i = 0; i < 3; i++) {
        m->nodes[nn++] = ps[i]->transpose;
        if (ps[i]->transpose2)
            m->nodes[nn++] = ps[i]->transpose2;
        m->nodes[nn++] = ps[i]->reshape;
        m->nodes[nn++] = ps[i]->add;
        if (!c->opt.use_multi_head_attention)
            m->nodes[nn++] = ps[i]->matmul;
    }
    m->n_nodes = nn;
    return oir_match_only_used_inside(&c->ix, m->nodes, nn, (const char *const *)&m->reshape_qkv->outputs[0], 1);
}

/* 1 when the attention subgraph ends at `ln`, filling *m; 0 when it does not (nothing changed). */
static int match_attention(const fuse_ctx *c, oir_node *ln, attention_match *m)
{
    memset(m, 0, sizeof *m);
    return match_context(c, ln, m) && match_scores(c, m) && match_qk(c, m) && match_heads(c, m) && match_nodes(c, m);
}

/* Writes the fused node for a match: packed Q, K, V biases (and weights, for Attention), the
 * mask input shared by every layer, then Attention or MultiHeadAttention. Weights that cannot
 * be packed leave the subgraph as it is. */
static int emit_attention(fuse_ctx *c, const attention_match *m)
{
    const char *mask = "", *w, *b, *names[3], *ins[5];
    const char *const *out = (const char *const *)&m->reshape_qkv->outputs[0];
    oir_node *att;
    int rc;
    names[0] = m->q.bias;
    names[1] = m->k.bias;
    names[2] = m->v.bias;
    if ((rc = pack_qkv(c, names, "qkv_bias", &b)) != 0)
        return rc < 0 ? rc : OLIVE_OK;
    if (m->mask2d)
        OLIVE_TRY(mask_input(c, m->mask2d, &mask));
    if (c->opt.use_multi_head_attention) {
        ins[0] = m->q.matmul->outputs[0];
        ins[1] = m->k.matmul->outputs[0];
        ins[2] = m->v.matmul->outputs[0];
        ins[3] = b;
        ins[4] = mask;
        OLIVE_TRY(fuse_emit(c, m->nodes, m->n_nodes, "MultiHeadAttention", FUSE_MS_DOMAIN, "MultiHeadAttention",
                            mask[0] ? 5 : 4, ins, 1, out, &att));
    } else {
        names[0] = m->q.weight;
        names[1] = m->k.weight;
        names[2] = m->v.weight;
        if ((rc = pack_qkv(c, names, "qkv_weight", &w)) != 0)
            return rc < 0 ? rc : OLIVE_OK;
        ins[0] = m->root;
        ins[1] = w;
        ins[2] = b;
        ins[3] = mask;
        OLIVE_TRY(fuse_emit(c, m->nodes, m->n_nodes, "Attention", FUSE_MS_DOMAIN, "Attention", mask[0] ? 4 : 3, ins, 1,
                            out, &att));
    }
    OLIVE_TRY(oir_node_set_attr_int(att, "num_heads", m->heads));
    if (m->custom_scale)
        OLIVE_TRY(oir_node_set_attr_float(att, "scale", m->scale_value));
    return OLIVE_OK;
}

int fuse_attention(fuse_ctx *c)
{
    size_t n = c->g->n_nodes;
    int rc = OLIVE_OK;
    memset(&c->masks, 0, sizeof c->masks);
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        oir_node *x = c->g->nodes[i];
        if (x->mark)
            continue;
        if ((!strcmp(x->op_type, "SkipLayerNormalization") && !strcmp(x->domain, FUSE_MS_DOMAIN)) ||
            oir_match_is_op(x, "LayerNormalization")) {
            attention_match m;
            if (match_attention(c, x, &m))
                rc = emit_attention(c, &m);
        }
    }
    olive_strmap_free(&c->masks);
    memset(&c->masks, 0, sizeof c->masks);
    return rc;
}
