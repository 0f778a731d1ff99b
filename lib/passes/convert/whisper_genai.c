/* The runtime configs of a converted Whisper: genai_config.json in ONNX Runtime GenAI's
 * "whisper" layout (encoder and decoder models, their input and output names, token ids,
 * greedy search defaults) and audio_processor_config.json, the log-mel front end ONNX Runtime
 * Extensions runs on raw audio (decode, STFT, log-mel). */
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "passes/convert/whisper_internal.h"

/* A token id (or list) of generation_config.json, else config.json; NULL when absent. */
static json_t *token(const ofmt_checkpoint *ck, const char *key)
{
    json_t *v = ck->generation_config ? json_object_get(ck->generation_config, key) : NULL;
    if (!v || json_is_null(v))
        v = json_object_get(ck->config, key);
    return v && !json_is_null(v) ? v : NULL;
}

static json_t *provider_options(const char *ep)
{
    json_t *list = json_array();
    if (!strcmp(ep, "cuda"))
        json_array_append_new(list, json_pack("{s:{s:s}}", "cuda", "enable_cuda_graph", "0"));
    else if (!strcmp(ep, "dml"))
        json_array_append_new(list, json_pack("{s:{s:s}}", "dml", "enable_graph_capture", "1"));
    else if (!strcmp(ep, "webgpu"))
        json_array_append_new(
            list, json_pack("{s:{s:s,s:s}}", "webgpu", "enableGraphCapture", "0", "validationMode", "basic"));
    return list;
}

/* One model's entry: file, sizes, names. */
static json_t *model_entry(const char *file, const char *ep, int64_t hidden, int64_t heads, int64_t layers,
                           json_t *inputs, json_t *outputs)
{
    return json_pack("{s:{s:s,s:o},s:s,s:I,s:I,s:o,s:o,s:I,s:I,s:I}", "session_options", "log_id", "onnxruntime-genai",
                     "provider_options", provider_options(ep), "filename", file, "head_size",
                     (json_int_t)(hidden / heads), "hidden_size", (json_int_t)hidden, "inputs", inputs, "outputs",
                     outputs, "num_attention_heads", (json_int_t)heads, "num_hidden_layers", (json_int_t)layers,
                     "num_key_value_heads", (json_int_t)heads);
}

int wh_genai_config(const ofmt_checkpoint *ck, const wh_config *c, const char *provider, char **out)
{
    json_t *eos = token(ck, "eos_token_id"), *pad = token(ck, "pad_token_id"), *bos = token(ck, "bos_token_id");
    json_t *start = token(ck, "decoder_start_token_id"), *encoder, *decoder, *root;
    char *text;

    encoder = model_entry("encoder.onnx", provider, c->d_model, c->enc_heads, c->enc_layers,
                          json_pack("{s:s}", "audio_features", "audio_features"),
                          json_pack("{s:s,s:s,s:s}", "encoder_hidden_states", "hidden_states",
                                    "cross_present_key_names", "present_key_cross_%d", "cross_present_value_names",
                                    "present_value_cross_%d"));
    decoder = model_entry("model.onnx", provider, c->d_model, c->dec_heads, c->dec_layers,
                          json_pack("{s:s,s:s,s:s,s:s,s:s}", "input_ids", "input_ids", "past_key_names",
                                    "past_key_self_%d", "past_value_names", "past_value_self_%d",
                                    "cross_past_key_names", "past_key_cross_%d", "cross_past_value_names",
                                    "past_value_cross_%d"),
                          json_pack("{s:s,s:s,s:s}", "logits", "logits", "present_key_names", "present_key_self_%d",
                                    "present_value_names", "present_value_self_%d"));
    /* No pad token: the first end-of-sequence token pads. */
    if (!pad && eos)
        pad = json_is_array(eos) ? json_array_get(eos, 0) : eos;
    root = json_pack("{s:{s:O?,s:I,s:o,s:o,s:O?,s:O?,s:s,s:I},"
                     "s:{s:f,s:b,s:b,s:f,s:I,s:I,s:I,s:I,s:I,s:b,s:f,s:f,s:I,s:f}}",
                     "model", "bos_token_id", bos, "context_length", (json_int_t)c->target_positions, "decoder",
                     decoder, "encoder", encoder, "eos_token_id", eos, "pad_token_id", pad, "type", "whisper",
                     "vocab_size", (json_int_t)c->vocab, "search", "diversity_penalty", 0.0, "do_sample", 0,
                     "early_stopping", 1, "length_penalty", 1.0, "max_length", (json_int_t)c->target_positions,
                     "min_length", (json_int_t)0, "no_repeat_ngram_size", (json_int_t)0, "num_beams", (json_int_t)1,
                     "num_return_sequences", (json_int_t)1,
                     /* the decoder's present caches grow by concatenation */
                     "past_present_share_buffer", 0, "repetition_penalty", 1.0, "temperature", 1.0, "top_k",
                     (json_int_t)1, "top_p", 1.0);
    if (root && start && json_object_set(json_object_get(root, "model"), "decoder_start_token_id", start)) {
        json_decref(root);
        root = NULL;
    }
    if (!root)
        return olive_fail(OLIVE_ENOMEM, "cannot build genai_config.json");
    text = json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    *out = text;
    return OLIVE_OK;
}

int wh_audio_config(const wh_audio *a, char **out)
{
    json_t *root = json_pack("{s:{s:[{s:{s:s,s:s}},{s:{s:s,s:s,s:{s:I,s:I,s:I}}},{s:{s:s,s:s,s:{s:I,s:I,s:I,s:I}}}]}}",
                             "feature_extraction", "sequence", "operation", "name", "audio_decoder", "type",
                             "AudioDecoder", "operation", "name", "STFT", "type", "STFTNorm", "attrs", "n_fft",
                             (json_int_t)a->n_fft, "frame_length", (json_int_t)a->n_fft, "hop_length",
                             (json_int_t)a->hop_length, "operation", "name", "log_mel_spectrogram", "type",
                             "LogMelSpectrum", "attrs", "chunk_size", (json_int_t)a->chunk_length, "hop_length",
                             (json_int_t)a->hop_length, "n_fft", (json_int_t)a->n_fft, "n_mel", (json_int_t)a->n_mels);
    char *text;
    if (!root)
        return olive_fail(OLIVE_ENOMEM, "cannot build audio_processor_config.json");
    text = json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    *out = text;
    return OLIVE_OK;
}
