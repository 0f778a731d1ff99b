/* Evaluators in Olive's schema: {"metrics": [{name, type, backend, sub_types: [{name, priority,
 * higher_is_better, goal, metric_config}], data_config, user_config}]}, measured on a model
 * file through an ONNX Runtime session, with results in Olive's MetricResult form:
 * {"<metric>-<sub_type>": {"value", "priority", "higher_is_better"}}.
 *
 * Metric types: accuracy (accuracy_score, f1_score, precision, recall, auroc, perplexity; or the
 * `evaluate` names with backend huggingface_metrics), latency and throughput (avg, max, min,
 * p50 ... p999 with warmup_num, repeat_test_num, sleep_num), size_on_disk, and custom (a
 * function registered with olive_metric_register, named by user_config.metric_func or
 * evaluate_func).
 *
 * Olive's LMEvaluator ({"type": "LMEvaluator", "tasks": [...], "limit", "batch_size",
 * "max_length", ...}) is read into one metric per task (type WF_METRIC_LM_TASK, named after the
 * task, sub-types acc / acc_norm or perplexity / acc as lm-eval reports them, priority -1,
 * higher_is_better true as Olive writes them), so results read "arc_easy-acc"; "size_on_disk"
 * among the tasks is the size_on_disk metric ("size_on_disk-bytes"). */
#ifndef OLIVE_WORKFLOW_EVALUATOR_H
#define OLIVE_WORKFLOW_EVALUATOR_H

#include <stdatomic.h>

#include <jansson.h>

#include "olive/olive.h"
#include "workflow/metrics/classification.h"

typedef enum {
    WF_METRIC_ACCURACY,
    WF_METRIC_LATENCY,
    WF_METRIC_THROUGHPUT,
    WF_METRIC_CUSTOM,
    WF_METRIC_SIZE_ON_DISK,
    WF_METRIC_LM_TASK, /* an lm-eval task of LMEvaluator (workflow/metrics/lm_tasks.h) */
} wf_metric_type;

struct wf_lm_task;

typedef struct wf_sub_metric {
    char *name;
    int priority; /* -1: reported, not ranked */
    int higher_is_better;
    char *goal_type; /* threshold, min-improvement, ... or NULL */
    double goal_value;
    json_t *metric_config; /* as written (may be NULL) */
    wf_cls_options cls;    /* accuracy sub-types on the torch_metrics backend */
} wf_sub_metric;

typedef struct wf_metric {
    char *name;
    wf_metric_type type;
    int hf_backend; /* backend huggingface_metrics */
    size_t n_subs;
    wf_sub_metric *subs;
    json_t *data_config; /* the data config object (resolved from its name), or NULL */
    char *custom_func;   /* custom: the registered function's name */
    int warmup_num, repeat_test_num;
    double sleep_num;
    char *session_options;            /* from user_config.inference_settings.onnx.session_options */
    const struct wf_lm_task *lm_task; /* WF_METRIC_LM_TASK: the task (static) */
    long long lm_limit;               /* documents scored (0: all) */
    long lm_max_length;               /* token window (0: the model's context length) */
} wf_metric;

typedef struct wf_evaluator {
    size_t n_metrics;
    wf_metric *metrics;
} wf_evaluator;

/* Parses an evaluator object. `data_configs` (an array, may be NULL) resolves data_config
 * names. Everything that can be checked without a model is checked (types, sub-types,
 * metric_config keys, goals, data config names). Errors: OLIVE_EINVALID /
 * OLIVE_EUNSUPPORTED / OLIVE_ENOTFOUND naming `where` and the field. */
int wf_evaluator_parse(wf_evaluator *out, const json_t *evaluator, const json_t *data_configs, const char *where);
void wf_evaluator_clear(wf_evaluator *e);
/* 1 when some metric needs a model run (anything but size_on_disk). */
int wf_evaluator_needs_runtime(const wf_evaluator *e);

/* Progress of an evaluation: samples done of total for `metric`, rate per second and the
 * estimated seconds left. Return non-zero to cancel. */
typedef int (*wf_eval_progress_fn)(const char *metric, uint64_t done, uint64_t total, double rate, double eta_s,
                                   void *user);

typedef struct wf_eval_ctx {
    const olive_accelerator *acc; /* NULL: cpu */
    wf_eval_progress_fn progress;
    void *progress_user;
    atomic_int *cancelled; /* may be NULL */
    /* Not NULL: no session can be made on the accelerator's provider, and this says why; the
     * metrics that need one are recorded as not measured (value null, "measured": false,
     * "reason"), and only size_on_disk is measured. */
    const char *unmeasured;
} wf_eval_ctx;

/* Evaluates the ONNX model file `model_path` (its folder's files make size_on_disk) and
 * returns the results object. Errors: those of sessions and data configs, OLIVE_ECANCELLED,
 * OLIVE_EFORMAT for NaN or Inf outputs (named). */
int wf_evaluate(json_t **results, const wf_evaluator *e, const char *model_path, uint64_t size_on_disk,
                const wf_eval_ctx *ctx);

/* Registered custom metric functions (evaluate_api.c keeps them). */
typedef int (*wf_custom_fn)(double *out, const char *metric, const char *sub_type, const char *model_path,
                            const olive_tensor *preds, const olive_tensor *logits, const olive_tensor *targets,
                            void *user);
int wf_custom_lookup(wf_custom_fn *fn, void **user, const char *name);
int wf_custom_register(const char *name, wf_custom_fn fn, void *user);
int wf_custom_unregister(const char *name);

/* {"k": {"value": v, ...}} -> "k  v" table text (for CLIs and logs). */
char *wf_metrics_table(const json_t *results);

#endif
