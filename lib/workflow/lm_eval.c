/* Running a list of lm-eval tasks on a decoder (lm_eval.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "workflow/data/table.h"
#include "workflow/lm_eval.h"
#include "workflow/metrics/lm_score.h"
#include "workflow/metrics/lm_tasks.h"

typedef struct tick_state {
    const wf_eval_ctx *ctx;
    const char *task;
    struct timespec start;
} tick_state;

static int tick(size_t done, size_t total, void *user)
{
    tick_state *t = user;
    struct timespec now;
    double el, rate;
    if (t->ctx && t->ctx->cancelled && atomic_load(t->ctx->cancelled))
        return 1;
    if (!t->ctx || !t->ctx->progress)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    el = (double)(now.tv_sec - t->start.tv_sec) + (double)(now.tv_nsec - t->start.tv_nsec) / 1e9;
    rate = el > 0 ? (double)done / el : 0;
    return t->ctx->progress(t->task, done, total, rate, rate > 0 ? (double)(total - done) / rate : 0,
                            t->ctx->progress_user);
}

static json_t *stderr_value(double se)
{
    return isfinite(se) ? json_real(se) : json_null();
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* One task: *name receives its results key. */
static int run_task(json_t **out, char **name, wf_lm *lm, const char *task, long long limit, const wf_eval_ctx *ctx,
                    const char *where)
{
    const wf_lm_task *t = wf_lm_task_find(task);
    wf_lm_doc *docs = NULL;
    size_t n = 0;
    wf_lm_result r;
    wf_lm_output output = WF_LM_MULTIPLE_CHOICE;
    tick_state ts = {ctx, task, {0, 0}};
    int rc;
    clock_gettime(CLOCK_MONOTONIC, &ts.start);
    if (!t && !ends_with(task, ".jsonl") && is_file(task)) {
        /* a text: rolling log-likelihood */
        char *text = NULL;
        size_t size = 0;
        wf_lm_rolling_result rr;
        if ((rc = olive_read_file(&text, &size, task, WF_DATA_FILE_LIMIT)) != OLIVE_OK)
            return olive_fail_context(rc, "%s: task file '%s'", where, task);
        if ((rc = wf_lm_rolling(&rr, lm, text, size)) != OLIVE_OK)
            olive_fail_context(rc, "%s: '%s'", where, task);
        free(text);
        if (rc != OLIVE_OK)
            return rc;
        *out = json_pack("{s:f, s:f, s:f, s:I, s:I, s:I}", "word_perplexity", rr.word_perplexity, "byte_perplexity",
                         rr.byte_perplexity, "bits_per_byte", rr.bits_per_byte, "tokens", (json_int_t)rr.tokens,
                         "words", (json_int_t)rr.words, "bytes", (json_int_t)rr.bytes);
        *name = olive_strdup(olive_path_basename(task));
        return *out && *name ? OLIVE_OK : OLIVE_ENOMEM;
    }
    if (t) {
        rc = wf_lm_task_docs(&docs, &n, t, limit, where);
        output = t->output;
        *name = olive_strdup(task);
    } else if (ends_with(task, ".jsonl")) {
        rc = wf_lm_file_docs(&docs, &n, task, limit);
        *name = olive_strndup(olive_path_basename(task), strlen(olive_path_basename(task)) - 6);
    } else {
        return olive_fail(OLIVE_EUNSUPPORTED, "%s: '%s' is neither an lm-eval task libolive knows (%s) nor a task file",
                          where, task, wf_lm_task_names());
    }
    if (rc == OLIVE_OK && !*name)
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK && (rc = wf_lm_score(&r, lm, output, docs, n, tick, &ts)) != OLIVE_OK) {
        if (rc == OLIVE_ECANCELLED)
            olive_fail(rc, "%s: evaluation of '%s' cancelled", where, task);
        else
            olive_fail_context(rc, "%s: task '%s'", where, task);
    }
    wf_lm_docs_free(docs, n);
    if (rc != OLIVE_OK)
        return rc;
    if (output == WF_LM_LOGLIKELIHOOD)
        *out = json_pack("{s:f, s:o, s:f, s:I}", "acc", r.acc, "acc_stderr", stderr_value(r.acc_stderr), "perplexity",
                         r.perplexity, "samples", (json_int_t)r.n);
    else if (t && !t->acc_norm)
        *out = json_pack("{s:f, s:o, s:I}", "acc", r.acc, "acc_stderr", stderr_value(r.acc_stderr), "samples",
                         (json_int_t)r.n);
    else
        *out = json_pack("{s:f, s:o, s:f, s:o, s:I}", "acc", r.acc, "acc_stderr", stderr_value(r.acc_stderr),
                         "acc_norm", r.acc_norm, "acc_norm_stderr", stderr_value(r.acc_norm_stderr), "samples",
                         (json_int_t)r.n);
    return *out ? OLIVE_OK : OLIVE_ENOMEM;
}

static int number(long long *out, const json_t *cfg, const char *key)
{
    const json_t *v = json_object_get(cfg, key);
    *out = 0;
    if (!v || json_is_null(v))
        return OLIVE_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return olive_fail(OLIVE_EINVALID, "tasks.%s: expected a whole number >= 0", key);
    *out = json_integer_value(v);
    return OLIVE_OK;
}

int wf_lm_eval(json_t **results, const json_t *cfg, const char *model_path, const wf_eval_ctx *ctx)
{
    const json_t *tasks = json_object_get(cfg, "tasks"), *t;
    long long limit, max_length;
    wf_lm *lm = NULL;
    json_t *res;
    size_t i;
    int rc;
    if (!json_is_array(tasks) || !json_array_size(tasks))
        return olive_fail(OLIVE_EINVALID, "tasks: expected a list of lm-eval task names or task files");
    json_array_foreach(tasks, i, t) if (!json_is_string(t)) return olive_fail(OLIVE_EINVALID,
                                                                              "tasks[%zu]: expected a task name or a "
                                                                              "task file",
                                                                              i);
    OLIVE_TRY(number(&limit, cfg, "limit"));
    OLIVE_TRY(number(&max_length, cfg, "max_length"));
    OLIVE_TRY(wf_lm_open(&lm, model_path, ctx ? ctx->acc : NULL, NULL, (long)max_length, WF_LM_PREFIX_BOS));
    if (!(res = json_object())) {
        wf_lm_free(lm);
        return OLIVE_ENOMEM;
    }
    rc = OLIVE_OK;
    json_array_foreach(tasks, i, t)
    {
        char where[64], *name = NULL;
        json_t *r = NULL;
        snprintf(where, sizeof where, "tasks[%zu]", i);
        if ((rc = run_task(&r, &name, lm, json_string_value(t), limit, ctx, where)) == OLIVE_OK)
            rc = json_object_set_new(res, name, r) ? OLIVE_ENOMEM : OLIVE_OK;
        free(name);
        if (rc != OLIVE_OK)
            break;
    }
    wf_lm_free(lm);
    if (rc != OLIVE_OK) {
        json_decref(res);
        return rc;
    }
    *results = res;
    return OLIVE_OK;
}
