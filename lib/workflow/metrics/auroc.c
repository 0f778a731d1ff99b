/* Area under the ROC curve, exact (no binning), as torchmetrics computes it: scores sorted
 * descending, one point per distinct score, the curve started at (0, 0), trapezoids. A class
 * without positives (or negatives) gives a zero rate curve and so an area of 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "workflow/metrics/classification.h"

typedef struct scored {
    float score;
    int positive;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    float x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The area for items already filtered of ignored targets; sorts `items` in place. */
static double binary_auc(scored *items, size_t n)
{
    double tps = 0, fps = 0, prev_tps = 0, prev_fps = 0, area = 0, total_p = 0, total_n = 0;
    for (size_t i = 0; i < n; i++)
        items[i].positive ? (total_p += 1) : (total_n += 1);
    if (total_p <= 0 || total_n <= 0 || n == 0)
        return 0.0;
    qsort(items, n, sizeof *items, by_score_desc);
    for (size_t i = 0; i < n; i++) {
        items[i].positive ? (tps += 1) : (fps += 1);
        if (i + 1 < n && items[i + 1].score == items[i].score)
            continue;
        area += (fps / total_n - prev_fps / total_n) * (tps / total_p + prev_tps / total_p) / 2;
        prev_tps = tps;
        prev_fps = fps;
    }
    return area;
}

static int in_unit_range(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(v[i] >= 0.0f && v[i] <= 1.0f))
            return 0;
    return 1;
}

static float sigmoid(float x)
{
    return (float)(1.0 / (1.0 + exp(-(double)x)));
}

static void softmax_row(float *dst, const float *src, size_t k)
{
    double m = src[0], s = 0;
    for (size_t j = 1; j < k; j++)
        m = src[j] > m ? src[j] : m;
    for (size_t j = 0; j < k; j++)
        s += exp((double)src[j] - m);
    for (size_t j = 0; j < k; j++)
        dst[j] = (float)(exp((double)src[j] - m) / s);
}

static int reduce(double *out, size_t cap, size_t *n_out, wf_average avg, const double *res, const double *weights,
                  size_t k)
{
    double num = 0, den = 0;
    if (avg == WF_AVG_NONE) {
        if (cap < k)
            return olive_fail(OLIVE_EINVALID, "average none: room for %zu values, %zu needed", cap, k);
        memcpy(out, res, k * sizeof *res);
        *n_out = k;
        return OLIVE_OK;
    }
    if (avg != WF_AVG_MACRO && avg != WF_AVG_WEIGHTED)
        return olive_fail(OLIVE_EINVALID, "auroc: average must be macro, weighted or none here");
    for (size_t j = 0; j < k; j++) {
        double w = avg == WF_AVG_WEIGHTED ? weights[j] : 1.0;
        num += w * res[j];
        den += w;
    }
    out[0] = den == 0 ? 0.0 : num / den;
    *n_out = 1;
    return OLIVE_OK;
}

static int check_target(int64_t t, size_t row, int64_t limit, const char *what)
{
    if (t < 0 || t >= limit)
        return olive_fail(OLIVE_EINVALID, "target %lld in row %zu: outside the %s", (long long)t, row, what);
    return OLIVE_OK;
}

static int ignored(const wf_cls_options *o, int64_t t)
{
    return o->has_ignore_index && t == o->ignore_index;
}

