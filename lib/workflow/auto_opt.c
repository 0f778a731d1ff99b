/* The pass selection rules of `olive auto-opt`, `olive optimize` and `olive quantize`: which
 * passes an input of a given kind gets for a precision and provider, written as a workflow
 * config in Olive's schema (so it can be saved, edited and run with `olive run`). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/providers.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "core/words.h"
#include "workflow/outputs.h"
#include "workflow/workflow.h"

typedef struct ao_options {
    const char *command;
    const char *model, *output, *device, *provider, *precision, *cache_dir, *algorithm;
    const char *block_size, *accuracy_level, *memory, *log_level;
    const char *act_precision, *data_files, *batch_size; /* quantize: calibration */
    const char *data_name, *subset, *split, *text_field, *max_seq_len, *max_samples, *input_cols;
    int add_special_tokens;
    int use_ort_genai, use_model_builder, use_qdq_encoding;
} ao_options;

static int parse_bool(const char *key, const char *v, int *out)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1")) {
        *out = 1;
        return OLIVE_OK;
    }
    if (!strcasecmp(v, "false") || !strcmp(v, "0")) {
        *out = 0;
        return OLIVE_OK;
    }
    return olive_fail(OLIVE_EINVALID, "%s takes true or false, not '%s'", key, v);
}

static int parse_uint(const char *key, const char *v, long long lo, long long hi)
{
    char *end;
    long long x;
    errno = 0;
    x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return olive_fail(OLIVE_EINVALID, "%s takes an integer from %lld to %lld, not '%s'", key, lo, hi, v);
    return OLIVE_OK;
}

static int one_of(const char *key, const char *v, const char *const *allowed)
{
    olive_strbuf b = {0};
    for (const char *const *a = allowed; *a; a++)
        if (!strcmp(*a, v))
            return OLIVE_OK;
    for (const char *const *a = allowed; *a; a++)
        olive_strbuf_printf(&b, "%s%s", a == allowed ? "" : ", ", *a);
    olive_fail(OLIVE_EINVALID, "%s must be one of %s, not '%s'", key, b.data ? b.data : "", v);
    olive_strbuf_free(&b);
    return OLIVE_EINVALID;
}

static int set_option(ao_options *o, const char *key, const char *v)
{
    static const char *const precisions[] = {"int4", "int8", "fp16", "bf16", "fp32", NULL};
    static const char *const algorithms[] = {"default", "rtn", "hqq", "kquant", "k_quant", "gptq", "awq", NULL};
    static const char *const act_precisions[] = {"int8", "uint8", NULL};
    /* Olive's dataset flags (quantize): a data config built from them. */
    struct {
        const char *name;
        const char **slot;
    } data_flags[] = {{"data_name", &o->data_name},
                      {"subset", &o->subset},
                      {"split", &o->split},
                      {"text_field", &o->text_field},
                      {"input_cols", &o->input_cols}};
    struct {
        const char *name;
        const char **slot;
    } texts[] = {{"model_name_or_path", &o->model}, {"output_path", &o->output},  {"device", &o->device},
                 {"provider", &o->provider},        {"cache_dir", &o->cache_dir}, {"memory", &o->memory}};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        if (!strcmp(key, texts[i].name)) {
            if (!v[0])
                return olive_fail(OLIVE_EINVALID, "%s must not be empty", key);
            *texts[i].slot = v;
            return !strcmp(key, "memory") ? parse_uint(key, v, 1, (long long)1 << 62) : OLIVE_OK;
        }
    }
    if (!strcmp(key, "precision")) {
        o->precision = v;
        return one_of(key, v, precisions);
    }
    if (!strcmp(key, "algorithm")) {
        o->algorithm = v;
        return one_of(key, v, algorithms);
    }
    if (!strcmp(key, "act_precision")) {
        o->act_precision = v;
        return one_of(key, v, act_precisions);
    }
    if (!strcmp(key, "data_files")) {
        if (!v[0])
            return olive_fail(OLIVE_EINVALID, "%s must not be empty", key);
        o->data_files = v;
        return OLIVE_OK;
    }
    if (!strcmp(key, "batch_size")) {
        o->batch_size = v;
        return parse_uint(key, v, 1, 1 << 20);
    }
    for (size_t i = 0; i < sizeof data_flags / sizeof *data_flags; i++) {
        if (!strcmp(key, data_flags[i].name)) {
            if (!v[0])
                return olive_fail(OLIVE_EINVALID, "%s must not be empty", key);
            *data_flags[i].slot = v;
            return OLIVE_OK;
        }
    }
    if (!strcmp(key, "max_seq_len")) {
        o->max_seq_len = v;
        return parse_uint(key, v, 1, 1 << 24);
    }
    if (!strcmp(key, "max_samples")) {
        o->max_samples = v;
        return parse_uint(key, v, 1, 1 << 30);
    }
    if (!strcmp(key, "add_special_tokens"))
        return parse_bool(key, v, &o->add_special_tokens);
    if (!strcmp(key, "block_size")) {
        o->block_size = v;
        return parse_uint(key, v, 16, 256);
    }
    if (!strcmp(key, "accuracy_level")) {
        o->accuracy_level = v;
        return parse_uint(key, v, 0, 4);
    }
    if (!strcmp(key, "log_level")) {
        o->log_level = v;
        return parse_uint(key, v, 0, 4);
    }
    if (!strcmp(key, "use_ort_genai"))
        return parse_bool(key, v, &o->use_ort_genai);
    if (!strcmp(key, "use_model_builder"))
        return parse_bool(key, v, &o->use_model_builder);
    if (!strcmp(key, "use_qdq_encoding"))
        return parse_bool(key, v, &o->use_qdq_encoding);
    return olive_fail(OLIVE_ENOTFOUND, "%s: unknown option '%s'", o->command, key);
}

