/* Gemma and Gemma 2 on the default decoder build.
 *
 * Gemma: RMSNorm weights are stored as offsets from 1 (the norm multiplies by 1 + w),
 * embeddings are multiplied by sqrt(hidden), the MLP uses GELU with the tanh approximation,
 * and the LM head is tied to the embeddings.
 * Gemma 2 adds: a norm after attention and around the MLP (four per layer), soft-capped
 * attention logits (GroupQueryAttention's softcap), soft-capped final logits, an attention
 * scale from query_pre_attn_scalar instead of head_dim, and a sliding window on alternate
 * layers (config.json "layer_types", or every even layer in older configs).
 * Gemma 3 (text) adds per-head q/k norms (weights offset by 1 as well) and gives the sliding
 * layers rotary caches of their own base (rope_local_base_freq, or transformers 5's
 * rope_parameters.sliding_attention), the global layers keeping rope_theta and its scaling
 * (linear on the larger models); without layer_types every sliding_window_pattern-th layer is
 * global. */
#include <math.h>
#include <stdio.h>
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
        OLIVE_TRY(cvt_config_layer_types(d, types));
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

/* ---- Gemma 3 ---- */

/* A number of one rope_parameters block (transformers 5), or `fallback` when absent. */
static int block_number(const cvt_decoder *d, json_t *block, const char *where, const char *key, double fallback,
                        double *out)
{
    json_t *v = json_object_get(block, key);
    *out = fallback;
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v)))
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': rope_parameters.%s.%s must be a positive number",
                          d->ck->path, where, key);
    *out = json_number_value(v);
    return OLIVE_OK;
}

/* The rope type of a rope_parameters block: "default" when absent, else the name (only the
 * types the rotary step computes are accepted, the sliding layers' only "default"). */
static int block_type(const cvt_decoder *d, json_t *block, const char *where, int global, char *out, size_t cap)
{
    json_t *t = json_object_get(block, "rope_type");
    const char *s = t && json_is_string(t) ? json_string_value(t) : "default";
    if (strcmp(s, "default") && (!global || strcmp(s, "linear")))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': rope_parameters.%s.rope_type '%s' is not supported for %s (%s)",
                          d->ck->path, where, s, d->arch->architecture, global ? "default, linear" : "default");
    snprintf(out, cap, "%s", s);
    return OLIVE_OK;
}

static int gemma3_configure(cvt_decoder *d)
{
    json_t *params = json_object_get(d->ck->config, "rope_parameters"), *full = NULL, *sliding = NULL;
    json_t *bidi = json_object_get(d->ck->config, "use_bidirectional_attention");
    double pattern = 6;
    /* an encoder (EmbeddingGemma) has no causal mask and no KV cache to generate with */
    if (bidi && json_is_true(bidi))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': use_bidirectional_attention=true (an encoder, not a causal decoder) "
                          "is not supported",
                          d->ck->path);
    OLIVE_TRY(gemma2_configure(d));
    d->cfg.qk_norm = CVT_QK_NORM_HEAD;
    OLIVE_TRY(cvt_config_number(d, "sliding_window_pattern", 1, 1 << 14, &pattern, NULL));
    if (params && json_is_object(params)) {
        full = json_object_get(params, "full_attention");
        sliding = json_object_get(params, "sliding_attention");
    }
    if ((full && json_is_object(full)) || (sliding && json_is_object(sliding))) {
        /* transformers 5: one block per layer type */
        if (!full || !json_is_object(full) || !sliding || !json_is_object(sliding))
            return olive_fail(OLIVE_EFORMAT,
                              "config.json of '%s': rope_parameters needs both 'full_attention' and "
                              "'sliding_attention' blocks",
                              d->ck->path);
        OLIVE_TRY(block_type(d, full, "full_attention", 1, d->cfg.rope_type, sizeof d->cfg.rope_type));
        OLIVE_TRY(block_number(d, full, "full_attention", "rope_theta", 1000000.0, &d->cfg.rope_theta));
        OLIVE_TRY(block_number(d, full, "full_attention", "factor", 1.0, &d->cfg.rope_factor));
        {
            char local_type[24];
            OLIVE_TRY(block_type(d, sliding, "sliding_attention", 0, local_type, sizeof local_type));
        }
        OLIVE_TRY(block_number(d, sliding, "sliding_attention", "rope_theta", 10000.0, &d->cfg.rope_local_theta));
        return OLIVE_OK;
    }
    /* published configs: rope_theta and rope_scaling for the global layers (read by the common
     * step), rope_local_base_freq for the sliding ones */
    if (strcmp(d->cfg.rope_type, "default") && strcmp(d->cfg.rope_type, "linear"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': rope_type '%s' is not supported for %s (default, linear)", d->ck->path,
                          d->cfg.rope_type, d->arch->architecture);
    d->cfg.rope_local_theta = 10000.0;
    return cvt_config_number(d, "rope_local_base_freq", 1e-6, 1e12, &d->cfg.rope_local_theta, NULL);
}

static int gemma3_layer_is_sliding(const cvt_decoder *d, int64_t layer)
{
    json_t *types = json_object_get(d->ck->config, "layer_types"), *p;
    int64_t pattern;
    if (types && json_is_array(types))
        return gemma2_layer_is_sliding(d, layer);
    p = json_object_get(d->ck->config, "sliding_window_pattern");
    pattern = p && json_is_number(p) ? (int64_t)json_number_value(p) : 6;
    return (layer + 1) % pattern != 0;
}

/* Two pairs of caches, named as the builder names them: the global layers' and the sliding
 * layers' (their own base, no scaling); only those a built layer reads. */
static int gemma3_rotary_caches(cvt_decoder *d)
{
    const cvt_decoder_config global = d->cfg;
    int local = 0, full = 0, rc = OLIVE_OK;
    for (int64_t i = 0; i < d->n_layers; i++)
        *(cvt_layer_is_sliding(d, i) ? &local : &full) = 1;
    if (local) {
        d->cfg.rope_theta = d->cfg.rope_local_theta;
        d->cfg.rope_factor = 1.0;
        snprintf(d->cfg.rope_type, sizeof d->cfg.rope_type, "default");
        rc = cvt_rotary_cache_pair(d, "cos_cache_local", "sin_cache_local");
        d->cfg = global;
        OLIVE_TRY(rc);
    }
    if (full)
        OLIVE_TRY(cvt_rotary_cache_pair(d, "cos_cache_global", "sin_cache_global"));
    d->cos_cache = "cos_cache_global";
    d->sin_cache = "sin_cache_global";
    return OLIVE_OK;
}

static int gemma3_attention(cvt_decoder *d, int64_t layer, const char *x, const char **out)
{
    const int local = cvt_layer_is_sliding(d, layer);
    d->cos_cache = local ? "cos_cache_local" : "cos_cache_global";
    d->sin_cache = local ? "sin_cache_local" : "sin_cache_global";
    return cvt_attention(d, layer, x, out);
}

const cvt_decoder_arch cvt_arch_gemma3 = {
    .architecture = "Gemma3ForCausalLM",
    .genai_type = "gemma3_text",
    .configure = gemma3_configure,
    .rotary_caches = gemma3_rotary_caches,
    .layer = gemma2_layer,
    .attention = gemma3_attention,
    .layer_is_sliding = gemma3_layer_is_sliding,
};
