/* The BERT-family encoder graph (see encoder_bert.h). Per layer, with x the layer input:
 *
 *   Attention(x, Wqkv, bqkv, mask_int32)            com.microsoft, packed [H, 3H] weights
 *   MatMul(., Wo) -> SkipLayerNormalization(., x, g1, b1, bo)      = a
 *   MatMul(a, Wi) -> BiasGelu(., bi) | FastGelu(., bi) | Add + Relu
 *   MatMul(., Wout) -> SkipLayerNormalization(., a, g2, b2, bout)  = next x
 *
 * BERT, RoBERTa and DistilBERT all normalize after the residual add (post-LN), so the same
 * layer serves every family; they differ in tensor names, position ids and heads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/encoder.h"
#include "passes/convert/encoder_bert.h"

#define ARRAY(a) (sizeof(a) / sizeof *(a)), (a)
#define NAME_MAX_LEN 160

typedef struct enc_build {
    oir_graph *g;
    enc_config c;
    enc_weights w;
    int32_t dt;     /* the encoder's float type */
    int64_t layers; /* layers built (num_hidden_layers may truncate for tests) */
} enc_build;

/* Tensor names of one family: the layer stem and the parts under it. */
typedef struct enc_names {
    const char *layer; /* "encoder.layer." */
    const char *q, *k, *v, *o, *ln1, *ffn_in, *ffn_out, *ln2;
} enc_names;

static const enc_names bert_names = {
    "encoder.layer.",       "attention.self.query",   "attention.self.key",
    "attention.self.value", "attention.output.dense", "attention.output.LayerNorm",
    "intermediate.dense",   "output.dense",           "output.LayerNorm",
};

static const enc_names distilbert_names = {
    "transformer.layer.", "attention.q_lin", "attention.k_lin", "attention.v_lin",   "attention.out_lin",
    "sa_layer_norm",      "ffn.lin1",        "ffn.lin2",        "output_layer_norm",
};

/* Adds a node writing `output`; *out gets it for attributes. */
static int add_node(enc_build *b, oir_node **out, const char *op, const char *domain, size_t n_in,
                    const char *const *in, const char *output)
{
    return enc_node(b->g, out, op, domain, n_in, in, 1, &output);
}

static int add_int64(enc_build *b, const char *name, size_t rank, const int64_t *dims, const int64_t *values,
                     size_t count)
{
    return enc_int64(b->g, name, rank, dims, values, count);
}

static int add_io(enc_build *b, int output, const char *name, int32_t dtype, size_t rank, const int64_t *dims,
                  const char *const *params)
{
    return enc_io(b->g, output, name, dtype, rank, dims, params);
}

/* "<prefix><layer stem><i>.<part>" for checkpoint names (the prefix is added on reading). */
static void layer_name(char *buf, const enc_names *nm, int64_t i, const char *part)
{
    snprintf(buf, NAME_MAX_LEN, "%s%lld.%s", nm->layer, (long long)i, part);
}

/* Which prefix the encoder's tensors carry: none in a *Model checkpoint, the base model's
 * name in one with a head. */
static int find_prefix(enc_build *b)
{
    static const char *const prefixes[] = {"", "bert.", "roberta.", "distilbert."};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        b->w.prefix = prefixes[i];
        if (enc_has(&b->w, "embeddings.word_embeddings.weight"))
            return OLIVE_OK;
    }
    b->w.prefix = "";
    return olive_fail(OLIVE_EFORMAT,
                      "checkpoint '%s': tensor 'embeddings.word_embeddings.weight' is missing "
                      "(also with the prefixes bert., roberta., distilbert.)",
                      b->w.ck->path);
}

/* DistilBERT's fixed sinusoidal table: sin at even columns, cos at odd ones. */
static float *sinusoidal_table(int64_t positions, int64_t dim)
{
    float *t = olive_malloc((size_t)(positions * dim) * sizeof *t);
    for (int64_t p = 0; t && p < positions; p++)
        for (int64_t j = 0; j < dim; j++) {
            double angle = (double)p / pow(10000.0, (double)(2 * (j / 2)) / (double)dim);
            t[p * dim + j] = (float)(j % 2 ? cos(angle) : sin(angle));
        }
    return t;
}

