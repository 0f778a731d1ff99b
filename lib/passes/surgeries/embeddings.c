/* Surgeons on the token embedding and the LM head: tying them when they hold the same weights,
 * and Olive's int8 block quantization of the embedding shared with the head. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/half.h"
#include "core/log.h"
#include "core/status.h"
#include "passes/surgeries/sg_util.h"
#include "passes/surgeries/surgeon.h"

/* The first node among `cands` of one of `ops` whose input `idx` is an initializer. */
static oir_node *pick(const oir_graph *g, oir_node *const *cands, size_t n, const char *op1, const char *op2,
                      size_t idx)
{
    for (size_t i = 0; i < n; i++) {
        oir_node *c = cands[i];
        if (!c || (strcmp(c->op_type, op1) && strcmp(c->op_type, op2)) || idx >= c->n_inputs)
            continue;
        if (oir_graph_initializer(g, c->inputs[idx]))
            return c;
    }
    return NULL;
}

static uint64_t numel(const oir_tensor *t)
{
    uint64_t n = 0;
    return oir_tensor_numel(t, &n) == OLIVE_OK ? n : 0;
}

/* Olive's weight comparison: same element count and equal elements, the first read transposed
 * (a 2-D [rows, cols] matrix) when `transpose`. */
static int equal_weights(const oir_tensor *a, const oir_tensor *b, int transpose)
{
    uint64_t n = numel(a), w;
    if (n != numel(b) || a->dtype != b->dtype || !(w = oir_dtype_bits(a->dtype) / 8) || a->nbytes != b->nbytes)
        return 0;
    if (!transpose)
        return !n || !memcmp(oir_tensor_data(a), oir_tensor_data(b), (size_t)a->nbytes);
    if (a->rank != 2)
        return 0;
    {
        const uint8_t *pa = oir_tensor_data(a), *pb = oir_tensor_data(b);
        uint64_t rows = (uint64_t)a->dims[0], cols = (uint64_t)a->dims[1];
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t c = 0; c < cols; c++)
                if (memcmp(pa + (r * cols + c) * w, pb + (c * rows + r) * w, (size_t)w))
                    return 0;
    }
    return 1;
}

/* A Reshape "<name>" of `input` to `shape_value` (an existing value) or to `dims` (a new
 * initializer "<name>_shape"); its output is "<name>_output". */
static int add_reshape(oir_graph *g, const char *name, const char *input, const char *shape_value, const int64_t *dims,
                       size_t rank, char **out)
{
    char *shape = shape_value ? olive_strdup(shape_value) : olive_asprintf("%s_shape", name);
    char *output = olive_asprintf("%s_output", name);
    const char *ins[2] = {input, shape};
    int rc = shape && output ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK && !shape_value)
        rc = sg_add_int64s(g, shape, dims, rank);
    if (rc == OLIVE_OK && !sg_add_node(g, "Reshape", "", name, 2, ins, 1, (const char *const *)&output))
        rc = OLIVE_ENOMEM;
    free(shape);
    if (rc != OLIVE_OK) {
        free(output);
        return rc;
    }
    *out = output;
    return OLIVE_OK;
}

/* Unquantized: logits = Reshape(Gemm(Reshape(x, [-1, in]), embedding, transB=1),
 * Concat(Shape(x)[:-1], [out])); the head's own weight goes. */
