/* The default steps of a decoder build: rotary caches, embeddings, norms, attention with
 * com.microsoft GroupQueryAttention, the gated MLP and the head. Architecture hooks replace or
 * wrap them. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder.h"
#include "passes/convert/decoder_internal.h"

/* ---- rotary ---- */

int cvt_rotary_inv_freq(const cvt_decoder *d, double *inv_freq)
{
    const cvt_decoder_config *c = &d->cfg;
    const int64_t dim = c->rotary_dim, half = dim / 2;
    const char *type = c->rope_type;
    double linear = 1.0;
    if (!strcmp(type, "linear"))
        linear = c->rope_factor > 0 ? c->rope_factor : 1.0;
    else if (strcmp(type, "default") && strcmp(type, "llama3") && strcmp(type, "dynamic"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': rope_type '%s' is not supported for %s (supported: default, linear, "
                          "dynamic, llama3)",
                          d->ck->path, type, d->arch->architecture);
    for (int64_t i = 0; i < half; i++)
        inv_freq[i] = 1.0 / (linear * pow(c->rope_theta, (double)(2 * i) / (double)dim));
    if (!strcmp(type, "llama3")) {
        /* Llama 3.1: long wavelengths slowed by `factor`, short ones kept, a smooth ramp between. */
        const double old = (double)(c->rope_original_context ? c->rope_original_context : c->context_length);
        const double lo = c->rope_low_freq_factor, hi = c->rope_high_freq_factor, f = c->rope_factor;
        if (lo <= 0 || hi <= lo || f <= 0)
            return olive_fail(OLIVE_EFORMAT,
                              "config.json of '%s': llama3 rope scaling needs factor > 0 and 0 < low_freq_factor < "
                              "high_freq_factor",
                              d->ck->path);
        for (int64_t i = 0; i < half; i++) {
            double wavelen = 2 * M_PI / inv_freq[i];
            if (wavelen < old / hi)
                continue;
            if (wavelen > old / lo) {
                inv_freq[i] /= f;
            } else {
                double smooth = (old / wavelen - lo) / (hi - lo);
                inv_freq[i] = (1 - smooth) * inv_freq[i] / f + smooth * inv_freq[i];
            }
        }
    }
    return OLIVE_OK;
}

void cvt_rotary_fill(const double *inv_freq, int64_t half, int64_t rows, float *cos_out, float *sin_out)
{
    for (int64_t p = 0; p < rows; p++)
        for (int64_t i = 0; i < half; i++) {
            /* float32 angles, as the reference implementations compute them */
            float a = (float)p * (float)inv_freq[i];
            cos_out[p * half + i] = (float)cos((double)a);
            sin_out[p * half + i] = (float)sin((double)a);
        }
}

int cvt_rotary_caches(cvt_decoder *d)
{
    const int64_t half = d->cfg.rotary_dim / 2, rows = d->cfg.context_length;
    double *inv = olive_malloc((size_t)half * sizeof *inv + 1);
    float *c = olive_malloc((size_t)(rows * half) * sizeof *c + 1), *s = olive_malloc((size_t)(rows * half) * sizeof *s + 1);
    int rc = inv && c && s ? OLIVE_OK : OLIVE_ENOMEM;
    const int64_t dims[2] = {rows, half};
    if (rc == OLIVE_OK)
        rc = cvt_rotary_inv_freq(d, inv);
    if (rc == OLIVE_OK) {
        cvt_rotary_fill(inv, half, rows, c, s);
        rc = cvt_init_from_f32(d, "cos_cache", d->io_dtype, 2, dims, c);
    }
    if (rc == OLIVE_OK)
        rc = cvt_init_from_f32(d, "sin_cache", d->io_dtype, 2, dims, s);
    free(inv);
    free(c);
    free(s);
    d->cos_cache = "cos_cache";
    d->sin_cache = "sin_cache";
    return rc;
}

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
        rc = ofmt_tensor_read_f32(t, (uint64_t)r0, (uint64_t)n, buf);
        if (rc != OLIVE_OK) {
            rc = olive_fail_context(rc, "tensor '%s'", t->name);
            break;
        }
        olive_blob_drop_pages(t->blob, t->offset + (uint64_t)r0 * (t->nbytes / (uint64_t)rows),
                              (uint64_t)n * (t->nbytes / (uint64_t)rows));
        cvt_convert_f32(d->io_dtype, buf, (size_t)(n * cols), bytes);
        rc = olive_spill_write(d->spill, off + (uint64_t)(r0 * cols) * es, bytes, (size_t)(n * cols) * es);
    }
    free(buf);
    free(bytes);
    OLIVE_TRY(rc);
    return cvt_weight_done(d);
}

