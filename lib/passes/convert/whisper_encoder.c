/* Whisper's encoder graph (see whisper.h). With x the running hidden states:
 *
 *   Conv(k3) -> Gelu -> Conv(k3, stride 2) -> Gelu -> Transpose -> + positions      = x
 *   per layer: x + out_proj(MultiHeadAttention(q, k, v of LayerNorm(x)))            = x
 *              x + fc2(Gelu(fc1(LayerNorm(x))))                                     = x
 *   LayerNorm(x)                                                         = hidden_states
 *   per decoder layer j: its encoder_attn k_proj / v_proj of hidden_states as [batch, heads,
 *   frames / 2, head_size]                       = present_key_cross_j / present_value_cross_j
 *
 * The cross caches are computed once here, as ONNX Runtime GenAI expects, not at every
 * decoding step. */
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "passes/convert/whisper_internal.h"

static int conv(wh_build *b, const char *x, const char *name, int64_t in, int64_t stride, const char *out)
{
    char w[WH_NAME_MAX], bias[WH_NAME_MAX], y[WH_NAME_MAX];
    int64_t dims[3] = {b->c.d_model, in, 3}, pads[2] = {1, 1}, kernel = 3;
    oir_node *n;
    snprintf(w, sizeof w, "encoder.%s.weight", name);
    snprintf(bias, sizeof bias, "encoder.%s.bias", name);
    snprintf(y, sizeof y, "encoder.%s", name);
    OLIVE_TRY(wh_copy(b, w, w, 3, dims));
    OLIVE_TRY(wh_copy(b, bias, bias, 1, &b->c.d_model));
    const char *ins[] = {x, w, bias};
    OLIVE_TRY(wh_node1(b, &n, "Conv", "", WH_ARRAY(ins), y));
    OLIVE_TRY(oir_node_set_attr_ints(n, "kernel_shape", &kernel, 1));
    OLIVE_TRY(oir_node_set_attr_ints(n, "pads", pads, 2));
    OLIVE_TRY(oir_node_set_attr_ints(n, "strides", &stride, 1));
    return wh_gelu(b, y, out);
}

static int embeddings(wh_build *b, const char *out)
{
    int64_t pdims[2] = {b->c.source_positions, b->c.d_model}, perm[3] = {0, 2, 1};
    oir_node *n;
    OLIVE_TRY(conv(b, "audio_features", "conv1", b->c.mels, 1, "encoder.conv1.gelu"));
    OLIVE_TRY(conv(b, "encoder.conv1.gelu", "conv2", b->c.d_model, 2, "encoder.conv2.gelu"));
    const char *tr[] = {"encoder.conv2.gelu"};
    OLIVE_TRY(wh_node1(b, &n, "Transpose", "", WH_ARRAY(tr), "encoder.frames"));
    OLIVE_TRY(oir_node_set_attr_ints(n, "perm", perm, 3));
    OLIVE_TRY(wh_copy(b, "encoder.embed_positions.weight", "encoder.embed_positions.weight", 2, pdims));
    return wh_add(b, "encoder.frames", "encoder.embed_positions.weight", out);
}

static int layer(wh_build *b, int64_t i, const char *x, const char *out)
{
    const wh_config *c = &b->c;
    char stem[40], ln1[WH_NAME_MAX], q[WH_NAME_MAX], k[WH_NAME_MAX], v[WH_NAME_MAX], ctx[WH_NAME_MAX];
    char proj[WH_NAME_MAX], ck[WH_NAME_MAX], r1[WH_NAME_MAX], ln2[WH_NAME_MAX], mlp[WH_NAME_MAX];
    oir_node *n;

    snprintf(stem, sizeof stem, "encoder.layers.%lld", (long long)i);
    snprintf(ln1, sizeof ln1, "%s.self_attn_layer_norm.out", stem);
    snprintf(q, sizeof q, "%s.self_attn.q", stem);
    snprintf(k, sizeof k, "%s.self_attn.k", stem);
    snprintf(v, sizeof v, "%s.self_attn.v", stem);
    snprintf(ctx, sizeof ctx, "%s.self_attn.context", stem);
    snprintf(proj, sizeof proj, "%s.self_attn.out", stem);
    snprintf(r1, sizeof r1, "%s.attention_residual", stem);
    snprintf(ln2, sizeof ln2, "%s.final_layer_norm.out", stem);
    snprintf(mlp, sizeof mlp, "%s.mlp", stem);

    snprintf(ck, sizeof ck, "%s.self_attn_layer_norm", stem);
    OLIVE_TRY(wh_norm(b, x, ck, ln1));
    snprintf(ck, sizeof ck, "%s.self_attn.q_proj", stem);
    OLIVE_TRY(wh_dense(b, ln1, ck, c->d_model, c->d_model, 1, q));
    snprintf(ck, sizeof ck, "%s.self_attn.k_proj", stem); /* Whisper's key projection has no bias */
    OLIVE_TRY(wh_dense(b, ln1, ck, c->d_model, c->d_model, 0, k));
    snprintf(ck, sizeof ck, "%s.self_attn.v_proj", stem);
    OLIVE_TRY(wh_dense(b, ln1, ck, c->d_model, c->d_model, 1, v));
    const char *att[] = {q, k, v};
    OLIVE_TRY(wh_node1(b, &n, "MultiHeadAttention", "com.microsoft", WH_ARRAY(att), ctx));
    OLIVE_TRY(oir_node_set_attr_int(n, "num_heads", c->enc_heads));
    snprintf(ck, sizeof ck, "%s.self_attn.out_proj", stem);
    OLIVE_TRY(wh_dense(b, ctx, ck, c->d_model, c->d_model, 1, proj));
    OLIVE_TRY(wh_add(b, x, proj, r1));
    snprintf(ck, sizeof ck, "%s.final_layer_norm", stem);
    OLIVE_TRY(wh_norm(b, r1, ck, ln2));
    OLIVE_TRY(wh_mlp(b, ln2, stem, c->enc_ffn, mlp));
    return wh_add(b, r1, mlp, out);
}

