/* accuracy, f1, precision and recall from per-class true/false positive/negative counts,
 * reduced the way torchmetrics reduces them (its stat-scores family). */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "workflow/metrics/classification.h"

static const char *const task_names[] = {"binary", "multiclass", "multilabel"};
static const char *const average_names[] = {"micro", "macro", "weighted", "none", "binary"};

/* Keys torchmetrics' classification metrics take that change nothing here (or only checks). */
static const char *const accepted_keys[] = {
    "multidim_average", "validate_args",     "top_k",           "thresholds", "max_fpr", "zero_division",
    "compute_on_cpu",   "dist_sync_on_step", "sync_on_compute", NULL};

static int get_int(int64_t *out, const json_t *v, const char *where, const char *key)
{
    if (!json_is_integer(v))
        return olive_fail(OLIVE_EINVALID, "%s.metric_config.%s: expected an integer", where, key);
    *out = json_integer_value(v);
    return OLIVE_OK;
}

static int option(wf_cls_options *o, const char *key, const json_t *v, int auroc, const char *where)
{
    if (!strcmp(key, "task")) {
        for (int i = 0; i < 3; i++)
            if (json_is_string(v) && !strcmp(json_string_value(v), task_names[i])) {
                o->task = (wf_task)i;
                return OLIVE_OK;
            }
        return olive_fail(OLIVE_EINVALID, "%s.metric_config.task: expected binary, multiclass or multilabel", where);
    }
    if (!strcmp(key, "num_classes"))
        return json_is_null(v) ? OLIVE_OK : get_int(&o->num_classes, v, where, key);
    if (!strcmp(key, "num_labels"))
        return json_is_null(v) ? OLIVE_OK : get_int(&o->num_labels, v, where, key);
    if (!strcmp(key, "average")) {
        const char *s = json_is_null(v) ? "none" : json_string_value(v);
        for (int i = 0; s && i < 5; i++)
            if (!strcmp(s, average_names[i])) {
                o->average = (wf_average)i;
                o->average_set = 1;
                return OLIVE_OK;
            }
        return olive_fail(OLIVE_EINVALID, "%s.metric_config.average: expected micro, macro, weighted, none or binary",
                          where);
    }
    if (!strcmp(key, "threshold")) {
        if (!json_is_number(v))
            return olive_fail(OLIVE_EINVALID, "%s.metric_config.threshold: expected a number", where);
        o->threshold = json_number_value(v);
        return OLIVE_OK;
    }
    if (!strcmp(key, "ignore_index")) {
        o->has_ignore_index = !json_is_null(v);
        return o->has_ignore_index ? get_int(&o->ignore_index, v, where, key) : OLIVE_OK;
    }
    if (!strcmp(key, "beta")) {
        if (!json_is_number(v) || json_number_value(v) <= 0)
            return olive_fail(OLIVE_EINVALID, "%s.metric_config.beta: expected a positive number", where);
        o->beta = json_number_value(v);
        return OLIVE_OK;
    }
    if (auroc && !strcmp(key, "max_fpr") && !json_is_null(v))
        return olive_fail(OLIVE_EUNSUPPORTED, "%s.metric_config.max_fpr: partial AUROC is not supported", where);
    if (!strcmp(key, "top_k") && !json_is_null(v) && !(json_is_integer(v) && json_integer_value(v) == 1))
        return olive_fail(OLIVE_EUNSUPPORTED, "%s.metric_config.top_k: only top_k 1 is supported", where);
    if (!strcmp(key, "multidim_average") && !(json_is_string(v) && !strcmp(json_string_value(v), "global")))
        return olive_fail(OLIVE_EUNSUPPORTED, "%s.metric_config.multidim_average: only \"global\" is supported", where);
    if (!strcmp(key, "thresholds") && !json_is_null(v))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s.metric_config.thresholds: binned curves are not supported; leave it "
                          "null for the exact curve",
                          where);
    for (const char *const *k = accepted_keys; *k; k++)
        if (!strcmp(*k, key))
            return OLIVE_OK;
    return olive_fail(OLIVE_EINVALID, "%s.metric_config: unknown key '%s'", where, key);
}

