/* The default steps of a decoder build besides attention and rotary: norms, activations,
 * embeddings, the gated MLP, the layer and the head. Architecture hooks replace or wrap them. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder.h"
#include "passes/convert/decoder_internal.h"
#include "passes/convert/decoder_plan.h"

/* ---- norms and activations ---- */

int cvt_norm(cvt_decoder *d, const char *path, const char *x, const char *tensor, int64_t dim, const char **out)
{
    const char *dots = cvt_path_to_dots(d, path), *w, *name;
    oir_node *n;
    if (!dots || !(w = cvt_str(d, "%s.weight", dots)) || !(name = cvt_str(d, "%s/LayerNorm", path)))
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_norm_weight(d, tensor, dim, w));
    OLIVE_TRY(cvt_node(d, "SimplifiedLayerNormalization", "", name, 2, (const char *[]){x, w}, 1, &n, out));
    if (oir_node_set_attr_float(n, "epsilon", (float)d->cfg.norm_eps) != OLIVE_OK ||
        oir_node_set_attr_int(n, "axis", -1) != OLIVE_OK || oir_node_set_attr_int(n, "stash_type", 1) != OLIVE_OK)
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

int cvt_norm_residual(cvt_decoder *d, const char *path, cvt_residual *r, const char *tensor, const char **out)
{
    const char *dots, *w, *name, *outs[4];
    oir_node *n;
    if (!r->pending) {
        OLIVE_TRY(cvt_norm(d, path, r->residual, tensor, d->cfg.hidden, out));
        return OLIVE_OK;
    }
    if (!(dots = cvt_path_to_dots(d, path)) || !(w = cvt_str(d, "%s.weight", dots)) ||
        !(name = cvt_str(d, "%s/SkipLayerNorm", path)))
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_norm_weight(d, tensor, d->cfg.hidden, w));
    OLIVE_TRY(cvt_node(d, "SkipSimplifiedLayerNormalization", "com.microsoft", name, 3,
                       (const char *[]){r->residual, r->pending, w}, 4, &n, outs));
    if (oir_node_set_output(n, 1, "") != OLIVE_OK || oir_node_set_output(n, 2, "") != OLIVE_OK ||
        oir_node_set_attr_float(n, "epsilon", (float)d->cfg.norm_eps) != OLIVE_OK)
        return OLIVE_ENOMEM;
    *out = outs[0];
    r->residual = outs[3];
    r->pending = NULL;
    return OLIVE_OK;
}

int cvt_activation_node(cvt_decoder *d, const char *path, const char *x, const char **out)
{
    const char *sig, *a, *b;
    switch (d->cfg.activation) {
    case CVT_ACT_SILU:
        if (!(a = cvt_str(d, "%s/Sigmoid", path)) || !(b = cvt_str(d, "%s/Mul", path)))
            return OLIVE_ENOMEM;
        OLIVE_TRY(cvt_node(d, "Sigmoid", "", a, 1, &x, 1, NULL, &sig));
        return cvt_node(d, "Mul", "", b, 2, (const char *[]){x, sig}, 1, NULL, out);
    case CVT_ACT_GELU_TANH:
        if (!(a = cvt_str(d, "%s/FastGelu", path)))
            return OLIVE_ENOMEM;
        return cvt_node(d, "FastGelu", "com.microsoft", a, 1, &x, 1, NULL, out);
    case CVT_ACT_GELU:
        if (!(a = cvt_str(d, "%s/Gelu", path)))
            return OLIVE_ENOMEM;
        return cvt_node(d, "Gelu", "com.microsoft", a, 1, &x, 1, NULL, out);
    }
    return olive_fail(OLIVE_EUNSUPPORTED, "unknown activation");
}

/* ---- embeddings ---- */

