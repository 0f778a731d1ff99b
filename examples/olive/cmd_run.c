/* `olive run --config FILE`: run a workflow config written in Olive's schema; several --config,
 * or a folder of configs, run one after another as a batch. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_progress.h"
#include "cli_workflow.h"

static const cli_option options[] = {
    {"config", 0, "FILE",
     "the workflow config in Olive's schema: JSON, or YAML when named *.yaml / *.yml; repeat it, or give a "
     "folder (its *.json, *.yaml and *.yml files, in name order), to run a batch"},
    {"cache_dir", 0, "DIR", "replace the config's cache_dir (every config's, in a batch)"},
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
    "--config FILE|DIR [--config FILE ...] [--cache_dir DIR] [--strict] [-o DIR] [--executor local|slurm]\n"
    "      [--max_parallel N] [--dry_run]",
    "Runs a workflow config in Olive's schema: input_model (HfModel or ONNXModel with model_path;\n"
    "a PyTorchModel naming a Hugging Face checkpoint is read as HfModel), systems (LocalSystem with\n"
    "one accelerator; host and target by name or inline; the device inferred from the provider when\n"
    "missing), passes by Olive pass type with Olive's parameter names (a list of alternatives in a\n"
    "slot runs each; the evaluator's ranked metrics, or a size_on_disk metric, pick the result),\n"
    "pass_flows, packaging_config (Zipfile), data_configs and evaluators (accuracy, latency,\n"
    "throughput, size_on_disk and custom metrics, measured with ONNX Runtime and written to\n"
    "metrics.json; a target provider this ONNX Runtime lacks leaves them not measured, with a\n"
    "warning, and refuses a search or a ranked choice before any pass), and the engine fields\n"
    "output_dir, cache_dir, clean_cache, evaluate_input_model, log_severity_level, no_artifacts,\n"
    "evaluator, search_strategy, plot_pareto_frontier and executor\n"
    "(libolive's: {\"type\": \"slurm\", \"partition\", \"gres\", \"max_parallel\", \"max_retries\",\n"
    "\"max_array_size\", \"sbatch_args\": [...]}).\n"
    "Every pass result is cached in cache_dir: a second run reuses it ('cache hit' at --log_level 1).\n"
    "--dry_run saves the config as config.json in the output folder, as Olive does, and runs nothing.\n"
    "A batch (several --config, or a folder of configs) runs every workflow in turn, each as a\n"
    "single run would, goes on after one fails, and ends with a summary (ok / failed, output\n"
    "folder); it exits non-zero when any failed. -o is refused for a batch: each config keeps its\n"
    "output_dir, and two configs of one batch may not share one.",
    options,
    "Examples:\n  olive run --config recipe.json --log_level 1\n"
    "  olive run --config nightly/ --cache_dir /shared/olive-cache",
};

typedef struct run_args {
    const char **configs, *output, *cache_dir, *executor, *max_parallel;
    size_t n_configs;
    int strict, dry_run, bad;
} run_args;

static int on_arg(void *ctx, const cli_option *opt, const char *value)
{
    run_args *a = ctx;
    if (!opt)
        return cli_usage("run", "unexpected argument '%s' (the config goes after --config)", value);
    if (!strcmp(opt->long_name, "config")) {
        const char **grown = realloc(a->configs, (a->n_configs + 1) * sizeof *grown);
        if (!grown) {
            fprintf(stderr, "olive: error: out of memory\n");
            return CLI_EXIT_FAILURE;
        }
        a->configs = grown;
        a->configs[a->n_configs++] = value;
    } else if (!strcmp(opt->long_name, "cache_dir"))
        a->cache_dir = value;
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

/* Options text for olive_workflow_load: strict, log level, and the replaced folders. */
static char *load_options(const run_args *a)
{
    char opts[96], *text;
    size_t n;
    snprintf(opts, sizeof opts, "strict=%s", a->strict ? "true" : "false");
    if (cli_log_level_given())
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), " log_level=%d", cli_log_level());
    if (a->executor)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), " executor=%s", a->executor);
    if (a->max_parallel)
        snprintf(opts + strlen(opts), sizeof opts - strlen(opts), " max_parallel=%s", a->max_parallel);
    n = strlen(opts) + (a->output ? strlen(a->output) + 16 : 0) + (a->cache_dir ? strlen(a->cache_dir) + 16 : 0) + 1;
    if (!(text = malloc(n))) {
        fprintf(stderr, "olive: error: out of memory\n");
        return NULL;
    }
    snprintf(text, n, "%s", opts);
    if (a->output)
        snprintf(text + strlen(text), n - strlen(text), " output_dir=\"%s\"", a->output);
    if (a->cache_dir)
        snprintf(text + strlen(text), n - strlen(text), " cache_dir=\"%s\"", a->cache_dir);
    return text;
}