static int tie_unquantized(oir_graph *g, oir_node *embed, oir_node *head)
{
    const oir_tensor *ew = oir_graph_initializer(g, embed->inputs[0]);
    int64_t out_feat = ew->dims[0], in_feat = ew->dims[1], pre_dims[2] = {-1, in_feat};
    char *lm = olive_strdup(head->name ? head->name : ""), *x = olive_strdup(head->inputs[0]);
    char *logits = olive_strdup(head->outputs[0]), *ewn = olive_strdup(embed->inputs[0]);
    char *pre = NULL, *pre_out = NULL, *gemm = NULL, *gemm_out = NULL, *shape = NULL, *shape_out = NULL;
    char *slice = NULL, *slice_out = NULL, *concat = NULL, *concat_out = NULL, *feat = NULL, *post = NULL;
    char *post_out = NULL, *sl[5] = {0};
    static const char *const keys[4] = {"start", "ends", "axes", "steps"};
    const int64_t vals[4] = {0, -1, 0, 1};
    oir_node *n;
    int rc = lm && x && logits && ewn ? OLIVE_OK : OLIVE_ENOMEM;
    if (rc == OLIVE_OK) {
        pre = sg_new_name(lm, "MatMul", "Reshape_pre");
        gemm = sg_new_name(lm, "MatMul", "Gemm");
        shape = sg_new_name(lm, "MatMul", "Shape");
        slice = sg_new_name(lm, "MatMul", "Slice");
        concat = sg_new_name(lm, "MatMul", "Concat");
        post = sg_new_name(lm, "MatMul", "Reshape_post");
        rc = pre && gemm && shape && slice && concat && post ? OLIVE_OK : OLIVE_ENOMEM;
    }
    /* Olive names Gemm and Shape by plain replacement: the head's own name when it lacks "MatMul". */
    if (rc == OLIVE_OK && !strstr(lm, "MatMul")) {
        free(gemm);
        free(shape);
        gemm = olive_strdup(lm);
        shape = olive_strdup(lm);
        rc = gemm && shape ? OLIVE_OK : OLIVE_ENOMEM;
    }
    if (rc == OLIVE_OK)
        rc = add_reshape(g, pre, x, NULL, pre_dims, 2, &pre_out);
    if (rc == OLIVE_OK && !(gemm_out = olive_asprintf("%s_output", gemm)))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK) {
        const char *ins[2] = {pre_out, ewn};
        if (!(n = sg_add_node(g, "Gemm", "", gemm, 2, ins, 1, (const char *const *)&gemm_out)))
            rc = OLIVE_ENOMEM;
        else if ((rc = oir_node_set_attr_float(n, "alpha", 1.0f)) == OLIVE_OK &&
                 (rc = oir_node_set_attr_float(n, "beta", 1.0f)) == OLIVE_OK &&
                 (rc = oir_node_set_attr_int(n, "transA", 0)) == OLIVE_OK)
            rc = oir_node_set_attr_int(n, "transB", 1);
    }
    if (rc == OLIVE_OK &&
        (!(shape_out = olive_asprintf("%s_output", shape)) ||
         !sg_add_node(g, "Shape", "", shape, 1, (const char *const *)&x, 1, (const char *const *)&shape_out)))
        rc = OLIVE_ENOMEM;
    sl[0] = shape_out;
    for (int k = 0; k < 4 && rc == OLIVE_OK; k++) {
        if (!(sl[k + 1] = olive_asprintf("%s_%s", slice, keys[k])))
            rc = OLIVE_ENOMEM;
        else
            rc = sg_add_int64s(g, sl[k + 1], &vals[k], 1);
    }
    if (rc == OLIVE_OK &&
        (!(slice_out = olive_asprintf("%s_output", slice)) ||
         !sg_add_node(g, "Slice", "", slice, 5, (const char *const *)sl, 1, (const char *const *)&slice_out)))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK && !(feat = olive_asprintf("%s_out_feat", concat)))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = sg_add_int64s(g, feat, &out_feat, 1);
    if (rc == OLIVE_OK) {
        const char *ins[2] = {slice_out, feat};
        if (!(concat_out = olive_asprintf("%s_output", concat)) ||
            !(n = sg_add_node(g, "Concat", "", concat, 2, ins, 1, (const char *const *)&concat_out)))
            rc = OLIVE_ENOMEM;
        else
            rc = oir_node_set_attr_int(n, "axis", 0);
    }
    if (rc == OLIVE_OK)
        rc = add_reshape(g, post, gemm_out, concat_out, NULL, 0, &post_out);
    /* The head goes; the new Reshape produces the logits under their name. */
    if (rc == OLIVE_OK) {
        long hi = sg_node_index(g, head);
        oir_graph_remove_node(g, (size_t)hi);
        rc = oir_node_set_output(g->nodes[g->n_nodes - 1], 0, logits);
    }
    if (rc == OLIVE_OK)
        rc = sg_dag_update(g);
    free(lm), free(x), free(logits), free(ewn), free(pre), free(pre_out), free(gemm), free(gemm_out);
    free(shape), free(shape_out), free(slice), free(slice_out), free(concat), free(concat_out), free(feat);
    free(post), free(post_out);
    for (int k = 1; k < 5; k++)
        free(sl[k]);
    return rc;
}

