/* Whisper's description from config.json and its log-mel front end from
 * preprocessor_config.json, every value range-checked before tensors are sized by it, and
 * every setting whose effect the builder does not reproduce refused by name. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "passes/convert/whisper_internal.h"

int cvt_whisper_handles(const char *architecture)
{
    return architecture &&
           (!strcmp(architecture, "WhisperForConditionalGeneration") || !strcmp(architecture, "whisper"));
}

/* Integer `key` of `obj` (from file `file`): required unless `fallback` >= 0; within [lo, hi]. */
static int get_int(const ofmt_checkpoint *ck, json_t *obj, const char *file, const char *key, int64_t fallback,
                   int64_t lo, int64_t hi, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (fallback < 0)
            return olive_fail(OLIVE_EFORMAT, "%s of '%s': missing '%s'", file, ck->path, key);
        *out = fallback;
        return OLIVE_OK;
    }
    if (!json_is_integer(v))
        return olive_fail(OLIVE_EFORMAT, "%s of '%s': '%s' must be an integer", file, ck->path, key);
    *out = (int64_t)json_integer_value(v);
    if (*out < lo || *out > hi)
        return olive_fail(OLIVE_EFORMAT, "%s of '%s': '%s' is %lld, outside [%lld, %lld]", file, ck->path, key,
                          (long long)*out, (long long)lo, (long long)hi);
    return OLIVE_OK;
}

/* A value the builder does not reproduce: refused unless absent, null or `allowed`. */
static int require_int(const ofmt_checkpoint *ck, json_t *obj, const char *file, const char *key, int64_t allowed,
                       const char *why)
{
    int64_t v = 0;
    if (!json_object_get(obj, key) || json_is_null(json_object_get(obj, key)))
        return OLIVE_OK;
    OLIVE_TRY(get_int(ck, obj, file, key, -1, INT64_MIN, INT64_MAX, &v));
    if (v != allowed)
        return olive_fail(OLIVE_EUNSUPPORTED, "%s of '%s': '%s' is %lld; only %lld is supported (%s)", file, ck->path,
                          key, (long long)v, (long long)allowed, why);
    return OLIVE_OK;
}

static int require_false(const ofmt_checkpoint *ck, const char *key, const char *why)
{
    json_t *v = json_object_get(ck->config, key);
    if (!v || json_is_null(v) || json_is_false(v))
        return OLIVE_OK;
    return olive_fail(OLIVE_EUNSUPPORTED, "config.json of '%s': '%s' is set; it is not supported (%s)", ck->path, key,
                      why);
}

/* A token id of generation_config.json, else config.json: absent is fine, else in [0, vocab). */
static int check_token(const ofmt_checkpoint *ck, const char *key, int64_t vocab)
{
    json_t *g = ck->generation_config ? json_object_get(ck->generation_config, key) : NULL;
    json_t *v = g && !json_is_null(g) ? g : json_object_get(ck->config, key);
    const char *file = v == g ? "generation_config.json" : "config.json";
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) >= vocab)
                return olive_fail(OLIVE_EFORMAT, "%s of '%s': '%s' must hold token ids in [0, %lld)", file, ck->path,
                                  key, (long long)vocab);
        }
        return OLIVE_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= vocab)
        return olive_fail(OLIVE_EFORMAT, "%s of '%s': '%s' must be a token id in [0, %lld)", file, ck->path, key,
                          (long long)vocab);
    return OLIVE_OK;
}

