/* Reads the config.json keys every decoder shares, under their Hugging Face names (and the
 * rope_parameters block transformers 5 writes instead of rope_theta / rope_scaling). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/status.h"
#include "passes/convert/decoder.h"

static json_t *key(const cvt_decoder *d, const char *name)
{
    json_t *v = json_object_get(d->ck->config, name);
    return v && !json_is_null(v) ? v : NULL;
}

static int get_int(const cvt_decoder *d, const char *name, int64_t fallback, int required, int64_t *out)
{
    json_t *v = key(d, name);
    if (!v) {
        if (required)
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s' has no '%s'", d->ck->path, name);
        *out = fallback;
        return OLIVE_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '%s' must be a non-negative integer", d->ck->path, name);
    *out = (int64_t)json_integer_value(v);
    return OLIVE_OK;
}

static double num_in(json_t *obj, const char *name, double fallback)
{
    json_t *v = obj ? json_object_get(obj, name) : NULL;
    return v && json_is_number(v) ? json_number_value(v) : fallback;
}

/* The first value of a token id key (an integer or a list of them), or -1. */
static int64_t token_id(const cvt_decoder *d, const char *name)
{
    json_t *v = key(d, name);
    if (v && json_is_array(v))
        v = json_array_get(v, 0);
    return v && json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

int cvt_decoder_config_read(cvt_decoder *d)
{
    cvt_decoder_config *c = &d->cfg;
    json_t *rope, *act, *tie, *scaling, *params;
    int64_t head_dim;
    memset(c, 0, sizeof *c);
    OLIVE_TRY(get_int(d, "hidden_size", 0, 1, &c->hidden));
    OLIVE_TRY(get_int(d, "intermediate_size", 0, 1, &c->intermediate));
    OLIVE_TRY(get_int(d, "num_hidden_layers", 0, 1, &c->layers));
    OLIVE_TRY(get_int(d, "num_attention_heads", 0, 1, &c->heads));
    OLIVE_TRY(get_int(d, "num_key_value_heads", c->heads, 0, &c->kv_heads));
    OLIVE_TRY(get_int(d, "vocab_size", 0, 1, &c->vocab));
    OLIVE_TRY(get_int(d, "max_position_embeddings", 4096, 0, &c->context_length));
    if (!c->hidden || !c->intermediate || !c->layers || !c->heads || !c->kv_heads || !c->vocab || !c->context_length)
        return olive_fail(OLIVE_EFORMAT,
                          "config.json of '%s': hidden_size, intermediate_size, num_hidden_layers, "
                          "num_attention_heads, num_key_value_heads, vocab_size and max_position_embeddings must be "
                          "positive",
                          d->ck->path);
    /* Bounds far above any real model, so that sizes computed from them cannot overflow. */
    {
        const struct {
            const char *key;
            int64_t value, limit;
        } bounds[] = {
            {"hidden_size", c->hidden, 1 << 20},       {"intermediate_size", c->intermediate, 1 << 22},
            {"num_hidden_layers", c->layers, 1 << 14}, {"num_attention_heads", c->heads, 1 << 14},
            {"vocab_size", c->vocab, 1 << 26},         {"max_position_embeddings", c->context_length, 1 << 24},
        };
        for (size_t i = 0; i < sizeof bounds / sizeof *bounds; i++)
            if (bounds[i].value > bounds[i].limit)
                return olive_fail(OLIVE_EUNSUPPORTED,
                                  "config.json of '%s': %s = %" PRId64 " is beyond what the converter handles (%" PRId64
                                  ")",
                                  d->ck->path, bounds[i].key, bounds[i].value, bounds[i].limit);
    }
    if (c->heads % c->kv_heads)
        return olive_fail(OLIVE_EFORMAT,
                          "config.json of '%s': num_attention_heads (%" PRId64 ") is not a multiple of "
                          "num_key_value_heads (%" PRId64 ")",
                          d->ck->path, c->heads, c->kv_heads);
    OLIVE_TRY(get_int(d, "head_dim", c->hidden / c->heads, 0, &head_dim));
    c->head_dim = head_dim;
    if (head_dim > (1 << 14))
        return olive_fail(OLIVE_EUNSUPPORTED, "config.json of '%s': head_dim %" PRId64 " is beyond 2^14", d->ck->path,
                          head_dim);
    if (!c->head_dim || (!key(d, "head_dim") && c->hidden % c->heads))
        return olive_fail(OLIVE_EFORMAT,
                          "config.json of '%s': hidden_size %" PRId64
                          " is not a multiple of num_attention_heads %" PRId64 " and head_dim is not given",
                          d->ck->path, c->hidden, c->heads);
    c->norm_eps = num_in(d->ck->config, "rms_norm_eps", 1e-6);
    act = key(d, "hidden_act");
    if (!act || (json_is_string(act) &&
                 (!strcmp(json_string_value(act), "silu") || !strcmp(json_string_value(act), "swish"))))
        c->activation = CVT_ACT_SILU;
    else if (json_is_string(act) && (!strcmp(json_string_value(act), "gelu_pytorch_tanh") ||
                                     !strcmp(json_string_value(act), "gelu_new") ||
                                     !strcmp(json_string_value(act), "gelu_fast")))
        c->activation = CVT_ACT_GELU_TANH;
    else if (json_is_string(act) && !strcmp(json_string_value(act), "gelu"))
        c->activation = CVT_ACT_GELU;
    else
        return olive_fail(OLIVE_EUNSUPPORTED, "config.json of '%s': hidden_act '%s' is not supported (silu, gelu, "
                          "gelu_pytorch_tanh)", d->ck->path, json_is_string(act) ? json_string_value(act) : "?");
    /* Rotary: rope_theta and rope_scaling (transformers 4), or rope_parameters (transformers 5). */
    params = key(d, "rope_parameters");
    scaling = key(d, "rope_scaling");
    rope = scaling && json_is_object(scaling) ? scaling : params && json_is_object(params) ? params : NULL;
    c->rope_theta = num_in(d->ck->config, "rope_theta", num_in(params, "rope_theta", 10000.0));
    snprintf(c->rope_type, sizeof c->rope_type, "default");
    if (rope) {
        json_t *t = json_object_get(rope, "rope_type");
        if (!t || !json_is_string(t))
            t = json_object_get(rope, "type");
        if (t && json_is_string(t))
            snprintf(c->rope_type, sizeof c->rope_type, "%s", json_string_value(t));
        c->rope_factor = num_in(rope, "factor", 1.0);
        c->rope_low_freq_factor = num_in(rope, "low_freq_factor", 0);
        c->rope_high_freq_factor = num_in(rope, "high_freq_factor", 0);
        c->rope_original_context = (int64_t)num_in(rope, "original_max_position_embeddings", 0);
    }
    if (!c->rope_original_context)
        c->rope_original_context = (int64_t)num_in(d->ck->config, "original_max_position_embeddings", 0);
    {
        double prf = num_in(d->ck->config, "partial_rotary_factor", num_in(params, "partial_rotary_factor", 1.0));
        c->rotary_dim = (int64_t)(prf * (double)c->head_dim);
        if (c->rotary_dim < 2 || c->rotary_dim > c->head_dim || c->rotary_dim % 2)
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s': partial_rotary_factor %g gives a rotary size of "
                              "%" PRId64 " for head_dim %" PRId64, d->ck->path, prf, c->rotary_dim, c->head_dim);
    }
    tie = key(d, "tie_word_embeddings");
    c->tied_embeddings = (tie && json_is_true(tie)) || !ofmt_checkpoint_find(d->ck, "lm_head.weight");
    c->qkv_bias = c->o_bias = key(d, "attention_bias") && json_is_true(key(d, "attention_bias"));
    c->mlp_bias = key(d, "mlp_bias") && json_is_true(key(d, "mlp_bias"));
    c->bos_id = token_id(d, "bos_token_id");
    c->pad_id = token_id(d, "pad_token_id");
    return OLIVE_OK;
}
