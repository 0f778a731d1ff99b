/* Public workflow functions: a thin layer over lib/engine/workflow*. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "core/words.h"
#include "workflow/workflow.h"

#define CONFIG_LIMIT (16u << 20)

typedef struct wf_options {
    int strict;
    int log_level; /* -2: not given */
    char *output_dir, *cache_dir;
    const char *executor; /* "local" | "slurm", or NULL */
    size_t max_parallel;  /* 0: not given */
} wf_options;

static void options_free(wf_options *o)
{
    free(o->output_dir);
    free(o->cache_dir);
}

static int parse_options(wf_options *o, const char *text)
{
    char **words = NULL;
    size_t n = 0;
    int rc = OLIVE_OK;
    memset(o, 0, sizeof *o);
    o->log_level = -2;
    if (!text)
        return OLIVE_OK;
    OLIVE_TRY(olive_split_words(&words, &n, text));
    for (size_t i = 0; i < n && rc == OLIVE_OK; i++) {
        char *eq = strchr(words[i], '='), *v;
        if (!eq) {
            rc = olive_fail(OLIVE_EINVALID, "workflow option '%s' is not of the form key=value", words[i]);
            break;
        }
        *eq = '\0';
        v = eq + 1;
        if (!strcmp(words[i], "strict")) {
            if (!strcasecmp(v, "true") || !strcmp(v, "1"))
                o->strict = 1;
            else if (!strcasecmp(v, "false") || !strcmp(v, "0"))
                o->strict = 0;
            else
                rc = olive_fail(OLIVE_EINVALID, "workflow option strict takes true or false, not '%s'", v);
        } else if (!strcmp(words[i], "log_level")) {
            if (strlen(v) != 1 || v[0] < '0' || v[0] > '4')
                rc = olive_fail(OLIVE_EINVALID, "workflow option log_level takes 0..4, not '%s'", v);
            else
                o->log_level = v[0] - '0';
        } else if (!strcmp(words[i], "output_dir") || !strcmp(words[i], "cache_dir")) {
            char **slot = words[i][0] == 'o' ? &o->output_dir : &o->cache_dir;
            if (!v[0])
                rc = olive_fail(OLIVE_EINVALID, "workflow option %s must not be empty", words[i]);
            else {
                free(*slot);
                rc = (*slot = olive_strdup(v)) ? OLIVE_OK : OLIVE_ENOMEM;
            }
        } else if (!strcmp(words[i], "executor")) {
            if (!strcmp(v, "local"))
                o->executor = "local";
            else if (!strcmp(v, "slurm"))
                o->executor = "slurm";
            else
                rc = olive_fail(OLIVE_EINVALID, "workflow option executor takes local or slurm, not '%s'", v);
        } else if (!strcmp(words[i], "max_parallel")) {
            char *end;
            unsigned long long n = strtoull(v, &end, 10);
            if (!v[0] || *end || v[0] == '-' || n < 1 || n > 100000)
                rc = olive_fail(OLIVE_EINVALID,
                                "workflow option max_parallel takes a whole number from 1 to 100000, "
                                "not '%s'",
                                v);
            else
                o->max_parallel = (size_t)n;
        } else {
            rc = olive_fail(OLIVE_ENOTFOUND,
                            "unknown workflow option '%s'; valid options: strict, output_dir, "
                            "cache_dir, log_level, executor, max_parallel",
                            words[i]);
        }
    }
    olive_free_words(words, n);
    if (rc != OLIVE_OK)
        options_free(o);
    return rc;
}

/* A config file is YAML when its name says so, else JSON. */
static int is_yaml_name(const char *path)
{
    size_t n = strlen(path);
    return (n > 5 && !strcmp(path + n - 5, ".yaml")) || (n > 4 && !strcmp(path + n - 4, ".yml"));
}

static int parse_config(olive_workflow **out, const char *text, const char *source, int yaml, int strict)
{
    json_t *root;
    if (!yaml)
        return wf_parse(out, text, source, strict);
    OLIVE_TRY(wf_yaml_to_json(&root, text, source));
    return wf_parse_tree(out, root, source, strict);
}

static int create(olive_workflow **out, const char *text, const char *source, int yaml, const char *options)
{
    wf_options o;
    olive_workflow *w;
    OLIVE_TRY(parse_options(&o, options));
    /* The level applies to the warnings of parsing too (unknown keys), as it will to the run. */
    if (o.log_level >= 0 && olive_log_set_level(o.log_level) != OLIVE_OK) { /* checked 0..4 above */
        options_free(&o);
        return olive_error_code();
    }
    if (parse_config(&w, text, source, yaml, o.strict) != OLIVE_OK) {
        options_free(&o);
        return olive_error_code();
    }
    if (o.output_dir) {
        free(w->output_dir);
        w->output_dir = o.output_dir;
        o.output_dir = NULL;
    }
    if (o.cache_dir) {
        free(w->cache_dir);
        w->cache_dir = o.cache_dir;
        o.cache_dir = NULL;
    }
    if (o.log_level != -2)
        w->log_level = o.log_level;
    /* The options choose the executor over the config's, keeping the config's other settings
     * (partition, sbatch_args) when the type stays the same. */
    if (o.executor && strcmp(o.executor, wf_executor_type_name(w->executor.type))) {
        size_t retries = w->executor.max_retries, parallel = w->executor.max_parallel;
        wf_executor_clear(&w->executor);
        w->executor.max_retries = retries;
        w->executor.max_parallel = parallel;
        (void)wf_executor_set_type(&w->executor, o.executor, "executor"); /* checked above */
    }
    if (o.max_parallel)
        w->executor.max_parallel = o.max_parallel;
    options_free(&o);
    *out = w;
    return OLIVE_OK;
}

