/* `olive auto-opt`, `olive optimize` and `olive quantize`: Olive's flags turned into a
 * workflow config by the library's selection rules, then run (or only shown with --dry_run). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_workflow.h"

static cli_option auto_opt_options[] = {
    {"model_name_or_path", 'm', "MODEL",
     "input: Hugging Face folder or repo id org/name[@revision] (downloaded when not cached), .gguf file, .onnx file "
     "or model folder"},
    {"output_path", 'o', "DIR", "output folder (default auto-opt-output)"},
    {"device", 0, "DEVICE", "target device: cpu (default), gpu or npu"},
    {"provider", 0, "EP", "execution provider, e.g. CPUExecutionProvider, CUDAExecutionProvider (implies its device)"},
    {"precision", 0, "P", "int4, int8, fp16, bf16 or fp32 (default)"},
    {"use_ort_genai", 0, NULL,
     "for ONNX Runtime GenAI: always so for a checkpoint (the model builder writes "
     "genai_config.json and the tokenizer, with or without this flag); an ONNX input keeps "
     "the files of its folder, and a warning says when it has no genai_config.json"},
    {"use_model_builder", 0, NULL, "convert checkpoints with the model builder (always the case here)"},
    {"block_size", 0, "N", "int4 block size: 16, 32, 64, 128 or 256"},
    {"accuracy_level", 0, "N", "MatMulNBits accuracy level: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8"},
    {"memory", 0, "BYTES", "memory of the accelerator, recorded in the config"},
    {"cache_dir", 0, "DIR", "cache folder (default .olive-cache)"},
    {"dry_run", 0, NULL, "print the workflow config and pipeline without running it"},
    {"save_config_file", 0, NULL, "save the workflow config as olive_config.json in the output folder"},
    {"strict", 0, NULL, "refuse a precision the provider cannot run (bf16 on CPU), instead of a warning"},
    {NULL, 0, NULL, NULL},
};

static cli_option quantize_options[] = {
    {"model_name_or_path", 'm', "MODEL", "input ONNX model: .onnx file or model folder"},
    {"output_path", 'o', "DIR", "output folder (default quantized-model)"},
    {"algorithm", 'a', "ALG", "default (ONNX Runtime's block quantizer), rtn, hqq, kquant, gptq or awq"},
    {"precision", 0, "P", "int4 (default) or int8"},
    {"act_precision", 0, "P", "int8 or uint8: static quantization of activations too (with --precision int8)"},
    {"data_name", 'd', "NAME",
     "calibration dataset: json, csv or text files (--data_files), tokenized by the "
     "tokenizer in the model's folder into --max_seq_len windows"},
    {"data_files", 0, "FILES", "the dataset's files; without --data_name, a folder of <input name>.npy arrays"},
    {"subset", 0, "NAME", "the dataset's subset"},
    {"split", 0, "NAME", "the dataset's split (default train)"},
    {"text_field", 0, "NAME", "the dataset's text column"},
    {"max_seq_len", 0, "N", "tokens per calibration sample (default 1024)"},
    {"max_samples", 0, "N", "calibration samples (default all)"},
    {"add_special_tokens", 0, NULL, "add the tokenizer's special tokens to each text"},
    {"input_cols", 0, "LIST", "the dataset's input columns (not used for text generation data)"},
    {"batch_size", 0, "N", "calibration samples per run (default 1)"},
    {"block_size", 0, "N", "weights per block: 16, 32, 64, 128 (default) or 256"},
    {"accuracy_level", 0, "N", "MatMulNBits accuracy level: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8"},
    {"use_qdq_encoding", 0, NULL, "write QDQ (DequantizeLinear) weights instead of MatMulNBits"},
    {"device", 0, "DEVICE", "target device: cpu (default), gpu or npu"},
    {"provider", 0, "EP", "execution provider (implies its device)"},
    {"cache_dir", 0, "DIR", "cache folder (default .olive-cache)"},
    {"dry_run", 0, NULL, "print the workflow config and pipeline without running it"},
    {"save_config_file", 0, NULL, "save the workflow config as olive_config.json in the output folder"},
    {"strict", 0, NULL, "unknown keys and targets the provider cannot run are errors, not warnings"},
    {NULL, 0, NULL, NULL},
};

static const cli_help auto_opt_help = {
    "auto-opt",
    "-m MODEL [-o DIR] [--device D] [--provider EP] [--precision P] [options]",
    "Optimizes a model for ONNX Runtime with the passes its kind needs: a checkpoint (Hugging Face\n"
    "folder or .gguf) is converted to ONNX by the model builder at the precision (int4/int8 quantized\n"
    "as it is converted); an ONNX model goes through the peephole optimizer, transformer fusion when\n"
    "available, then the precision's quantizer (int4: block-wise MatMulNBits, int8: dynamic) or the\n"
    "float16 conversion. Every pass result is cached: a second run reuses it.\n"
    "See 'olive passes NAME' for what each pass does and its parameters.",
    auto_opt_options,
    "Example:\n"
    "  olive auto-opt -m SmolLM2-135M-Instruct.gguf -o models/smollm2-int4 --device cpu \\\n"
    "      --provider CPUExecutionProvider --use_ort_genai --precision int4",
};

static const cli_help optimize_help = {
    "optimize",
    "-m MODEL [-o DIR] [--device D] [--provider EP] [--precision P] [options]",
    "Same as auto-opt: optimizes a model for ONNX Runtime with the passes its kind needs.",
    auto_opt_options,
    "Example:\n  olive optimize -m model.onnx -o out --precision int4 --block_size 32",
};

static const cli_help quantize_help = {
    "quantize",
    "-m MODEL [-o DIR] [--algorithm A] [--precision int4|int8] [options]",
    "Quantizes the MatMul weights of an ONNX model block-wise into com.microsoft MatMulNBits.\n"
    "Algorithms: default (ONNX Runtime's MLAS quantizer, Olive's OnnxBlockWiseRtnQuantization),\n"
    "rtn (round to nearest), hqq (half-quadratic), kquant (llama.cpp's k-quant scale search),\n"
    "gptq and awq (calibrated). default and rtn also turn Gathers on constant tables into\n"
    "GatherBlockQuantized, as Olive's pass does. --precision int8 --act_precision int8 quantizes\n"
    "activations too (ONNX Runtime's static QDQ quantization). Calibration data: a text dataset\n"
    "(-d json|csv|text --data_files ...) tokenized by the model folder's tokenizer, or --data_files\n"
    "alone: a folder of <input name>.npy arrays.",
    quantize_options,
    "Examples:\n  olive quantize -m model.onnx -o out --algorithm rtn --block_size 32\n"
    "  olive quantize -m model-folder -o out --algorithm gptq -d text --data_files corpus.txt --max_seq_len 512",
};

/* A parameter's registry description: its help and default, or NULL (not registered). */
static json_t *registry_param(const char *pass, const char *param)
{
    char *desc = NULL;
    json_t *doc, *params, *p, *found = NULL;
    size_t i;
    if (olive_pass_describe_json(&desc, pass) != OLIVE_OK) {
        olive_error_clear();
        return NULL;
    }
    if (!(doc = cli_json_take(desc, "pass description")))
        return NULL;
    params = cli_json_get(doc, "parameters");
    json_array_foreach(params, i, p) if (!strcmp(cli_json_str(p, "name", ""), param)) found = json_incref(p);
    json_decref(doc);
    return found;
}

