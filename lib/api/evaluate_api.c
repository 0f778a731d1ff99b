/* The public evaluation functions: olive_evaluate, olive_lm_eval and custom metric
 * registration. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "ir/ir.h"
#include "olive/evaluate.h"
#include "workflow/evaluator.h"
#include "workflow/lm_eval.h"
#include "workflow/outputs.h"

int olive_metric_register(const char *name, olive_metric_fn fn, void *user)
{
    if (!name || !*name || !fn)
        return olive_fail(OLIVE_EINVALID, "olive_metric_register: name and fn must not be NULL or empty");
    return wf_custom_register(name, (wf_custom_fn)fn, user);
}

int olive_metric_unregister(const char *name)
{
    if (!name)
        return olive_fail(OLIVE_EINVALID, "olive_metric_unregister: name must not be NULL");
    return wf_custom_unregister(name);
}

typedef struct forward {
    olive_evaluate_progress_fn fn;
    void *user;
} forward;

static int forward_progress(const char *metric, uint64_t done, uint64_t total, double rate, double eta, void *user)
{
    forward *f = user;
    return f->fn(metric, done, total, rate, eta, f->user);
}

int olive_evaluate(char **out, const char *model_path, const char *evaluator_json, const olive_accelerator *acc,
                   olive_evaluate_progress_fn progress, void *user)
{
    json_error_t err;
    json_t *cfg, *results = NULL;
    wf_evaluator ev;
    oir_model *m = NULL;
    char *folder = NULL, *text;
    forward fw = {progress, user};
    wf_eval_ctx ctx = {acc, progress ? forward_progress : NULL, &fw, NULL, NULL};
    int rc;
    if (!out || !model_path || !evaluator_json)
        return olive_fail(OLIVE_EINVALID, "olive_evaluate: out, model_path and evaluator_json must not be NULL");
    if (!(cfg = json_loads(evaluator_json, JSON_REJECT_DUPLICATES, &err)))
        return olive_fail(OLIVE_EFORMAT, "evaluator:%d:%d: invalid JSON: %s", err.line, err.column, err.text);
    rc = wf_evaluator_parse(&ev, cfg, json_object_get(cfg, "data_configs"), "evaluator");
    json_decref(cfg);
    if (rc != OLIVE_OK)
        return rc;
    if ((rc = wf_load_input(&m, &folder, model_path, NULL)) != OLIVE_OK) {
        olive_fail_context(rc, "olive_evaluate: model '%s'", model_path);
    } else if (m->checkpoint_path || !m->path) {
        rc = olive_fail(OLIVE_EINVALID,
                        "olive_evaluate: '%s' is a checkpoint; evaluate an ONNX model (convert it "
                        "first)",
                        model_path);
    } else {
        rc = wf_evaluate(&results, &ev, m->path, wf_model_files_size(m), &ctx);
    }
    if (rc == OLIVE_OK) {
        text = json_dumps(results, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        rc = text ? OLIVE_OK : olive_fail(OLIVE_ENOMEM, "out of memory");
        if (text)
            *out = text;
    }
    json_decref(results);
    oir_model_free(m);
    free(folder);
    wf_evaluator_clear(&ev);
    return rc;
}

int olive_lm_eval(char **out, const char *model_path, const char *tasks_json, const olive_accelerator *acc,
                  olive_evaluate_progress_fn progress, void *user)
{
    json_error_t err;
    json_t *cfg, *results = NULL;
    forward fw = {progress, user};
    wf_eval_ctx ctx = {acc, progress ? forward_progress : NULL, &fw, NULL, NULL};
    struct stat st;
    char *path;
    int rc;
    if (!out || !model_path || !tasks_json)
        return olive_fail(OLIVE_EINVALID, "olive_lm_eval: out, model_path and tasks_json must not be NULL");
    if (!(cfg = json_loads(tasks_json, JSON_REJECT_DUPLICATES, &err)))
        return olive_fail(OLIVE_EFORMAT, "tasks:%d:%d: invalid JSON: %s", err.line, err.column, err.text);
    /* a folder: its model.onnx */
    path = stat(model_path, &st) == 0 && S_ISDIR(st.st_mode) ? olive_path_join(model_path, "model.onnx")
                                                             : olive_strdup(model_path);
    rc = path ? wf_lm_eval(&results, cfg, path, &ctx) : OLIVE_ENOMEM;
    json_decref(cfg);
    free(path);
    if (rc == OLIVE_OK) {
        char *text = json_dumps(results, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        rc = text ? OLIVE_OK : olive_fail(OLIVE_ENOMEM, "out of memory");
        if (text)
            *out = text;
    }
    json_decref(results);
    return rc;
}