int wh_config_read(wh_config *c, const ofmt_checkpoint *ck)
{
    static const char *const tokens[] = {"bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"};
    const int64_t big = (int64_t)1 << 24;
    json_t *cfg = ck->config, *act;

    memset(c, 0, sizeof *c);
    if (!json_is_object(cfg))
        return olive_fail(OLIVE_EFORMAT, "checkpoint '%s' has no config.json object", ck->path);
    OLIVE_TRY(get_int(ck, cfg, "config.json", "d_model", -1, 1, 65536, &c->d_model));
    OLIVE_TRY(get_int(ck, cfg, "config.json", "vocab_size", -1, 1, big, &c->vocab));
    OLIVE_TRY(get_int(ck, cfg, "config.json", "num_mel_bins", 80, 1, 1024, &c->mels));
    OLIVE_TRY(get_int(ck, cfg, "config.json", "encoder_layers", -1, 1, 1024, &c->enc_layers));
    OLIVE_TRY(get_int(ck, cfg, "config.json", "encoder_attention_heads", -1, 1, 1024, &c->enc_heads));
    OLIVE_TRY(get_int(ck, cfg, "config.json", "encoder_ffn_dim", -1, 1, 1 << 20, &c->enc_ffn));
    OLIVE_TRY(get_int(ck, cfg, "config.json", "decoder_layers", -1, 1, 1024, &c->dec_layers));
    OLIVE_TRY(get_int(ck, cfg, "config.json", "decoder_attention_heads", -1, 1, 1024, &c->dec_heads));
    OLIVE_TRY(get_int(ck, cfg, "config.json", "decoder_ffn_dim", -1, 1, 1 << 20, &c->dec_ffn));
    OLIVE_TRY(get_int(ck, cfg, "config.json", "max_target_positions", -1, 1, 1 << 20, &c->target_positions));
    OLIVE_TRY(get_int(ck, cfg, "config.json", "max_source_positions", 1500, 1, 1 << 20, &c->source_positions));
    /* ONNX Runtime GenAI feeds Whisper 30 s of audio: 3000 frames, 1500 after the strided conv. */
    if (c->source_positions != 1500)
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': 'max_source_positions' is %lld; only 1500 is supported (ONNX Runtime "
                          "GenAI runs Whisper on 3000 log-mel frames)",
                          ck->path, (long long)c->source_positions);
    if (c->d_model % c->enc_heads || c->d_model % c->dec_heads)
        return olive_fail(OLIVE_EFORMAT,
                          "config.json of '%s': d_model %lld is not a multiple of the attention heads (%lld encoder, "
                          "%lld decoder)",
                          ck->path, (long long)c->d_model, (long long)c->enc_heads, (long long)c->dec_heads);
    act = json_object_get(cfg, "activation_function");
    if (act && !json_is_null(act) && (!json_is_string(act) || strcmp(json_string_value(act), "gelu")))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "config.json of '%s': 'activation_function' %s%s%s is not supported (only 'gelu' is)",
                          ck->path, json_is_string(act) ? "'" : "", json_is_string(act) ? json_string_value(act) : "",
                          json_is_string(act) ? "'" : "(not a string)");
    OLIVE_TRY(require_false(ck, "scale_embedding", "token embeddings are used unscaled"));
    OLIVE_TRY(require_false(ck, "use_weighted_layer_sum", "the encoder's last layer feeds the decoder"));
    for (size_t i = 0; i < sizeof tokens / sizeof *tokens; i++)
        OLIVE_TRY(check_token(ck, tokens[i], c->vocab));
    {
        json_t *tie = json_object_get(cfg, "tie_word_embeddings");
        /* Whisper ties proj_out to the token embeddings unless config.json says otherwise; an
         * untied head must be stored (proj_out.weight). */
        if (tie && !json_is_null(tie) && !json_is_boolean(tie))
            return olive_fail(OLIVE_EFORMAT, "config.json of '%s': 'tie_word_embeddings' must be true or false",
                              ck->path);
        c->tied = !tie || json_is_null(tie) || json_is_true(tie);
    }
    return OLIVE_OK;
}