/* Position table, with token type row 0 folded in when that is the only token type (its
 * embedding is then added to every token). */
static int position_table(enc_build *b, int has_types_input)
{
    const enc_config *c = &b->c;
    int64_t dims[2] = {c->max_positions, c->hidden};
    float *table = NULL;

    if (c->family == ENC_DISTILBERT && c->sinusoidal && !enc_has(&b->w, "embeddings.position_embeddings.weight")) {
        if (!(table = sinusoidal_table(dims[0], dims[1])))
            return OLIVE_ENOMEM;
    } else {
        OLIVE_TRY(enc_read(&b->w, 1, "embeddings.position_embeddings.weight", 2, dims, &table));
    }
    if (c->type_vocab == 1 && !has_types_input) {
        float *row = NULL;
        int64_t tdims[2] = {1, c->hidden};
        int rc = enc_read(&b->w, 1, "embeddings.token_type_embeddings.weight", 2, tdims, &row);
        if (rc != OLIVE_OK) {
            free(table);
            return rc;
        }
        for (int64_t p = 0; p < dims[0]; p++)
            for (int64_t j = 0; j < dims[1]; j++)
                table[p * dims[1] + j] += row[j];
        free(row);
    }
    return enc_add_init(&b->w, "embeddings.position_embeddings", b->dt, 2, dims, table);
}

/* Position ids as RoBERTa computes them: padding_idx + 1 + the index among non-pad tokens,
 * padding_idx at pad tokens. Returns the gathered position embeddings in "embeddings.positions". */
static int roberta_positions(enc_build *b)
{
    int64_t pad = b->c.pad_id, one = 1;
    oir_node *n;
    OLIVE_TRY(add_int64(b, "embeddings.pad_id", 0, NULL, &pad, 1));
    OLIVE_TRY(add_int64(b, "embeddings.one", 0, NULL, &one, 1));
    const char *eq[] = {"input_ids", "embeddings.pad_id"};
    OLIVE_TRY(add_node(b, NULL, "Equal", "", ARRAY(eq), "embeddings.is_pad"));
    const char *not_[] = {"embeddings.is_pad"};
    OLIVE_TRY(add_node(b, NULL, "Not", "", ARRAY(not_), "embeddings.not_pad"));
    const char *cast[] = {"embeddings.not_pad"};
    OLIVE_TRY(add_node(b, &n, "Cast", "", ARRAY(cast), "embeddings.not_pad_int64"));
    OLIVE_TRY(oir_node_set_attr_int(n, "to", OIR_INT64));
    const char *cum[] = {"embeddings.not_pad_int64", "embeddings.one"};
    OLIVE_TRY(add_node(b, NULL, "CumSum", "", ARRAY(cum), "embeddings.count"));
    const char *mul[] = {"embeddings.count", "embeddings.not_pad_int64"};
    OLIVE_TRY(add_node(b, NULL, "Mul", "", ARRAY(mul), "embeddings.count_masked"));
    const char *add[] = {"embeddings.count_masked", "embeddings.pad_id"};
    OLIVE_TRY(add_node(b, NULL, "Add", "", ARRAY(add), "embeddings.position_ids"));
    const char *gather[] = {"embeddings.position_embeddings", "embeddings.position_ids"};
    return add_node(b, NULL, "Gather", "", ARRAY(gather), "embeddings.positions");
}

/* Positions 0 .. sequence-1: the first rows of the table, broadcast over the batch. */
static int absolute_positions(enc_build *b)
{
    int64_t zero = 0, one_dim = 1;
    oir_node *n;
    OLIVE_TRY(add_int64(b, "embeddings.zero", 1, &one_dim, &zero, 1));
    const char *shape[] = {"input_ids"};
    OLIVE_TRY(add_node(b, &n, "Shape", "", ARRAY(shape), "embeddings.sequence_length"));
    OLIVE_TRY(oir_node_set_attr_int(n, "start", 1));
    OLIVE_TRY(oir_node_set_attr_int(n, "end", 2));
    const char *slice[] = {"embeddings.position_embeddings", "embeddings.zero", "embeddings.sequence_length",
                           "embeddings.zero"};
    return add_node(b, NULL, "Slice", "", ARRAY(slice), "embeddings.positions");
}

