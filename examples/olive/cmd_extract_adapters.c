/* `olive extract-adapters`: the extract_adapters pass (Olive's ExtractAdapters) on an ONNX
 * model, as a command: its LoRA weights move to a weights file in the output folder and become
 * graph inputs. */
#include <stdlib.h>
#include <string.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_progress.h"

static const cli_option options[] = {
    {"model_name_or_path", 'm', "MODEL", "the ONNX model holding LoRA weights (.onnx)"},
    {"output_path", 'o', "DIR", "the output folder: model.onnx and the weights file"},
    {"format", 'f', "F",
     "the weights file: onnx_adapter (default, adapter_weights.onnx_adapter), numpy "
     "(adapter_weights.npz) or safetensors (adapter_weights.safetensors)"},
    {"static_lora_r", 0, NULL, "keep the rank dimension of each input fixed (default: the symbolic lora_r)"},
    {"required_inputs", 0, NULL, "no empty default for the inputs: the model then runs only with an adapter"},
    {"overwrite", 0, NULL, "write into a non-empty output folder: what libolive wrote there is replaced"},
    {NULL, 0, NULL, NULL},
};

static const cli_help help = {
    "extract-adapters",
    "-m MODEL.onnx -o DIR [-f onnx_adapter|numpy|safetensors] [--static_lora_r] [--required_inputs]",
    "Moves the LoRA weights of an ONNX model (a PEFT model exported with torch.onnx, or\n"
    "weights named lora_A / lora_B) into a weights file in DIR and makes them graph\n"
    "inputs of the model written beside it, as Olive's ExtractAdapters pass does. By\n"
    "default each input has an empty default, so the model also runs without an adapter,\n"
    "and ONNX Runtime GenAI loads the weights file as an adapter. In Olive this command\n"
    "reads a PyTorch model; libolive runs no PyTorch: export the model to ONNX first, or\n"
    "use 'olive generate-adapter' and 'olive convert-adapters' on the PEFT folder.",
    options,
    "Examples:\n"
    "  olive extract-adapters -m model_with_lora.onnx -o out\n"
    "  olive extract-adapters -m model_with_lora.onnx -o out -f safetensors --required_inputs",
};

typedef struct extract_args {
    const char *model, *output, *format;
    int static_r, required, overwrite;
} extract_args;

static int on_arg(void *ctx, const cli_option *opt, const char *value)
{
    extract_args *a = ctx;
    const char **slot = NULL;
    if (!opt)
        return cli_usage("extract-adapters", "unexpected argument '%s' (the model goes after -m)", value);
    if (!strcmp(opt->long_name, "static_lora_r"))
        a->static_r = 1;
    else if (!strcmp(opt->long_name, "required_inputs"))
        a->required = 1;
    else if (!strcmp(opt->long_name, "overwrite"))
        a->overwrite = 1;
    else
        slot = !strcmp(opt->long_name, "model_name_or_path") ? &a->model
               : !strcmp(opt->long_name, "output_path")      ? &a->output
                                                             : &a->format;
    if (slot && *slot)
        return cli_usage("extract-adapters", "option '--%s' given twice", opt->long_name);
    if (slot)
        *slot = value;
    return CLI_EXIT_OK;
}

static int make_pass(olive_pass **pass, const extract_args *a)
{
    int rc = olive_pass_new(pass, "extract_adapters");
    if (rc == OLIVE_OK && a->format)
        rc = olive_pass_set(*pass, "save_format", a->format);
    if (rc == OLIVE_OK && a->static_r)
        rc = olive_pass_set(*pass, "dynamic_lora_r", "false");
    if (rc == OLIVE_OK && a->required)
        rc = olive_pass_set(*pass, "optional_inputs", "false");
    return rc;
}

static int run(const extract_args *a)
{
    olive_engine *engine = NULL;
    olive_pass *pass = NULL;
    int rc = make_pass(&pass, a), status;
    if (rc == OLIVE_OK)
        rc = olive_engine_new(&engine, NULL);
    if (rc == OLIVE_OK)
        rc = olive_engine_add_pass(engine, pass);
    if (rc == OLIVE_OK)
        rc = olive_engine_set_options(engine, a->overwrite ? "overwrite=true" : "overwrite=false");
    status = cli_run_engine(engine, rc, a->model, a->output, a->overwrite);
    olive_engine_free(engine);
    olive_pass_free(pass);
    return status;
}

int cli_cmd_extract_adapters(int argc, char **argv)
{
    extract_args a = {0};
    int rc = cli_parse(argc, argv, &help, on_arg, &a);
    if (rc == CLI_PARSED_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!a.model)
        return cli_usage("extract-adapters", "missing -m/--model_name_or_path MODEL");
    if (!a.output)
        return cli_usage("extract-adapters", "missing -o/--output_path DIR");
    /* Olive's formats; "pt" (a PyTorch pickle) is known but refused by the pass, by name. */
    if (a.format && strcmp(a.format, "onnx_adapter") && strcmp(a.format, "numpy") && strcmp(a.format, "safetensors") &&
        strcmp(a.format, "pt"))
        return cli_usage("extract-adapters", "invalid --format '%s': onnx_adapter, numpy or safetensors", a.format);
    return run(&a);
}