/* Flags that set a pass parameter take their help from the registry, so the text follows the
 * passes: "<help of the first> (pass.param default D; other.param default E)". */
static void help_from_registry(cli_option *opts, const char *flag, const char *const *pass_params)
{
    static char texts[8][640];
    static size_t used;
    char *text, dflt[64];
    size_t len;
    int first = 1;
    if (used >= sizeof texts / sizeof *texts)
        return;
    text = texts[used];
    text[0] = '\0';
    for (const char *const *pp = pass_params; pp[0]; pp += 2) {
        json_t *p = registry_param(pp[0], pp[1]);
        if (!p)
            continue;
        len = strlen(text);
        cli_json_scalar_text(cli_json_get(p, "default"), dflt, sizeof dflt);
        if (first)
            snprintf(text + len, sizeof texts[0] - len, "%s (%s.%s default %s", cli_json_str(p, "help", ""), pp[0],
                     pp[1], dflt[0] ? dflt : "none");
        else
            snprintf(text + len, sizeof texts[0] - len, "; %s.%s default %s", pp[0], pp[1], dflt[0] ? dflt : "none");
        first = 0;
        json_decref(p);
    }
    if (first)
        return;
    len = strlen(text);
    snprintf(text + len, sizeof texts[0] - len, ")");
    for (cli_option *o = opts; o->long_name; o++)
        if (!strcmp(o->long_name, flag))
            o->help = text;
    used++;
}