/* Tied embeddings read the lm_head's weight: float through a Transpose, int4 (symmetric)
 * through GatherBlockQuantized on the MatMulNBits codes, as the builder shares them. */
static int tied_embedding(cvt_decoder *d, const char **x)
{
    const cvt_decoder_config *c = &d->cfg;
    const cvt_rows part = {"model.embed_tokens.weight", 0, 0};
    oir_node *n;
    OLIVE_TRY(cvt_linear(d, "/lm_head", NULL, &part, 1, c->hidden, 1, NULL));
    if (d->opt.precision != CVT_INT4) {
        const int64_t perm[2] = {1, 0};
        OLIVE_TRY(cvt_node(d, "Transpose", "", "/model/embed_tokens/Transpose", 1,
                           (const char *[]){"lm_head.MatMul.weight"}, 1, &n, x));
        if (oir_node_set_attr_ints(n, "perm", perm, 2) != OLIVE_OK)
            return OLIVE_ENOMEM;
        return cvt_node(d, "Gather", "", "/model/embed_tokens/Gather", 2, (const char *[]){*x, d->input_ids}, 1, NULL, x);
    }
    {
        const int64_t bs = d->opt.block_size, padded = (c->hidden + bs - 1) / bs * bs;
        const int64_t shape[2] = {c->vocab, padded / 2};
        const char *sh, *r;
        OLIVE_TRY(cvt_const_i64(d, shape, 2, 0, &sh));
        OLIVE_TRY(cvt_node(d, "Reshape", "", "/model/embed_tokens/Reshape", 2,
                           (const char *[]){"lm_head.MatMul.weight_Q4", sh}, 1, NULL, &r));
        OLIVE_TRY(cvt_node(d, "GatherBlockQuantized", "com.microsoft", "/model/embed_tokens/GatherBlockQuantized", 3,
                           (const char *[]){r, d->input_ids, "lm_head.MatMul.weight_scales"}, 1, &n, x));
        if (oir_node_set_attr_int(n, "bits", 4) != OLIVE_OK || oir_node_set_attr_int(n, "block_size", bs) != OLIVE_OK ||
            oir_node_set_attr_int(n, "gather_axis", 0) != OLIVE_OK ||
            oir_node_set_attr_int(n, "quantize_axis", 1) != OLIVE_OK)
            return OLIVE_ENOMEM;
        if (padded != c->hidden) {
            const int64_t zero = 0, end = c->hidden, axis = -1;
            const char *z, *e, *a;
            OLIVE_TRY(cvt_const_i64(d, &zero, 1, 0, &z));
            OLIVE_TRY(cvt_const_i64(d, &end, 1, 0, &e));
            OLIVE_TRY(cvt_const_i64(d, &axis, 1, 0, &a));
            OLIVE_TRY(cvt_node(d, "Slice", "", "/model/embed_tokens/Slice", 4, (const char *[]){*x, z, e, a}, 1, NULL, x));
        }
    }
    return OLIVE_OK;
}

int cvt_embed(cvt_decoder *d, const char **hidden)
{
    const ofmt_tensor *t;
    const char *x;
    const int tied = d->cfg.tied_embeddings && !d->opt.exclude_lm_head && d->opt.precision != CVT_INT8 &&
                     (d->opt.precision != CVT_INT4 || d->opt.symmetric);
    OLIVE_TRY(cvt_tensor(d, "model.embed_tokens.weight", 2, (const int64_t[]){d->cfg.vocab, d->cfg.hidden}, &t));
    if (tied) {
        OLIVE_TRY(tied_embedding(d, &x));
    } else {
        OLIVE_TRY(copy_matrix(d, t, "model.embed_tokens.weight", d->cfg.vocab, d->cfg.hidden));
        OLIVE_TRY(cvt_node(d, "Gather", "", "/model/embed_tokens/Gather", 2,
                           (const char *[]){"model.embed_tokens.weight", d->input_ids}, 1, NULL, &x));
    }
    if (d->cfg.embed_scale != 0.0f) {
        const char *s = "model.embed_tokens.scale";
        float v = d->cfg.embed_scale;
        OLIVE_TRY(cvt_init_from_f32(d, s, d->io_dtype, 0, NULL, &v));
        OLIVE_TRY(cvt_node(d, "Mul", "", "/model/embed_tokens/Mul", 2, (const char *[]){x, s}, 1, NULL, &x));
    }
    *hidden = x;
    return OLIVE_OK;
}

/* ---- attention ---- */

