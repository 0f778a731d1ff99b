/* Objectives of a search: the evaluator's ranked sub-metrics (priority > 0) with their
 * direction and goal, as Olive reads them.
 *
 * Goals compare a candidate with the input model's value ("baseline", evaluated first):
 *   threshold                  higher is better: v >= goal; else v <= goal
 *   min-improvement            improvement (v - base, sign by direction) >= goal
 *   percent-min-improvement    improvement / |base| * 100 >= goal
 *   max-degradation            degradation (base - v, sign by direction) <= goal
 *   percent-max-degradation    degradation / |base| * 100 <= goal
 * A candidate that misses a goal is pruned. The best candidate is chosen by priority order
 * (the priority-1 objective first, ties broken by the next); the Pareto frontier holds every
 * candidate no other candidate dominates (at least as good in every objective, better in
 * one). */
#ifndef OLIVE_WORKFLOW_SEARCH_OBJECTIVES_H
#define OLIVE_WORKFLOW_SEARCH_OBJECTIVES_H

#include <stddef.h>

#include <jansson.h>

#include "workflow/evaluator.h"

typedef struct ws_objective {
    char *key; /* "<metric>-<sub_type>", the key of evaluation results */
    int priority;
    int higher_is_better;
    char *goal_type; /* NULL: no goal */
    double goal_value;
} ws_objective;

typedef struct ws_objectives {
    size_t n;
    size_t n_ranked;     /* the first n_ranked items (priority > 0) make the scores */
    ws_objective *items; /* ranked ones by priority, then sub-metrics that only have a goal */
} ws_objectives;

/* The ranked sub-metrics of `e`, by priority, then the unranked ones with a goal. Errors: OLIVE_EINVALID when two share a
 * priority; OLIVE_ENOMEM. No ranked sub-metric gives zero objectives (not an error). */
int ws_objectives_from_evaluator(ws_objectives *out, const wf_evaluator *e);
/* Appends one objective (for tests and commands with fixed objectives). */
int ws_objectives_add(ws_objectives *o, const char *key, int priority, int higher_is_better, const char *goal_type,
                      double goal_value);
void ws_objectives_clear(ws_objectives *o);

/* Checks every goal type and that every goal's metric has a value in `baseline` when the goal
 * is relative. Errors: OLIVE_EINVALID naming the goal. */
int ws_objectives_check_goals(const ws_objectives *o, const json_t *baseline);

/* Values of the objectives in `results` ({"key": {"value": v}}) into v[o->n]. Errors:
 * OLIVE_ENOTFOUND naming a key the results lack. */
int ws_objectives_values(double *v, const ws_objectives *o, const json_t *results);
/* 1 when values meet every goal (baseline values b, which may be NULL for no baseline). */
int ws_goals_met(const ws_objectives *o, const double *v, const double *b);
/* The ranked values turned into scores (n_ranked) where lower is better (sign flipped for
 * higher_is_better). */
void ws_objectives_scores(double *scores, const ws_objectives *o, const double *v);

/* 1 when a dominates b (n values each, scores: lower is better). */
int ws_dominates(const double *a, const double *b, size_t n);
/* Marks on_front[i] = 1 for the candidates (n_cand rows of n scores, those with valid[i]) on
 * the Pareto frontier; returns how many. */
size_t ws_pareto_front(unsigned char *on_front, const double *scores, const unsigned char *valid, size_t n_cand,
                       size_t n);
/* The best valid candidate by priority order (lexicographic on scores, first wins a tie);
 * SIZE_MAX when none is valid. */
size_t ws_best(const double *scores, const unsigned char *valid, size_t n_cand, size_t n);

#endif