/* The outcome of one config of a batch. */
typedef struct run_outcome {
    const char *config;
    int status;   /* exit status of its run; -1 when it did not run */
    char *output; /* its output folder, absolute (NULL when it has none) */
    char *error;  /* the first line of its error */
} run_outcome;

static char *absolute(const char *path)
{
    char cwd[4096], *out;
    if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
        return strdup(path);
    if ((out = malloc(strlen(cwd) + strlen(path) + 2)))
        sprintf(out, "%s/%s", cwd, path);
    return out;
}

static void keep_error(run_outcome *o)
{
    const char *e = olive_error_last();
    size_t n = strcspn(e, "\n");
    free(o->error);
    /* One line of the summary: long messages (a list of known names) are cut. */
    o->error = n ? strndup(e, n > 160 ? 160 : n) : NULL;
    if (o->error && n > 160)
        memcpy(o->error + 157, "...", 3);
}

/* Loads and runs (or dry-runs) one config: the same path for a single config and for each of a
 * batch. `earlier` holds the batch's earlier configs (their output folders), `o` receives this
 * one's. Returns its exit status. */
static int run_config(const run_args *a, const char *config, const run_outcome *earlier, size_t n_earlier,
                      run_outcome *o)
{
    olive_workflow *w = NULL;
    char *text = load_options(a), *config_text = NULL, *dir = NULL;
    int rc;
    if (!text)
        return CLI_EXIT_FAILURE;
    rc = olive_workflow_load(&w, config, text);
    free(text);
    if (rc != OLIVE_OK) {
        keep_error(o);
        return cli_fail(rc);
    }
    if (olive_workflow_config_text(&config_text, &dir, w) == OLIVE_OK && dir)
        o->output = absolute(dir);
    olive_free(config_text);
    olive_free(dir);
    for (size_t i = 0; o->output && i < n_earlier; i++)
        if (earlier[i].output && !strcmp(earlier[i].output, o->output)) {
            /* The later run would replace the earlier one's output. */
            fprintf(stderr, "olive: error: output_dir '%s' is also the output of '%s' in this batch\n", o->output,
                    earlier[i].config);
            free(o->error);
            o->error = strdup("its output_dir is also the output of an earlier config of the batch");
            olive_workflow_free(w);
            return CLI_EXIT_FAILURE;
        }
    olive_error_clear();
    rc = a->dry_run ? dry_run(w) : cli_run_workflow(w);
    if (rc != CLI_EXIT_OK)
        keep_error(o);
    olive_workflow_free(w);
    return rc;
}

