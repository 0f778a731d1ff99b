/* Reads the config.json keys every decoder shares, under their Hugging Face names (and the
 * rope_parameters block transformers 5 writes instead of rope_theta / rope_scaling). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Number `name` of `obj` (config.json or one of its blocks, called `where` in messages), or
 * `fallback` when absent or null. A value of another type, or outside [lo, hi] (lo excluded
 * when `open_lo`), is an error naming the key and the value: a rope_theta of 0 would write
 * NaN rotary caches, an rms_norm_eps of "x" would silently become the default. */
static int get_num(const cvt_decoder *d, json_t *obj, const char *where, const char *name, double fallback, double lo,
                   int open_lo, double hi, double *out)
{
    json_t *v = obj ? json_object_get(obj, name) : NULL;
    double x;
    if (!v || json_is_null(v)) {
        *out = fallback;
        return OLIVE_OK;
    }
    if (!json_is_number(v)) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        int rc = olive_fail(OLIVE_EFORMAT, "config.json of '%s': %s'%s' must be a number, not %.40s", d->ck->path,
                            where, name, text ? text : "?");
        free(text);
        return rc;
    }
    x = json_number_value(v);
    if (!isfinite(x) || x < lo || (open_lo && x == lo) || x > hi)
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': %s'%s' is %g, outside %s%g, %g]", d->ck->path, where,
                          name, x, open_lo ? "(" : "[", lo, hi);
    *out = x;
    return OLIVE_OK;
}

/* A token id key: absent, an id in [0, vocab), or a non-empty list of them. A negative
 * pad_token_id is how some configs say "none": it is dropped (eos pads, as in transformers). */
static int check_token_ids(const cvt_decoder *d, json_t *obj, const char *file, const char *name)
{
    json_t *v = obj ? json_object_get(obj, name) : NULL, *item;
    size_t i;
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!strcmp(name, "pad_token_id") && json_is_integer(v) && json_integer_value(v) < 0) {
        json_object_del(obj, name);
        return OLIVE_OK;
    }
    if (json_is_array(v) && !json_array_size(v))
        return olive_fail(OLIVE_EFORMAT, "%s of '%s': '%s' is an empty list", file, d->ck->path, name);
    if (!json_is_array(v))
        v = json_pack("[O]", v);
    else
        json_incref(v);
    json_array_foreach(v, i, item)
    {
        if (!json_is_integer(item) || json_integer_value(item) < 0 || json_integer_value(item) >= d->cfg.vocab) {
            char *text = json_dumps(item, JSON_ENCODE_ANY | JSON_COMPACT);
            int rc = olive_fail(OLIVE_EFORMAT, "%s of '%s': '%s' holds %.40s, not a token id in [0, %" PRId64 ")", file,
                                d->ck->path, name, text ? text : "?", d->cfg.vocab);
            free(text);
            json_decref(v);
            return rc;
        }
    }
    json_decref(v);
    return OLIVE_OK;
}

/* The first value of a token id key (an integer or a list of them), or -1. */
static int64_t token_id(const cvt_decoder *d, const char *name)
{
    json_t *v = key(d, name);
    if (v && json_is_array(v))
        v = json_array_get(v, 0);
    return v && json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

int cvt_config_layer_types(const cvt_decoder *d, const json_t *types)
{
    for (size_t i = 0; i < json_array_size(types); i++) {
        const char *t = json_string_value(json_array_get(types, i));
        if (!t || (strcmp(t, "sliding_attention") && strcmp(t, "full_attention")))
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "config.json of '%s': layer_types[%zu] must be \"sliding_attention\" or "
                              "\"full_attention\"",
                              d->ck->path, i);
    }
    return OLIVE_OK;
}

