/* Greedy generation with ONNX Runtime GenAI over a decoder folder, timed: time to first
 * token, prefill and decode speed. Small on purpose: one prompt, batch 1, no sampling. */
#include "backends/ort/ort_generator.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/words.h"

struct olive_ort_generator {
    const olive_ort_genai *genai;
    OgaModel *model;
    OgaTokenizer *tokenizer;
    int chat_template; /* apply the model's chat template to prompts */
};

/* Turns an OgaResult into libolive's error (releasing it); returns `code`. */
static int oga_fail(const oga_api *api, OgaResult *r, int code, const char *what)
{
    const char *msg = api->OgaResultGetError(r);
    olive_fail(code, "%s: %s", what, msg && msg[0] ? msg : "ONNX Runtime GenAI gave no message");
    api->OgaDestroyResult(r);
    return code;
}

#define OGA_CHECK(api, call, code, what)                                                                               \
    do {                                                                                                               \
        OgaResult *r_ = (call);                                                                                        \
        if (r_) {                                                                                                      \
            rc = oga_fail((api), r_, (code), (what));                                                                  \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* GenAI's name for an execution provider in genai_config.json; "" for the CPU (no provider). */
static const char *genai_provider(const char *provider)
{
    static const char *const map[][2] = {
        {"CPUExecutionProvider", ""},
        {"CUDAExecutionProvider", "cuda"},
        {"DmlExecutionProvider", "dml"},
        {"WebGpuExecutionProvider", "WebGPU"},
        {"QNNExecutionProvider", "QNN"},
        {"OpenVINOExecutionProvider", "OpenVINO"},
        {"NvTensorRTRTXExecutionProvider", "NvTensorRtRtx"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(provider, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

/* 1 when the folder's tokenizer_config.json has a non-empty chat_template. */
static int has_chat_template(const char *dir)
{
    char *path = olive_asprintf("%s/tokenizer_config.json", dir);
    json_t *root = path ? json_load_file(path, JSON_DECODE_INT_AS_REAL, NULL) : NULL; /* huge model_max_length */
    json_t *t = root ? json_object_get(root, "chat_template") : NULL;
    int yes = t && ((json_is_string(t) && json_string_length(t) > 0) || (json_is_array(t) && json_array_size(t) > 0));
    json_decref(root);
    free(path);
    return yes;
}

void olive_ort_generator_free(olive_ort_generator *g)
{
    if (!g)
        return;
    if (g->tokenizer)
        g->genai->api->OgaDestroyTokenizer(g->tokenizer);
    if (g->model)
        g->genai->api->OgaDestroyModel(g->model);
    free(g);
}

int olive_ort_generator_new(olive_ort_generator **out, const char *dir, const char *provider, const char *options)
{
    char **words = NULL, *config_path = NULL;
    size_t n_words = 0;
    const char *ort_library = NULL, *genai_library = NULL, *chat = "auto", *gname;
    const olive_ort_genai *genai = NULL;
    const oga_api *api;
    olive_ort_generator *g = NULL;
    OgaConfig *config = NULL;
    struct stat sb;
    int rc = OLIVE_OK;

    if (!out || !dir || !provider)
        return olive_fail(OLIVE_EINVALID, "olive_generator_new: out, model_dir and provider must not be NULL");
    if (options && options[0])
        OLIVE_TRY(olive_split_words(&words, &n_words, options));
    for (size_t i = 0; i < n_words && rc == OLIVE_OK; i++) {
        char *eq = strchr(words[i], '=');
        if (!eq) {
            rc = olive_fail(OLIVE_EINVALID, "generator option '%s' is not key=value", words[i]);
            break;
        }
        *eq = '\0';
        if (strcmp(words[i], "ort_library") == 0)
            ort_library = eq + 1;
        else if (strcmp(words[i], "genai_library") == 0)
            genai_library = eq + 1;
        else if (strcmp(words[i], "chat_template") == 0) {
            chat = eq + 1;
            if (strcmp(chat, "auto") && strcmp(chat, "true") && strcmp(chat, "false"))
                rc = olive_fail(OLIVE_EINVALID, "generator option chat_template: '%s' is not auto|true|false", chat);
        } else
            rc = olive_fail(OLIVE_ENOTFOUND,
                            "unknown generator option '%s' (known: chat_template, ort_library, "
                            "genai_library)",
                            words[i]);
    }
    if (rc != OLIVE_OK)
        goto done;
    if (!(gname = genai_provider(provider))) {
        rc = olive_fail(OLIVE_EUNSUPPORTED, "olive_generator_new: ONNX Runtime GenAI has no name for %s", provider);
        goto done;
    }
    if (!(config_path = olive_asprintf("%s/genai_config.json", dir))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    if (stat(config_path, &sb) != 0) {
        rc = olive_fail(OLIVE_ENOTFOUND,
                        "olive_generator_new: %s is not a model folder for ONNX Runtime GenAI (no "
                        "genai_config.json)",
                        dir);
        goto done;
    }
    if ((rc = olive_ort_genai_load(&genai, genai_library, ort_library)) != OLIVE_OK)
        goto done;
    if (gname[0]) {
        const olive_ort *ort = olive_ort_loaded();
        int found = 0;
        for (size_t i = 0; ort && i < ort->n_providers; i++)
            found |= strcmp(ort->providers[i], provider) == 0;
        if (!found) {
            rc = olive_fail(OLIVE_EUNSUPPORTED, "execution provider %s is not available in ONNX Runtime %s (%s)",
                            provider, ort ? ort->version : "?", ort ? ort->path : "?");
            goto done;
        }
    }
    api = genai->api;
    if (!(g = olive_calloc(1, sizeof *g))) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    g->genai = genai;
    g->chat_template = strcmp(chat, "true") == 0 || (strcmp(chat, "auto") == 0 && has_chat_template(dir));
    OGA_CHECK(api, api->OgaCreateConfig(dir, &config), OLIVE_EFORMAT, "onnxruntime-genai: reading genai_config.json");
    OGA_CHECK(api, api->OgaConfigClearProviders(config), OLIVE_EFORMAT, "onnxruntime-genai: choosing the provider");
    if (gname[0])
        OGA_CHECK(api, api->OgaConfigAppendProvider(config, gname), OLIVE_EUNSUPPORTED,
                  "onnxruntime-genai: choosing the provider");
    OGA_CHECK(api, api->OgaCreateModelFromConfig(config, &g->model), OLIVE_EFORMAT,
              "onnxruntime-genai: loading the model folder");
    OGA_CHECK(api, api->OgaCreateTokenizer(g->model, &g->tokenizer), OLIVE_EFORMAT,
              "onnxruntime-genai: loading the tokenizer");
done:
    if (config)
        genai->api->OgaDestroyConfig(config);
    olive_free_words(words, n_words);
    free(config_path);
    if (rc != OLIVE_OK) {
        olive_ort_generator_free(g);
        return rc;
    }
    *out = g;
    return OLIVE_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static json_t *ids_json(const int32_t *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

int olive_ort_generator_generate_json(char **out, olive_ort_generator *g, const char *prompt, size_t new_tokens)
{
    const oga_api *api;
    const char *templated = NULL, *text = NULL;
    char *messages = NULL, *dumped = NULL;
    OgaSequences *seqs = NULL;
    OgaGeneratorParams *params = NULL;
    OgaGenerator *gen = NULL;
    json_t *root = NULL, *msg;
    const int32_t *ids, *seq;
    size_t n_ids, n_seq, made = 0;
    double t0, t_prefill, t_first = 0, t_end;
    int rc = OLIVE_OK;

    if (!out || !g || !prompt || !new_tokens)
        return olive_fail(OLIVE_EINVALID, "olive_generator_generate_json: out, generator and prompt must not be NULL "
                                          "and new_tokens must be 1 or more");
    api = g->genai->api;
    if (g->chat_template) {
        if (!api->OgaTokenizerApplyChatTemplate)
            return olive_fail(OLIVE_EUNSUPPORTED,
                              "onnxruntime-genai at %s has no chat templates (OgaTokenizerApplyChatTemplate)",
                              g->genai->path);
        msg = json_pack("[{s:s, s:s}]", "role", "user", "content", prompt);
        messages = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
        json_decref(msg);
        if (!messages)
            return olive_fail(OLIVE_EINVALID, "olive_generator_generate_json: the prompt is not valid UTF-8");
        OGA_CHECK(api, api->OgaTokenizerApplyChatTemplate(g->tokenizer, NULL, messages, NULL, true, &templated),
                  OLIVE_EFORMAT, "onnxruntime-genai: applying the chat template");
    }
    OGA_CHECK(api, api->OgaCreateSequences(&seqs), OLIVE_ENOMEM, "onnxruntime-genai: creating sequences");
    OGA_CHECK(api, api->OgaTokenizerEncode(g->tokenizer, templated ? templated : prompt, seqs), OLIVE_EFORMAT,
              "onnxruntime-genai: encoding the prompt");
    if (api->OgaSequencesCount(seqs) != 1 || (n_ids = api->OgaSequencesGetSequenceCount(seqs, 0)) == 0) {
        rc = olive_fail(OLIVE_EINVALID, "olive_generator_generate_json: the prompt encodes to no tokens");
        goto done;
    }
    ids = api->OgaSequencesGetSequenceData(seqs, 0);
    OGA_CHECK(api, api->OgaCreateGeneratorParams(g->model, &params), OLIVE_EFORMAT,
              "onnxruntime-genai: creating generator parameters");
    OGA_CHECK(api, api->OgaGeneratorParamsSetSearchNumber(params, "max_length", (double)(n_ids + new_tokens)),
              OLIVE_EINVALID, "onnxruntime-genai: setting max_length");
    OGA_CHECK(api, api->OgaGeneratorParamsSetSearchNumber(params, "min_length", (double)(n_ids + new_tokens)),
              OLIVE_EINVALID, "onnxruntime-genai: setting min_length");
    OGA_CHECK(api, api->OgaGeneratorParamsSetSearchBool(params, "do_sample", false), OLIVE_EINVALID,
              "onnxruntime-genai: turning sampling off");
    OGA_CHECK(api, api->OgaCreateGenerator(g->model, params, &gen), OLIVE_EFORMAT,
              "onnxruntime-genai: creating the generator");
    t0 = now_s();
    OGA_CHECK(api, api->OgaGenerator_AppendTokens(gen, ids, n_ids), OLIVE_EFORMAT,
              "onnxruntime-genai: processing the prompt");
    t_prefill = now_s();
    while (made < new_tokens && !api->OgaGenerator_IsDone(gen)) {
        OGA_CHECK(api, api->OgaGenerator_GenerateNextToken(gen), OLIVE_EFORMAT,
                  "onnxruntime-genai: generating a token");
        if (made++ == 0)
            t_first = now_s();
    }
    t_end = now_s();
    n_seq = api->OgaGenerator_GetSequenceCount(gen, 0);
    seq = api->OgaGenerator_GetSequenceData(gen, 0);
    if (n_seq < n_ids) {
        rc = olive_fail(OLIVE_EINTERNAL, "onnxruntime-genai: the sequence is shorter than the prompt");
        goto done;
    }
    OGA_CHECK(api, api->OgaTokenizerDecode(g->tokenizer, seq + n_ids, n_seq - n_ids, &text), OLIVE_EFORMAT,
              "onnxruntime-genai: decoding the generated tokens");
    root = json_object();
    json_object_set_new(root, "prompt_tokens", ids_json(ids, n_ids));
    json_object_set_new(root, "tokens", ids_json(seq + n_ids, n_seq - n_ids));
    {
        json_t *t = json_string(text ? text : ""); /* NULL for text that is not UTF-8 */
        json_object_set_new(root, "text", t ? t : json_string(""));
    }
    json_object_set_new(root, "chat_template_applied", json_boolean(g->chat_template));
    json_object_set_new(root, "time_to_first_token_s", json_real(made ? t_first - t0 : 0.0));
    json_object_set_new(root, "prefill_tokens_per_s",
                        json_real(t_prefill > t0 ? (double)n_ids / (t_prefill - t0) : 0.0));
    json_object_set_new(root, "decode_tokens_per_s",
                        json_real(made > 1 && t_end > t_first ? (double)(made - 1) / (t_end - t_first) : 0.0));
    if (!(dumped = json_dumps(root, JSON_COMPACT))) {
        rc = olive_fail(OLIVE_ENOMEM, "out of memory describing the generation");
        goto done;
    }
    *out = dumped;
done:
    json_decref(root);
    if (text)
        api->OgaDestroyString(text);
    if (templated)
        api->OgaDestroyString(templated);
    if (gen)
        api->OgaDestroyGenerator(gen);
    if (params)
        api->OgaDestroyGeneratorParams(params);
    if (seqs)
        api->OgaDestroySequences(seqs);
    free(messages);
    return rc;
}