int wf_auroc(double *out, size_t cap, size_t *n_out, const wf_cls_options *o, const float *scores, size_t n, size_t k,
             const int64_t *target, size_t t_width)
{
    size_t n_cls = o->task == WF_TASK_MULTICLASS   ? (size_t)o->num_classes
                   : o->task == WF_TASK_MULTILABEL ? (size_t)o->num_labels
                                                   : 1;
    size_t m = 0;
    float *probs = NULL;
    scored *items = NULL;
    double *res = NULL, *weights = NULL;
    int rc = OLIVE_OK;
    if (o->task == WF_TASK_BINARY ? (k != 1 && k != 2) || t_width != 1
                                  : k != n_cls || t_width != (o->task == WF_TASK_MULTILABEL ? n_cls : 1))
        return olive_fail(OLIVE_EINVALID,
                          "auroc: scores with %zu values per row and targets with %zu do not fit the %s "
                          "task with %zu classes or labels",
                          k, t_width,
                          o->task == WF_TASK_BINARY       ? "binary"
                          : o->task == WF_TASK_MULTICLASS ? "multiclass"
                                                          : "multilabel",
                          n_cls);
    if (!(probs = olive_malloc((n ? n : 1) * k * sizeof *probs)) ||
        !(items = olive_calloc(n * n_cls + 1, sizeof *items)) || !(res = olive_calloc(n_cls, sizeof *res)) ||
        !(weights = olive_calloc(n_cls, sizeof *weights))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    if (o->task == WF_TASK_BINARY) {
        /* Olive: two logits per row become the softmax probability of class 1. */
        for (size_t i = 0; i < n; i++) {
            float two[2];
            if (k == 2)
                softmax_row(two, scores + 2 * i, 2);
            probs[i] = k == 2 ? two[1] : scores[i];
        }
        for (size_t i = 0; i < n && rc == OLIVE_OK; i++)
            if (!ignored(o, target[i]))
                rc = check_target(target[i], i, 2, "binary labels 0 and 1");
        if (rc != OLIVE_OK)
            goto out;
        {
            int unit = 1;
            for (size_t i = 0; i < n; i++)
                if (!ignored(o, target[i]) && !(probs[i] >= 0.0f && probs[i] <= 1.0f))
                    unit = 0;
            for (size_t i = 0; i < n; i++)
                if (!ignored(o, target[i]))
                    items[m++] = (scored){unit ? probs[i] : sigmoid(probs[i]), target[i] == 1};
        }
        out[0] = binary_auc(items, m);
        *n_out = 1;
    } else if (o->task == WF_TASK_MULTICLASS) {
        size_t kept = 0;
        int unit;
        for (size_t i = 0; i < n && rc == OLIVE_OK; i++)
            if (!ignored(o, target[i])) {
                rc = check_target(target[i], i, (int64_t)n_cls, "classes");
                memcpy(probs + kept * k, scores + i * k, k * sizeof *probs);
                kept++;
            }
        if (rc != OLIVE_OK)
            goto out;
        unit = in_unit_range(probs, kept * k);
        if (!unit)
            for (size_t i = 0; i < kept; i++)
                softmax_row(probs + i * k, probs + i * k, k);
        for (size_t j = 0; j < n_cls; j++) {
            m = 0;
            for (size_t i = 0, r = 0; i < n; i++)
                if (!ignored(o, target[i])) {
                    items[m++] = (scored){probs[r * k + j], target[i] == (int64_t)j};
                    weights[j] += target[i] == (int64_t)j;
                    r++;
                }
            res[j] = binary_auc(items, m);
        }
        rc = reduce(out, cap, n_out, o->average, res, weights, n_cls);
    } else {
        int unit;
        memcpy(probs, scores, n * k * sizeof *probs);
        unit = in_unit_range(probs, n * k);
        for (size_t i = 0; i < n * k && !unit; i++)
            probs[i] = sigmoid(probs[i]);
        for (size_t i = 0; i < n * k && rc == OLIVE_OK; i++)
            if (!ignored(o, target[i]))
                rc = check_target(target[i], i / k, 2, "binary labels 0 and 1");
        if (rc != OLIVE_OK)
            goto out;
        if (o->average == WF_AVG_MICRO) {
            m = 0;
            for (size_t i = 0; i < n * k; i++)
                if (!ignored(o, target[i]))
                    items[m++] = (scored){probs[i], target[i] == 1};
            out[0] = binary_auc(items, m);
            *n_out = 1;
        } else {
            for (size_t j = 0; j < n_cls; j++) {
                m = 0;
                for (size_t i = 0; i < n; i++)
                    if (!ignored(o, target[i * k + j])) {
                        items[m++] = (scored){probs[i * k + j], target[i * k + j] == 1};
                        weights[j] += target[i * k + j] == 1;
                    }
                res[j] = binary_auc(items, m);
            }
            rc = reduce(out, cap, n_out, o->average, res, weights, n_cls);
        }
    }
out:
    free(probs);
    free(items);
    free(res);
    free(weights);
    return rc;
}