static int add_qk_norm(cvt_decoder *d, int64_t layer, const char *which, const char *x, int64_t heads, const char **out)
{
    const int64_t per_head[3] = {0, -1, d->cfg.head_dim}, flat[3] = {0, -1, heads * d->cfg.head_dim};
    const char *s1, *s2, *path, *name1, *name2, *tensor, *r1;
    if (!(path = cvt_str(d, "/model/layers.%" PRId64 "/attn/%s_norm", layer, which)) ||
        !(name1 = cvt_str(d, "%s/Reshape_1", path)) || !(name2 = cvt_str(d, "%s/Reshape_2", path)) ||
        !(tensor = cvt_str(d, "model.layers.%" PRId64 ".self_attn.%s_norm.weight", layer, which)))
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_const_i64(d, per_head, 3, 0, &s1));
    OLIVE_TRY(cvt_const_i64(d, flat, 3, 0, &s2));
    OLIVE_TRY(cvt_node(d, "Reshape", "", name1, 2, (const char *[]){x, s1}, 1, NULL, &r1));
    OLIVE_TRY(cvt_norm(d, path, r1, tensor, d->cfg.head_dim, &r1));
    return cvt_node(d, "Reshape", "", name2, 2, (const char *[]){r1, s2}, 1, NULL, out);
}

/* Where a projection's rows are: the architecture's hook, else the Llama name, all rows. */
static int proj_rows(cvt_decoder *d, int64_t layer, cvt_proj which, const char *name, int64_t out, int64_t in,
                     cvt_rows *rows)
{
    const ofmt_tensor *t;
    if (d->arch->weight_rows)
        return d->arch->weight_rows(d, layer, which, rows);
    OLIVE_TRY(cvt_tensor(d, name, 2, (const int64_t[]){out, in}, &t));
    rows->tensor = name;
    rows->first = 0;
    rows->count = 0;
    return OLIVE_OK;
}

