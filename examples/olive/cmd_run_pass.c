/* `olive run-pass`: run one pass, or a pipeline in text form, on a model through an engine
 * and write the result folder. */
#include <stdlib.h>
#include <string.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_progress.h"

#define KEY_MAX 128

static const cli_option options[] = {
    {"pass", 0, "NAME", "the pass to run (a name from 'olive passes' or an Olive pass type)"},
    {"pass-name", 0, "TYPE", "Olive's spelling of --pass"},
    {"param", 0, "KEY=VALUE", "set a parameter of --pass (repeatable)"},
    {"pass-config", 0, "JSON", "the pass's parameters as Olive writes them: '{\"target_opset\": 17}'"},
    {"list-passes", 0, NULL, "list the passes (as 'olive passes') and exit"},
    {"pipeline", 0, "TEXT", "run a pipeline instead of --pass: \"peephole ! quantize bits=4\""},
    {"model_name_or_path", 'm', "MODEL", "the input model (.onnx)"},
    {"output_path", 'o', "DIR", "the output folder"},
    {"overwrite", 0, NULL,
     "write into a non-empty output folder: what libolive wrote there is replaced, other files stay"},
    {"save", 0, "KEY=VALUE", "a model writer setting (repeatable; see below)"},
    {"device", 0, "DEVICE", "target device: cpu (default), gpu or npu"},
    {"provider", 0, "EP", "execution provider, e.g. CPUExecutionProvider, CUDAExecutionProvider"},
    {NULL, 0, NULL, NULL},
};

static const cli_help help = {
    "run-pass",
    "(--pass NAME [--param KEY=VALUE ...] [--pass-config JSON] | --pipeline TEXT) -m MODEL -o DIR [options]",
    "Runs one pass, or a pipeline of passes, on MODEL and writes the result to DIR\n"
    "(model.onnx and its external data). DIR is written atomically: on failure or Ctrl-C\n"
    "nothing is left there.",
    options,
    "Model writer settings (--save):\n"
    "  external_data=auto|always|never  where weights go (auto: large ones to model.onnx.data)\n"
    "  size_threshold=N                 bytes from which auto moves a weight out (1024)\n"
    "  align=N                          offset alignment in the data file (4096)\n"
    "  data_file=NAME                   name of the data file (model.onnx.data)\n"
    "\n"
    "Examples:\n"
    "  olive run-pass --pass peephole -m model.onnx -o out\n"
    "  olive run-pass --pipeline \"peephole ! quantize bits=4\" -m model.onnx -o out --overwrite\n"
    "  olive run-pass --pass peephole -m model.onnx -o out --save external_data=never\n"
    "  olive run-pass --pass-name OnnxFloatToFloat16 --pass-config '{\"keep_io_types\": true}' -m model.onnx -o out",
};

typedef struct run_args {
    const char *pass;
    const char *pipeline;
    const char *model;
    const char *output;
    const char *device;
    const char *provider;
    const char *pass_config; /* Olive's JSON parameters, or NULL */
    int overwrite, list;
    const char **params; /* KEY=VALUE, checked */
    size_t n_params;
    const char **saves; /* KEY=VALUE, checked */
    size_t n_saves;
} run_args;

/* Flags that may be given once: a second one is a mistake, not an override. */
static int set_once(const char **slot, const cli_option *opt, const char *value)
{
    if (*slot)
        return cli_usage("run-pass", "option '--%s' given twice", opt->long_name);
    *slot = value;
    return CLI_EXIT_OK;
}

static int on_arg(void *ctx, const cli_option *opt, const char *value)
{
    run_args *a = ctx;
    if (!opt)
        return cli_usage("run-pass", "unexpected argument '%s' (the model goes after -m)", value);

    const char *name = opt->long_name;
    if (strcmp(name, "param") == 0 || strcmp(name, "save") == 0) {
        char key[KEY_MAX];
        const char *v;
        if (cli_split_setting(value, key, sizeof key, &v) != 0)
            return cli_usage("run-pass", "invalid --%s '%s': expected KEY=VALUE", name, value);
        if (name[0] == 'p') {
            a->params[a->n_params++] = value;
        } else {
            /* Engine options are space separated, so a writer setting cannot hold a space. */
            if (strpbrk(value, " \t\n"))
                return cli_usage("run-pass", "invalid --save '%s': values cannot contain spaces", value);
            a->saves[a->n_saves++] = value;
        }
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "overwrite") == 0) {
        a->overwrite = 1;
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "list-passes") == 0) {
        a->list = 1;
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "pass") == 0 || strcmp(name, "pass-name") == 0)
        return set_once(&a->pass, opt, value);
    if (strcmp(name, "pass-config") == 0)
        return set_once(&a->pass_config, opt, value);
    if (strcmp(name, "pipeline") == 0)
        return set_once(&a->pipeline, opt, value);
    if (strcmp(name, "model_name_or_path") == 0)
        return set_once(&a->model, opt, value);
    if (strcmp(name, "output_path") == 0)
        return set_once(&a->output, opt, value);
    if (strcmp(name, "device") == 0)
        return set_once(&a->device, opt, value);
    return set_once(&a->provider, opt, value);
}