static int embeddings(enc_build *b)
{
    const enc_config *c = &b->c;
    int has_types = c->type_vocab > 1;
    int64_t wdims[2] = {c->vocab, c->hidden}, tdims[2] = {c->type_vocab, c->hidden};
    oir_node *n;

    OLIVE_TRY(enc_copy(&b->w, "embeddings.word_embeddings.weight", "embeddings.word_embeddings", b->dt, 2, wdims));
    OLIVE_TRY(position_table(b, has_types));
    OLIVE_TRY(enc_copy(&b->w, "embeddings.LayerNorm.weight", "embeddings.LayerNorm.weight", b->dt, 1, &c->hidden));
    OLIVE_TRY(enc_copy(&b->w, "embeddings.LayerNorm.bias", "embeddings.LayerNorm.bias", b->dt, 1, &c->hidden));

    const char *words[] = {"embeddings.word_embeddings", "input_ids"};
    OLIVE_TRY(add_node(b, NULL, "Gather", "", ARRAY(words), "embeddings.words"));
    OLIVE_TRY(c->family == ENC_ROBERTA ? roberta_positions(b) : absolute_positions(b));
    const char *sum[] = {"embeddings.words", "embeddings.positions"};
    OLIVE_TRY(add_node(b, NULL, "Add", "", ARRAY(sum), "embeddings.sum"));
    const char *last = "embeddings.sum";
    if (has_types) {
        OLIVE_TRY(enc_copy(&b->w, "embeddings.token_type_embeddings.weight", "embeddings.token_type_embeddings", b->dt,
                           2, tdims));
        const char *types[] = {"embeddings.token_type_embeddings", "token_type_ids"};
        OLIVE_TRY(add_node(b, NULL, "Gather", "", ARRAY(types), "embeddings.types"));
        const char *sum2[] = {"embeddings.sum", "embeddings.types"};
        OLIVE_TRY(add_node(b, NULL, "Add", "", ARRAY(sum2), "embeddings.sum_types"));
        last = "embeddings.sum_types";
    }
    const char *ln[] = {last, "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"};
    OLIVE_TRY(add_node(b, &n, "LayerNormalization", "", ARRAY(ln), "embeddings.output"));
    OLIVE_TRY(oir_node_set_attr_int(n, "axis", -1));
    OLIVE_TRY(oir_node_set_attr_float(n, "epsilon", (float)c->eps));

    /* Attention takes the raw mask ([batch, sequence] of 0/1) as int32 mask_index. */
    const char *mask[] = {"attention_mask"};
    OLIVE_TRY(add_node(b, &n, "Cast", "", ARRAY(mask), "attention_mask_int32"));
    return oir_node_set_attr_int(n, "to", OIR_INT32);
}

/* The checkpoint's norm `part` of layer i as "<onnx>.weight" / "<onnx>.bias". */
static int norm_weights(enc_build *b, const enc_names *nm, int64_t i, const char *part, const char *onnx)
{
    char src[NAME_MAX_LEN], ckname[NAME_MAX_LEN + 8], dst[NAME_MAX_LEN + 8];
    const char *suffix[2] = {"weight", "bias"};
    layer_name(src, nm, i, part);
    for (int k = 0; k < 2; k++) {
        snprintf(ckname, sizeof ckname, "%s.%s", src, suffix[k]);
        snprintf(dst, sizeof dst, "%s.%s", onnx, suffix[k]);
        OLIVE_TRY(enc_copy(&b->w, ckname, dst, b->dt, 1, &b->c.hidden));
    }
    return OLIVE_OK;
}

static int skip_norm(enc_build *b, const char *in, const char *skip, const char *weights, const char *bias,
                     const char *out)
{
    char g[NAME_MAX_LEN + 8], be[NAME_MAX_LEN + 8], bi[NAME_MAX_LEN + 8];
    oir_node *n;
    snprintf(g, sizeof g, "%s.weight", weights);
    snprintf(be, sizeof be, "%s.bias", weights);
    snprintf(bi, sizeof bi, "%s.bias", bias);
    const char *ins[] = {in, skip, g, be, bi};
    OLIVE_TRY(add_node(b, &n, "SkipLayerNormalization", "com.microsoft", ARRAY(ins), out));
    return oir_node_set_attr_float(n, "epsilon", (float)b->c.eps);
}