int wf_cls_options_from_json(wf_cls_options *o, const json_t *cfg, int auroc, const char *where)
{
    const char *key;
    json_t *v;
    memset(o, 0, sizeof *o);
    o->task = WF_TASK_BINARY;
    o->average = auroc ? WF_AVG_MACRO : WF_AVG_MICRO;
    o->threshold = 0.5;
    o->has_ignore_index = 1;
    o->ignore_index = WF_IGNORE_INDEX;
    o->beta = 1.0;
    if (cfg && !json_is_null(cfg) && !json_is_object(cfg))
        return olive_fail(OLIVE_EINVALID, "%s.metric_config: expected an object", where);
    json_object_foreach((json_t *)cfg, key, v)
    {
        if (!strcmp(key, "kwargs") && (json_is_object(v) || json_is_null(v))) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) OLIVE_TRY(option(o, k2, v2, auroc, where));
            continue;
        }
        OLIVE_TRY(option(o, key, v, auroc, where));
    }
    if (o->task == WF_TASK_MULTICLASS && o->num_classes < 2)
        return olive_fail(OLIVE_EINVALID, "%s.metric_config.num_classes: the multiclass task needs num_classes >= 2",
                          where);
    if (o->task == WF_TASK_MULTILABEL && o->num_labels < 1)
        return olive_fail(OLIVE_EINVALID, "%s.metric_config.num_labels: the multilabel task needs num_labels >= 1",
                          where);
    if (auroc && o->task == WF_TASK_MULTICLASS && o->average == WF_AVG_MICRO && o->average_set)
        return olive_fail(OLIVE_EINVALID, "%s.metric_config.average: multiclass auroc takes macro, weighted or none",
                          where);
    return OLIVE_OK;
}

/* ---- stat scores ---- */

typedef struct counts {
    size_t k;
    double *tp, *fp, *tn, *fn;
} counts;

static void counts_free(counts *c)
{
    free(c->tp);
}

static int counts_new(counts *c, size_t k)
{
    c->k = k;
    if (!(c->tp = olive_calloc(4 * k, sizeof *c->tp)))
        return OLIVE_ENOMEM;
    c->fp = c->tp + k;
    c->tn = c->fp + k;
    c->fn = c->tn + k;
    return OLIVE_OK;
}

static int ignored(const wf_cls_options *o, int64_t t)
{
    return o->has_ignore_index && t == o->ignore_index;
}

/* One binary decision (label j): counted unless its target is ignored. */
static int count_binary(counts *c, size_t j, int64_t p, int64_t t, const wf_cls_options *o, size_t row)
{
    if (ignored(o, t))
        return OLIVE_OK;
    if (p != 0 && p != 1)
        return olive_fail(OLIVE_EINVALID, "prediction %lld in row %zu: the %s task expects 0 or 1", (long long)p, row,
                          task_names[o->task]);
    if (t != 0 && t != 1)
        return olive_fail(OLIVE_EINVALID, "target %lld in row %zu: the %s task expects 0 or 1", (long long)t, row,
                          task_names[o->task]);
    if (t == 1)
        *(p == 1 ? &c->tp[j] : &c->fn[j]) += 1;
    else
        *(p == 1 ? &c->fp[j] : &c->tn[j]) += 1;
    return OLIVE_OK;
}

static int stat_scores(counts *c, const wf_cls_options *o, const int64_t *preds, const int64_t *target, size_t n,
                       size_t width)
{
    size_t k = o->task == WF_TASK_MULTICLASS   ? (size_t)o->num_classes
               : o->task == WF_TASK_MULTILABEL ? (size_t)o->num_labels
                                               : 1;
    if ((o->task == WF_TASK_MULTILABEL ? k : 1) != width)
        return olive_fail(OLIVE_EINVALID, "predictions have %zu values per row; the %s task expects %zu", width,
                          task_names[o->task], o->task == WF_TASK_MULTILABEL ? k : (size_t)1);
    OLIVE_TRY(counts_new(c, k));
    for (size_t i = 0; i < n; i++) {
        int rc = OLIVE_OK;
        if (o->task == WF_TASK_MULTICLASS) {
            int64_t p = preds[i], t = target[i];
            if (ignored(o, t))
                continue;
            if (p < 0 || p >= (int64_t)k)
                rc = olive_fail(OLIVE_EINVALID, "prediction %lld in row %zu: outside the %zu classes", (long long)p, i,
                                k);
            else if (t < 0 || t >= (int64_t)k)
                rc = olive_fail(OLIVE_EINVALID, "target %lld in row %zu: outside the %zu classes", (long long)t, i, k);
            else if (p == t) {
                c->tp[p] += 1;
                for (size_t j = 0; j < k; j++)
                    c->tn[j] += (int64_t)j != p;
            } else {
                c->fp[p] += 1;
                c->fn[t] += 1;
                for (size_t j = 0; j < k; j++)
                    c->tn[j] += (int64_t)j != p && (int64_t)j != t;
            }
        } else {
            for (size_t j = 0; j < width && rc == OLIVE_OK; j++)
                rc = count_binary(c, j, preds[i * width + j], target[i * width + j], o, i);
        }
        if (rc != OLIVE_OK) {
            counts_free(c);
            return rc;
        }
    }
    return OLIVE_OK;
}