/* Streams a [rows, cols] checkpoint tensor unchanged (but for the dtype) into an initializer. */
static int copy_matrix(cvt_decoder *d, const ofmt_tensor *t, const char *onnx_name, int64_t rows, int64_t cols)
{
    const size_t es = cvt_dtype_size(d->io_dtype);
    int64_t band = (int64_t)(((size_t)4 << 20) / (size_t)cols);
    uint64_t off;
    float *buf;
    uint8_t *bytes;
    int rc = OLIVE_OK;
    if (band < 1)
        band = 1;
    if (band > rows)
        band = rows;
    OLIVE_TRY(cvt_spill_tensor(d, onnx_name, d->io_dtype, 2, (const int64_t[]){rows, cols}, &off));
    buf = olive_malloc((size_t)(band * cols) * sizeof *buf);
    bytes = olive_malloc((size_t)(band * cols) * es);
    if (!buf || !bytes)
        rc = OLIVE_ENOMEM;
    for (int64_t r0 = 0; rc == OLIVE_OK && r0 < rows; r0 += band) {
        int64_t n = rows - r0 < band ? rows - r0 : band;
        if (r0 && (rc = cvt_check_cancel(d)) != OLIVE_OK)
            break;
        rc = ofmt_tensor_read_f32(t, (uint64_t)r0, (uint64_t)n, buf);
        if (rc != OLIVE_OK) {
            rc = olive_fail_context(rc, "tensor '%s'", t->name);
            break;
        }
        olive_blob_drop_pages(t->blob, t->offset + (uint64_t)r0 * (t->nbytes / (uint64_t)rows),
                              (uint64_t)n * (t->nbytes / (uint64_t)rows));
        if ((rc = cvt_rotate_embedding(d, buf, n)) != OLIVE_OK)
            break;
        cvt_convert_f32(d->io_dtype, buf, (size_t)(n * cols), bytes);
        rc = olive_spill_write(d->spill, off + (uint64_t)(r0 * cols) * es, bytes, (size_t)(n * cols) * es);
    }
    free(buf);
    free(bytes);
    OLIVE_TRY(rc);
    return cvt_weight_done(d);
}

static int untied_embedding(cvt_decoder *d, const char **x)
{
    const ofmt_tensor *t;
    OLIVE_TRY(cvt_tensor(d, "model.embed_tokens.weight", 2, (const int64_t[]){d->cfg.vocab, d->cfg.hidden}, &t));
    OLIVE_TRY(copy_matrix(d, t, "model.embed_tokens.weight", d->cfg.vocab, d->cfg.hidden));
    return cvt_node(d, "Gather", "", "/model/embed_tokens/Gather", 2,
                    (const char *[]){"model.embed_tokens.weight", d->input_ids}, 1, NULL, x);
}

/* Tied embeddings on an lm_head whose GGUF blocks were carried: GatherBlockQuantized on its
 * codes with their bits, block size and zero points (rows are whole blocks: no padding). */
static int gather_carried(cvt_decoder *d, const char **x)
{
    const int bits = d->lm_head_carried.bits, bs = d->lm_head_carried.block_size;
    const int64_t shape[2] = {d->cfg.vocab, d->cfg.hidden * bits / 8};
    const char *sh, *r, *qn = cvt_str(d, "lm_head.MatMul.weight_Q%d", bits);
    const char *ins[4] = {NULL, d->input_ids, "lm_head.MatMul.weight_scales", d->lm_head_carried.zero_points};
    oir_node *n;
    if (!qn)
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_const_i64(d, shape, 2, 0, &sh));
    OLIVE_TRY(cvt_node(d, "Reshape", "", "/model/embed_tokens/Reshape", 2, (const char *[]){qn, sh}, 1, NULL, &r));
    ins[0] = r;
    OLIVE_TRY(cvt_node(d, "GatherBlockQuantized", "com.microsoft", "/model/embed_tokens/GatherBlockQuantized",
                       ins[3] ? 4 : 3, ins, 1, &n, x));
    if (oir_node_set_attr_int(n, "bits", bits) != OLIVE_OK || oir_node_set_attr_int(n, "block_size", bs) != OLIVE_OK ||
        oir_node_set_attr_int(n, "gather_axis", 0) != OLIVE_OK ||
        oir_node_set_attr_int(n, "quantize_axis", 1) != OLIVE_OK)
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

/* Rows quantized in blocks are padded to whole blocks: the gathered rows are cut back to the
 * hidden size. */
static int unpad_embedding(cvt_decoder *d, const char **x)
{
    const int64_t zero = 0, end = d->cfg.hidden, axis = -1;
    const char *z, *e, *a;
    OLIVE_TRY(cvt_const_i64(d, &zero, 1, 0, &z));
    OLIVE_TRY(cvt_const_i64(d, &end, 1, 0, &e));
    OLIVE_TRY(cvt_const_i64(d, &axis, 1, 0, &a));
    return cvt_node(d, "Slice", "", "/model/embed_tokens/Slice", 4, (const char *[]){*x, z, e, a}, 1, NULL, x);
}

/* Tied embeddings read the lm_head's weight: float through a Transpose, int4 (symmetric)
 * through GatherBlockQuantized on the MatMulNBits codes, as the builder shares them. */
