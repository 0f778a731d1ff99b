/* Whisper's decoder graph (see whisper.h). With x the running hidden states:
 *
 *   Gather(embed_tokens, input_ids) + embed_positions[past : past + sequence]           = x
 *   per layer: x + out_proj(MultiHeadAttention(LayerNorm(x), past self cache, causal)) = x
 *              x + out_proj(MultiHeadAttention(q of LayerNorm(x), cross caches))        = x
 *              x + fc2(Gelu(fc1(LayerNorm(x))))                                         = x
 *   LayerNorm(x) @ embed_tokens^T (or proj_out when untied)                        = logits
 *
 * The past length comes from past_key_self_0's shape, so the first step feeds empty caches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/whisper_internal.h"

static int embeddings(wh_build *b, const char *out)
{
    const wh_config *c = &b->c;
    int64_t tdims[2] = {c->vocab, c->d_model}, pdims[2] = {c->target_positions, c->d_model}, zero = 0, one = 1;
    oir_node *n;

    OLIVE_TRY(wh_copy(b, "decoder.embed_tokens.weight", "decoder.embed_tokens.weight", 2, tdims));
    OLIVE_TRY(wh_copy(b, "decoder.embed_positions.weight", "decoder.embed_positions.weight", 2, pdims));
    OLIVE_TRY(wh_int64(b, "positions.axes", 1, &one, &zero, 1));
    const char *past[] = {"past_key_self_0"};
    OLIVE_TRY(wh_node1(b, &n, "Shape", "", WH_ARRAY(past), "positions.past"));
    OLIVE_TRY(oir_node_set_attr_int(n, "start", 2));
    OLIVE_TRY(oir_node_set_attr_int(n, "end", 3));
    const char *ids[] = {"input_ids"};
    OLIVE_TRY(wh_node1(b, &n, "Shape", "", WH_ARRAY(ids), "positions.count"));
    OLIVE_TRY(oir_node_set_attr_int(n, "start", 1));
    OLIVE_TRY(oir_node_set_attr_int(n, "end", 2));
    OLIVE_TRY(wh_add(b, "positions.past", "positions.count", "positions.end"));
    const char *slice[] = {"decoder.embed_positions.weight", "positions.past", "positions.end", "positions.axes"};
    OLIVE_TRY(wh_node1(b, NULL, "Slice", "", WH_ARRAY(slice), "positions.embedded"));
    const char *gather[] = {"decoder.embed_tokens.weight", "input_ids"};
    OLIVE_TRY(wh_node1(b, NULL, "Gather", "", WH_ARRAY(gather), "tokens.embedded"));
    return wh_add(b, "tokens.embedded", "positions.embedded", out);
}

static int layer(wh_build *b, int64_t i, const char *x, const char *out)
{
    const wh_config *c = &b->c;
    char stem[40], ck[WH_NAME_MAX], ln1[WH_NAME_MAX], q[WH_NAME_MAX], k[WH_NAME_MAX], v[WH_NAME_MAX];
    char ctx[WH_NAME_MAX], proj[WH_NAME_MAX], r1[WH_NAME_MAX], ln2[WH_NAME_MAX], qc[WH_NAME_MAX], ctx2[WH_NAME_MAX];
    char proj2[WH_NAME_MAX], r2[WH_NAME_MAX], ln3[WH_NAME_MAX], mlp[WH_NAME_MAX];
    char pk[WH_NAME_MAX], pv[WH_NAME_MAX], sk[WH_NAME_MAX], sv[WH_NAME_MAX], xk[WH_NAME_MAX], xv[WH_NAME_MAX];
    oir_node *n;

    snprintf(stem, sizeof stem, "decoder.layers.%lld", (long long)i);
    snprintf(ln1, sizeof ln1, "%s.self_attn_layer_norm.out", stem);
    snprintf(q, sizeof q, "%s.self_attn.q", stem);
    snprintf(k, sizeof k, "%s.self_attn.k", stem);
    snprintf(v, sizeof v, "%s.self_attn.v", stem);
    snprintf(ctx, sizeof ctx, "%s.self_attn.context", stem);
    snprintf(proj, sizeof proj, "%s.self_attn.out", stem);
    snprintf(r1, sizeof r1, "%s.self_attention_residual", stem);
    snprintf(ln2, sizeof ln2, "%s.encoder_attn_layer_norm.out", stem);
    snprintf(qc, sizeof qc, "%s.encoder_attn.q", stem);
    snprintf(ctx2, sizeof ctx2, "%s.encoder_attn.context", stem);
    snprintf(proj2, sizeof proj2, "%s.encoder_attn.out", stem);
    snprintf(r2, sizeof r2, "%s.cross_attention_residual", stem);
    snprintf(ln3, sizeof ln3, "%s.final_layer_norm.out", stem);
    snprintf(mlp, sizeof mlp, "%s.mlp", stem);
    snprintf(pk, sizeof pk, "past_key_self_%lld", (long long)i);
    snprintf(pv, sizeof pv, "past_value_self_%lld", (long long)i);
    snprintf(sk, sizeof sk, "present_key_self_%lld", (long long)i);
    snprintf(sv, sizeof sv, "present_value_self_%lld", (long long)i);
    snprintf(xk, sizeof xk, "past_key_cross_%lld", (long long)i);
    snprintf(xv, sizeof xv, "past_value_cross_%lld", (long long)i);

    /* Causal self-attention over the past and the new tokens. */
    snprintf(ck, sizeof ck, "%s.self_attn_layer_norm", stem);
    OLIVE_TRY(wh_norm(b, x, ck, ln1));
    snprintf(ck, sizeof ck, "%s.self_attn.q_proj", stem);
    OLIVE_TRY(wh_dense(b, ln1, ck, c->d_model, c->d_model, 1, q));
    snprintf(ck, sizeof ck, "%s.self_attn.k_proj", stem);
    OLIVE_TRY(wh_dense(b, ln1, ck, c->d_model, c->d_model, 0, k));
    snprintf(ck, sizeof ck, "%s.self_attn.v_proj", stem);
    OLIVE_TRY(wh_dense(b, ln1, ck, c->d_model, c->d_model, 1, v));
    const char *att[] = {q, k, v, "", "", "", pk, pv};
    const char *att_out[] = {ctx, sk, sv};
    OLIVE_TRY(wh_node(b, &n, "MultiHeadAttention", "com.microsoft", WH_ARRAY(att), WH_ARRAY(att_out)));
    OLIVE_TRY(oir_node_set_attr_int(n, "num_heads", c->dec_heads));
    OLIVE_TRY(oir_node_set_attr_int(n, "unidirectional", 1));
    snprintf(ck, sizeof ck, "%s.self_attn.out_proj", stem);
    OLIVE_TRY(wh_dense(b, ctx, ck, c->d_model, c->d_model, 1, proj));
    OLIVE_TRY(wh_add(b, x, proj, r1));

    /* Cross-attention: keys and values are the encoder's caches, [batch, heads, 1500, head]. */
    snprintf(ck, sizeof ck, "%s.encoder_attn_layer_norm", stem);
    OLIVE_TRY(wh_norm(b, r1, ck, ln2));
    snprintf(ck, sizeof ck, "%s.encoder_attn.q_proj", stem);
    OLIVE_TRY(wh_dense(b, ln2, ck, c->d_model, c->d_model, 1, qc));
    const char *cross[] = {qc, xk, xv};
    OLIVE_TRY(wh_node1(b, &n, "MultiHeadAttention", "com.microsoft", WH_ARRAY(cross), ctx2));
    OLIVE_TRY(oir_node_set_attr_int(n, "num_heads", c->dec_heads));
    snprintf(ck, sizeof ck, "%s.encoder_attn.out_proj", stem);
    OLIVE_TRY(wh_dense(b, ctx2, ck, c->d_model, c->d_model, 1, proj2));
    OLIVE_TRY(wh_add(b, r1, proj2, r2));

    snprintf(ck, sizeof ck, "%s.final_layer_norm", stem);
    OLIVE_TRY(wh_norm(b, r2, ck, ln3));
    OLIVE_TRY(wh_mlp(b, ln3, stem, c->dec_ffn, mlp));
    return wh_add(b, r2, mlp, out);
}