static void fill_help(void)
{
    static const char *const block[] = {"quantize", "block_size", "convert", "block_size", NULL};
    static const char *const accuracy[] = {"quantize", "accuracy_level", "convert", "accuracy_level", NULL};
    static const char *const q_block[] = {"quantize", "block_size", NULL};
    static const char *const q_accuracy[] = {"quantize", "accuracy_level", NULL};
    static const char *const algorithm[] = {"quantize", "algorithm", NULL};
    static int done;
    if (done)
        return;
    done = 1;
    help_from_registry(auto_opt_options, "block_size", block);
    help_from_registry(auto_opt_options, "accuracy_level", accuracy);
    help_from_registry(quantize_options, "block_size", q_block);
    help_from_registry(quantize_options, "accuracy_level", q_accuracy);
    help_from_registry(quantize_options, "algorithm", algorithm);
}

/* The library's options text: key=value words, values quoted. */
typedef struct ao_args {
    const char *command;
    char *text;
    size_t len;
    const char *output, *model, *device, *provider, *precision, *algorithm, *block_size, *accuracy_level, *memory;
    int dry_run, save_config, strict, failed;
} ao_args;

/* A flag value the pass `pass` would refuse for `param`: 0, or a usage error (exit 2) that quotes
 * the library's reason. */
static int check_with_pass(const char *command, const char *flag, const char *value, const char *pass,
                           const char *param)
{
    olive_pass *p = NULL;
    int rc = value ? olive_pass_new(&p, pass) : OLIVE_OK;
    if (rc == OLIVE_OK && value)
        rc = olive_pass_set(p, param, value);
    olive_pass_free(p);
    if (rc == OLIVE_OK)
        return CLI_EXIT_OK;
    return cli_usage(command, "invalid value '%s' for --%s: %s", value, flag, olive_error_last());
}

/* Flag values are checked here, before any file is looked at, so that a mistyped flag is a
 * usage error (exit 2) like an unknown one; the model is the library's to judge. */
static int check_flags(const ao_args *a)
{
    static const char *const algorithms[] = {"default", "rtn", "hqq", "kquant", "k_quant", "gptq", "awq", NULL};
    int quantize = !strcmp(a->command, "quantize"), rc;
    if (!a->model)
        return cli_usage(a->command, "missing -m/--model_name_or_path MODEL");
    if (a->precision && quantize && strcmp(a->precision, "int4") && strcmp(a->precision, "int8"))
        return cli_usage(a->command, "invalid value '%s' for --precision: int4 or int8", a->precision);
    if ((rc = check_with_pass(a->command, "precision", a->precision, "convert", "precision")) != CLI_EXIT_OK ||
        (rc = check_with_pass(a->command, "block_size", a->block_size, "quantize", "block_size")) != CLI_EXIT_OK ||
        (rc = check_with_pass(a->command, "accuracy_level", a->accuracy_level, "quantize", "accuracy_level")) !=
            CLI_EXIT_OK)
        return rc;
    if (a->algorithm) {
        const char *const *alg = algorithms;
        while (*alg && strcmp(*alg, a->algorithm))
            alg++;
        if (!*alg)
            return cli_usage(a->command, "invalid value '%s' for --algorithm: default, rtn, hqq, kquant, gptq or awq",
                             a->algorithm);
    }
    if (a->memory) {
        char *end;
        unsigned long long v = strtoull(a->memory, &end, 10);
        if (!a->memory[0] || *end || v == 0 || a->memory[0] == '-')
            return cli_usage(a->command, "invalid value '%s' for --memory: a number of bytes", a->memory);
    }
    if (a->device || a->provider) {
        olive_accelerator *acc = NULL;
        const char *device = a->device;
        /* A provider alone names its device; the library picks it, so try each. */
        if (!device) {
            static const char *const devices[] = {"cpu", "gpu", "npu"};
            for (size_t i = 0; i < 3 && !acc; i++)
                if (olive_accelerator_new(&acc, devices[i], a->provider) != OLIVE_OK)
                    acc = NULL;
            if (acc)
                olive_error_clear();
        } else if (olive_accelerator_new(&acc, device, a->provider) != OLIVE_OK) {
            acc = NULL;
        }
        olive_accelerator_free(acc);
        if (!acc)
            return cli_usage(a->command, "invalid --device/--provider: %s", olive_error_last());
    }
    return CLI_EXIT_OK;
}

