#include "workflow/executor/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/executor/batch.h"

/* Engine fields a task must not inherit: it writes no output and never cleans the cache. */
static const char *const dropped[] = {"output_dir",
                                      "clean_cache",
                                      "evaluate_input_model",
                                      "packaging_config",
                                      "plot_pareto_frontier",
                                      "output_model_num",
                                      "cache_dir",
                                      "clean_evaluation_cache",
                                      NULL};

static int write_job(const olive_workflow *w, const char *dir, size_t task, const wf_job *j, const char *cache_dir)
{
    json_t *doc = json_deep_copy(w->config), *engine, *point = json_array(), *exec;
    char *path = olive_asprintf("%s/task-%zu.json", dir, task), *text = NULL;
    int rc = OLIVE_ENOMEM;
    if (!doc || !point || !path)
        goto out;
    engine = json_object_get(doc, "engine");
    if (!json_is_object(engine)) {
        engine = json_object();
        json_object_set_new(doc, "engine", engine);
    }
    for (size_t i = 0; dropped[i]; i++) {
        json_object_del(doc, dropped[i]);
        json_object_del(engine, dropped[i]);
    }
    json_object_set_new(engine, "cache_dir", json_string(cache_dir));
    for (size_t i = 0; i < j->n_point; i++)
        json_array_append_new(point, json_integer((json_int_t)j->point[i]));
    exec = json_pack("{s:s, s:O, s:s, s:I}", "type", "task", "point", point, "search_point", j->point_text, "candidate",
                     (json_int_t)j->candidate);
    if (!exec)
        goto out;
    json_object_set_new(engine, "executor", exec);
    if (!(text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS)))
        goto out;
    rc = olive_write_file(path, text, strlen(text));
out:
    json_decref(doc);
    json_decref(point);
    free(path);
    free(text);
    return rc;
}

int wf_evaluator_measures_time(const olive_workflow *w)
{
    const wf_evaluator *evs[64];
    size_t n = 0;
    evs[n++] = &w->evaluator;
    for (size_t i = 0; i < w->n_slots; i++)
        for (size_t j = 0; j < w->slots[i].n_choices; j++) {
            if (w->slots[i].choices[j].pass->def->flags & OLIVE_PASS_MEASURES_TIME)
                return 1;
            if (w->slots[i].choices[j].evaluator && n < 64)
                evs[n++] = w->slots[i].choices[j].evaluator;
        }
    for (size_t k = 0; k < n; k++)
        for (size_t m = 0; m < evs[k]->n_metrics; m++)
            if (evs[k]->metrics[m].type == WF_METRIC_LATENCY || evs[k]->metrics[m].type == WF_METRIC_THROUGHPUT)
                return 1;
    return 0;
}

typedef struct batch_view {
    const wf_cache *cache;
    const wf_job *jobs;
} batch_view;

/* 1 when task i's evaluation is in the cache and verifies (a task that exited 0 without it,
 * or left a damaged record, did not finish). */
static int evaluation_present(size_t i, void *user)
{
    const batch_view *v = user;
    json_t *doc = NULL;
    int ok = wf_cache_eval_load(v->cache, v->jobs[i].eval_key, &doc) == OLIVE_OK && json_is_object(doc);
    if (!ok)
        olive_error_clear();
    json_decref(doc);
    return ok;
}

/* <cache>/jobs/<UTC time>-<pid>-<n>: one folder per batch, never reused. */
static char *job_folder(const char *cache_dir)
{
    static unsigned counter;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    return olive_asprintf("%s/jobs/%s-%ld-%u", cache_dir, stamp, (long)getpid(), counter++);
}

/* One batch: its job folder, its tasks numbered from 0. */
static int dispatch_batch(olive_workflow *w, const wf_cache *cache, const char *abs_cache, const char *cli,
                          wf_job *jobs, size_t n)
{
    wf_backend b;
    wf_exec_task *tasks = NULL;
    char *dir = job_folder(abs_cache);
    int rc;
    memset(&b, 0, sizeof b);
    if (!dir) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    if ((rc = olive_mkdir_p(dir)) != OLIVE_OK) {
        olive_fail_context(rc, "executor: the job folder");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = write_job(w, dir, i, &jobs[i], abs_cache)) != OLIVE_OK) {
            olive_fail_context(rc, "executor: writing the job description of candidate %zu", jobs[i].candidate);
            goto out;
        }
    if (!(tasks = olive_calloc(n + 1, sizeof *tasks))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    b.e = &w->executor;
    b.dir = dir;
    b.cli = cli;
    if (w->executor.type == WF_EXEC_SLURM) {
        wf_backend_slurm(&b);
        b.exclusive = wf_evaluator_measures_time(w);
        if (b.exclusive)
            OLIVE_INFO("slurm: the evaluator or a pass measures latency or throughput: each task asks for a whole node "
                       "(--exclusive), so no two measurements share a machine");
    } else {
        wf_backend_procs(&b);
    }
    OLIVE_INFO("%s: %zu candidate%s to build and evaluate (job folder %s)", b.name, n, n == 1 ? "" : "s", dir);
    batch_view view = {cache, jobs};
    rc = wf_batch_run(&b, tasks, n, &w->cancelled, evaluation_present, &view);
    for (size_t i = 0; i < n; i++) {
        if (tasks[i].state == WF_TASK_FAILED && !jobs[i].error) {
            jobs[i].error = olive_asprintf("%s task %s failed %zu time%s: %s", b.name, tasks[i].job, tasks[i].attempts,
                                           tasks[i].attempts == 1 ? "" : "s", tasks[i].error ? tasks[i].error : "?");
            if (!jobs[i].error && rc == OLIVE_OK)
                rc = OLIVE_ENOMEM;
        }
        free(tasks[i].error);
    }
out:
    wf_backend_clear(&b);
    free(tasks);
    free(dir);
    return rc;
}

int wf_dispatch(olive_workflow *w, const wf_cache *cache, const char *cli, wf_job *jobs, size_t n)
{
    /* Array indices stay below the cluster's MaxArraySize: larger batches go out as several
     * arrays, one after another. */
    size_t chunk = w->executor.type != WF_EXEC_SLURM ? n
                   : w->executor.max_array_size      ? w->executor.max_array_size
                                                     : WF_EXEC_ARRAY_MAX;
    char *abs_cache = olive_path_resolve(cache->dir);
    int rc = abs_cache ? OLIVE_OK : OLIVE_ENOMEM;
    for (size_t at = 0; at < n && rc == OLIVE_OK; at += chunk)
        rc = dispatch_batch(w, cache, abs_cache, cli, jobs + at, n - at < chunk ? n - at : chunk);
    free(abs_cache);
    return rc;
}