/* logits = x @ W^T for the head W [vocab, d_model]: the token embeddings, or proj_out. */
static int head(wh_build *b, const char *x)
{
    const wh_config *c = &b->c;
    int64_t wdims[2] = {c->vocab, c->d_model}, tdims[2] = {c->d_model, c->vocab};
    float *src = NULL, *dst;

    if (c->tied)
        OLIVE_TRY(enc_read(&b->w, 1, "decoder.embed_tokens.weight", 2, wdims, &src));
    else
        OLIVE_TRY(enc_read(&b->w, 0, "proj_out.weight", 2, wdims, &src));
    if (!(dst = olive_malloc((size_t)(c->vocab * c->d_model) * sizeof *dst))) {
        free(src);
        return OLIVE_ENOMEM;
    }
    for (int64_t r = 0; r < c->vocab; r++)
        for (int64_t j = 0; j < c->d_model; j++)
            dst[j * c->vocab + r] = src[r * c->d_model + j];
    free(src);
    OLIVE_TRY(wh_init(b, "proj_out.weight", b->dt, 2, tdims, dst));
    const char *ins[] = {x, "proj_out.weight"};
    return wh_node1(b, NULL, "MatMul", "", WH_ARRAY(ins), "logits");
}

int wh_decoder(wh_build *b, olive_pass_ctx *ctx, double from, double to)
{
    const wh_config *c = &b->c;
    const int64_t hd = c->d_model / c->dec_heads;
    const char *ids_params[2] = {"batch_size", "sequence_length"};
    const char *logit_params[3] = {"batch_size", "sequence_length", NULL};
    const char *past_params[4] = {"batch_size", NULL, "past_sequence_length", NULL};
    const char *present_params[4] = {"batch_size", NULL, "total_sequence_length", NULL};
    const char *cross_params[4] = {"batch_size", NULL, NULL, NULL};
    int64_t ids_dims[2] = {-1, -1}, logit_dims[3] = {-1, -1, c->vocab}, cache[4] = {-1, c->dec_heads, -1, hd};
    int64_t cross[4] = {-1, c->dec_heads, c->source_positions, hd};
    char x[WH_NAME_MAX], next[WH_NAME_MAX], name[WH_NAME_MAX];

    OLIVE_TRY(wh_io(b, 0, "input_ids", OIR_INT32, 2, ids_dims, ids_params));
    for (int64_t i = 0; i < c->dec_layers; i++) {
        static const char *const kinds[4] = {"key_self", "value_self", "key_cross", "value_cross"};
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "past_%s_%lld", kinds[k], (long long)i);
            OLIVE_TRY(wh_io(b, 0, name, b->dt, 4, k < 2 ? cache : cross, k < 2 ? past_params : cross_params));
        }
    }
    OLIVE_TRY(wh_io(b, 1, "logits", b->dt, 3, logit_dims, logit_params));
    for (int64_t i = 0; i < c->dec_layers; i++)
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "present_%s_self_%lld", k ? "value" : "key", (long long)i);
            OLIVE_TRY(wh_io(b, 1, name, b->dt, 4, cache, present_params));
        }

    OLIVE_TRY(embeddings(b, "decoder.embedded"));
    snprintf(x, sizeof x, "decoder.embedded");
    for (int64_t i = 0; i < c->dec_layers; i++) {
        snprintf(next, sizeof next, "decoder.layers.%lld.out", (long long)i);
        OLIVE_TRY(layer(b, i, x, next));
        memcpy(x, next, sizeof x);
        OLIVE_TRY(olive_pass_progress(ctx, from + (to - from) * (double)(i + 1) / (double)(c->dec_layers + 1)));
    }
    OLIVE_TRY(wh_norm(b, x, "decoder.layer_norm", "decoder.output"));
    OLIVE_TRY(head(b, "decoder.output"));
    return olive_pass_progress(ctx, to);
}
