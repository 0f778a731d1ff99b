/* `olive convert-adapters`: a PEFT LoRA adapter folder -> ONNX Runtime's adapter file. */
#include <stdlib.h>
#include <string.h>

#include <olive/olive.h>

#include "cli.h"

static const cli_option convert_options[] = {
    {"adapter_path", 0, "DIR", "the PEFT adapter folder (adapter_config.json, adapter_model.safetensors)"},
    {"output_path", 'o', "FILE", "the adapter file to write (.onnx_adapter); an existing file is not replaced"},
    {"dtype", 0, "T", "float32 (default) or float16: the base model's input/output type"},
    {"adapter_format", 0, "F", "onnx_adapter (the only format)"},
    {"base", 0, "DIR", "check that every LoRA module fits this Hugging Face checkpoint"},
    {NULL, 0, NULL, NULL},
};

static const cli_help convert_help = {
    "convert-adapters",
    "--adapter_path DIR -o FILE.onnx_adapter [--dtype float32|float16] [--base DIR]",
    "Converts a LoRA adapter trained with PEFT into ONNX Runtime's adapter file, which\n"
    "ONNX Runtime GenAI loads at run time on a base model made by 'olive generate-adapter'.\n"
    "DoRA, LoHa, LoKr and the other PEFT types are refused.",
    convert_options,
    "Example:\n"
    "  olive generate-adapter -m BASE_FOLDER --adapter_path ADAPTER -o base_model\n"
    "  olive convert-adapters --adapter_path ADAPTER -o base_model/adapter.onnx_adapter",
};

typedef struct convert_args {
    const char *adapter, *output, *dtype, *format, *base;
} convert_args;

static int on_convert_arg(void *ctx, const cli_option *opt, const char *value)
{
    convert_args *a = ctx;
    if (!opt)
        return cli_usage("convert-adapters", "unexpected argument '%s'", value);
    if (!strcmp(opt->long_name, "adapter_path"))
        a->adapter = value;
    else if (!strcmp(opt->long_name, "output_path"))
        a->output = value;
    else if (!strcmp(opt->long_name, "dtype"))
        a->dtype = value;
    else if (!strcmp(opt->long_name, "adapter_format"))
        a->format = value;
    else
        a->base = value;
    return CLI_EXIT_OK;
}

int cli_cmd_convert_adapters(int argc, char **argv)
{
    convert_args a = {0};
    char *options;
    int rc = cli_parse(argc, argv, &convert_help, on_convert_arg, &a);
    if (rc == CLI_PARSED_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!a.adapter || !a.output)
        return cli_usage("convert-adapters", "--adapter_path DIR and -o FILE are required");
    if (a.format && strcmp(a.format, "onnx_adapter"))
        return cli_usage("convert-adapters", "invalid value '%s' for --adapter_format: onnx_adapter", a.format);
    if (a.dtype && strcmp(a.dtype, "float32") && strcmp(a.dtype, "float16"))
        return cli_usage("convert-adapters", "invalid value '%s' for --dtype: float32 or float16", a.dtype);
    /* options are space-separated words: the base path goes in quotes, its quotes and
     * backslashes escaped */
    size_t need = 64 + (a.base ? 2 * strlen(a.base) : 0), len;
    if (!(options = malloc(need)))
        return cli_fail(OLIVE_ENOMEM);
    len = (size_t)snprintf(options, need, "dtype=%s", a.dtype ? a.dtype : "float32");
    if (a.base) {
        len += (size_t)snprintf(options + len, need - len, " base=\"");
        for (const char *c = a.base; *c; c++) {
            if (*c == '"' || *c == '\\')
                options[len++] = '\\';
            options[len++] = *c;
        }
        options[len++] = '"';
        options[len] = '\0';
    }
    rc = olive_adapter_convert(a.adapter, a.output, options);
    free(options);
    if (rc != OLIVE_OK)
        return cli_fail(rc);
    printf("wrote %s\n", a.output);
    return CLI_EXIT_OK;
}

/* `olive generate-adapter`: the base decoder converted with its LoRA layers as graph inputs,
 * run as the convert pass through run-pass. */