/* A checkpoint (Hugging Face folder, .gguf file) is converted; anything else is ONNX. */
static int input_is_checkpoint(const char *path, int *out)
{
    struct stat st;
    char *probe, *hub;
    OLIVE_TRY(wf_resolve_hub_id(&hub, path));
    if (hub) {
        int rc = input_is_checkpoint(hub, out);
        free(hub);
        return rc;
    }
    if (stat(path, &st) != 0)
        return errno == ENOENT ? olive_fail(OLIVE_ENOTFOUND,
                                            "model_name_or_path '%s' does not exist (give a local folder, .gguf or "
                                            ".onnx file, or a Hugging Face repo id org/name[@revision])",
                                            path)
                               : olive_fail_errno(errno, "cannot read", path);
    if (S_ISDIR(st.st_mode)) {
        static const char *const onnx_markers[] = {"model_config.json", "model.onnx", NULL};
        for (const char *const *m = onnx_markers; *m; m++) {
            if (!(probe = olive_path_join(path, *m)))
                return OLIVE_ENOMEM;
            int found = access(probe, F_OK) == 0;
            free(probe);
            if (found) {
                *out = 0;
                return OLIVE_OK;
            }
        }
        if (!(probe = olive_path_join(path, "config.json")))
            return OLIVE_ENOMEM;
        int hf = access(probe, F_OK) == 0;
        free(probe);
        if (!hf)
            return olive_fail(OLIVE_EINVALID,
                              "model_name_or_path '%s' is a folder with neither model.onnx, "
                              "model_config.json nor config.json",
                              path);
        *out = 1;
        return OLIVE_OK;
    }
    int fd = olive_open_regular(path, NULL);
    char magic[4] = {0};
    if (fd < 0)
        return olive_error_code();
    *out = read(fd, magic, 4) == 4 && !memcmp(magic, "GGUF", 4);
    close(fd);
    return OLIVE_OK;
}


/* 1 if the folder of an ONNX input (the input itself when a folder) holds genai_config.json. */
static int onnx_folder_has_genai_config(const char *model)
{
    struct stat st;
    char *folder = stat(model, &st) == 0 && S_ISDIR(st.st_mode) ? olive_strdup(model) : olive_path_dirname(model);
    char *probe = folder ? olive_path_join(folder, "genai_config.json") : NULL;
    int found = probe && access(probe, F_OK) == 0;
    free(probe);
    free(folder);
    return found;
}

/* A provider names its device: CUDA runs on gpu, QNN on npu, CPU on cpu. */
static int pick_device(const ao_options *o, const char **device)
{
    const olive_provider_info *p;
    *device = o->device ? o->device : "cpu";
    if (o->device || !o->provider)
        return OLIVE_OK;
    if (!(p = olive_provider_lookup(o->provider)))
        return OLIVE_OK; /* the accelerator check names the known providers */
    *device = p->devices & OLIVE_DEVICE_CPU ? "cpu" : p->devices & OLIVE_DEVICE_GPU ? "gpu" : "npu";
    return OLIVE_OK;
}

