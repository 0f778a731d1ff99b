/* Olive commands this tool does not provide: each says what Olive's command does, why libolive
 * has no such command, and what to use instead, so that no Olive command is "unknown".
 * `olive NAME --help` prints the explanation and exits 0; `olive NAME ...` prints it as an
 * error and exits 1 (a failure, not a usage error: the command line itself may be right). */
#include <string.h>

#include "cli.h"

typedef struct olive_only {
    const char *name;
    const char *olive_does; /* what Olive's command does */
    const char *instead;    /* why not here, and what to use */
} olive_only;

static const olive_only commands[] = {
    {"finetune", "fine-tunes a Hugging Face model with LoRA or QLoRA in PyTorch",
     "libolive runs no PyTorch and does no training: fine-tune with PEFT (LoRA), then 'olive convert-adapters "
     "--adapter_path ADAPTER -o FILE.onnx_adapter' for ONNX Runtime GenAI on a base made by 'olive "
     "generate-adapter', or merge the adapter into the weights (PEFT's merge_and_unload) and run 'olive auto-opt'"},
    {"capture-onnx-graph", "exports a PyTorch model to ONNX (torch.onnx or the model builder)",
     "libolive runs no PyTorch: 'olive auto-opt -m HF_FOLDER --precision fp32' converts the checkpoints its model "
     "builder supports (see 'olive passes convert'); export other models with torch.onnx.export and pass the .onnx "
     "file"},
    {"shared-cache", "manages Olive's shared cache in Azure storage",
     "libolive's cache is a local folder (cache_dir, default .olive-cache): share it as a folder, empty it with "
     "clean_cache in the config, or delete it"},
    {"init", "asks questions and writes a workflow config",
     "write one with 'olive auto-opt -m MODEL -o DIR [flags] --dry_run --save_config_file' (DIR/olive_config.json), "
     "edit it, and run it with 'olive run --config DIR/olive_config.json'"},
    {"generate-cost-model", "computes per-module memory costs of a PyTorch model, for splitting it across devices",
     "libolive runs no PyTorch and does not split models: use Olive"},
    {"configure-qualcomm-sdk", "sets up the Qualcomm AI Engine SDK for Olive's QNN and SNPE passes",
     "libolive has no QNN or SNPE passes, so there is nothing to configure; 'olive auto-opt --provider "
     "QNNExecutionProvider' writes models for ONNX Runtime's QNN provider without the SDK"},
    {"diffusion-lora", "trains a LoRA adapter for a diffusion model in PyTorch",
     "libolive runs no PyTorch and does no training: use Olive"},
    {"generate-model-package", "bundles optimized models for several targets into one model package",
     "libolive writes one output folder per run: run 'olive auto-opt' once per target, each with its own "
     "--output_path"},
    {NULL, NULL, NULL},
};

const char *const *cli_olive_only_names(void)
{
    static const char *names[sizeof commands / sizeof commands[0]];
    for (size_t i = 0; commands[i].name; i++)
        names[i] = commands[i].name;
    return names;
}

int cli_olive_only(int argc, char **argv, int *handled)
{
    const olive_only *c = commands;
    while (c->name && strcmp(c->name, argv[0]))
        c++;
    *handled = c->name != NULL;
    if (!c->name)
        return CLI_EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: olive %s (not provided by libolive)\n\n"
                   "In Olive, '%s' %s.\nHere: %s.\n\nExit status: 1 when run.\n",
                   c->name, c->name, c->olive_does, c->instead);
            return CLI_EXIT_OK;
        }
    }
    fprintf(stderr, "olive: error: '%s' is an Olive command that libolive does not provide (in Olive it %s): %s\n",
            c->name, c->olive_does, c->instead);
    return CLI_EXIT_FAILURE;
}