static int tied_embedding(cvt_decoder *d, const char **x)
{
    const cvt_decoder_config *c = &d->cfg;
    const cvt_rows part = {"model.embed_tokens.weight", 0, 0};
    oir_node *n;
    OLIVE_TRY(cvt_linear(d, "/lm_head", NULL, &part, 1, c->hidden, 1, NULL));
    if (d->lm_head_carried.bits) {
        if (d->lm_head_carried.float_zps) /* GatherBlockQuantized takes integer zero points only */
            return untied_embedding(d, x);
        return gather_carried(d, x);
    }
    if (d->opt.precision != CVT_INT4) {
        const int64_t perm[2] = {1, 0};
        OLIVE_TRY(cvt_node(d, "Transpose", "", "/model/embed_tokens/Transpose", 1,
                           (const char *[]){"lm_head.MatMul.weight"}, 1, &n, x));
        if (oir_node_set_attr_ints(n, "perm", perm, 2) != OLIVE_OK)
            return OLIVE_ENOMEM;
        return cvt_node(d, "Gather", "", "/model/embed_tokens/Gather", 2, (const char *[]){*x, d->input_ids}, 1, NULL,
                        x);
    }
    {
        /* the head's settings: the options', or the algo_config placement's (8 bits, maybe) */
        const cvt_module_quant mq = d->plan ? cvt_plan_module(d->plan, "lm_head", 1, 0)
                                            : (cvt_module_quant){1, 4, d->opt.block_size, d->opt.symmetric};
        const int64_t bs = mq.block_size, padded = (c->hidden + bs - 1) / bs * bs;
        const int64_t shape[2] = {c->vocab, padded * mq.bits / 8};
        const char *sh, *r, *qn, *sn, *zn;
        OLIVE_TRY(cvt_quant_tensor_names(d, "lm_head", &mq, &qn, &sn, &zn));
        OLIVE_TRY(cvt_const_i64(d, shape, 2, 0, &sh));
        OLIVE_TRY(cvt_node(d, "Reshape", "", "/model/embed_tokens/Reshape", 2, (const char *[]){qn, sh}, 1, NULL, &r));
        OLIVE_TRY(cvt_node(d, "GatherBlockQuantized", "com.microsoft", "/model/embed_tokens/GatherBlockQuantized",
                           zn ? 4 : 3, (const char *[]){r, d->input_ids, sn, zn}, 1, &n, x));
        if (oir_node_set_attr_int(n, "bits", mq.bits) != OLIVE_OK ||
            oir_node_set_attr_int(n, "block_size", bs) != OLIVE_OK ||
            oir_node_set_attr_int(n, "gather_axis", 0) != OLIVE_OK ||
            oir_node_set_attr_int(n, "quantize_axis", 1) != OLIVE_OK)
            return OLIVE_ENOMEM;
        if (padded != c->hidden)
            OLIVE_TRY(unpad_embedding(d, x));
    }
    return OLIVE_OK;
}

/* The embedding table quantized as the plan says (Rtn's embeds): GatherBlockQuantized on
 * MatMulNBits-layout codes, scales and zero points, as the builder writes quantized embeddings. */
static int quantized_embedding(cvt_decoder *d, const cvt_module_quant *mq, const char **x)
{
    const cvt_decoder_config *c = &d->cfg;
    const cvt_rows part = {"model.embed_tokens.weight", 0, 0};
    const int64_t bs = mq->block_size, padded = (c->hidden + bs - 1) / bs * bs;
    const int64_t shape[2] = {c->vocab, padded * mq->bits / 8};
    const char *qn, *sn, *zn, *sh, *r;
    oir_node *n;
    OLIVE_TRY(cvt_quantized_matrix(d, "model.embed_tokens", &part, c->hidden, mq, &qn, &sn, &zn));
    OLIVE_TRY(cvt_const_i64(d, shape, 2, 0, &sh));
    OLIVE_TRY(cvt_node(d, "Reshape", "", "/model/embed_tokens/Reshape", 2, (const char *[]){qn, sh}, 1, NULL, &r));
    OLIVE_TRY(cvt_node(d, "GatherBlockQuantized", "com.microsoft", "/model/embed_tokens/GatherBlockQuantized",
                       zn ? 4 : 3, (const char *[]){r, d->input_ids, sn, zn}, 1, &n, x));
    if (oir_node_set_attr_int(n, "bits", mq->bits) != OLIVE_OK ||
        oir_node_set_attr_int(n, "block_size", bs) != OLIVE_OK ||
        oir_node_set_attr_int(n, "gather_axis", 0) != OLIVE_OK ||
        oir_node_set_attr_int(n, "quantize_axis", 1) != OLIVE_OK)
        return OLIVE_ENOMEM;
    if (padded != c->hidden)
        OLIVE_TRY(unpad_embedding(d, x));
    return OLIVE_OK;
}