/* Quantized: the head (MatMulNBits) reads the embedding's (GatherBlockQuantized) data through
 * a Reshape to its 3-D layout, and the embedding's scales and zero points. */
static int tie_quantized(oir_graph *g, oir_node *embed, oir_node *head)
{
    size_t n = embed->n_inputs;
    const oir_tensor *hw;
    char *name, *out = NULL, *data;
    int rc;
    if (n != head->n_inputs)
        return OLIVE_OK;
    for (size_t k = 0; k + 1 < n; k++) {
        const oir_tensor *e = oir_graph_initializer(g, embed->inputs[k == 0 ? 0 : k + 1]);
        const oir_tensor *h = oir_graph_initializer(g, head->inputs[k + 1]);
        if (!e || !h || !equal_weights(e, h, 0))
            return OLIVE_OK;
    }
    for (size_t k = 2; k < n; k++)
        if (strcmp(embed->inputs[k], head->inputs[k]))
            OLIVE_TRY(oir_node_set_input(head, k, embed->inputs[k]));
    hw = oir_graph_initializer(g, head->inputs[1]);
    if (!(name = sg_new_name(head->name ? head->name : "", "MatMulNBits", "Reshape_tied")) ||
        !(data = olive_strdup(embed->inputs[0]))) {
        free(name);
        return OLIVE_ENOMEM;
    }
    rc = add_reshape(g, name, data, NULL, hw->dims, hw->rank, &out);
    if (rc == OLIVE_OK)
        rc = oir_node_set_input(head, 1, out);
    if (rc == OLIVE_OK)
        rc = sg_dag_update(g);
    free(name);
    free(data);
    free(out);
    return rc;
}

/* Ties the embedding (a Gather of input_ids / inputs_embeds) and the LM head (the producer of
 * "logits") when their weights are the same: both unquantized (Gather + MatMul) or both
 * quantized (GatherBlockQuantized + MatMulNBits). Anything else is left as it is. */
static int tie_word_embeddings(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    static const char *const names[] = {"input_ids", "input_embeds", "inputs_embeds"};
    const char *input = NULL;
    oir_node **cands, *embed, *head, *prod;
    size_t nc = 0;
    (void)a;
    for (size_t i = 0; i < 3 && !input; i++)
        if (oir_graph_input_index(g, names[i]) >= 0)
            input = names[i];
    if (!input || oir_graph_output_index(g, "logits") < 0)
        return OLIVE_OK;
    if (!(cands = olive_calloc(g->n_nodes + 1, sizeof *cands)))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t j = 0; j < g->nodes[i]->n_inputs; j++)
            if (!strcmp(g->nodes[i]->inputs[j], input)) {
                cands[nc++] = g->nodes[i];
                break;
            }
    embed = pick(g, cands, nc, "Gather", "GatherBlockQuantized", 0);
    free(cands);
    prod = sg_producer(g, "logits");
    head = prod ? pick(g, &prod, 1, "MatMul", "MatMulNBits", 1) : NULL;
    if (!embed || !head)
        return OLIVE_OK;
    if (!strcmp(embed->op_type, "Gather") && !strcmp(head->op_type, "MatMul")) {
        const oir_tensor *ew = oir_graph_initializer(g, embed->inputs[0]);
        const oir_tensor *hw = oir_graph_initializer(g, head->inputs[1]);
        if (ew->rank != 2 || !equal_weights(ew, hw, 1))
            return OLIVE_OK;
        return tie_unquantized(g, embed, head);
    }
    if (!strcmp(embed->op_type, "GatherBlockQuantized") && !strcmp(head->op_type, "MatMulNBits"))
        return tie_quantized(g, embed, head);
    return OLIVE_OK;
}