/* preprocessor_config.json as a JSON object, or NULL (*out) when the checkpoint has none. */
static int read_preprocessor(const ofmt_checkpoint *ck, json_t **out)
{
    char *path, *text = NULL;
    json_error_t err;
    size_t size = 0;
    int rc;

    *out = NULL;
    if (ck->kind != OFMT_HF_FOLDER)
        return OLIVE_OK;
    if (!(path = olive_path_join(ck->path, "preprocessor_config.json")))
        return OLIVE_ENOMEM;
    rc = olive_path_check_contained(ck->path, path, "preprocessor_config.json");
    if (rc == OLIVE_OK)
        rc = olive_read_file(&text, &size, path, 1 << 20);
    free(path);
    if (rc == OLIVE_ENOTFOUND)
        return OLIVE_OK;
    OLIVE_TRY(rc);
    *out = json_loadb(text, size, 0, &err);
    free(text);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return olive_fail(OLIVE_EFORMAT, "preprocessor_config.json of '%s': not a JSON object (line %d: %s)", ck->path,
                          err.line, err.text);
    }
    return OLIVE_OK;
}

int wh_audio_read(wh_audio *a, const ofmt_checkpoint *ck, const wh_config *c)
{
    static const char *const file = "preprocessor_config.json";
    static const char *const fixed = "the log-mel front end of ONNX Runtime Extensions computes Whisper's";
    json_t *p = NULL, *v;
    int rc;

    /* Whisper's own front end; a checkpoint without preprocessor_config.json gets it. */
    a->sampling_rate = 16000;
    a->n_fft = 400;
    a->hop_length = 160;
    a->chunk_length = 30;
    a->n_mels = c->mels;
    OLIVE_TRY(read_preprocessor(ck, &p));
    if (!p)
        return OLIVE_OK;
    v = json_object_get(p, "feature_extractor_type");
    if (v && !json_is_null(v) && (!json_is_string(v) || strcmp(json_string_value(v), "WhisperFeatureExtractor"))) {
        json_decref(p);
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s of '%s': 'feature_extractor_type' is not supported (only "
                          "'WhisperFeatureExtractor' is)",
                          file, ck->path);
    }
    rc = get_int(ck, p, file, "feature_size", c->mels, 1, 1024, &a->n_mels);
    if (rc == OLIVE_OK && a->n_mels != c->mels)
        rc = olive_fail(OLIVE_EFORMAT, "%s of '%s': 'feature_size' is %lld, but config.json's num_mel_bins is %lld",
                        file, ck->path, (long long)a->n_mels, (long long)c->mels);
    if (rc == OLIVE_OK)
        rc = require_int(ck, p, file, "sampling_rate", 16000, fixed);
    if (rc == OLIVE_OK)
        rc = require_int(ck, p, file, "n_fft", 400, fixed);
    if (rc == OLIVE_OK)
        rc = require_int(ck, p, file, "hop_length", 160, fixed);
    if (rc == OLIVE_OK)
        rc = require_int(ck, p, file, "chunk_length", 30, fixed);
    if (rc == OLIVE_OK)
        rc = require_int(ck, p, file, "n_samples", 480000, fixed);
    if (rc == OLIVE_OK)
        rc = require_int(ck, p, file, "nb_max_frames", 3000, fixed);
    if (rc == OLIVE_OK) {
        /* Dither adds noise to the waveform (training); the runtime front end has none. */
        v = json_object_get(p, "dither");
        if (v && !json_is_null(v) && (!json_is_number(v) || json_number_value(v) != 0))
            rc = olive_fail(OLIVE_EUNSUPPORTED, "%s of '%s': 'dither' must be 0 (%s)", file, ck->path, fixed);
    }
    if (rc == OLIVE_OK) {
        v = json_object_get(p, "padding_value");
        if (v && !json_is_null(v) && (!json_is_number(v) || json_number_value(v) != 0))
            rc = olive_fail(OLIVE_EUNSUPPORTED, "%s of '%s': 'padding_value' must be 0 (%s)", file, ck->path, fixed);
    }
    json_decref(p);
    return rc;
}
