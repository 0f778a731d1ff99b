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
    size_t need = 64 + (a.base ? strlen(a.base) : 0);
    if (!(options = malloc(need)))
        return cli_fail(OLIVE_ENOMEM);
    snprintf(options, need, "dtype=%s%s%s", a.dtype ? a.dtype : "float32", a.base ? " base=" : "",
             a.base ? a.base : "");
    if (a.base && strchr(a.base, ' ')) { /* options are space-separated: check the base by hand */
        free(options);
        return cli_usage("convert-adapters", "--base: a path with spaces is not supported");
    }
    rc = olive_adapter_convert(a.adapter, a.output, options);
    free(options);
    if (rc != OLIVE_OK)
        return cli_fail(rc);
    printf("wrote %s\n", a.output);
    return CLI_EXIT_OK;
}
