/* The tokenizer of a data config's model_name: tokenizer.json through libolive's tokenizer,
 * with the special tokens and model_max_length transformers takes from tokenizer_config.json
 * (or special_tokens_map.json). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "olive/tokenizer.h"
#include "workflow/data/dataset.h"
#include "workflow/outputs.h"

struct wf_tokenizer {
    olive_tokenizer *tok;
    char *bos, *eos;
    int64_t pad_id;
    int64_t model_max_length;
    int64_t truncation; /* the max_length set on tok (-1: off) */
};

/* A special token entry: "text" or {"content": "text", ...}. */
static const char *token_text(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "content"));
}

static json_t *load_json(const char *folder, const char *name)
{
    char *path = olive_path_join(folder, name);
    /* model_max_length is often 1e30 written as an integer, too big for jansson integers. */
    json_t *doc = path ? json_load_file(path, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
    free(path);
    return doc;
}

int wf_tokenizer_open(wf_tokenizer **out, const char *source, const char *where)
{
    struct stat st;
    char *folder = NULL;
    wf_tokenizer *t;
    json_t *cfg, *map;
    const char *pad = NULL, *bos = NULL, *eos = NULL;
    int rc;
    if (stat(source, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (!(folder = olive_strdup(source)))
            return OLIVE_ENOMEM;
    } else {
        /* A Hugging Face repo id: from the hub cache, downloaded first when it lacks it. */
        if ((rc = wf_resolve_hub_id(&folder, source)) != OLIVE_OK)
            return olive_fail_context(rc, "%s.model_name", where);
        if (!folder)
            return olive_fail(OLIVE_ENOTFOUND,
                              "%s.model_name: '%s' is not a local folder with tokenizer.json, nor a "
                              "Hugging Face repo id",
                              where, source);
    }
    if (!(t = olive_calloc(1, sizeof *t))) {
        free(folder);
        return OLIVE_ENOMEM;
    }
    if ((rc = olive_tokenizer_load(&t->tok, folder)) != OLIVE_OK) {
        olive_fail_context(rc, "%s.model_name", where);
        free(folder);
        free(t);
        return rc;
    }
    /* transformers pads and truncates per call: the file's own settings do not apply. */
    olive_tokenizer_set_padding(t->tok, -1, 0, NULL, NULL);
    olive_tokenizer_set_truncation(t->tok, -1, NULL, NULL);
    t->truncation = -1;
    cfg = load_json(folder, "tokenizer_config.json");
    map = load_json(folder, "special_tokens_map.json");
    pad = token_text(json_object_get(cfg, "pad_token"));
    bos = token_text(json_object_get(cfg, "bos_token"));
    eos = token_text(json_object_get(cfg, "eos_token"));
    pad = pad ? pad : token_text(json_object_get(map, "pad_token"));
    bos = bos ? bos : token_text(json_object_get(map, "bos_token"));
    eos = eos ? eos : token_text(json_object_get(map, "eos_token"));
    t->pad_id = -1;
    if (pad) {
        int32_t id;
        if (olive_tokenizer_token_to_id(&id, t->tok, pad) == OLIVE_OK)
            t->pad_id = id;
        olive_error_clear();
    }
    t->bos = olive_strdup(bos);
    t->eos = olive_strdup(eos);
    /* transformers' "no limit" is a huge number (1e30); anything past int64 means none. */
    {
        const json_t *m = json_object_get(cfg, "model_max_length");
        double v = json_is_number(m) ? json_number_value(m) : 0;
        t->model_max_length = v > 0 && v < 1e15 ? (int64_t)v : 0;
    }
    json_decref(cfg);
    json_decref(map);
    free(folder);
    *out = t;
    return OLIVE_OK;
}

void wf_tokenizer_free(wf_tokenizer *t)
{
    if (!t)
        return;
    olive_tokenizer_free(t->tok);
    free(t->bos);
    free(t->eos);
    free(t);
}

int wf_tokenizer_encode(wf_encoding *out, wf_tokenizer *t, const char *text, const char *pair, int add_special_tokens,
                        size_t max_length)
{
    olive_encoding *enc = NULL;
    const int32_t *ids, *types;
    size_t n = 0, nt = 0;
    int64_t want = max_length ? (int64_t)max_length : -1;
    if (want != t->truncation) {
        OLIVE_TRY(olive_tokenizer_set_truncation(t->tok, want, NULL, NULL));
        t->truncation = want;
    }
    OLIVE_TRY(olive_tokenizer_encode_batch(&enc, t->tok, &text, NULL, pair ? &pair : NULL, NULL, 1,
                                           add_special_tokens ? OLIVE_TOKENIZER_ADD_SPECIAL_TOKENS : 0));
    ids = olive_encoding_ids(enc, 0, &n);
    types = olive_encoding_type_ids(enc, 0, &nt);
    out->n = n;
    out->ids = olive_calloc(n + 1, sizeof *out->ids);
    out->type_ids = olive_calloc(n + 1, sizeof *out->type_ids);
    if (!out->ids || !out->type_ids) {
        free(out->ids);
        free(out->type_ids);
        olive_encoding_free(enc);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        out->ids[i] = ids[i];
        out->type_ids[i] = types && i < nt ? types[i] : 0;
    }
    olive_encoding_free(enc);
    return OLIVE_OK;
}

int64_t wf_tokenizer_pad_id(const wf_tokenizer *t)
{
    return t->pad_id;
}

const char *wf_tokenizer_bos(const wf_tokenizer *t)
{
    return t->bos;
}

const char *wf_tokenizer_eos(const wf_tokenizer *t)
{
    return t->eos;
}

int64_t wf_tokenizer_model_max_length(const wf_tokenizer *t)
{
    return t->model_max_length;
}