/* Decoder layer j's cross-attention key or value of the encoder output, in BNSH layout. */
static int cross_cache(wh_build *b, int64_t j, int value)
{
    const wh_config *c = &b->c;
    const char *kind = value ? "value" : "key";
    char ck[WH_NAME_MAX], proj[WH_NAME_MAX], shaped[WH_NAME_MAX], out[WH_NAME_MAX];
    int64_t shape[4] = {0, 0, c->dec_heads, c->d_model / c->dec_heads}, four = 4, perm[4] = {0, 2, 1, 3};
    oir_node *n;

    snprintf(ck, sizeof ck, "decoder.layers.%lld.encoder_attn.%s_proj", (long long)j, value ? "v" : "k");
    snprintf(proj, sizeof proj, "cross.%lld.%s", (long long)j, kind);
    snprintf(shaped, sizeof shaped, "cross.%lld.%s.heads", (long long)j, kind);
    snprintf(out, sizeof out, "present_%s_cross_%lld", kind, (long long)j);
    OLIVE_TRY(wh_dense(b, "hidden_states", ck, c->d_model, c->d_model, value, proj));
    const char *rs[] = {proj, "cross.heads_shape"};
    if (j == 0 && !value)
        OLIVE_TRY(wh_int64(b, "cross.heads_shape", 1, &four, shape, 4));
    OLIVE_TRY(wh_node1(b, NULL, "Reshape", "", WH_ARRAY(rs), shaped));
    const char *tr[] = {shaped};
    OLIVE_TRY(wh_node1(b, &n, "Transpose", "", WH_ARRAY(tr), out));
    return oir_node_set_attr_ints(n, "perm", perm, 4);
}

int wh_encoder(wh_build *b, olive_pass_ctx *ctx, double from, double to)
{
    const wh_config *c = &b->c;
    const char *in_params[3] = {"batch_size", NULL, NULL}, *out_params[4] = {"batch_size", NULL, NULL, NULL};
    int64_t in_dims[3] = {-1, c->mels, 2 * c->source_positions}, hs[3] = {-1, c->source_positions, c->d_model};
    int64_t cache[4] = {-1, c->dec_heads, c->source_positions, c->d_model / c->dec_heads};
    char x[WH_NAME_MAX], next[WH_NAME_MAX], name[WH_NAME_MAX];

    OLIVE_TRY(wh_io(b, 0, "audio_features", b->dt, 3, in_dims, in_params));
    OLIVE_TRY(wh_io(b, 1, "hidden_states", b->dt, 3, hs, out_params));
    for (int64_t j = 0; j < c->dec_layers; j++)
        for (int value = 0; value < 2; value++) {
            snprintf(name, sizeof name, "present_%s_cross_%lld", value ? "value" : "key", (long long)j);
            OLIVE_TRY(wh_io(b, 1, name, b->dt, 4, cache, out_params));
        }

    OLIVE_TRY(embeddings(b, "encoder.embedded"));
    snprintf(x, sizeof x, "encoder.embedded");
    for (int64_t i = 0; i < c->enc_layers; i++) {
        snprintf(next, sizeof next, "encoder.layers.%lld.out", (long long)i);
        OLIVE_TRY(layer(b, i, x, next));
        memcpy(x, next, sizeof x);
        OLIVE_TRY(olive_pass_progress(ctx, from + (to - from) * (double)(i + 1) / (double)(c->enc_layers + 1)));
    }
    OLIVE_TRY(wh_norm(b, x, "encoder.layer_norm", "hidden_states"));
    for (int64_t j = 0; j < c->dec_layers; j++) {
        OLIVE_TRY(cross_cache(b, j, 0));
        OLIVE_TRY(cross_cache(b, j, 1));
    }
    return olive_pass_progress(ctx, to);
}