static int matmul(enc_build *b, const char *in, const char *weights, const char *out)
{
    char w[NAME_MAX_LEN + 8];
    snprintf(w, sizeof w, "%s.weight", weights);
    const char *ins[] = {in, w};
    return add_node(b, NULL, "MatMul", "", ARRAY(ins), out);
}

/* The feed-forward activation with its bias: `in` + bias through GELU / tanh GELU / ReLU. */
static int activation(enc_build *b, const char *in, const char *linear, const char *out)
{
    char bias[NAME_MAX_LEN + 8], sum[NAME_MAX_LEN + 8];
    snprintf(bias, sizeof bias, "%s.bias", linear);
    const char *ins[] = {in, bias};
    if (b->c.act == ENC_ACT_GELU)
        return add_node(b, NULL, "BiasGelu", "com.microsoft", ARRAY(ins), out);
    if (b->c.act == ENC_ACT_GELU_TANH)
        return add_node(b, NULL, "FastGelu", "com.microsoft", ARRAY(ins), out);
    snprintf(sum, sizeof sum, "%s_biased", in);
    OLIVE_TRY(add_node(b, NULL, "Add", "", ARRAY(ins), sum));
    const char *relu[] = {sum};
    return add_node(b, NULL, "Relu", "", ARRAY(relu), out);
}

static int layer(enc_build *b, const enc_names *nm, int64_t i, const char *x, const char *out)
{
    const enc_config *c = &b->c;
    char q[NAME_MAX_LEN], k[NAME_MAX_LEN], v[NAME_MAX_LEN], src[NAME_MAX_LEN];
    char qkv[NAME_MAX_LEN], o[NAME_MAX_LEN], ln1[NAME_MAX_LEN], fi[NAME_MAX_LEN], fo[NAME_MAX_LEN], ln2[NAME_MAX_LEN];
    char att[NAME_MAX_LEN], proj[NAME_MAX_LEN], a[NAME_MAX_LEN], h1[NAME_MAX_LEN], h2[NAME_MAX_LEN], h3[NAME_MAX_LEN];
    char wname[NAME_MAX_LEN + 8], bname[NAME_MAX_LEN + 8];
    oir_node *n;

    snprintf(qkv, sizeof qkv, "layers.%lld.attention.qkv", (long long)i);
    snprintf(o, sizeof o, "layers.%lld.attention.output", (long long)i);
    snprintf(ln1, sizeof ln1, "layers.%lld.attention_norm", (long long)i);
    snprintf(fi, sizeof fi, "layers.%lld.ffn.input", (long long)i);
    snprintf(fo, sizeof fo, "layers.%lld.ffn.output", (long long)i);
    snprintf(ln2, sizeof ln2, "layers.%lld.output_norm", (long long)i);

    layer_name(q, nm, i, nm->q);
    layer_name(k, nm, i, nm->k);
    layer_name(v, nm, i, nm->v);
    OLIVE_TRY(enc_packed_qkv(&b->w, q, k, v, qkv, c->hidden));
    layer_name(src, nm, i, nm->o);
    OLIVE_TRY(enc_linear(&b->w, src, o, b->dt, c->hidden, c->hidden));
    OLIVE_TRY(norm_weights(b, nm, i, nm->ln1, ln1));
    layer_name(src, nm, i, nm->ffn_in);
    OLIVE_TRY(enc_linear(&b->w, src, fi, b->dt, c->hidden, c->intermediate));
    layer_name(src, nm, i, nm->ffn_out);
    OLIVE_TRY(enc_linear(&b->w, src, fo, b->dt, c->intermediate, c->hidden));
    OLIVE_TRY(norm_weights(b, nm, i, nm->ln2, ln2));

    snprintf(att, sizeof att, "layers.%lld.attention.context", (long long)i);
    snprintf(proj, sizeof proj, "layers.%lld.attention.projected", (long long)i);
    snprintf(a, sizeof a, "layers.%lld.attention.normed", (long long)i);
    snprintf(h1, sizeof h1, "layers.%lld.ffn.up", (long long)i);
    snprintf(h2, sizeof h2, "layers.%lld.ffn.activated", (long long)i);
    snprintf(h3, sizeof h3, "layers.%lld.ffn.down", (long long)i);

    snprintf(wname, sizeof wname, "%s.weight", qkv);
    snprintf(bname, sizeof bname, "%s.bias", qkv);
    const char *attn[] = {x, wname, bname, "attention_mask_int32"};
    OLIVE_TRY(add_node(b, &n, "Attention", "com.microsoft", ARRAY(attn), att));
    OLIVE_TRY(oir_node_set_attr_int(n, "num_heads", c->heads));
    OLIVE_TRY(matmul(b, att, o, proj));
    OLIVE_TRY(skip_norm(b, proj, x, ln1, o, a));
    OLIVE_TRY(matmul(b, a, fi, h1));
    OLIVE_TRY(activation(b, h1, fi, h2));
    OLIVE_TRY(matmul(b, h2, fo, h3));
    return skip_norm(b, h3, a, ln2, fo, out);
}