int cvt_embed(cvt_decoder *d, const char **hidden)
{
    const ofmt_tensor *t;
    const char *x;
    const int tied = d->cfg.tied_embeddings && !d->opt.exclude_lm_head && d->opt.precision != CVT_INT8 &&
                     (d->opt.precision != CVT_INT4 || d->opt.symmetric || d->opt.algorithm != OLIVE_BLOCKQ_DEFAULT) &&
                     (!d->plan || d->opt.placement) && /* a quant_plan may give the head other bits, or none */
                     !d->rot; /* a rotation folds the final norm into the head alone: they part */
    OLIVE_TRY(cvt_tensor(d, "model.embed_tokens.weight", 2, (const int64_t[]){d->cfg.vocab, d->cfg.hidden}, &t));
    if (d->plan && cvt_plan_embeds(d->plan)) {
        const cvt_module_quant mq = cvt_plan_module(d->plan, "model.embed_tokens", 0, 1);
        OLIVE_TRY(quantized_embedding(d, &mq, &x));
    } else if (tied) {
        OLIVE_TRY(tied_embedding(d, &x));
    } else {
        OLIVE_TRY(copy_matrix(d, t, "model.embed_tokens.weight", d->cfg.vocab, d->cfg.hidden));
        OLIVE_TRY(cvt_node(d, "Gather", "", "/model/embed_tokens/Gather", 2,
                           (const char *[]){"model.embed_tokens.weight", d->input_ids}, 1, NULL, &x));
    }
    if (d->cfg.embed_scale != 0.0) {
        const char *s;
        OLIVE_TRY(cvt_const_scalar(d, d->cfg.embed_scale, &s));
        OLIVE_TRY(cvt_node(d, "Mul", "", "/model/embed_tokens/Mul", 2, (const char *[]){x, s}, 1, NULL, &x));
    }
    *hidden = x;
    return OLIVE_OK;
}

/* ---- MLP ---- */

int cvt_mlp(cvt_decoder *d, int64_t layer, const char *x, const char **out)
{
    const cvt_decoder_config *c = &d->cfg;
    const char *path = cvt_str(d, "/model/layers.%" PRId64 "/mlp", layer);
    const char *pre = cvt_str(d, "model.layers.%" PRId64 ".mlp", layer);
    const char *names[3] = {"gate_proj", "up_proj", "down_proj"}, *y[3], *act, *mul, *mn;
    if (!path || !pre || !(mn = cvt_str(d, "%s/Mul", path)))
        return OLIVE_ENOMEM;
    for (int i = 0; i < 2; i++) {
        const char *p = cvt_str(d, "%s/%s", path, names[i]), *w = cvt_str(d, "%s.%s.weight", pre, names[i]);
        const char *b = cvt_str(d, "%s.%s.bias", pre, names[i]);
        if (!p || !w || !b)
            return OLIVE_ENOMEM;
        const cvt_rows bpart = {b, 0, 0};
        cvt_rows part;
        OLIVE_TRY(cvt_proj_rows(d, layer, i ? CVT_PROJ_UP : CVT_PROJ_GATE, w, c->intermediate, c->hidden, &part));
        OLIVE_TRY(cvt_linear(d, p, x, &part, 1, c->hidden, 1, &y[i]));
        if (c->mlp_bias)
            OLIVE_TRY(cvt_bias(d, p, y[i], &bpart, 1, &y[i]));
    }
    {
        const char *p = cvt_str(d, "%s/act_fn", path);
        if (!p)
            return OLIVE_ENOMEM;
        OLIVE_TRY(cvt_activation_node(d, p, y[0], &act));
    }
    OLIVE_TRY(cvt_node(d, "Mul", "", mn, 2, (const char *[]){act, y[1]}, 1, NULL, &mul));
    {
        const char *p = cvt_str(d, "%s/down_proj", path), *w = cvt_str(d, "%s.down_proj.weight", pre);
        const char *b = cvt_str(d, "%s.down_proj.bias", pre);
        if (!p || !w || !b)
            return OLIVE_ENOMEM;
        const cvt_rows part = {w, 0, 0}, bpart = {b, 0, 0};
        const ofmt_tensor *t;
        OLIVE_TRY(cvt_tensor(d, w, 2, (const int64_t[]){c->hidden, c->intermediate}, &t));
        OLIVE_TRY(cvt_linear(d, p, mul, &part, 1, c->intermediate, 1, &y[2]));
        if (c->mlp_bias)
            OLIVE_TRY(cvt_bias(d, p, y[2], &bpart, 1, &y[2]));
    }
    *out = y[2];
    return OLIVE_OK;
}