int olive_workflow_new(olive_workflow **out, const char *config_json, const char *options)
{
    if (!out || !config_json)
        return olive_fail(OLIVE_EINVALID, "olive_workflow_new: out and config_json must not be NULL");
    return create(out, config_json, "config", 0, options);
}

int olive_workflow_load(olive_workflow **out, const char *path, const char *options)
{
    char *text = NULL;
    size_t size;
    int rc;
    if (!out || !path)
        return olive_fail(OLIVE_EINVALID, "olive_workflow_load: out and path must not be NULL");
    OLIVE_TRY(olive_read_file(&text, &size, path, CONFIG_LIMIT));
    if (strlen(text) != size)
        rc = olive_fail(OLIVE_EFORMAT, "%s: the config contains a NUL byte", path);
    else
        rc = create(out, text, path, is_yaml_name(path), options);
    free(text);
    /* The config file itself may sit in the output folder: the run keeps it (without its real
     * path, it is judged as any other file there). */
    if (rc == OLIVE_OK)
        (*out)->source_path = realpath(path, NULL);
    return rc;
}

void olive_workflow_free(olive_workflow *workflow)
{
    wf_free(workflow);
}

int olive_workflow_pipeline_text(char **out, const olive_workflow *workflow)
{
    char *text;
    if (!out || !workflow)
        return olive_fail(OLIVE_EINVALID, "olive_workflow_pipeline_text: out and workflow must not be NULL");
    if (!(text = wf_pipeline_text(workflow)))
        return OLIVE_ENOMEM;
    *out = text;
    return OLIVE_OK;
}

void olive_workflow_set_progress(olive_workflow *workflow, olive_progress_fn fn, void *user)
{
    if (!workflow)
        return;
    workflow->progress = fn;
    workflow->progress_user = user;
}

void olive_workflow_cancel(olive_workflow *workflow)
{
    if (workflow)
        atomic_store(&workflow->cancelled, 1);
}

int olive_workflow_run(olive_workflow *workflow, char **result)
{
    json_t *doc = NULL;
    char *text;
    if (!workflow)
        return olive_fail(OLIVE_EINVALID, "olive_workflow_run: workflow must not be NULL");
    OLIVE_TRY(wf_run(workflow, result ? &doc : NULL));
    if (!result)
        return OLIVE_OK;
    text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    /* Callers release with olive_free (free), so the jansson buffer is handed over as is. */
    *result = text;
    return OLIVE_OK;
}

int olive_workflow_auto_opt_config(char **out, const char *command, const char *options)
{
    json_t *doc;
    char *text;
    if (!out || !command || !options)
        return olive_fail(OLIVE_EINVALID, "olive_workflow_auto_opt_config: out, command and options must not be NULL");
    OLIVE_TRY(wf_auto_opt_config(&doc, command, options));
    text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    *out = text;
    return OLIVE_OK;
}

int olive_workflow_config_text(char **out, char **output_dir, const olive_workflow *w)
{
    json_t *copy;
    char *text, *dir = NULL;
    int rc = OLIVE_OK;
    if (!out || !output_dir || !w)
        return olive_fail(OLIVE_EINVALID, "olive_workflow_config_text: arguments must not be NULL");
    if (!(copy = json_deep_copy(w->config)))
        return olive_fail(OLIVE_ENOMEM, "out of memory");
    /* The folders options replaced are the ones the run uses: under "engine" when the config
     * has one, as Olive nests them. */
    {
        json_t *engine = json_object_get(copy, "engine"), *at = json_is_object(engine) ? engine : copy;
        if (json_object_get(copy, "output_dir") && at != copy)
            json_object_del(copy, "output_dir");
        if (json_object_get(copy, "cache_dir") && at != copy)
            json_object_del(copy, "cache_dir");
        if (w->output_dir)
            json_object_set_new(at, "output_dir", json_string(w->output_dir));
        json_object_set_new(at, "cache_dir", json_string(w->cache_dir));
    }
    {
        char *dump = json_dumps(copy, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
        text = dump ? olive_strdup(dump) : NULL; /* released with olive_free */
        free(dump);
    }
    json_decref(copy);
    if (!text || (w->output_dir && !(dir = olive_strdup(w->output_dir))))
        rc = olive_fail(OLIVE_ENOMEM, "out of memory");
    if (rc != OLIVE_OK) {
        free(text);
        return rc;
    }
    *out = text;
    *output_dir = dir;
    return OLIVE_OK;
}