static void append(ao_args *a, const char *key, const char *value)
{
    size_t need = a->len + strlen(key) + 2 * strlen(value) + 8;
    char *grown = realloc(a->text, need);
    if (!grown) {
        a->failed = 1;
        return;
    }
    a->text = grown;
    a->len += (size_t)sprintf(a->text + a->len, "%s%s=\"", a->len ? " " : "", key);
    for (const char *c = value; *c; c++) {
        if (*c == '"' || *c == '\\')
            a->text[a->len++] = '\\';
        a->text[a->len++] = *c;
    }
    a->text[a->len++] = '"';
    a->text[a->len] = '\0';
}

static int on_arg(void *ctx, const cli_option *opt, const char *value)
{
    ao_args *a = ctx;
    if (!opt)
        return cli_usage(a->command, "unexpected argument '%s' (the model goes after -m)", value);
    if (!strcmp(opt->long_name, "dry_run"))
        a->dry_run = 1;
    else if (!strcmp(opt->long_name, "save_config_file"))
        a->save_config = 1;
    else if (!strcmp(opt->long_name, "strict"))
        a->strict = 1;
    else {
        const struct {
            const char *flag;
            const char **slot;
        } kept[] = {
            {"output_path", &a->output},    {"model_name_or_path", &a->model},      {"device", &a->device},
            {"provider", &a->provider},     {"precision", &a->precision},           {"algorithm", &a->algorithm},
            {"block_size", &a->block_size}, {"accuracy_level", &a->accuracy_level}, {"memory", &a->memory}};
        for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
            if (!strcmp(opt->long_name, kept[i].flag))
                *kept[i].slot = value;
        append(a, opt->long_name, value ? value : "true");
    }
    return CLI_EXIT_OK;
}

/* <output>/olive_config.json (not config.json: a converted model keeps its Hugging Face
 * config.json there). */
static int save_config(const char *output, const char *config)
{
    char *path = malloc(strlen(output) + sizeof "/olive_config.json");
    int rc;
    if (!path)
        return -1;
    mkdir(output, 0777);
    sprintf(path, "%s/olive_config.json", output);
    rc = cli_write_text_file(path, config);
    if (rc == 0 && cli_log_level() < OLIVE_LOG_SILENT)
        fprintf(stderr, "olive: config saved to %s\n", path);
    free(path);
    return rc;
}

static int run(ao_args *a)
{
    char *config = NULL, level[2] = {(char)('0' + cli_log_level()), 0};
    olive_workflow *w = NULL;
    const char *output;
    int status;
    if (cli_log_level_given())
        append(a, "log_level", level);
    if (a->failed) {
        fprintf(stderr, "olive: error: out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    if (olive_workflow_auto_opt_config(&config, a->command, a->text ? a->text : "") != OLIVE_OK)
        return cli_fail(olive_error_code());
    output = a->output ? a->output : !strcmp(a->command, "quantize") ? "quantized-model" : "auto-opt-output";
    if (a->dry_run)
        printf("%s\n", config);
    if (olive_workflow_new(&w, config, a->strict ? "strict=true" : NULL) != OLIVE_OK) {
        olive_free(config);
        return cli_fail(olive_error_code());
    }
    if (a->dry_run) {
        char *pipeline = NULL;
        if (olive_workflow_pipeline_text(&pipeline, w) == OLIVE_OK)
            printf("pipeline: %s\n", pipeline[0] ? pipeline : "(no passes)");
        olive_free(pipeline);
        status = a->save_config && save_config(output, config) != 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    } else {
        status = cli_run_workflow(w);
        if (status == CLI_EXIT_OK && a->save_config && save_config(output, config) != 0)
            status = CLI_EXIT_FAILURE;
    }
    olive_workflow_free(w);
    olive_free(config);
    return status;
}

static int command(int argc, char **argv, const char *name, const cli_help *help)
{
    ao_args a;
    int rc;
    memset(&a, 0, sizeof a);
    a.command = name;
    fill_help();
    rc = cli_parse(argc, argv, help, on_arg, &a);
    if (rc == CLI_PARSED_HELP)
        rc = CLI_EXIT_OK;
    else if (rc == CLI_EXIT_OK && (rc = check_flags(&a)) == CLI_EXIT_OK)
        rc = run(&a);
    free(a.text);
    return rc;
}

int cli_cmd_auto_opt(int argc, char **argv)
{
    return command(argc, argv, "auto-opt", &auto_opt_help);
}
int cli_cmd_optimize(int argc, char **argv)
{
    return command(argc, argv, "optimize", &optimize_help);
}
int cli_cmd_quantize(int argc, char **argv)
{
    return command(argc, argv, "quantize", &quantize_help);
}
