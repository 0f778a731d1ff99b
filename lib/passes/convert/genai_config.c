/* genai_config.json as ONNX Runtime GenAI reads it: the decoder's file, sizes and input/output
 * names, special token ids, provider options, and search defaults from generation_config.json. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/status.h"
#include "passes/convert/decoder.h"

/* A key of generation_config.json, else of config.json, else NULL (null counts as absent). */
static json_t *lookup(const cvt_decoder *d, const char *key)
{
    json_t *v = d->ck->generation_config ? json_object_get(d->ck->generation_config, key) : NULL;
    if (!v || json_is_null(v))
        v = json_object_get(d->ck->config, key);
    return v && !json_is_null(v) ? v : NULL;
}

static json_t *number_or(const cvt_decoder *d, const char *key, double fallback, int integer)
{
    json_t *v = lookup(d, key);
    if (v && json_is_number(v))
        return json_deep_copy(v);
    if (v && json_is_boolean(v))
        return json_deep_copy(v);
    return integer ? json_integer((json_int_t)fallback) : json_real(fallback);
}

/* The search settings copied into genai_config.json must be numbers ONNX Runtime GenAI can use:
 * a top_k of -1 or a temperature of "x" is refused here, naming the file and the key. */
int cvt_genai_check_search(const cvt_decoder *d)
{
    static const struct {
        const char *key;
        int integer;
        double lo, hi;
        int open_lo;
    } keys[] = {
        {"length_penalty", 0, -1e9, 1e9, 0},
        {"no_repeat_ngram_size", 1, 0, 1e9, 0},
        {"num_beams", 1, 1, 1e9, 0},
        {"num_return_sequences", 1, 1, 1e9, 0},
        {"repetition_penalty", 0, 0, 1e9, 1},
        {"temperature", 0, 0, 1e9, 0},
        {"top_k", 1, 0, 1e9, 0},
        {"top_p", 0, 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_t *v = lookup(d, keys[i].key);
        double x;
        if (!v || json_is_boolean(v))
            continue;
        x = json_is_number(v) ? json_number_value(v) : 0;
        if (!json_is_number(v) || (keys[i].integer && !json_is_integer(v)) || x < keys[i].lo || x > keys[i].hi ||
            (keys[i].open_lo && x == keys[i].lo)) {
            char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            json_t *g = d->ck->generation_config ? json_object_get(d->ck->generation_config, keys[i].key) : NULL;
            int rc = olive_fail(OLIVE_EFORMAT, "%s of '%s': '%s' is %.40s, not %s in %s%g, %g]",
                                g == v ? "generation_config.json" : "config.json", d->ck->path, keys[i].key,
                                text ? text : "?", keys[i].integer ? "an integer" : "a number",
                                keys[i].open_lo ? "(" : "[", keys[i].lo, keys[i].hi);
            free(text);
            return rc;
        }
    }
    return OLIVE_OK;
}

static json_t *provider_options(const cvt_decoder *d)
{
    const char *ep = d->opt.execution_provider;
    json_t *list = json_array();
    if (!strcmp(ep, "cuda"))
        json_array_append_new(list, json_pack("{s:{s:s}}", "cuda", "enable_cuda_graph", d->opt.cuda_graph ? "1" : "0"));
    else if (!strcmp(ep, "dml"))
        json_array_append_new(list,
                              json_pack("{s:{s:s}}", "dml", "enable_graph_capture", d->opt.dml_graph ? "1" : "0"));
    else if (!strcmp(ep, "webgpu"))
        json_array_append_new(list, json_pack("{s:{s:s,s:s}}", "webgpu", "enableGraphCapture",
                                              d->opt.webgpu_graph ? "1" : "0", "validationMode", "basic"));
    return list;
}

int cvt_genai_config(const cvt_decoder *d, char **out)
{
    json_t *eos = lookup(d, "eos_token_id"), *bos = lookup(d, "bos_token_id"), *pad = lookup(d, "pad_token_id");
    json_t *inputs = json_object(), *outputs = json_object(), *root, *sampling;
    char *text;
    if (d->opt.exclude_embeds)
        json_object_set_new(inputs, "inputs_embeds", json_string("inputs_embeds"));
    else
        json_object_set_new(inputs, "input_ids", json_string("input_ids"));
    json_object_set_new(inputs, "attention_mask", json_string("attention_mask"));
    if (d->position_ids)
        json_object_set_new(inputs, "position_ids", json_string(d->position_ids));
    json_object_set_new(inputs, "past_key_names", json_string("past_key_values.%d.key"));
    json_object_set_new(inputs, "past_value_names", json_string("past_key_values.%d.value"));
    if (!d->opt.exclude_lm_head)
        json_object_set_new(outputs, "logits", json_string("logits"));
    if (d->opt.include_hidden_states || d->opt.exclude_lm_head)
        json_object_set_new(outputs, "hidden_states", json_string("hidden_states"));
    json_object_set_new(outputs, "present_key_names", json_string("present.%d.key"));
    json_object_set_new(outputs, "present_value_names", json_string("present.%d.value"));
    /* No pad token: the first end-of-sequence token pads, as the builder does. */
    if (!pad && eos)
        pad = json_is_array(eos) ? json_array_get(eos, 0) : eos;
    sampling = lookup(d, "do_sample");
    root = json_pack(
        "{s:{s:O?,s:I,s:{s:{s:s,s:o},s:s,s:I,s:I,s:o,s:o,s:I,s:I,s:I},s:O?,s:O?,s:s,s:I},"
        "s:{s:f,s:b,s:b,s:o,s:I,s:I,s:o,s:o,s:o,s:b,s:o,s:o,s:o,s:o}}",
        "model", "bos_token_id", bos, "context_length", (json_int_t)d->cfg.context_length, "decoder", "session_options",
        "log_id", "onnxruntime-genai", "provider_options", provider_options(d), "filename", "model.onnx", "head_size",
        (json_int_t)d->cfg.head_dim, "hidden_size", (json_int_t)d->cfg.hidden, "inputs", inputs, "outputs", outputs,
        "num_attention_heads", (json_int_t)d->cfg.heads, "num_hidden_layers", (json_int_t)d->n_layers,
        "num_key_value_heads", (json_int_t)d->cfg.kv_heads, "eos_token_id", eos, "pad_token_id", pad, "type",
        d->arch->genai_type, "vocab_size", (json_int_t)d->cfg.vocab, "search", "diversity_penalty", 0.0, "do_sample",
        sampling && json_is_true(sampling), "early_stopping", 1, "length_penalty",
        number_or(d, "length_penalty", 1.0, 0), "max_length", (json_int_t)d->cfg.context_length, "min_length",
        (json_int_t)0, "no_repeat_ngram_size", number_or(d, "no_repeat_ngram_size", 0, 1), "num_beams",
        number_or(d, "num_beams", 1, 1), "num_return_sequences", number_or(d, "num_return_sequences", 1, 1),
        /* GroupQueryAttention writes present into the past buffer */
        "past_present_share_buffer", 1, "repetition_penalty", number_or(d, "repetition_penalty", 1.0, 0), "temperature",
        number_or(d, "temperature", 1.0, 0), "top_k", number_or(d, "top_k", 50, 1), "top_p",
        number_or(d, "top_p", 1.0, 0));
    if (!root)
        return olive_fail(OLIVE_ENOMEM, "cannot build genai_config.json");
    text = json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    *out = text;
    return OLIVE_OK;
}