static json_t *int_json(const char *text)
{
    return json_integer(strtoll(text, NULL, 10));
}

static int add_checkpoint_passes(json_t *passes, const ao_options *o, const char *precision)
{
    json_t *mb = json_pack("{s:s, s:s}", "type", "ModelBuilder", "precision", precision);
    if (!mb)
        return OLIVE_ENOMEM;
    if (o->block_size)
        json_object_set_new(mb, "int4_block_size", int_json(o->block_size));
    if (o->accuracy_level)
        json_object_set_new(mb, "int4_accuracy_level", int_json(o->accuracy_level));
    json_object_set_new(passes, "model_builder", mb);
    return OLIVE_OK;
}

static void add_quantizer_settings(json_t *q, const ao_options *o)
{
    if (o->block_size)
        json_object_set_new(q, "block_size", int_json(o->block_size));
    if (o->accuracy_level)
        json_object_set_new(q, "accuracy_level", int_json(o->accuracy_level));
}

/* A precision the provider cannot run (bf16 on CPU) is checked with the workflow: workflow_targets.c. */
static int add_onnx_passes(json_t *passes, const ao_options *o, const char *precision)
{
    json_t *q = NULL;
    json_object_set_new(passes, "peephole", json_pack("{s:s}", "type", "OnnxPeepholeOptimizer"));
    json_object_set_new(passes, "transformers_optimization", json_pack("{s:s}", "type", "OrtTransformersOptimization"));
    if (!strcmp(precision, "int4")) {
        q = json_pack("{s:s}", "type", "OnnxBlockWiseRtnQuantization");
        add_quantizer_settings(q, o);
    } else if (!strcmp(precision, "int8")) {
        q = json_pack("{s:s}", "type", "OnnxDynamicQuantization");
    } else if (!strcmp(precision, "fp16")) {
        /* float32 inputs and outputs: the optimized model is a drop-in replacement */
        q = json_pack("{s:s, s:b}", "type", "OnnxFloatToFloat16", "keep_io_types", 1);
    } else if (!strcmp(precision, "bf16")) {
        q = json_pack("{s:s, s:b, s:b}", "type", "OnnxFloatToFloat16", "use_bf16", 1, "keep_io_types", 1);
    }
    if (q)
        json_object_set_new(passes, strcmp(precision, "fp16") && strcmp(precision, "bf16") ? "quantization" : "float16",
                            q);
    return OLIVE_OK;
}

/* The calibrated quantizers: static int8 (--act_precision) and GPTQ / AWQ, on --data_files. */
static int add_calibrated_pass(json_t *passes, const ao_options *o, const char *precision, const char *algorithm)
{
    json_t *q;
    int is_static = o->act_precision != NULL;
    if (!o->data_files && !o->data_name)
        return olive_fail(OLIVE_EINVALID,
                          "quantize: %s needs calibration data: --data_name with --data_files (a "
                          "text dataset, tokenized with the model's tokenizer), or --data_files alone "
                          "(a folder of <input name>.npy arrays, first axis: samples)",
                          is_static ? "--act_precision" : algorithm);
    if (is_static) {
        if (strcmp(precision, "int8"))
            return olive_fail(OLIVE_EINVALID, "quantize: --act_precision goes with --precision int8, not '%s'",
                              precision);
        if (o->algorithm && strcmp(o->algorithm, "default"))
            return olive_fail(OLIVE_EINVALID, "quantize: static int8 (--act_precision) takes no --algorithm ('%s')",
                              o->algorithm);
        q = json_pack("{s:s, s:s, s:s}", "type", "OnnxStaticQuantization", "activation_type",
                      strcmp(o->act_precision, "uint8") ? "QInt8" : "QUInt8", "quant_format", "QDQ");
    } else {
        q = json_pack("{s:s, s:i}", "type", !strcmp(algorithm, "gptq") ? "Gptq" : "AutoAWQQuantizer", "bits",
                      strcmp(precision, "int8") ? 4 : 8);
        if (q && o->block_size)
            json_object_set_new(q, "group_size", int_json(o->block_size));
    }
    if (!q)
        return OLIVE_ENOMEM;
    if (o->data_name) {
        json_object_set_new(q, "data_config", json_string("calibration_data"));
    } else {
        json_object_set_new(q, "calibration_data", json_string(o->data_files));
        if (o->batch_size)
            json_object_set_new(q, "calibration_batch_size", int_json(o->batch_size));
    }
    json_object_set_new(passes, "quantization", q);
    return OLIVE_OK;
}

