/* Attention of one layer: q/k/v projections (packed into one MatMul unless disabled, with
 * biases and per-head q/k norms where the architecture has them), com.microsoft
 * GroupQueryAttention with the rotary caches and the KV cache inputs/outputs, and o_proj. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder.h"
#include "passes/convert/decoder_internal.h"

/* The q/k RMSNorm weight of `dim` values (head_dim per head, or the whole projection), named
 * as the builder names it. */
static int qk_norm_weight(cvt_decoder *d, int64_t layer, const char *which, int64_t dim, const char **name)
{
    const char *tensor = cvt_str(d, "model.layers.%" PRId64 ".self_attn.%s_norm.weight", layer, which);
    if (!tensor || !(*name = cvt_str(d, "model.layers.%" PRId64 ".attn.%s_norm.layernorm.weight", layer, which)))
        return OLIVE_ENOMEM;
    return cvt_norm_weight(d, tensor, dim, *name);
}

/* q or k [batch, seq, heads * head_dim] normed over all its heads at once (OLMo 2). */
static int add_full_qk_norm(cvt_decoder *d, int64_t layer, const char *which, const char *x, int64_t heads,
                            const char **out)
{
    const char *name = cvt_str(d, "/model/layers.%" PRId64 "/attn/%s_norm/SimplifiedLayerNormalization", layer, which);
    const char *w;
    oir_node *n;
    if (!name)
        return OLIVE_ENOMEM;
    OLIVE_TRY(qk_norm_weight(d, layer, which, heads * d->cfg.head_dim, &w));
    OLIVE_TRY(cvt_node(d, "SimplifiedLayerNormalization", "", name, 2, (const char *[]){x, w}, 1, &n, out));
    if (oir_node_set_attr_float(n, "epsilon", (float)d->cfg.norm_eps) != OLIVE_OK ||
        oir_node_set_attr_int(n, "axis", -1) != OLIVE_OK || oir_node_set_attr_int(n, "stash_type", 1) != OLIVE_OK)
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

/* q or k [batch, seq, heads * head_dim] normed per head: Reshape to head_dim rows,
 * SimplifiedLayerNormalization, Reshape back. */
static int add_qk_norm(cvt_decoder *d, int64_t layer, const char *which, const char *x, int64_t heads, const char **out)
{
    const int64_t per_head[3] = {0, -1, d->cfg.head_dim}, flat[3] = {0, -1, heads * d->cfg.head_dim};
    const char *s1, *s2, *path, *name1, *name2, *norm, *w, *r1;
    oir_node *n;
    if (!(path = cvt_str(d, "/model/layers.%" PRId64 "/attn/%s_norm", layer, which)) ||
        !(name1 = cvt_str(d, "%s/Reshape_1", path)) || !(name2 = cvt_str(d, "%s/Reshape_2", path)) ||
        !(norm = cvt_str(d, "%s/SimplifiedLayerNormalization", path)))
        return OLIVE_ENOMEM;
    OLIVE_TRY(qk_norm_weight(d, layer, which, d->cfg.head_dim, &w));
    OLIVE_TRY(cvt_const_i64(d, per_head, 3, 0, &s1));
    OLIVE_TRY(cvt_const_i64(d, flat, 3, 0, &s2));
    OLIVE_TRY(cvt_node(d, "Reshape", "", name1, 2, (const char *[]){x, s1}, 1, NULL, &r1));
    OLIVE_TRY(cvt_node(d, "SimplifiedLayerNormalization", "", norm, 2, (const char *[]){r1, w}, 1, &n, &r1));
    if (oir_node_set_attr_float(n, "epsilon", (float)d->cfg.norm_eps) != OLIVE_OK ||
        oir_node_set_attr_int(n, "axis", -1) != OLIVE_OK || oir_node_set_attr_int(n, "stash_type", 1) != OLIVE_OK)
        return OLIVE_ENOMEM;
    return cvt_node(d, "Reshape", "", name2, 2, (const char *[]){r1, s2}, 1, NULL, out);
}

/* com.microsoft RotaryEmbedding of q or k [batch, seq, heads * head_dim] at position_ids
 * (rotary outside attention). Partial rotary needs the head count and rotary size. */
static int rotary_node(cvt_decoder *d, int64_t layer, const char *which, const char *x, int64_t heads, const char **out)
{
    const int partial = d->cfg.rotary_dim != d->cfg.head_dim;
    const char *name = cvt_str(d, "/model/layers.%" PRId64 "/attn/%s_rotary/RotaryEmbedding", layer, which);
    oir_node *n;
    if (!name)
        return OLIVE_ENOMEM;
    OLIVE_TRY(cvt_node(d, "RotaryEmbedding", "com.microsoft", name, 4,
                       (const char *[]){x, d->position_ids, d->cos_cache, d->sin_cache}, 1, &n, out));
    if (oir_node_set_attr_int(n, "interleaved", d->cfg.rotary_interleaved) != OLIVE_OK ||
        oir_node_set_attr_int(n, "num_heads", partial ? heads : 0) != OLIVE_OK ||
        oir_node_set_attr_int(n, "rotary_embedding_dim", partial ? d->cfg.rotary_dim : 0) != OLIVE_OK)
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

/* GroupQueryAttention applies per-head q/k norms itself on the GPU providers that have it (as
 * the builder uses it: cuda, webgpu). */
static int fused_qk_norm(const cvt_decoder *d)
{
    const char *ep = d->opt.execution_provider;
    return d->cfg.qk_norm == CVT_QK_NORM_HEAD && (!strcmp(ep, "cuda") || !strcmp(ep, "webgpu"));
}

int cvt_attention(cvt_decoder *d, int64_t layer, const char *x, const char **out)
{
    const cvt_decoder_config *c = &d->cfg;
    const int64_t qn = c->heads * c->head_dim, kvn = c->kv_heads * c->head_dim;
    const char *pre = cvt_str(d, "model.layers.%" PRId64 ".self_attn", layer);
    const char *path = cvt_str(d, "/model/layers.%" PRId64 "/attn", layer);
    const char *names[3] = {"q_proj", "k_proj", "v_proj"}, *w[3], *bias[3], *qkv[3] = {"", "", ""};
    const char *gqa_ins[16], *gqa_outs[3], *qk_w[2] = {NULL, NULL};
    const char *gname, *present_k, *present_v, *past_k, *past_v, *o;
    cvt_rows rows[3];
    const int rotary = cvt_layer_has_rotary(d, layer);
    float scale;
    oir_node *n;
    if (!pre || !path)
        return OLIVE_ENOMEM;
    for (int i = 0; i < 3; i++)
        if (!(w[i] = cvt_str(d, "%s.%s.weight", pre, names[i])) || !(bias[i] = cvt_str(d, "%s.%s.bias", pre, names[i])))
            return OLIVE_ENOMEM;
    /* Where q, k, v are (shapes checked before anything is written). */
    for (int i = 0; i < 3; i++)
        OLIVE_TRY(cvt_proj_rows(d, layer, (cvt_proj)(CVT_PROJ_Q + i), w[i], i ? kvn : qn, c->hidden, &rows[i]));
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
    if (fused_qk_norm(d)) {
        OLIVE_TRY(qk_norm_weight(d, layer, "q", c->head_dim, &qk_w[0]));
        OLIVE_TRY(qk_norm_weight(d, layer, "k", c->head_dim, &qk_w[1]));
    } else if (c->qk_norm == CVT_QK_NORM_HEAD) {
        OLIVE_TRY(add_qk_norm(d, layer, "q", qkv[0], c->heads, &qkv[0]));
        OLIVE_TRY(add_qk_norm(d, layer, "k", qkv[1], c->kv_heads, &qkv[1]));
    } else if (c->qk_norm == CVT_QK_NORM_FULL) {
        OLIVE_TRY(add_full_qk_norm(d, layer, "q", qkv[0], c->heads, &qkv[0]));
        OLIVE_TRY(add_full_qk_norm(d, layer, "k", qkv[1], c->kv_heads, &qkv[1]));
    }
    if (!d->rotary_in_attention && rotary) {
        OLIVE_TRY(rotary_node(d, layer, "q", qkv[0], c->heads, &qkv[0]));
        OLIVE_TRY(rotary_node(d, layer, "k", qkv[1], c->kv_heads, &qkv[1]));
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
    gqa_ins[7] = d->rotary_in_attention && rotary ? d->cos_cache : "";
    gqa_ins[8] = d->rotary_in_attention && rotary ? d->sin_cache : "";
    /* inputs 9..13: position_ids, attention_bias, head_sink, key/value scales; 14, 15: q/k norm weights */
    for (int i = 9; i < 14; i++)
        gqa_ins[i] = "";
    gqa_ins[14] = qk_w[0];
    gqa_ins[15] = qk_w[1];
    OLIVE_TRY(cvt_node(d, "GroupQueryAttention", "com.microsoft", gname, qk_w[0] ? 16 : 9, gqa_ins, 3, &n, gqa_outs));
    if (qk_w[0] && oir_node_set_attr_float(n, "qk_norm_epsilon", (float)c->norm_eps) != OLIVE_OK)
        return OLIVE_ENOMEM;
    scale = c->attn_scale != 0.0f ? c->attn_scale : (float)(1.0 / sqrt((double)c->head_dim));
    if (oir_node_set_output(n, 1, present_k) != OLIVE_OK || oir_node_set_output(n, 2, present_v) != OLIVE_OK ||
        oir_node_set_attr_int(n, "num_heads", c->heads) != OLIVE_OK ||
        oir_node_set_attr_int(n, "kv_num_heads", c->kv_heads) != OLIVE_OK ||
        oir_node_set_attr_float(n, "scale", scale) != OLIVE_OK ||
        oir_node_set_attr_int(n, "local_window_size",
                              c->sliding_window > 0 && cvt_layer_is_sliding(d, layer) ? c->sliding_window : -1) !=
            OLIVE_OK ||
        oir_node_set_attr_float(n, "softcap", c->attn_softcap) != OLIVE_OK ||
        oir_node_set_attr_int(n, "do_rotary", d->rotary_in_attention && rotary) != OLIVE_OK ||
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

int cvt_layer_has_rotary(const cvt_decoder *d, int64_t layer)
{
    return d->arch->layer_has_rotary ? d->arch->layer_has_rotary(d, layer) : 1;
}