static int check_args(const run_args *a)
{
    if (a->pass && a->pipeline)
        return cli_usage("run-pass", "give --pass or --pipeline, not both");
    if (!a->pass && !a->pipeline)
        return cli_usage("run-pass", "missing --pass NAME (or --pipeline TEXT)");
    if (a->pipeline && a->pass_config)
        return cli_usage("run-pass", "--pass-config goes with --pass/--pass-name");
    if (a->pipeline && a->n_params)
        return cli_usage("run-pass", "--param goes with --pass; with --pipeline write the settings "
                                     "after the pass name (\"quantize bits=4\")");
    if (!a->model)
        return cli_usage("run-pass", "missing -m/--model_name_or_path MODEL");
    if (!a->output)
        return cli_usage("run-pass", "missing -o/--output_path DIR");
    return CLI_EXIT_OK;
}

/* Adds the pass or pipeline to the engine. */
static int add_passes(olive_engine *engine, const run_args *a)
{
    if (a->pipeline)
        return olive_engine_add_pipeline(engine, a->pipeline);

    olive_pass *pass = NULL;
    int rc = a->pass_config ? olive_pass_new_olive(&pass, a->pass, a->pass_config) : olive_pass_new(&pass, a->pass);
    for (size_t i = 0; rc == OLIVE_OK && i < a->n_params; i++) {
        char key[KEY_MAX];
        const char *value;
        cli_split_setting(a->params[i], key, sizeof key, &value); /* checked while parsing */
        rc = olive_pass_set(pass, key, value);
    }
    if (rc == OLIVE_OK)
        rc = olive_engine_add_pass(engine, pass);
    olive_pass_free(pass);
    return rc;
}

/* "overwrite=true save=k=v ...": the engine's option text, or NULL when out of memory. */
static char *engine_options(const run_args *a)
{
    size_t len = sizeof "overwrite=false";
    for (size_t i = 0; i < a->n_saves; i++)
        len += strlen(" save=") + strlen(a->saves[i]);
    char *text = malloc(len);
    if (!text)
        return NULL;
    strcpy(text, a->overwrite ? "overwrite=true" : "overwrite=false");
    for (size_t i = 0; i < a->n_saves; i++) {
        strcat(text, " save=");
        strcat(text, a->saves[i]);
    }
    return text;
}

static int run(const run_args *a)
{
    olive_accelerator *acc = NULL;
    olive_engine *engine = NULL;
    char *options_text = engine_options(a);
    int rc = OLIVE_OK, status;

    if (!options_text) {
        fprintf(stderr, "olive: error: out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    if ((a->device || a->provider) &&
        olive_accelerator_new(&acc, a->device ? a->device : "cpu", a->provider) != OLIVE_OK) {
        free(options_text);
        return cli_usage("run-pass", "invalid --device/--provider: %s", olive_error_last());
    }
    if (rc == OLIVE_OK)
        rc = olive_engine_new(&engine, acc);
    /* Settle every setting before loading: a typo should not wait for a large model. */
    if (rc == OLIVE_OK)
        rc = add_passes(engine, a);
    if (rc == OLIVE_OK)
        rc = olive_engine_set_options(engine, options_text);
    free(options_text);
    status = cli_run_engine(engine, rc, a->model, a->output, a->overwrite);
    olive_engine_free(engine);
    olive_accelerator_free(acc);
    return status;
}

int cli_cmd_run_pass(int argc, char **argv)
{
    run_args a;
    memset(&a, 0, sizeof a);
    /* At most one setting per argument, so argc bounds both lists. */
    a.params = calloc((size_t)argc, sizeof *a.params);
    a.saves = calloc((size_t)argc, sizeof *a.saves);
    int rc;
    if (!a.params || !a.saves) {
        fprintf(stderr, "olive: error: out of memory\n");
        rc = CLI_EXIT_FAILURE;
    } else {
        rc = cli_parse(argc, argv, &help, on_arg, &a);
        if (rc == CLI_PARSED_HELP) {
            rc = CLI_EXIT_OK;
        } else if (rc == CLI_EXIT_OK && a.list) {
            char *list_argv[] = {"passes", NULL};
            rc = cli_cmd_passes(1, list_argv);
        } else if (rc == CLI_EXIT_OK && (rc = check_args(&a)) == CLI_EXIT_OK) {
            rc = run(&a);
        }
    }
    free(a.params);
    free(a.saves);
    return rc;
}