static int add_quantize_passes(json_t *passes, const ao_options *o, const char *precision)
{
    const char *algorithm = o->algorithm ? o->algorithm : "default";
    json_t *q;
    if (strcmp(precision, "int4") && strcmp(precision, "int8"))
        return olive_fail(OLIVE_EINVALID, "quantize: precision must be int4 or int8, not '%s'", precision);
    if (o->act_precision || !strcmp(algorithm, "gptq") || !strcmp(algorithm, "awq"))
        return add_calibrated_pass(passes, o, precision, algorithm);
    if (!strcmp(algorithm, "hqq"))
        q = json_pack("{s:s}", "type", "OnnxHqqQuantization");
    else if (!strcmp(algorithm, "kquant") || !strcmp(algorithm, "k_quant"))
        q = json_pack("{s:s}", "type", "OnnxKQuantQuantization");
    else if (!strcmp(algorithm, "rtn"))
        q = json_pack("{s:s, s:s}", "type", "OnnxBlockWiseRtnQuantization", "algorithm", "rtn");
    else
        q = json_pack("{s:s}", "type", "OnnxBlockWiseRtnQuantization");
    if (!q)
        return OLIVE_ENOMEM;
    if (!strcmp(precision, "int8"))
        json_object_set_new(q, "bits", json_integer(8));
    add_quantizer_settings(q, o);
    if (o->use_qdq_encoding)
        json_object_set_new(q, "quant_format", json_string("QDQ"));
    json_object_set_new(passes, "quantization", q);
    return OLIVE_OK;
}

/* Olive's dataset flags as a data config: the dataset's text tokenized into windows of
 * max_seq_len tokens by the tokenizer in the model's folder (text_generation pre-processing). */
static int add_data_config(json_t *doc, const ao_options *o)
{
    struct stat st;
    char *folder = stat(o->model, &st) == 0 && S_ISDIR(st.st_mode) ? olive_strdup(o->model)
                                                                   : olive_path_dirname(o->model);
    json_t *load, *pre, *dc;
    if (!folder)
        return OLIVE_ENOMEM;
    load = json_pack("{s:s, s:s}", "data_name", o->data_name, "split", o->split ? o->split : "train");
    if (o->input_cols)
        OLIVE_INFO("quantize: --input_cols is not used with text generation data (token ids and attention mask)");
    pre = json_pack("{s:s, s:s, s:b}", "type", "text_generation_huggingface_pre_process", "model_name", folder,
                    "add_special_tokens", o->add_special_tokens);
    free(folder);
    if (!load || !pre) {
        json_decref(load);
        json_decref(pre);
        return OLIVE_ENOMEM;
    }
    if (o->data_files)
        json_object_set_new(load, "data_files", json_string(o->data_files));
    if (o->subset)
        json_object_set_new(load, "subset", json_string(o->subset));
    if (o->text_field)
        json_object_set_new(pre, "text_cols", json_pack("[s]", o->text_field));
    json_object_set_new(pre, "use_attention_mask", json_true());
    json_object_set_new(pre, "max_seq_len", int_json(o->max_seq_len ? o->max_seq_len : "1024"));
    if (o->max_samples)
        json_object_set_new(pre, "max_samples", int_json(o->max_samples));
    dc = json_pack("{s:s, s:s, s:o, s:o, s:{s:o}}", "name", "calibration_data", "type", "HuggingfaceContainer",
                   "load_dataset_config", load, "pre_process_data_config", pre, "dataloader_config", "batch_size",
                   int_json(o->batch_size ? o->batch_size : "1"));
    if (!dc)
        return OLIVE_ENOMEM;
    json_object_set_new(doc, "data_configs", json_pack("[o]", dc));
    return OLIVE_OK;
}