static const cli_option generate_options[] = {
    {"model_name_or_path", 'm', "MODEL", "the base Hugging Face checkpoint folder (or .gguf file)"},
    {"adapter_path", 0, "DIR", "a PEFT adapter folder whose LoRA modules become inputs (repeatable: their union)"},
    {"output_path", 'o', "DIR", "the output folder"},
    {"precision", 0, "P", "fp32 (default), fp16, bf16, int4 or int8 for the base weights"},
    {"overwrite", 0, NULL, "write into a non-empty output folder"},
    {NULL, 0, NULL, NULL},
};

static const cli_help generate_help = {
    "generate-adapter",
    "-m MODEL --adapter_path DIR [--adapter_path DIR ...] -o DIR [--precision P]",
    "Converts the base model for ONNX Runtime GenAI with the adapters' LoRA layers as graph\n"
    "inputs (<module>.lora_A.weight [in, r], <module>.lora_B.weight [r, out]; empty by default),\n"
    "so that adapter files from 'olive convert-adapters' load on it at run time. Without an\n"
    "active adapter the model computes the base model. The adapters' modules must be Linear\n"
    "layers of the base with the same sizes.",
    generate_options,
    "Example:\n"
    "  olive generate-adapter -m BASE_FOLDER --adapter_path ADAPTER -o base_model",
};

typedef struct generate_args {
    const char *model, *output, *precision;
    int overwrite, failed;
    char *adapters; /* ':'-separated */
} generate_args;

static int on_generate_arg(void *ctx, const cli_option *opt, const char *value)
{
    generate_args *a = ctx;
    if (!opt)
        return cli_usage("generate-adapter", "unexpected argument '%s' (the model goes after -m)", value);
    if (!strcmp(opt->long_name, "model_name_or_path"))
        a->model = value;
    else if (!strcmp(opt->long_name, "output_path"))
        a->output = value;
    else if (!strcmp(opt->long_name, "precision"))
        a->precision = value;
    else if (!strcmp(opt->long_name, "overwrite"))
        a->overwrite = 1;
    else {
        size_t old = a->adapters ? strlen(a->adapters) : 0;
        char *grown;
        if (strchr(value, ':'))
            return cli_usage("generate-adapter", "--adapter_path '%s': a path with ':' is not supported", value);
        if (!(grown = realloc(a->adapters, old + strlen(value) + 2)))
            return cli_fail(OLIVE_ENOMEM);
        a->adapters = grown;
        sprintf(a->adapters + old, "%s%s", old ? ":" : "", value);
    }
    return CLI_EXIT_OK;
}

int cli_cmd_generate_adapter(int argc, char **argv)
{
    generate_args a = {0};
    char *adapter_param = NULL, *precision_param = NULL;
    int rc = cli_parse(argc, argv, &generate_help, on_generate_arg, &a);
    if (rc == CLI_PARSED_HELP || rc != CLI_EXIT_OK) {
        free(a.adapters);
        return rc == CLI_PARSED_HELP ? CLI_EXIT_OK : rc;
    }
    if (!a.model || !a.output || !a.adapters) {
        free(a.adapters);
        return cli_usage("generate-adapter", "-m MODEL, --adapter_path DIR and -o DIR are required");
    }
    adapter_param = malloc(strlen(a.adapters) + 16);
    precision_param = malloc(32 + (a.precision ? strlen(a.precision) : 0));
    if (!adapter_param || !precision_param) {
        free(adapter_param);
        free(precision_param);
        free(a.adapters);
        return cli_fail(OLIVE_ENOMEM);
    }
    sprintf(adapter_param, "adapter_path=%s", a.adapters);
    sprintf(precision_param, "precision=%s", a.precision ? a.precision : "fp32");
    char *run_argv[] = {"run-pass",
                        "--pass",
                        "convert",
                        "--param",
                        adapter_param,
                        "--param",
                        precision_param,
                        "-m",
                        (char *)a.model,
                        "-o",
                        (char *)a.output,
                        a.overwrite ? "--overwrite" : NULL,
                        NULL};
    rc = cli_cmd_run_pass(a.overwrite ? 12 : 11, run_argv);
    free(adapter_param);
    free(precision_param);
    free(a.adapters);
    return rc;
}