static double safe_div(double a, double b)
{
    return b == 0 ? 0.0 : a / b;
}

static double score_of(wf_cls_kind which, int multilabel, double tp, double fp, double tn, double fn, double beta)
{
    double b2 = beta * beta;
    switch (which) {
    case WF_CLS_ACCURACY: return multilabel ? safe_div(tp + tn, tp + tn + fp + fn) : safe_div(tp, tp + fn);
    case WF_CLS_PRECISION: return safe_div(tp, tp + fp);
    case WF_CLS_RECALL: return safe_div(tp, tp + fn);
    case WF_CLS_F1: return safe_div((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp);
    }
    return 0.0;
}

int wf_cls_metric(double *out, size_t cap, size_t *n_out, wf_cls_kind which, const wf_cls_options *o,
                  const int64_t *preds, const int64_t *target, size_t n, size_t width)
{
    counts c = {0};
    int multilabel = o->task == WF_TASK_MULTILABEL;
    OLIVE_TRY(stat_scores(&c, o, preds, target, n, width));
    if (o->task == WF_TASK_BINARY) {
        /* Binary accuracy counts true negatives too; average does not apply. */
        out[0] = which == WF_CLS_ACCURACY ? safe_div(c.tp[0] + c.tn[0], c.tp[0] + c.tn[0] + c.fp[0] + c.fn[0])
                                          : score_of(which, 0, c.tp[0], c.fp[0], c.tn[0], c.fn[0], o->beta);
        *n_out = 1;
    } else if (o->average == WF_AVG_MICRO || o->average == WF_AVG_BINARY) {
        double tp = 0, fp = 0, tn = 0, fn = 0;
        if (o->average == WF_AVG_BINARY) {
            counts_free(&c);
            return olive_fail(OLIVE_EINVALID, "average 'binary' is for the binary task");
        }
        for (size_t j = 0; j < c.k; j++)
            tp += c.tp[j], fp += c.fp[j], tn += c.tn[j], fn += c.fn[j];
        out[0] = score_of(which, multilabel, tp, fp, tn, fn, o->beta);
        *n_out = 1;
    } else if (o->average == WF_AVG_NONE) {
        if (cap < c.k) {
            counts_free(&c);
            return olive_fail(OLIVE_EINVALID, "average none: room for %zu values, %zu needed", cap, c.k);
        }
        for (size_t j = 0; j < c.k; j++)
            out[j] = score_of(which, multilabel, c.tp[j], c.fp[j], c.tn[j], c.fn[j], o->beta);
        *n_out = c.k;
    } else {
        /* macro: classes absent from both predictions and targets do not count (multiclass);
         * weighted: by each class's support. */
        double num = 0, den = 0;
        for (size_t j = 0; j < c.k; j++) {
            double w = o->average == WF_AVG_WEIGHTED                       ? c.tp[j] + c.fn[j]
                       : (!multilabel && c.tp[j] + c.fp[j] + c.fn[j] == 0) ? 0.0
                                                                           : 1.0;
            num += w * score_of(which, multilabel, c.tp[j], c.fp[j], c.tn[j], c.fn[j], o->beta);
            den += w;
        }
        out[0] = safe_div(num, den);
        *n_out = 1;
    }
    counts_free(&c);
    return OLIVE_OK;
}