static int head_linear(enc_build *b, const char *name, int prefixed, const char *in, int64_t in_dim, int64_t out_dim,
                       const char *out)
{
    return enc_gemm(&b->w, name, prefixed, 1, in, in_dim, out_dim, out);
}

static int unary(enc_build *b, const char *op, const char *in, const char *out)
{
    const char *ins[] = {in};
    return add_node(b, NULL, op, "", ARRAY(ins), out);
}

static int label_count(enc_build *b, const char *weight, int prefixed, int64_t *out)
{
    return enc_label_count(&b->w, weight, prefixed, b->c.num_labels, out);
}

static int heads(enc_build *b)
{
    const enc_config *c = &b->c;
    int64_t zero = 0, dims[2] = {-1, c->hidden}, labels = 0;
    const char *batch[2] = {"batch", NULL};
    oir_node *n;

    if (c->head == ENC_HEAD_NONE)
        return OLIVE_OK;
    /* Every head reads the first token ([CLS] / <s>). */
    OLIVE_TRY(add_int64(b, "heads.first_index", 0, NULL, &zero, 1));
    const char *first[] = {"last_hidden_state", "heads.first_index"};
    OLIVE_TRY(add_node(b, &n, "Gather", "", ARRAY(first), "heads.first_token"));
    OLIVE_TRY(oir_node_set_attr_int(n, "axis", 1));

    if (c->head == ENC_HEAD_POOLER) {
        OLIVE_TRY(head_linear(b, "pooler.dense", 1, "heads.first_token", c->hidden, c->hidden, "pooler.dense"));
        OLIVE_TRY(unary(b, "Tanh", "pooler.dense", "pooler_output"));
        return add_io(b, 1, "pooler_output", OIR_FLOAT, 2, dims, batch);
    }
    if (c->family == ENC_BERT) {
        OLIVE_TRY(label_count(b, "classifier.weight", 0, &labels));
        OLIVE_TRY(head_linear(b, "pooler.dense", 1, "heads.first_token", c->hidden, c->hidden, "pooler.dense"));
        OLIVE_TRY(unary(b, "Tanh", "pooler.dense", "pooler.output"));
        OLIVE_TRY(head_linear(b, "classifier", 0, "pooler.output", c->hidden, labels, "logits"));
    } else if (c->family == ENC_ROBERTA) {
        OLIVE_TRY(label_count(b, "classifier.out_proj.weight", 0, &labels));
        OLIVE_TRY(head_linear(b, "classifier.dense", 0, "heads.first_token", c->hidden, c->hidden, "classifier.dense"));
        OLIVE_TRY(unary(b, "Tanh", "classifier.dense", "classifier.activated"));
        OLIVE_TRY(head_linear(b, "classifier.out_proj", 0, "classifier.activated", c->hidden, labels, "logits"));
    } else {
        OLIVE_TRY(label_count(b, "classifier.weight", 0, &labels));
        OLIVE_TRY(head_linear(b, "pre_classifier", 0, "heads.first_token", c->hidden, c->hidden, "pre_classifier"));
        OLIVE_TRY(unary(b, "Relu", "pre_classifier", "pre_classifier.activated"));
        OLIVE_TRY(head_linear(b, "classifier", 0, "pre_classifier.activated", c->hidden, labels, "logits"));
    }
    dims[1] = labels;
    return add_io(b, 1, "logits", OIR_FLOAT, 2, dims, batch);
}

