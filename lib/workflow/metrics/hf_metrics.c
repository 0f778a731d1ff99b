/* The huggingface_metrics backend: the `evaluate` library's accuracy, f1, precision and recall,
 * which are scikit-learn's. Labels are those that occur in predictions or references (sorted),
 * or `labels` when given; average "binary" (the default) scores pos_label alone. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "workflow/metrics/classification.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double safe_div(double a, double b)
{
    return b == 0 ? 0.0 : a / b;
}

static double score(const char *name, double tp, double fp, double fn)
{
    if (!strcmp(name, "precision"))
        return safe_div(tp, tp + fp);
    if (!strcmp(name, "recall"))
        return safe_div(tp, tp + fn);
    return safe_div(2 * tp, 2 * tp + fp + fn);
}

/* The sorted distinct labels of preds and target, or of `labels`. */
static int label_set(int64_t **out, size_t *n_out, const json_t *labels, const int64_t *preds, const int64_t *target,
                     size_t n, const char *where)
{
    size_t m = 0, cap = labels ? json_array_size(labels) : 2 * n;
    int64_t *all = olive_calloc(cap + 1, sizeof *all);
    if (!all)
        return OLIVE_ENOMEM;
    if (labels) {
        for (size_t i = 0; i < cap; i++) {
            if (!json_is_integer(json_array_get(labels, i))) {
                free(all);
                return olive_fail(OLIVE_EINVALID, "%s.labels: expected a list of integer labels", where);
            }
            all[m++] = json_integer_value(json_array_get(labels, i));
        }
        *out = all;
        *n_out = m;
        return OLIVE_OK;
    }
    for (size_t i = 0; i < n; i++) {
        all[m++] = preds[i];
        all[m++] = target[i];
    }
    qsort(all, m, sizeof *all, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (!u || all[u - 1] != all[i])
            all[u++] = all[i];
    *out = all;
    *n_out = u;
    return OLIVE_OK;
}

int wf_hf_metric(double *out, const char *name, const json_t *params, const int64_t *preds, const int64_t *target,
                 size_t n, const char *where)
{
    const json_t *avg_v = json_object_get(params, "average"), *pos_v = json_object_get(params, "pos_label"),
                 *labels_v = json_object_get(params, "labels");
    const char *avg = json_is_string(avg_v) ? json_string_value(avg_v) : "binary";
    int64_t pos = json_is_integer(pos_v) ? json_integer_value(pos_v) : 1, *labels = NULL;
    size_t n_labels = 0;
    double num = 0, den = 0, tp_all = 0, fp_all = 0, fn_all = 0;
    if (!strcmp(name, "accuracy")) {
        size_t ok = 0;
        for (size_t i = 0; i < n; i++)
            ok += preds[i] == target[i];
        *out = safe_div((double)ok, (double)n);
        return OLIVE_OK;
    }
    if (strcmp(name, "f1") && strcmp(name, "precision") && strcmp(name, "recall"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: huggingface_metrics sub-type '%s' is not supported (supported: "
                          "accuracy, f1, precision, recall)",
                          where, name);
    if (avg_v && !json_is_string(avg_v))
        return olive_fail(OLIVE_EINVALID,
                          "%s.average: expected binary, micro, macro or weighted (one number per "
                          "metric)",
                          where);
    if (labels_v && !json_is_array(labels_v))
        return olive_fail(OLIVE_EINVALID, "%s.labels: expected a list of labels", where);
    if (strcmp(avg, "binary") && strcmp(avg, "micro") && strcmp(avg, "macro") && strcmp(avg, "weighted"))
        return olive_fail(OLIVE_EINVALID, "%s.average: '%s' is not one of binary, micro, macro, weighted", where, avg);
    OLIVE_TRY(label_set(&labels, &n_labels, labels_v, preds, target, n, where));
    if (!strcmp(avg, "binary")) {
        int present = 0;
        if (n_labels > 2 && !labels_v) {
            free(labels);
            return olive_fail(OLIVE_EINVALID,
                              "%s: the targets are multiclass but average is 'binary'; set "
                              "compute_params.average to micro, macro or weighted",
                              where);
        }
        for (size_t j = 0; j < n_labels; j++)
            present |= labels[j] == pos;
        if (n_labels == 2 && !present) {
            free(labels);
            return olive_fail(OLIVE_EINVALID, "%s.pos_label: %lld is not one of the labels", where, (long long)pos);
        }
        labels[0] = pos;
        n_labels = 1;
    }
    for (size_t j = 0; j < n_labels; j++) {
        double tp = 0, fp = 0, fn = 0;
        for (size_t i = 0; i < n; i++) {
            tp += preds[i] == labels[j] && target[i] == labels[j];
            fp += preds[i] == labels[j] && target[i] != labels[j];
            fn += preds[i] != labels[j] && target[i] == labels[j];
        }
        tp_all += tp, fp_all += fp, fn_all += fn;
        double w = !strcmp(avg, "weighted") ? tp + fn : 1.0;
        num += w * score(name, tp, fp, fn);
        den += w;
    }
    free(labels);
    *out = !strcmp(avg, "micro") ? score(name, tp_all, fp_all, fn_all) : safe_div(num, den);
    return OLIVE_OK;
}