static int has_config_suffix(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && !strcmp(name + n - 5, ".json")) || (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
           (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* A folder of configs: a folder not named as a config file is (a folder named x.json is a bad
 * config, refused as a single run refuses it). */
static int is_config_folder(const char *arg)
{
    struct stat st;
    size_t n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/')
        n--;
    if (stat(arg, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    return !((n > 5 && (!strncmp(arg + n - 5, ".json", 5) || !strncmp(arg + n - 5, ".yaml", 5))) ||
             (n > 4 && !strncmp(arg + n - 4, ".yml", 4)));
}

/* Appends to *list the configs `arg` names: itself, or a folder's config files in name order. */
static int expand_config(char ***list, size_t *n, const char *arg)
{
    DIR *d;
    struct dirent *e;
    size_t first = *n;
    if (!is_config_folder(arg)) {
        char **grown = realloc(*list, (*n + 1) * sizeof *grown);
        if (!grown || !(grown[*n] = strdup(arg))) {
            if (grown)
                *list = grown;
            fprintf(stderr, "olive: error: out of memory\n");
            return CLI_EXIT_FAILURE;
        }
        *list = grown;
        (*n)++;
        return CLI_EXIT_OK;
    }
    if (!(d = opendir(arg))) {
        fprintf(stderr, "olive: error: cannot list '%s': %s\n", arg, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    while ((e = readdir(d))) {
        char *path, **grown;
        struct stat fst;
        if (e->d_name[0] == '.' || !has_config_suffix(e->d_name))
            continue;
        if (!(path = malloc(strlen(arg) + strlen(e->d_name) + 2))) {
            closedir(d);
            fprintf(stderr, "olive: error: out of memory\n");
            return CLI_EXIT_FAILURE;
        }
        sprintf(path, "%s%s%s", arg, arg[strlen(arg) - 1] == '/' ? "" : "/", e->d_name);
        if (stat(path, &fst) != 0 || !S_ISREG(fst.st_mode)) {
            free(path);
            continue;
        }
        if (!(grown = realloc(*list, (*n + 1) * sizeof *grown))) {
            free(path);
            closedir(d);
            fprintf(stderr, "olive: error: out of memory\n");
            return CLI_EXIT_FAILURE;
        }
        *list = grown;
        (*list)[(*n)++] = path;
    }
    closedir(d);
    if (*n == first)
        return cli_usage("run", "the folder '%s' holds no *.json, *.yaml or *.yml config", arg);
    qsort(*list + first, *n - first, sizeof **list, cmp_names);
    return CLI_EXIT_OK;
}

/* Every config in turn; a failure does not stop the others, Ctrl-C does. */
static int run_batch(run_args *a, char **configs, size_t n)
{
    run_outcome *outcomes = calloc(n, sizeof *outcomes);
    size_t ok = 0, failed = 0, width = 6;
    int status = CLI_EXIT_OK;
    if (!outcomes) {
        fprintf(stderr, "olive: error: out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < n; i++) {
        outcomes[i].config = configs[i];
        outcomes[i].status = -1;
    }
    for (size_t i = 0; i < n && !cli_interrupted(); i++) {
        if (cli_log_level() < OLIVE_LOG_SILENT)
            printf("== [%zu/%zu] %s\n", i + 1, n, configs[i]);
        fflush(stdout);
        outcomes[i].status = run_config(a, configs[i], outcomes, i, &outcomes[i]);
        if (outcomes[i].status == CLI_EXIT_OK)
            ok++;
        else
            failed++;
        if (outcomes[i].status == CLI_EXIT_CANCELLED)
            break;
    }
    for (size_t i = 0; i < n; i++)
        if (strlen(configs[i]) > width)
            width = strlen(configs[i]);
    printf("batch: %zu configs: %zu ok, %zu failed, %zu not run\n", n, ok, failed, n - ok - failed);
    for (size_t i = 0; i < n; i++) {
        const run_outcome *o = &outcomes[i];
        const char *state = o->status == -1 ? "not run" : o->status == CLI_EXIT_OK ? "ok" : "failed";
        const char *detail = o->status == CLI_EXIT_OK ? (o->output ? o->output : "(no output_dir)")
                             : o->error               ? o->error
                                                      : "";
        printf("%-8s %-*s  %s\n", state, (int)width, configs[i], detail);
    }
    for (size_t i = 0; i < n; i++) {
        if (outcomes[i].status == CLI_EXIT_CANCELLED)
            status = CLI_EXIT_CANCELLED;
        else if (outcomes[i].status != CLI_EXIT_OK && status == CLI_EXIT_OK)
            status = CLI_EXIT_FAILURE;
        free(outcomes[i].output);
        free(outcomes[i].error);
    }
    free(outcomes);
    return status;
}

int cli_cmd_run(int argc, char **argv)
{
    run_args a;
    run_outcome single;
    char **configs = NULL;
    size_t n = 0;
    int rc;
    memset(&a, 0, sizeof a);
    rc = cli_parse(argc, argv, &help, on_arg, &a);
    if (rc == CLI_PARSED_HELP || rc != CLI_EXIT_OK) {
        free(a.configs);
        return rc == CLI_PARSED_HELP ? CLI_EXIT_OK : rc;
    }
    if (!a.n_configs)
        rc = cli_usage("run", "missing --config FILE");
    else if (a.output && (strchr(a.output, '"') || strchr(a.output, '\\')))
        rc = cli_usage("run", "-o/--output_path cannot contain '\"' or '\\'");
    else if (a.cache_dir && (strchr(a.cache_dir, '"') || strchr(a.cache_dir, '\\')))
        rc = cli_usage("run", "--cache_dir cannot contain '\"' or '\\'");
    else if (a.executor && strcmp(a.executor, "local") && strcmp(a.executor, "slurm"))
        rc = cli_usage("run", "--executor takes local or slurm, not '%s'", a.executor);
    else if (a.max_parallel && (!a.max_parallel[0] || strspn(a.max_parallel, "0123456789") != strlen(a.max_parallel) ||
                                strlen(a.max_parallel) > 6 || atoi(a.max_parallel) < 1))
        rc = cli_usage("run", "--max_parallel takes a whole number from 1, not '%s'", a.max_parallel);
    if (rc != CLI_EXIT_OK) {
        free(a.configs);
        return rc;
    }
    if (a.n_configs == 1 && !is_config_folder(a.configs[0])) {
        /* One config: a plain run, as it always was. */
        memset(&single, 0, sizeof single);
        rc = run_config(&a, a.configs[0], NULL, 0, &single);
        free(single.output);
        free(single.error);
        free(a.configs);
        return rc;
    }
    for (size_t i = 0; i < a.n_configs && rc == CLI_EXIT_OK; i++)
        rc = expand_config(&configs, &n, a.configs[i]);
    if (rc == CLI_EXIT_OK && a.output)
        rc = cli_usage("run",
                       "-o names one output folder: a batch of %zu configs writes each to its config's "
                       "output_dir",
                       n);
    if (rc == CLI_EXIT_OK)
        rc = run_batch(&a, configs, n);
    for (size_t i = 0; i < n; i++)
        free(configs[i]);
    free(configs);
    free(a.configs);
    return rc;
}