int cvt_bert_build(oir_model *m, const ofmt_checkpoint *ck, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    enc_build b;
    const enc_names *nm;
    const char *io_params[3] = {"batch", "sequence", NULL};
    int64_t io_dims[3] = {-1, -1, 0};
    char x[NAME_MAX_LEN], next[NAME_MAX_LEN];
    int bits = 0;
    double share;

    if (!m || !ck)
        return olive_fail(OLIVE_EINVALID, "cvt_bert_build: model and checkpoint are required");
    if (!m->graph && !(m->graph = oir_graph_new("encoder")))
        return OLIVE_ENOMEM;
    if (m->graph->n_nodes || m->graph->n_inputs || m->graph->n_initializers)
        return olive_fail(OLIVE_EINVALID, "cvt_bert_build: the model's graph is not empty");
    memset(&b, 0, sizeof b);
    b.g = m->graph;
    OLIVE_TRY(enc_precision(args, "BERT-family encoders", &b.dt, &bits));
    share = bits ? 0.8 : 1.0; /* of the progress, for building the float graph */
    OLIVE_TRY(enc_config_read(&b.c, ck));
    b.w.ck = ck;
    b.w.g = m->graph;
    b.w.dtype = b.dt;
    OLIVE_TRY(find_prefix(&b));
    nm = b.c.family == ENC_DISTILBERT ? &distilbert_names : &bert_names;
    b.layers = b.c.layers;
    if (args && args->def && olive_param_find(args->def, "num_hidden_layers")) {
        int64_t want = olive_args_int(args, "num_hidden_layers");
        if (want > 0 && want < b.layers)
            b.layers = want;
    }
    if (b.c.head == ENC_HEAD_POOLER && !enc_has(&b.w, "pooler.dense.weight"))
        b.c.head = ENC_HEAD_NONE;

    OLIVE_TRY(oir_model_require_opset(m, "", 17));
    OLIVE_TRY(oir_model_require_opset(m, "com.microsoft", 1));
    if (m->ir_version < 8)
        m->ir_version = 8;

    OLIVE_TRY(add_io(&b, 0, "input_ids", OIR_INT64, 2, io_dims, io_params));
    OLIVE_TRY(add_io(&b, 0, "attention_mask", OIR_INT64, 2, io_dims, io_params));
    if (b.c.type_vocab > 1)
        OLIVE_TRY(add_io(&b, 0, "token_type_ids", OIR_INT64, 2, io_dims, io_params));
    io_dims[2] = b.c.hidden;
    OLIVE_TRY(add_io(&b, 1, "last_hidden_state", OIR_FLOAT, 3, io_dims, io_params));

    OLIVE_TRY(embeddings(&b));
    snprintf(x, sizeof x, "embeddings.output");
    for (int64_t i = 0; i < b.layers; i++) {
        int last = i + 1 == b.layers;
        if (last)
            snprintf(next, sizeof next, "%s", b.dt == OIR_FLOAT ? "last_hidden_state" : "last_hidden_state.half");
        else
            snprintf(next, sizeof next, "layers.%lld.output", (long long)i);
        OLIVE_TRY(layer(&b, nm, i, x, next));
        memcpy(x, next, sizeof x);
        OLIVE_TRY(olive_pass_progress(ctx, share * (double)(i + 1) / (double)(b.layers + 1)));
    }
    if (b.dt != OIR_FLOAT) {
        oir_node *n;
        const char *cast[] = {"last_hidden_state.half"};
        OLIVE_TRY(add_node(&b, &n, "Cast", "", ARRAY(cast), "last_hidden_state"));
        OLIVE_TRY(oir_node_set_attr_int(n, "to", OIR_FLOAT));
    }
    OLIVE_TRY(heads(&b));
    OLIVE_TRY(enc_companions(m, ck));
    if (bits)
        return enc_quantize(m, args, bits, ctx, share);
    return olive_pass_progress(ctx, 1.0);
}