int cvt_attention(cvt_decoder *d, int64_t layer, const char *x, const char **out)
{
    const cvt_decoder_config *c = &d->cfg;
    const int64_t qn = c->heads * c->head_dim, kvn = c->kv_heads * c->head_dim;
    const char *pre = cvt_str(d, "model.layers.%" PRId64 ".self_attn", layer);
    const char *path = cvt_str(d, "/model/layers.%" PRId64 "/attn", layer);
    const char *names[3] = {"q_proj", "k_proj", "v_proj"}, *w[3], *bias[3], *qkv[3] = {"", "", ""};
    const char *gqa_ins[9], *gqa_outs[3], *gname, *present_k, *present_v, *past_k, *past_v, *o;
    cvt_rows rows[3];
    oir_node *n;
    if (!pre || !path)
        return OLIVE_ENOMEM;
    for (int i = 0; i < 3; i++)
        if (!(w[i] = cvt_str(d, "%s.%s.weight", pre, names[i])) || !(bias[i] = cvt_str(d, "%s.%s.bias", pre, names[i])))
            return OLIVE_ENOMEM;
    /* Where q, k, v are (shapes checked before anything is written). */
    for (int i = 0; i < 3; i++)
        OLIVE_TRY(proj_rows(d, layer, (cvt_proj)(CVT_PROJ_Q + i), w[i], i ? kvn : qn, c->hidden, &rows[i]));
    if (!d->opt.disable_qkv_fusion) {
        const cvt_rows bparts[3] = {{bias[0], 0, 0}, {bias[1], 0, 0}, {bias[2], 0, 0}};
        const char *p = cvt_str(d, "%s/qkv_proj", path), *packed;
        if (!p)
            return OLIVE_ENOMEM;
        OLIVE_TRY(cvt_linear(d, p, x, rows, 3, c->hidden, 1, &packed));
        if (c->qkv_bias)
            OLIVE_TRY(cvt_bias(d, p, packed, bparts, 3, &packed));
        if (c->qk_norm) {
            const int64_t sizes[3] = {qn, kvn, kvn};
            const char *split, *sn = cvt_str(d, "%s/Split", p), *souts[3];
            oir_node *sp;
            if (!sn)
                return OLIVE_ENOMEM;
            OLIVE_TRY(cvt_const_i64(d, sizes, 3, 0, &split));
            OLIVE_TRY(cvt_node(d, "Split", "", sn, 2, (const char *[]){packed, split}, 3, &sp, souts));
            if (oir_node_set_attr_int(sp, "axis", -1) != OLIVE_OK)
                return OLIVE_ENOMEM;
            qkv[0] = souts[0];
            qkv[1] = souts[1];
            qkv[2] = souts[2];
        } else {
            qkv[0] = packed;
        }
    } else {
        for (int i = 0; i < 3; i++) {
            const cvt_rows bpart = {bias[i], 0, 0};
            const char *p = cvt_str(d, "%s/%s", path, names[i]);
            if (!p)
                return OLIVE_ENOMEM;
            OLIVE_TRY(cvt_linear(d, p, x, &rows[i], 1, c->hidden, 1, &qkv[i]));
            if (c->qkv_bias)
                OLIVE_TRY(cvt_bias(d, p, qkv[i], &bpart, 1, &qkv[i]));
        }
    }
    if (c->qk_norm) {
        OLIVE_TRY(add_qk_norm(d, layer, "q", qkv[0], c->heads, &qkv[0]));
        OLIVE_TRY(add_qk_norm(d, layer, "k", qkv[1], c->kv_heads, &qkv[1]));
    }
    if (!(gname = cvt_str(d, "%s/GroupQueryAttention", path)) ||
        !(past_k = cvt_str(d, "past_key_values.%" PRId64 ".key", layer)) ||
        !(past_v = cvt_str(d, "past_key_values.%" PRId64 ".value", layer)) ||
        !(present_k = cvt_str(d, "present.%" PRId64 ".key", layer)) ||
        !(present_v = cvt_str(d, "present.%" PRId64 ".value", layer)))
        return OLIVE_ENOMEM;
    gqa_ins[0] = qkv[0];
    gqa_ins[1] = qkv[1];
    gqa_ins[2] = qkv[2];
    gqa_ins[3] = past_k;
    gqa_ins[4] = past_v;
    gqa_ins[5] = d->seqlens_k;
    gqa_ins[6] = d->total_seq_len;
    gqa_ins[7] = d->cos_cache;
    gqa_ins[8] = d->sin_cache;
    OLIVE_TRY(cvt_node(d, "GroupQueryAttention", "com.microsoft", gname, 9, gqa_ins, 3, &n, gqa_outs));
    if (oir_node_set_output(n, 1, present_k) != OLIVE_OK || oir_node_set_output(n, 2, present_v) != OLIVE_OK ||
        oir_node_set_attr_int(n, "num_heads", c->heads) != OLIVE_OK ||
        oir_node_set_attr_int(n, "kv_num_heads", c->kv_heads) != OLIVE_OK ||
        oir_node_set_attr_float(n, "scale", c->attn_scale != 0.0f ? c->attn_scale
                                                                  : (float)(1.0 / sqrt((double)c->head_dim))) != OLIVE_OK ||
        oir_node_set_attr_int(n, "local_window_size",
                              c->sliding_window > 0 && cvt_layer_is_sliding(d, layer) ? c->sliding_window : -1) !=
            OLIVE_OK ||
        oir_node_set_attr_float(n, "softcap", c->attn_softcap) != OLIVE_OK ||
        oir_node_set_attr_int(n, "do_rotary", 1) != OLIVE_OK ||
        oir_node_set_attr_int(n, "rotary_interleaved", c->rotary_interleaved) != OLIVE_OK)
        return OLIVE_ENOMEM;
    {
        const char *p = cvt_str(d, "%s/o_proj", path), *ow = cvt_str(d, "%s.o_proj.weight", pre);
        const char *ob = cvt_str(d, "%s.o_proj.bias", pre);
        if (!p || !ow || !ob)
            return OLIVE_ENOMEM;
        const cvt_rows part = {ow, 0, 0}, bpart = {ob, 0, 0};
        OLIVE_TRY(cvt_linear(d, p, gqa_outs[0], &part, 1, qn, 1, &o));
        if (c->o_bias)
            OLIVE_TRY(cvt_bias(d, p, o, &bpart, 1, &o));
    }
    *out = o;
    return OLIVE_OK;
}

int cvt_layer_is_sliding(const cvt_decoder *d, int64_t layer)
{
    return d->arch->layer_is_sliding ? d->arch->layer_is_sliding(d, layer) : 1;
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
        OLIVE_TRY(proj_rows(d, layer, i ? CVT_PROJ_UP : CVT_PROJ_GATE, w, c->intermediate, c->hidden, &part));
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
    r->pending = a;
    OLIVE_TRY(cvt_norm_residual(d, p2, r, t2, &x));
    OLIVE_TRY((d->arch->mlp ? d->arch->mlp : cvt_mlp)(d, layer, x, &m));
    r->pending = m;
    return OLIVE_OK;
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
    if (d->cfg.final_logit_softcap != 0.0f) {
        const char *c = "lm_head.softcap", *y;
        float v = d->cfg.final_logit_softcap;
        OLIVE_TRY(cvt_init_from_f32(d, c, d->io_dtype, 0, NULL, &v));
        OLIVE_TRY(cvt_node(d, "Div", "", "/lm_head/softcap/Div", 2, (const char *[]){logits, c}, 1, NULL, &y));
        OLIVE_TRY(cvt_node(d, "Tanh", "", "/lm_head/softcap/Tanh", 1, &y, 1, NULL, &y));
        OLIVE_TRY(cvt_node(d, "Mul", "", "/lm_head/softcap/Mul", 2, (const char *[]){y, c}, 1, NULL, &logits));
    }
    return oir_graph_rename_value(d->g, logits, "logits");
}
