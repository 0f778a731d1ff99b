/* Gemma and Gemma 2 on the default decoder build.
 *
 * Gemma: RMSNorm weights are stored as offsets from 1 (the norm multiplies by 1 + w),
 * embeddings are multiplied by sqrt(hidden), the MLP uses GELU with the tanh approximation,
 * and the LM head is tied to the embeddings.
 * Gemma 2 adds: a norm after attention and around the MLP (four per layer), soft-capped
 * attention logits (GroupQueryAttention's softcap), soft-capped final logits, an attention
 * scale from query_pre_attn_scalar instead of head_dim, and a sliding window on alternate
 * layers (config.json "layer_types", or every even layer in older configs). */
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "core/status.h"
#include "passes/convert/decoder.h"

/* Gemma's activation: "hidden_activation" wins over "hidden_act" (Gemma 1 checkpoints say
 * "gelu" there, which transformers treats as the tanh approximation those models were
 * trained with). */
static int gemma_activation(cvt_decoder *d)
{
    static const char *const keys[] = {"hidden_activation", "hidden_act"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_t *v = json_object_get(d->ck->config, keys[i]);
        const char *s;
        if (!v || json_is_null(v))
            continue;
        if (!json_is_string(v))
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '%s' must be a string", d->ck->path, keys[i]);
        s = json_string_value(v);
        if (!strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu") || !strcmp(s, "gelu_new") ||
            !strcmp(s, "gelu_fast")) {
            d->cfg.activation = CVT_ACT_GELU_TANH;
            return OLIVE_OK;
        }
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': %s '%s' is not supported for %s (gelu_pytorch_tanh is)", d->ck->path,
                          keys[i], s, d->arch->architecture);
    }
    d->cfg.activation = CVT_ACT_GELU_TANH;
    return OLIVE_OK;
}

static int gemma_configure(cvt_decoder *d)
{
    OLIVE_TRY(gemma_activation(d));
    /* llama.cpp's GGUF conversion already stores 1 + w. */
    d->cfg.norm_weight_offset = d->ck->kind == OFMT_GGUF_FILE ? 0.0f : 1.0f;
    /* transformers multiplies by sqrt(hidden) computed in double and rounded to the
     * activation dtype; the embedding step rounds this float the same way. */
    d->cfg.embed_scale = sqrt((double)d->cfg.hidden);
    return OLIVE_OK;
}

static int gemma2_configure(cvt_decoder *d)
{
    double scalar = 0, attn_cap = 0, final_cap = 0, window = 0;
    int has_scalar;
    json_t *types;
    OLIVE_TRY(gemma_configure(d));
    OLIVE_TRY(cvt_config_number(d, "query_pre_attn_scalar", 1e-6, 1e9, &scalar, &has_scalar));
    OLIVE_TRY(cvt_config_number(d, "attn_logit_softcapping", 0, 1e9, &attn_cap, NULL));
    OLIVE_TRY(cvt_config_number(d, "final_logit_softcapping", 0, 1e9, &final_cap, NULL));
    OLIVE_TRY(cvt_config_number(d, "sliding_window", 0, 1e12, &window, NULL));
    if (has_scalar)
        d->cfg.attn_scale = (float)(1.0 / sqrt(scalar));
    d->cfg.attn_softcap = (float)attn_cap;
    d->cfg.final_logit_softcap = (float)final_cap;
    d->cfg.sliding_window = (int64_t)window;
    if (window != (double)(int64_t)window)
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': 'sliding_window' must be an integer", d->ck->path);
    types = json_object_get(d->ck->config, "layer_types");
    if (types && !json_is_null(types)) {
        if (!json_is_array(types) || (int64_t)json_array_size(types) < d->cfg.layers)
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s': 'layer_types' must list all %lld layers",
                              d->ck->path, (long long)d->cfg.layers);
        for (size_t i = 0; i < json_array_size(types); i++) {
            const char *t = json_string_value(json_array_get(types, i));
            if (!t || (strcmp(t, "sliding_attention") && strcmp(t, "full_attention")))
                return olive_fail(OLIVE_EUNSUPPORTED,
                                  "config.json of '%s': layer_types[%zu] must be \"sliding_attention\" or "
                                  "\"full_attention\"",
                                  d->ck->path, i);
        }
    }
    return OLIVE_OK;
}

static int gemma2_layer_is_sliding(const cvt_decoder *d, int64_t layer)
{
    json_t *types = json_object_get(d->ck->config, "layer_types");
    if (types && json_is_array(types)) {
        const char *t = json_string_value(json_array_get(types, (size_t)layer));
        return t && !strcmp(t, "sliding_attention");
    }
    return layer % 2 == 0;
}

/* The node path and weight name of one of a layer's norms. */
static int norm_names(cvt_decoder *d, long long layer, const char *norm, const char **path, const char **w)
{
    if (!(*path = cvt_str(d, "/model/layers.%lld/%s", layer, norm)) ||
        !(*w = cvt_str(d, "model.layers.%lld.%s.weight", layer, norm)))
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

/* input_layernorm -> attention -> post_attention_layernorm -> (+ residual)
 * -> pre_feedforward_layernorm -> MLP -> post_feedforward_layernorm -> (+ residual). */
static int gemma2_layer(cvt_decoder *d, int64_t layer, cvt_residual *r)
{
    int (*attention)(cvt_decoder *, int64_t, const char *, const char **) = d->arch->attention ? d->arch->attention
                                                                                               : cvt_attention;
    int (*mlp)(cvt_decoder *, int64_t, const char *, const char **) = d->arch->mlp ? d->arch->mlp : cvt_mlp;
    const char *x, *y, *path, *w;
    long long l = (long long)layer;

    OLIVE_TRY(norm_names(d, l, "input_layernorm", &path, &w));
    OLIVE_TRY(cvt_norm_residual(d, path, r, w, &x));
    OLIVE_TRY(attention(d, layer, x, &y));
    OLIVE_TRY(norm_names(d, l, "post_attention_layernorm", &path, &w));
    OLIVE_TRY(cvt_norm(d, path, y, w, d->cfg.hidden, &r->pending));

    OLIVE_TRY(norm_names(d, l, "pre_feedforward_layernorm", &path, &w));
    OLIVE_TRY(cvt_norm_residual(d, path, r, w, &x));
    OLIVE_TRY(mlp(d, layer, x, &y));
    OLIVE_TRY(norm_names(d, l, "post_feedforward_layernorm", &path, &w));
    return cvt_norm(d, path, y, w, d->cfg.hidden, &r->pending);
}

const cvt_decoder_arch cvt_arch_gemma = {
    .architecture = "GemmaForCausalLM",
    .genai_type = "gemma",
    .configure = gemma_configure,
};

const cvt_decoder_arch cvt_arch_gemma2 = {
    .architecture = "Gemma2ForCausalLM",
    .genai_type = "gemma2",
    .configure = gemma2_configure,
    .layer = gemma2_layer,
    .layer_is_sliding = gemma2_layer_is_sliding,
};