/* The first node of type `op` whose name contains `part`. */
static oir_node *find_named(const oir_graph *g, const char *op, const char *part)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i]->op_type, op) && g->nodes[i]->name && strstr(g->nodes[i]->name, part))
            return g->nodes[i];
    return NULL;
}

/* Olive's int8 embedding: blocks of 32 along the hidden axis, scale = max|x| / 127 (in the
 * embedding's float type), q = round-half-even(x / scale) clipped to [-128, 127], stored as
 * q + 128 with zero point 128; a GatherBlockQuantized replaces the Gather. */
static int quantize_embedding_int8(oir_model *m, const sg_args *a)
{
    enum { BLOCK = 32 };
    oir_graph *g = m->graph;
    oir_node *gather = find_named(g, "Gather", "embed_tokens"), *gbq;
    const oir_tensor *w;
    uint64_t vocab, hidden, blocks;
    uint8_t *q = NULL, *zp = NULL;
    void *scales = NULL;
    size_t sw;
    char *qn = NULL, *sn = NULL, *zn = NULL, *gout = NULL, *gname = NULL, *old_out = NULL;
    int rc = OLIVE_OK;
    (void)a;
    if (!gather || gather->n_inputs < 2 || !(w = oir_graph_initializer(g, gather->inputs[0])))
        return OLIVE_OK;
    if ((w->dtype != OIR_FLOAT && w->dtype != OIR_FLOAT16) || w->rank != 2)
        return OLIVE_OK;
    vocab = (uint64_t)w->dims[0];
    hidden = (uint64_t)w->dims[1];
    if (hidden % BLOCK)
        return OLIVE_OK;
    if (oir_graph_output_index(g, gather->outputs[0]) >= 0)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "surgeon 'QuantizeEmbeddingInt8': the embedding output '%s' is a graph "
                          "output",
                          gather->outputs[0]);
    blocks = hidden / BLOCK;
    sw = w->dtype == OIR_FLOAT16 ? 2 : 4;
    q = olive_malloc((size_t)(vocab * hidden) + 1);
    zp = olive_malloc((size_t)(vocab * blocks) + 1);
    scales = olive_malloc((size_t)(vocab * blocks * sw) + 1);
    if (!q || !zp || !scales)
        rc = OLIVE_ENOMEM;
    for (uint64_t r = 0; rc == OLIVE_OK && r < vocab; r++)
        for (uint64_t b = 0; b < blocks; b++) {
            float mx = 0, s, x[BLOCK];
            for (int k = 0; k < BLOCK; k++) {
                x[k] = (float)sg_decode(w, r * hidden + b * BLOCK + (uint64_t)k);
                if (fabsf(x[k]) > mx)
                    mx = fabsf(x[k]);
            }
            s = mx / 127.0f;
            if (sw == 2) {
                uint16_t h = olive_float_to_half(s);
                memcpy((uint8_t *)scales + (r * blocks + b) * 2, &h, 2);
                s = olive_half_to_float(h);
            } else {
                memcpy((uint8_t *)scales + (r * blocks + b) * 4, &s, 4);
            }
            if (s == 0)
                s = 1.0f;
            for (int k = 0; k < BLOCK; k++) {
                float v = nearbyintf(x[k] / s);
                v = v < -128 ? -128 : v > 127 ? 127 : v;
                q[r * hidden + b * BLOCK + (uint64_t)k] = (uint8_t)((int)v + 128);
            }
            zp[r * blocks + b] = 128;
        }
    if (rc == OLIVE_OK) {
        qn = olive_asprintf("%s_Q8", w->name);
        sn = olive_asprintf("%s_scales", w->name);
        zn = olive_asprintf("%s_zp", w->name);
        gout = olive_asprintf("%s_gbq", gather->outputs[0]);
        old_out = olive_strdup(gather->outputs[0]);
        gname = sg_new_name(gather->name, "Gather", "GatherBlockQuantized");
        if (gname && !strstr(gather->name, "Gather")) {
            free(gname);
            gname = olive_strdup(gather->name);
        }
        rc = qn && sn && zn && gout && gname && old_out ? OLIVE_OK : OLIVE_ENOMEM;
    }
    if (rc == OLIVE_OK) {
        int64_t qd[2] = {(int64_t)vocab, (int64_t)hidden}, sd[2] = {(int64_t)vocab, (int64_t)blocks};
        int32_t sdt = w->dtype;
        rc = sg_add_initializer(g, qn, OIR_UINT8, 2, qd, q, vocab * hidden);
        if (rc == OLIVE_OK)
            rc = sg_add_initializer(g, sn, sdt, 2, sd, scales, vocab * blocks * sw);
        if (rc == OLIVE_OK)
            rc = sg_add_initializer(g, zn, OIR_UINT8, 2, sd, zp, vocab * blocks);
    }
    if (rc == OLIVE_OK)
        rc = oir_model_require_opset(m, "com.microsoft", 1);
    if (rc == OLIVE_OK) {
        const char *ins[4] = {qn, gather->inputs[1], sn, zn};
        if (!(gbq = sg_add_node(g, "GatherBlockQuantized", "com.microsoft", gname, 4, ins, 1,
                                (const char *const *)&gout)))
            rc = OLIVE_ENOMEM;
        else if ((rc = oir_node_set_attr_int(gbq, "bits", 8)) == OLIVE_OK &&
                 (rc = oir_node_set_attr_int(gbq, "block_size", BLOCK)) == OLIVE_OK &&
                 (rc = oir_node_set_attr_int(gbq, "gather_axis", 0)) == OLIVE_OK)
            rc = oir_node_set_attr_int(gbq, "quantize_axis", 1);
    }
    if (rc == OLIVE_OK) {
        oir_graph_remove_node(g, (size_t)sg_node_index(g, gather));
        rc = sg_replace_input(g, old_out, gout);
    }
    if (rc == OLIVE_OK)
        rc = sg_dag_update(g);
    free(q), free(zp), free(scales), free(qn), free(sn), free(zn), free(gout), free(gname), free(old_out);
    return rc;
}