/* ---- layer ---- */

/* A branch output times cfg.residual_scale ("/model/layers.N/residual_mul/Mul_<which>"), or
 * the output itself when there is no scale. */
static int residual_scaled(cvt_decoder *d, int64_t layer, int which, const char *x, const char **out)
{
    const char *c, *name;
    if (d->cfg.residual_scale == 0.0) {
        *out = x;
        return OLIVE_OK;
    }
    if (!(name = cvt_str(d, "/model/layers.%" PRId64 "/residual_mul/Mul_%d", layer, which)))
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_const_scalar(d, d->cfg.residual_scale, &c));
    return cvt_node(d, "Mul", "", name, 2, (const char *[]){x, c}, 1, NULL, out);
}

int cvt_layer(cvt_decoder *d, int64_t layer, cvt_residual *r)
{
    const char *x, *a, *m;
    const char *p1 = cvt_str(d, "/model/layers.%" PRId64 "/input_layernorm", layer);
    const char *t1 = cvt_str(d, "model.layers.%" PRId64 ".input_layernorm.weight", layer);
    const char *p2 = cvt_str(d, "/model/layers.%" PRId64 "/post_attention_layernorm", layer);
    const char *t2 = cvt_str(d, "model.layers.%" PRId64 ".post_attention_layernorm.weight", layer);
    if (!p1 || !t1 || !p2 || !t2)
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_norm_residual(d, p1, r, t1, &x));
    OLIVE_TRY((d->arch->attention ? d->arch->attention : cvt_attention)(d, layer, x, &a));
    OLIVE_TRY(residual_scaled(d, layer, 1, a, &r->pending));
    OLIVE_TRY(cvt_norm_residual(d, p2, r, t2, &x));
    OLIVE_TRY((d->arch->mlp ? d->arch->mlp : cvt_mlp)(d, layer, x, &m));
    return residual_scaled(d, layer, 2, m, &r->pending);
}

/* ---- head ---- */

int cvt_head(cvt_decoder *d, cvt_residual *r)
{
    const char *x, *logits;
    const char *p = cvt_str(d, "/model/layers.%" PRId64 "/final_norm_layernorm", d->n_layers);
    const char *lm = d->cfg.tied_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
    if (!p)
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_norm_residual(d, p, r, "model.norm.weight", &x));
    if (d->opt.include_hidden_states || d->opt.exclude_lm_head) {
        OLIVE_TRY(oir_graph_rename_value(d->g, x, "hidden_states"));
        x = "hidden_states";
    }
    if (d->opt.exclude_lm_head)
        return OLIVE_OK;
    {
        const ofmt_tensor *t;
        const cvt_rows part = {lm, 0, 0};
        OLIVE_TRY(cvt_tensor(d, lm, 2, (const int64_t[]){d->cfg.vocab, d->cfg.hidden}, &t));
        OLIVE_TRY(cvt_linear(d, "/lm_head", x, &part, 1, d->cfg.hidden, 1, &logits));
    }
    if (d->cfg.logit_scale != 0.0) {
        const char *c;
        OLIVE_TRY(cvt_const_scalar(d, d->cfg.logit_scale, &c));
        OLIVE_TRY(cvt_node(d, "Mul", "", "/lm_head/Mul", 2, (const char *[]){logits, c}, 1, NULL, &logits));
    }
    if (d->cfg.final_logit_softcap != 0.0f) {
        const char *c = "lm_head.softcap", *y;
        float v = d->cfg.final_logit_softcap;
        OLIVE_TRY(cvt_init_from_f32(d, c, d->io_dtype, 0, NULL, &v));
        OLIVE_TRY(cvt_node(d, "Div", "", "/lm_head/softcap/Div", 2, (const char *[]){logits, c}, 1, NULL, &y));
        OLIVE_TRY(cvt_node(d, "Tanh", "", "/lm_head/softcap/Tanh", 1, &y, 1, NULL, &y));
        OLIVE_TRY(cvt_node(d, "Mul", "", "/lm_head/softcap/Mul", 2, (const char *[]){y, c}, 1, NULL, &logits));
    }
    /* bfloat16 models give float logits, as the builder writes them */
    if (d->io_dtype == OIR_BFLOAT16) {
        oir_node *n;
        OLIVE_TRY(cvt_node(d, "Cast", "", "/lm_head/Cast", 1, &logits, 1, &n, &logits));
        if (oir_node_set_attr_int(n, "to", OIR_FLOAT) != OLIVE_OK)
            return OLIVE_ENOMEM;
    }
    return oir_graph_rename_value(d->g, logits, "logits");
}
