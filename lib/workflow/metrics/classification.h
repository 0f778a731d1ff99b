/* Olive's accuracy sub-types (accuracy_score, f1_score, precision, recall, auroc) with the
 * numbers torchmetrics gives for the `task`, `num_classes` / `num_labels`, `average` and
 * `ignore_index` that Olive passes it, and the `evaluate` library's (scikit-learn's) numbers for
 * the huggingface_metrics backend.
 *
 * Inputs are what Olive hands the metric: predicted labels (the post-processed output cast to
 * integers) for the first four, the model's raw float output for auroc; targets are integer
 * labels. A row-major [n] or [n, width] array; width is 1 for binary and multiclass, the number
 * of labels for multilabel. Results: one value, or one per class when average is "none". */
#ifndef OLIVE_WORKFLOW_METRICS_CLASSIFICATION_H
#define OLIVE_WORKFLOW_METRICS_CLASSIFICATION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum { WF_TASK_BINARY, WF_TASK_MULTICLASS, WF_TASK_MULTILABEL } wf_task;
typedef enum { WF_AVG_MICRO, WF_AVG_MACRO, WF_AVG_WEIGHTED, WF_AVG_NONE, WF_AVG_BINARY } wf_average;
typedef enum { WF_CLS_ACCURACY, WF_CLS_F1, WF_CLS_PRECISION, WF_CLS_RECALL } wf_cls_kind;

/* Olive's ignore_index default (olive.data.constants.IGNORE_INDEX). */
#define WF_IGNORE_INDEX (-100)

typedef struct wf_cls_options {
    wf_task task;         /* Olive's default: binary */
    int64_t num_classes;  /* multiclass: required */
    int64_t num_labels;   /* multilabel: required */
    wf_average average;   /* torchmetrics' default: micro (auroc: macro) */
    int average_set;      /* average was given in the config */
    double threshold;     /* for float predictions: > threshold is positive (0.5) */
    int has_ignore_index; /* Olive sets -100 unless the config says null */
    int64_t ignore_index;
    double beta; /* f-beta; 1 for f1_score */
} wf_cls_options;

/* Reads a sub-type's metric_config (torchmetrics' keyword arguments, or Olive's "kwargs").
 * `auroc` selects auroc's default average (macro). Errors: OLIVE_EINVALID naming `where` and
 * the key (unknown task or average, num_classes missing for multiclass, ...). */
int wf_cls_options_from_json(wf_cls_options *o, const json_t *metric_config, int auroc, const char *where);

/* accuracy / f1 / precision / recall. `out` has room for `cap` values (num_classes or
 * num_labels for average none); *n_out receives the count. Errors: OLIVE_EINVALID for a
 * prediction or target outside the task's range (named with its row), OLIVE_EINVALID when
 * `cap` is too small. */
int wf_cls_metric(double *out, size_t cap, size_t *n_out, wf_cls_kind which, const wf_cls_options *o,
                  const int64_t *preds, const int64_t *target, size_t n, size_t width);

/* Area under the ROC curve from scores: [n] (binary) or [n, k] (k classes or labels); a binary
 * task with k == 2 uses softmax(scores)[:, 1], as Olive does. Scores outside [0, 1] go
 * through a sigmoid (binary, multilabel) or softmax (multiclass), as torchmetrics does. */
int wf_auroc(double *out, size_t cap, size_t *n_out, const wf_cls_options *o, const float *scores, size_t n, size_t k,
             const int64_t *target, size_t t_width);

/* The `evaluate` library's accuracy, f1, precision and recall (scikit-learn's definitions):
 * `compute_params` may hold average (binary, micro, macro, weighted), pos_label and labels.
 * Zero divisions give 0, as scikit-learn's default does after its warning. */
int wf_hf_metric(double *out, const char *name, const json_t *compute_params, const int64_t *preds,
                 const int64_t *target, size_t n, const char *where);

#endif
