/* `olive run --config FILE`: run a workflow config written in Olive's schema. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_workflow.h"

static const cli_option options[] = {
    {"config", 0, "FILE", "the workflow config in Olive's schema: JSON, or YAML when named *.yaml / *.yml"},
    {"strict", 0, NULL,
     "unknown keys in the config, and precisions the provider cannot run (bf16 on CPU), are errors instead of "
     "warnings"},
    {"output_path", 'o', "DIR", "replace the config's output_dir"},
    {"executor", 0, "local|slurm",
     "where a search's candidates are built and evaluated: local (this machine, the default) or slurm (one Slurm "
     "job array, each task running this olive command on one candidate; cache_dir must be a folder every node "
     "sees); replaces engine.executor's type"},
    {"max_parallel", 0, "N",
     "at most N candidates at once: N worker processes on this machine (one at a time when a metric measures "
     "latency or throughput), or the Slurm array's %N"},
    {"dry_run", 0, NULL,
     "check the config, print its pipeline and save it as config.json in the output folder, without running it"},
    {NULL, 0, NULL, NULL},
};

static const cli_help help = {
    "run",
    "--config FILE [--strict] [-o DIR] [--executor local|slurm] [--max_parallel N] [--dry_run]",
    "Runs a workflow config in Olive's schema: input_model (HfModel or ONNXModel with model_path;\n"
    "a PyTorchModel naming a Hugging Face checkpoint is read as HfModel), systems (LocalSystem with\n"
    "one accelerator; host and target by name or inline; the device inferred from the provider when\n"
    "missing), passes by Olive pass type with Olive's parameter names (a list of alternatives in a\n"
    "slot runs each; the evaluator's ranked metrics, or a size_on_disk metric, pick the result),\n"
    "pass_flows, packaging_config (Zipfile), data_configs and evaluators (accuracy, latency,\n"
    "throughput, size_on_disk and custom metrics, measured with ONNX Runtime and written to\n"
    "metrics.json), and the engine fields output_dir, cache_dir, clean_cache, evaluate_input_model,\n"
    "log_severity_level, no_artifacts, evaluator, search_strategy, plot_pareto_frontier and executor\n"
    "(libolive's: {\"type\": \"slurm\", \"partition\", \"gres\", \"max_parallel\", \"max_retries\",\n"
    "\"max_array_size\", \"sbatch_args\": [...]}).\n"
    "Every pass result is cached in cache_dir: a second run reuses it ('cache hit' at --log_level 1).\n"
    "--dry_run saves the config as config.json in the output folder, as Olive does, and runs nothing.",
    options,
    "Example:\n  olive run --config recipe.json --log_level 1",
};

typedef struct run_args {
    const char *config, *output, *executor, *max_parallel;
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
    else if (!strcmp(opt->long_name, "executor"))
        a->executor = value;
    else if (!strcmp(opt->long_name, "max_parallel"))
        a->max_parallel = value;
    else if (!strcmp(opt->long_name, "strict"))
        a->strict = 1;
    else
        a->dry_run = 1;
    return CLI_EXIT_OK;
}

/* mkdir -p: the output folder and its parents. */
static int make_dirs(const char *dir)
{
    char *p = strdup(dir);
    int rc = 0;
    if (!p)
        return -1;
    for (char *s = p + 1; rc == 0 && *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                rc = -1;
            *s = '/';
        }
    if (rc == 0 && mkdir(p, 0777) != 0 && errno != EEXIST)
        rc = -1;
    if (rc != 0) {
        fprintf(stderr, "olive: error: cannot create '%s': %s\n", p, strerror(errno));
    } else {
        /* As a run does, never write through a link or into something that is not a folder. */
        struct stat st;
        if (lstat(p, &st) != 0 || S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "olive: error: output folder '%s' is a link or not a folder; give a folder\n", p);
            rc = -1;
        }
    }
    free(p);
    return rc;
}

/* A config.json already there is replaced only when it is a workflow config (an earlier dry
 * run's); a model's config.json is the user's. */
static int may_replace(const char *path)
{
    json_t *doc;
    int ok;
    if (access(path, F_OK) != 0)
        return 1;
    doc = json_load_file(path, 0, NULL);
    ok = json_is_object(doc) && json_object_get(doc, "input_model");
    json_decref(doc);
    if (!ok)
        fprintf(stderr, "olive: error: '%s' exists and is not a workflow config; choose another output folder\n", path);
    return ok;
}

/* As Olive's --dry_run: the config is saved as <output>/config.json and nothing runs. */
static int dry_run(const olive_workflow *w)
{
    char *pipeline = NULL, *config = NULL, *dir = NULL, *path = NULL;
    int rc = CLI_EXIT_OK;
    if (olive_workflow_pipeline_text(&pipeline, w) == OLIVE_OK)
        printf("pipeline: %s\n", pipeline[0] ? pipeline : "(no passes)");
    olive_free(pipeline);
    if (olive_workflow_config_text(&config, &dir, w) != OLIVE_OK)
        return cli_fail(olive_error_code());
    if (!dir) {
        printf("Dry run: the config has no output_dir (give -o DIR), so no config.json is saved; nothing was run.\n");
    } else if (!(path = malloc(strlen(dir) + sizeof "/config.json"))) {
        fprintf(stderr, "olive: error: out of memory\n");
        rc = CLI_EXIT_FAILURE;
    } else {
        sprintf(path, "%s/config.json", dir);
        if (make_dirs(dir) != 0 || !may_replace(path) || cli_write_text_file(path, config) != 0) {
            rc = CLI_EXIT_FAILURE;
        } else {
            printf("Config file saved at %s\n", path);
            printf("Dry run: the config is checked and saved; nothing was run.\n");
        }
    }
    free(path);
    olive_free(config);
    olive_free(dir);
    return rc;
}

int cli_cmd_run(int argc, char **argv)
{
    run_args a;
    olive_workflow *w = NULL;
    char opts[128], *text = NULL;
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
    if (a.executor && strcmp(a.executor, "local") && strcmp(a.executor, "slurm"))
        return cli_usage("run", "--executor takes local or slurm, not '%s'", a.executor);
    if (a.max_parallel && (!a.max_parallel[0] || strspn(a.max_parallel, "0123456789") != strlen(a.max_parallel) ||
                           strlen(a.max_parallel) > 6 || atoi(a.max_parallel) < 1))
        return cli_usage("run", "--max_parallel takes a whole number from 1, not '%s'", a.max_parallel);
    if (a.executor)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), " executor=%s", a.executor);
    if (a.max_parallel)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), " max_parallel=%s", a.max_parallel);
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
        rc = dry_run(w);
    } else {
        rc = cli_run_workflow(w);
    }
    olive_workflow_free(w);
    return rc;
}
