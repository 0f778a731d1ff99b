#include "workflow/search/objectives.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

static const char *const goal_types[] = {"threshold",       "min-improvement",         "percent-min-improvement",
                                         "max-degradation", "percent-max-degradation", NULL};

void ws_objectives_clear(ws_objectives *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->items[i].key);
        free(o->items[i].goal_type);
    }
    free(o->items);
    memset(o, 0, sizeof *o);
}

int ws_objectives_add(ws_objectives *o, const char *key, int priority, int higher_is_better, const char *goal_type,
                      double goal_value)
{
    ws_objective *grown, it = {0};
    size_t at;
    if (priority > 0)
        for (size_t i = 0; i < o->n_ranked; i++)
            if (o->items[i].priority == priority)
                return olive_fail(OLIVE_EINVALID, "metrics: '%s' and '%s' both have priority %d", o->items[i].key, key,
                                  priority);
    if (!(grown = olive_reallocarray(o->items, o->n + 1, sizeof *grown)))
        return OLIVE_ENOMEM;
    o->items = grown;
    it.key = olive_strdup(key);
    it.goal_type = goal_type ? olive_strdup(goal_type) : NULL;
    if (!it.key || (goal_type && !it.goal_type)) {
        free(it.key);
        free(it.goal_type);
        return OLIVE_ENOMEM;
    }
    it.priority = priority;
    it.higher_is_better = higher_is_better;
    it.goal_value = goal_value;
    /* Ranked objectives stay sorted by priority ahead of goal-only ones. */
    at = o->n;
    if (priority > 0) {
        for (at = 0; at < o->n_ranked && o->items[at].priority < priority; at++)
            ;
        o->n_ranked++;
    }
    memmove(&o->items[at + 1], &o->items[at], (o->n - at) * sizeof *o->items);
    o->items[at] = it;
    o->n++;
    return OLIVE_OK;
}

int ws_objectives_from_evaluator(ws_objectives *out, const wf_evaluator *e)
{
    ws_objectives o = {0};
    for (size_t i = 0; e && i < e->n_metrics; i++)
        for (size_t j = 0; j < e->metrics[i].n_subs; j++) {
            const wf_sub_metric *sub = &e->metrics[i].subs[j];
            char key[512];
            int rc;
            if (sub->priority <= 0 && !sub->goal_type)
                continue;
            snprintf(key, sizeof key, "%s-%s", e->metrics[i].name, sub->name);
            if ((rc = ws_objectives_add(&o, key, sub->priority, sub->higher_is_better, sub->goal_type,
                                        sub->goal_value)) != OLIVE_OK) {
                ws_objectives_clear(&o);
                return rc;
            }
        }
    *out = o;
    return OLIVE_OK;
}

int ws_objectives_check_goals(const ws_objectives *o, const json_t *baseline)
{
    for (size_t i = 0; i < o->n; i++) {
        const ws_objective *it = &o->items[i];
        int known = 0;
        if (!it->goal_type)
            continue;
        for (size_t k = 0; goal_types[k]; k++)
            known |= !strcmp(goal_types[k], it->goal_type);
        if (!known)
            return olive_fail(OLIVE_EINVALID, "goal of '%s': unknown type '%s'", it->key, it->goal_type);
        if (strcmp(it->goal_type, "threshold") && baseline &&
            !json_is_number(json_object_get(json_object_get(baseline, it->key), "value")))
            return olive_fail(OLIVE_EINVALID,
                              "goal of '%s': %s needs the input model's value, which its evaluation lacks", it->key,
                              it->goal_type);
    }
    return OLIVE_OK;
}

int ws_objectives_values(double *v, const ws_objectives *o, const json_t *results)
{
    for (size_t i = 0; i < o->n; i++) {
        const json_t *x = json_object_get(json_object_get(results, o->items[i].key), "value");
        if (!json_is_number(x))
            return olive_fail(OLIVE_ENOTFOUND, "objective '%s': no evaluator computes this metric", o->items[i].key);
        v[i] = json_number_value(x);
    }
    return OLIVE_OK;
}

static int goal_met(const ws_objective *it, double v, const double *b)
{
    double g = it->goal_value, sign = it->higher_is_better ? 1 : -1, base;
    if (!it->goal_type)
        return 1;
    if (!strcmp(it->goal_type, "threshold"))
        return it->higher_is_better ? v >= g : v <= g;
    if (!b)
        return 1; /* relative goals need the input model's value */
    base = *b;
    if (!strcmp(it->goal_type, "min-improvement"))
        return sign * (v - base) >= g;
    if (!strcmp(it->goal_type, "max-degradation"))
        return sign * (base - v) <= g;
    if (!strcmp(it->goal_type, "percent-min-improvement"))
        return base != 0 && sign * (v - base) / fabs(base) * 100 >= g;
    if (!strcmp(it->goal_type, "percent-max-degradation"))
        return base == 0 || sign * (base - v) / fabs(base) * 100 <= g;
    return 0;
}

int ws_goals_met(const ws_objectives *o, const double *v, const double *b)
{
    for (size_t i = 0; i < o->n; i++)
        if (!goal_met(&o->items[i], v[i], b ? &b[i] : NULL))
            return 0;
    return 1;
}

void ws_objectives_scores(double *scores, const ws_objectives *o, const double *v)
{
    for (size_t i = 0; i < o->n_ranked; i++)
        scores[i] = o->items[i].higher_is_better ? -v[i] : v[i];
}

int ws_dominates(const double *a, const double *b, size_t n)
{
    int better = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] > b[i])
            return 0;
        better |= a[i] < b[i];
    }
    return better;
}

size_t ws_pareto_front(unsigned char *on_front, const double *scores, const unsigned char *valid, size_t n_cand,
                       size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n_cand; i++) {
        on_front[i] = valid[i];
        for (size_t j = 0; j < n_cand && on_front[i]; j++)
            if (j != i && valid[j] && ws_dominates(&scores[j * n], &scores[i * n], n))
                on_front[i] = 0;
        count += on_front[i];
    }
    return count;
}

size_t ws_best(const double *scores, const unsigned char *valid, size_t n_cand, size_t n)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < n_cand; i++) {
        size_t k;
        if (!valid[i])
            continue;
        if (best == SIZE_MAX) {
            best = i;
            continue;
        }
        for (k = 0; k < n && scores[i * n + k] == scores[best * n + k]; k++)
            ;
        if (k < n && scores[i * n + k] < scores[best * n + k])
            best = i;
    }
    return best;
}
