/* `olive run --config FILE`: run a workflow config written in Olive's schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_workflow.h"

static const cli_option options[] = {
    {"config", 0, "FILE", "the workflow config in Olive's schema: JSON, or YAML when named *.yaml / *.yml"},
    {"strict", 0, NULL, "unknown keys in the config are errors instead of warnings"},
    {"output_path", 'o', "DIR", "replace the config's output_dir"},
    {"dry_run", 0, NULL, "check the config and print its pipeline without running it"},
    {NULL, 0, NULL, NULL},
};

static const cli_help help = {
    "run", "--config FILE [--strict] [-o DIR] [--dry_run]",
    "Runs a workflow config in Olive's schema: input_model (HfModel or ONNXModel with model_path),\n"
    "systems (LocalSystem with one accelerator), passes by Olive pass type with Olive's parameter\n"
    "names (a list of alternatives in a slot runs each; the evaluator's ranked metrics, or a\n"
    "size_on_disk metric, pick the result), data_configs and evaluators (accuracy, latency,\n"
    "throughput, size_on_disk and custom metrics, measured with ONNX Runtime and written to\n"
    "metrics.json), and the engine fields output_dir, cache_dir, clean_cache, evaluate_input_model,\n"
    "log_severity_level, no_artifacts, evaluator and search_strategy (false).\n"
    "Every pass result is cached in cache_dir: a second run reuses it ('cache hit' at --log_level 1).",
    options,
    "Example:\n  olive run --config recipe.json --log_level 1",
};

typedef struct run_args {
    const char *config, *output;
    int strict, dry_run;
} run_args;

static int on_arg(void *ctx, const cli_option *opt, const char *value)
{
    run_args *a = ctx;
    if (!opt)
        return cli_usage("run", "unexpected argument '%s' (the config goes after --config)", value);
    if (!strcmp(opt->long_name, "config"))
        a->config = value;
    else if (!strcmp(opt->long_name, "output_path"))
        a->output = value;
    else if (!strcmp(opt->long_name, "strict"))
        a->strict = 1;
    else
        a->dry_run = 1;
    return CLI_EXIT_OK;
}

int cli_cmd_run(int argc, char **argv)
{
    run_args a;
    olive_workflow *w = NULL;
    char opts[32], *text = NULL;
    int rc;
    memset(&a, 0, sizeof a);
    rc = cli_parse(argc, argv, &help, on_arg, &a);
    if (rc == CLI_PARSED_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!a.config)
        return cli_usage("run", "missing --config FILE");
    if (a.output && (strchr(a.output, '"') || strchr(a.output, '\\')))
        return cli_usage("run", "-o/--output_path cannot contain '\"' or '\\'");
    snprintf(opts, sizeof opts, "strict=%s", a.strict ? "true" : "false");
    if (cli_log_level_given())
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), " log_level=%d", cli_log_level());
    {
        /* output_dir="..." appended when given. */
        size_t n = strlen(opts) + (a.output ? strlen(a.output) + 16 : 0) + 1;
        text = malloc(n);
        if (!text) {
            fprintf(stderr, "olive: error: out of memory\n");
            return CLI_EXIT_FAILURE;
        }
        if (a.output)
            snprintf(text, n, "%s output_dir=\"%s\"", opts, a.output);
        else
            snprintf(text, n, "%s", opts);
    }
    rc = olive_workflow_load(&w, a.config, text);
    free(text);
    if (rc != OLIVE_OK)
        return cli_fail(rc);
    if (a.dry_run) {
        char *pipeline = NULL;
        if (olive_workflow_pipeline_text(&pipeline, w) == OLIVE_OK)
            printf("pipeline: %s\n", pipeline[0] ? pipeline : "(no passes)");
        olive_free(pipeline);
        rc = CLI_EXIT_OK;
    } else {
        rc = cli_run_workflow(w);
    }
    olive_workflow_free(w);
    return rc;
}