/* Number `key` of config.json into *out; absent or null leaves *out unchanged. */
int cvt_config_number(const cvt_decoder *d, const char *key, double lo, double hi, double *out, int *found)
{
    json_t *v = json_object_get(d->ck->config, key);
    if (found)
        *found = 0;
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_number(v))
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '%s' must be a number", d->ck->path, key);
    *out = json_number_value(v);
    if (!(*out >= lo && *out <= hi))
        return olive_fail(OLIVE_EFORMAT, "config.json of '%s': '%s' is %g, outside [%g, %g]", d->ck->path, key, *out,
                          lo, hi);
    if (found)
        *found = 1;
    return OLIVE_OK;
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
    OLIVE_TRY(get_num(d, d->ck->config, "", "rms_norm_eps", 1e-6, 0, 1, 1, &c->norm_eps));
    act = key(d, "hidden_act");
    if (!act ||
        (json_is_string(act) && (!strcmp(json_string_value(act), "silu") || !strcmp(json_string_value(act), "swish"))))
        c->activation = CVT_ACT_SILU;
    else if (json_is_string(act) &&
             (!strcmp(json_string_value(act), "gelu_pytorch_tanh") || !strcmp(json_string_value(act), "gelu_new") ||
              !strcmp(json_string_value(act), "gelu_fast")))
        c->activation = CVT_ACT_GELU_TANH;
    else if (json_is_string(act) && !strcmp(json_string_value(act), "gelu"))
        c->activation = CVT_ACT_GELU;
    else
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': hidden_act '%s' is not supported (silu, gelu, "
                          "gelu_pytorch_tanh)",
                          d->ck->path, json_is_string(act) ? json_string_value(act) : "?");
    /* Rotary: rope_theta and rope_scaling (transformers 4), or rope_parameters (transformers 5). */
    params = key(d, "rope_parameters");
    scaling = key(d, "rope_scaling");
    rope = scaling && json_is_object(scaling) ? scaling : params && json_is_object(params) ? params : NULL;
    {
        double theta;
        OLIVE_TRY(get_num(d, params, "rope_parameters.", "rope_theta", 10000.0, 0, 1, 1e12, &theta));
        OLIVE_TRY(get_num(d, d->ck->config, "", "rope_theta", theta, 0, 1, 1e12, &c->rope_theta));
    }
    snprintf(c->rope_type, sizeof c->rope_type, "default");
    if (rope) {
        json_t *t = json_object_get(rope, "rope_type");
        if (!t || !json_is_string(t))
            t = json_object_get(rope, "type");
        if (t && json_is_string(t))
            snprintf(c->rope_type, sizeof c->rope_type, "%s", json_string_value(t));
        const char *where = rope == scaling ? "rope_scaling." : "rope_parameters.";
        double orig;
        OLIVE_TRY(get_num(d, rope, where, "factor", 1.0, 0, 1, 1e6, &c->rope_factor));
        OLIVE_TRY(get_num(d, rope, where, "low_freq_factor", 0, 0, 0, 1e6, &c->rope_low_freq_factor));
        OLIVE_TRY(get_num(d, rope, where, "high_freq_factor", 0, 0, 0, 1e6, &c->rope_high_freq_factor));
        OLIVE_TRY(get_num(d, rope, where, "original_max_position_embeddings", 0, 0, 0, 1 << 24, &orig));
        c->rope_original_context = (int64_t)orig;
    }
    if (!c->rope_original_context) {
        double orig;
        OLIVE_TRY(get_num(d, d->ck->config, "", "original_max_position_embeddings", 0, 0, 0, 1 << 24, &orig));
        c->rope_original_context = (int64_t)orig;
    }
    {
        double prf;
        OLIVE_TRY(get_num(d, params, "rope_parameters.", "partial_rotary_factor", 1.0, 0, 1, 1, &prf));
        OLIVE_TRY(get_num(d, d->ck->config, "", "partial_rotary_factor", prf, 0, 1, 1, &prf));
        c->rotary_dim = (int64_t)(prf * (double)c->head_dim);
        if (c->rotary_dim < 2 || c->rotary_dim > c->head_dim || c->rotary_dim % 2)
            return olive_fail(OLIVE_EFORMAT,
                              "config.json of '%s': partial_rotary_factor %g gives a rotary size of "
                              "%" PRId64 " for head_dim %" PRId64,
                              d->ck->path, prf, c->rotary_dim, c->head_dim);
    }
    tie = key(d, "tie_word_embeddings");
    c->tied_embeddings = (tie && json_is_true(tie)) || !ofmt_checkpoint_find(d->ck, "lm_head.weight");
    c->qkv_bias = c->o_bias = key(d, "attention_bias") && json_is_true(key(d, "attention_bias"));
    c->mlp_bias = key(d, "mlp_bias") && json_is_true(key(d, "mlp_bias"));
    {
        static const char *const ids[] = {"bos_token_id", "eos_token_id", "pad_token_id"};
        for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
            OLIVE_TRY(check_token_ids(d, d->ck->config, "config.json", ids[i]));
            OLIVE_TRY(check_token_ids(d, d->ck->generation_config, "generation_config.json", ids[i]));
        }
    }
    c->bos_id = token_id(d, "bos_token_id");
    c->pad_id = token_id(d, "pad_token_id");
    return cvt_genai_check_search(d);
}
