/* engine.executor in the workflow JSON (libolive's extension; Olive warns on it). */
#include "workflow/executor/executor.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

static const char *const slurm_keys[] = {"type",        "partition",   "gres",           "max_parallel",
                                         "max_retries", "sbatch_args", "max_array_size", NULL};
static const char *const local_keys[] = {"type", "max_parallel", "max_retries", NULL};
static const char *const task_keys[] = {"type", "point", "search_point", "candidate", NULL};

const char *wf_executor_type_name(wf_exec_type t)
{
    return t == WF_EXEC_SLURM ? "slurm" : t == WF_EXEC_TASK ? "task" : "local";
}

void wf_executor_clear(wf_executor *e)
{
    free(e->partition);
    free(e->gres);
    for (size_t i = 0; i < e->n_sbatch_args; i++)
        free(e->sbatch_args[i]);
    free(e->sbatch_args);
    free(e->point);
    free(e->point_text);
    memset(e, 0, sizeof *e);
    e->max_retries = WF_EXEC_DEFAULT_RETRIES;
}

int wf_executor_set_type(wf_executor *e, const char *name, const char *where)
{
    if (!strcmp(name, "local"))
        e->type = WF_EXEC_LOCAL;
    else if (!strcmp(name, "slurm"))
        e->type = WF_EXEC_SLURM;
    else if (!strcmp(name, "task"))
        e->type = WF_EXEC_TASK;
    else
        return olive_fail(OLIVE_EINVALID, "%s: unknown executor type '%s'; known types: local, slurm", where, name);
    return OLIVE_OK;
}

static int get_count(size_t *out, const json_t *v, const char *where, const char *key, long long min)
{
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > 100000)
        return olive_fail(OLIVE_EINVALID, "%s.%s: expected a whole number from %lld to 100000", where, key, min);
    *out = (size_t)json_integer_value(v);
    return OLIVE_OK;
}

static int get_text(char **out, const json_t *v, const char *where, const char *key)
{
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_string(v) || !json_string_value(v)[0])
        return olive_fail(OLIVE_EINVALID, "%s.%s: expected a non-empty string", where, key);
    return (*out = olive_strdup(json_string_value(v))) ? OLIVE_OK : OLIVE_ENOMEM;
}

static int unknown_keys(const json_t *obj, const char *const *known, const char *where, const char *type)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i = 0;
        while (known[i] && strcmp(known[i], key))
            i++;
        if (!known[i]) {
            olive_strbuf b = {0};
            for (i = 0; known[i]; i++)
                olive_strbuf_printf(&b, "%s%s", i ? ", " : "", known[i]);
            char *list = olive_strbuf_take(&b);
            int rc = olive_fail(OLIVE_EINVALID, "%s: unknown key '%s' for executor type %s; known keys: %s", where, key,
                                type, list ? list : "?");
            free(list);
            return rc;
        }
    }
    return OLIVE_OK;
}

static int parse_task(wf_executor *e, const json_t *v, const char *where)
{
    const json_t *p = json_object_get(v, "point");
    size_t i;
    json_t *x;
    if (!json_is_array(p) || !json_array_size(p))
        return olive_fail(OLIVE_EINVALID, "%s.point: expected a list of indices", where);
    if (!(e->point = olive_calloc(json_array_size(p), sizeof *e->point)))
        return OLIVE_ENOMEM;
    json_array_foreach(p, i, x)
    {
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return olive_fail(OLIVE_EINVALID, "%s.point[%zu]: expected an index", where, i);
        e->point[i] = (size_t)json_integer_value(x);
    }
    e->n_point = json_array_size(p);
    OLIVE_TRY(get_text(&e->point_text, json_object_get(v, "search_point"), where, "search_point"));
    if (!e->point_text)
        return olive_fail(OLIVE_EINVALID, "%s.search_point: missing", where);
    return get_count(&e->candidate, json_object_get(v, "candidate"), where, "candidate", 0);
}

int wf_executor_parse(wf_executor *e, const json_t *v, const char *where)
{
    const json_t *type, *args;
    wf_executor_clear(e);
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_object(v))
        return olive_fail(OLIVE_EINVALID, "%s: expected an object such as {\"type\": \"slurm\"}", where);
    type = json_object_get(v, "type");
    if (!json_is_string(type))
        return olive_fail(OLIVE_EINVALID, "%s.type: expected \"local\" or \"slurm\"", where);
    OLIVE_TRY(wf_executor_set_type(e, json_string_value(type), where));
    if (e->type == WF_EXEC_TASK) {
        OLIVE_TRY(unknown_keys(v, task_keys, where, "task"));
        return parse_task(e, v, where);
    }
    OLIVE_TRY(
        unknown_keys(v, e->type == WF_EXEC_SLURM ? slurm_keys : local_keys, where, wf_executor_type_name(e->type)));
    OLIVE_TRY(get_count(&e->max_parallel, json_object_get(v, "max_parallel"), where, "max_parallel", 1));
    OLIVE_TRY(get_count(&e->max_retries, json_object_get(v, "max_retries"), where, "max_retries", 0));
    OLIVE_TRY(get_count(&e->max_array_size, json_object_get(v, "max_array_size"), where, "max_array_size", 1));
    OLIVE_TRY(get_text(&e->partition, json_object_get(v, "partition"), where, "partition"));
    OLIVE_TRY(get_text(&e->gres, json_object_get(v, "gres"), where, "gres"));
    args = json_object_get(v, "sbatch_args");
    if (args && !json_is_null(args)) {
        size_t i;
        json_t *a;
        if (!json_is_array(args))
            return olive_fail(OLIVE_EINVALID, "%s.sbatch_args: expected a list of strings", where);
        if (!(e->sbatch_args = olive_calloc(json_array_size(args) + 1, sizeof *e->sbatch_args)))
            return OLIVE_ENOMEM;
        json_array_foreach(args, i, a)
        {
            if (!json_is_string(a) || !json_string_value(a)[0])
                return olive_fail(OLIVE_EINVALID, "%s.sbatch_args[%zu]: expected a non-empty string", where, i);
            if (!(e->sbatch_args[i] = olive_strdup(json_string_value(a))))
                return OLIVE_ENOMEM;
            e->n_sbatch_args = i + 1;
        }
    }
    return OLIVE_OK;
}