static int build(json_t **out, const ao_options *o)
{
    int checkpoint = 0, rc;
    const char *device, *precision = o->precision ? o->precision : !strcmp(o->command, "quantize") ? "int4" : "fp32";
    const char *output = o->output                         ? o->output
                         : !strcmp(o->command, "quantize") ? "quantized-model"
                                                           : "auto-opt-output";
    json_t *doc, *passes, *accel;
    olive_accelerator *acc;
    if (!o->model)
        return olive_fail(OLIVE_EINVALID, "%s: model_name_or_path is required", o->command);
    OLIVE_TRY(pick_device(o, &device));
    /* Checks the device/provider pair now, with the accelerator's own message. */
    OLIVE_TRY(olive_accelerator_new(&acc, device, o->provider));
    accel = json_pack("{s:s, s:[s]}", "device", olive_accelerator_device(acc), "execution_providers",
                      olive_accelerator_provider(acc));
    olive_accelerator_free(acc);
    if (!accel)
        return OLIVE_ENOMEM;
    if (o->memory)
        json_object_set_new(accel, "memory", int_json(o->memory));
    if ((rc = input_is_checkpoint(o->model, &checkpoint)) != OLIVE_OK) {
        json_decref(accel);
        return rc;
    }
    passes = json_object();
    doc = json_pack("{s:{s:s, s:s}, s:{s:{s:s, s:[o]}}, s:o, s:s, s:s, s:s, s:b, s:b}", "input_model", "type",
                    checkpoint ? "HfModel" : "ONNXModel", "model_path", o->model, "systems", "local_system", "type",
                    "LocalSystem", "accelerators", accel, "passes", passes, "host", "local_system", "target",
                    "local_system", "output_dir", output, "evaluate_input_model", 0, "search_strategy", 0);
    if (!doc)
        return OLIVE_ENOMEM;
    if (o->cache_dir)
        json_object_set_new(doc, "cache_dir", json_string(o->cache_dir));
    if (o->log_level)
        json_object_set_new(doc, "log_severity_level", int_json(o->log_level));
    if (!strcmp(o->command, "quantize")) {
        rc = checkpoint ? olive_fail(OLIVE_EUNSUPPORTED,
                                     "quantize: '%s' is a checkpoint; quantize takes an ONNX model "
                                     "(use auto-opt --precision int4 to convert and quantize it)",
                                     o->model)
                        : add_quantize_passes(passes, o, precision);
    } else if (checkpoint) {
        rc = add_checkpoint_passes(passes, o, precision);
    } else {
        if (o->use_model_builder)
            OLIVE_INFO("%s: '%s' is already ONNX; use_model_builder applies to checkpoints only", o->command, o->model);
        if (o->use_ort_genai && !onnx_folder_has_genai_config(o->model))
            OLIVE_WARN("%s: use_ort_genai: '%s' has no genai_config.json and none is written for an ONNX input "
                       "(ModelBuilder's metadata_only keeps one libolive wrote true to the graph, and writes none "
                       "from scratch); convert the Hugging Face checkpoint "
                       "or GGUF file instead, which writes genai_config.json and the tokenizer",
                       o->command, o->model);
        rc = add_onnx_passes(passes, o, precision);
    }
    if (rc == OLIVE_OK && o->data_name)
        rc = add_data_config(doc, o);
    if (rc != OLIVE_OK) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return OLIVE_OK;
}

int wf_auto_opt_config(json_t **out, const char *command, const char *options)
{
    ao_options o;
    char **words = NULL;
    size_t n = 0;
    int rc = OLIVE_OK;
    memset(&o, 0, sizeof o);
    if (strcmp(command, "auto-opt") && strcmp(command, "optimize") && strcmp(command, "quantize"))
        return olive_fail(OLIVE_EINVALID, "unknown command '%s' (auto-opt, optimize or quantize)", command);
    o.command = command;
    OLIVE_TRY(olive_split_words(&words, &n, options));
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        char *eq = strchr(words[i], '=');
        if (!eq || eq == words[i]) {
            rc = olive_fail(OLIVE_EINVALID, "%s: option '%s' is not of the form key=value", command, words[i]);
            break;
        }
        *eq = '\0';
        rc = set_option(&o, words[i], eq + 1);
    }
    if (rc == OLIVE_OK)
        rc = build(out, &o);
    olive_free_words(words, n);
    return rc;
}