/* After QuantizeEmbeddingInt8: the LM head (a MatMulNBits named *lm_head*) becomes an 8-bit
 * MatMulNBits reading the embedding's quantized data (reshaped to [N, blocks, block_size]),
 * scales and zero points. */
static int share_embedding_lm_head(oir_model *m, const sg_args *a)
{
    oir_graph *g = m->graph;
    oir_node *gbq = find_named(g, "GatherBlockQuantized", "embed_tokens"), *head, *nn;
    const oir_tensor *w;
    int64_t bits, bs, vocab, hidden, shape[3];
    char *out = NULL, *new_out = NULL, *new_name = NULL, *x = NULL, *ew = NULL, *es = NULL, *ez = NULL;
    const oir_attr *acc;
    int rc = OLIVE_OK, is_output;
    (void)a;
    if (!gbq || gbq->n_inputs < 3)
        return OLIVE_OK;
    bits = oir_node_attr_int(gbq, "bits", 8);
    bs = oir_node_attr_int(gbq, "block_size", 32);
    if (bits != 8 || bs <= 0 || !(w = oir_graph_initializer(g, gbq->inputs[0])) || w->rank != 2)
        return OLIVE_OK;
    vocab = w->dims[0];
    hidden = w->dims[1];
    if (!(head = find_named(g, "MatMulNBits", "lm_head")) || head->n_inputs < 3)
        return OLIVE_OK;
    if (strstr(head->inputs[1], gbq->inputs[0]) || !strcmp(head->inputs[2], gbq->inputs[2]))
        return OLIVE_OK;
    shape[0] = vocab;
    shape[1] = hidden / bs;
    shape[2] = bs;
    rc = sg_add_int64s(g, "lm_head.MatMulNBits.reshape_shape", shape, 3);
    if (rc == OLIVE_OK) {
        const char *ins[2] = {gbq->inputs[0], "lm_head.MatMulNBits.reshape_shape"};
        const char *o = "lm_head.MatMulNBits.reshaped_weight";
        if (!sg_add_node(g, "Reshape", "", "lm_head/Reshape_shared_weight", 2, ins, 1, &o))
            rc = OLIVE_ENOMEM;
    }
    if (rc == OLIVE_OK)
        rc = oir_model_require_opset(m, "com.microsoft", 1);
    if (rc == OLIVE_OK) {
        out = olive_strdup(head->outputs[0]);
        new_out = olive_asprintf("%s_shared", head->outputs[0]);
        new_name = olive_asprintf("%s_shared", head->name);
        x = olive_strdup(head->inputs[0]);
        ew = olive_strdup(gbq->inputs[0]);
        es = olive_strdup(gbq->inputs[2]);
        ez = gbq->n_inputs > 3 ? olive_strdup(gbq->inputs[3]) : NULL;
        rc = out && new_out && new_name && x && ew && es && (ez || gbq->n_inputs <= 3) ? OLIVE_OK : OLIVE_ENOMEM;
    }
    if (rc == OLIVE_OK) {
        const char *ins[4] = {x, "lm_head.MatMulNBits.reshaped_weight", es, ez};
        acc = oir_node_attr(head, "accuracy_level");
        if (!(nn = sg_add_node(g, "MatMulNBits", "com.microsoft", new_name, ez ? 4 : 3, ins, 1,
                               (const char *const *)&new_out)))
            rc = OLIVE_ENOMEM;
        else if ((rc = oir_node_set_attr_int(nn, "bits", 8)) == OLIVE_OK &&
                 (rc = oir_node_set_attr_int(nn, "block_size", bs)) == OLIVE_OK &&
                 (rc = oir_node_set_attr_int(nn, "K", hidden)) == OLIVE_OK &&
                 (rc = oir_node_set_attr_int(nn, "N", vocab)) == OLIVE_OK && acc)
            rc = oir_node_set_attr_int(nn, "accuracy_level", acc->i);
    }
    if (rc == OLIVE_OK) {
        is_output = oir_graph_output_index(g, out) >= 0;
        oir_graph_remove_node(g, (size_t)sg_node_index(g, head));
        rc = sg_replace_input(g, out, new_out);
        /* As a graph output the new node takes the old output's name. */
        if (rc == OLIVE_OK && is_output)
            rc = oir_node_set_output(nn, 0, out);
    }
    if (rc == OLIVE_OK)
        rc = sg_dag_update(g);
    free(out), free(new_out), free(new_name), free(x), free(ew), free(es), free(ez);
    return rc;
}

static const sg_param p_none[] = {{NULL, 0, 0}};

const sg_surgeon sg_family_embeddings[] = {
    SG_SURGEON("TieWordEmbeddings", "Makes the LM head read the token embedding's weights when they are the same",
               p_none, tie_word_embeddings),
    SG_SURGEON("QuantizeEmbeddingInt8",
               "Quantizes the embed_tokens Gather to an 8-bit GatherBlockQuantized (blocks of 32)", p_none,
               quantize_embedding_int8),
    SG_SURGEON("ShareEmbeddingLmHead",
               "Makes the lm_head MatMulNBits an 8-bit one sharing the embedding's quantized data", p_none,
               share_embedding_lm_head),
    SG_END,
};
