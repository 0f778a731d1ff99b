/* The search loop: propose a point, have it evaluated, prune it when it misses a goal, tell the
 * sampler, stop on a limit; then the best candidate by priority order and the Pareto frontier.
 *
 * The loop knows nothing of models: a callback builds and evaluates the candidate of a point
 * and returns its metric results (Olive's MetricResult form), so the workflow runs passes and
 * ONNX Runtime sessions, and tests pass a fake. */
#ifndef OLIVE_WORKFLOW_SEARCH_SEARCH_H
#define OLIVE_WORKFLOW_SEARCH_SEARCH_H

#include <stddef.h>

#include <jansson.h>

#include "workflow/search/objectives.h"
#include "workflow/search/space.h"
#include "workflow/search/strategy.h"

typedef enum { WS_CAND_OK, WS_CAND_PRUNED, WS_CAND_FAILED } ws_cand_state;

/* Evaluates the candidate of point `idx` (n params). On success *results receives
 * {"<metric>-<sub>": {"value": v, ...}} (owned by the loop). Return OLIVE_ECANCELLED to stop
 * the search (the candidates finished so far are kept); any other error marks this candidate
 * failed (its message is recorded) and the search goes on. */
typedef int (*ws_evaluate_fn)(json_t **results, const size_t *idx, size_t index, void *user);

typedef struct ws_candidate {
    size_t *idx; /* the point (owned) */
    ws_cand_state state;
    json_t *results; /* owned; NULL when failed */
    double *values;  /* objectives' values (o->n), NULL when failed */
    char *error;     /* why it failed (owned), or NULL */
    int on_front;
} ws_candidate;

typedef struct ws_result {
    size_t n;
    ws_candidate *cands; /* in the order they were evaluated */
    size_t best;         /* SIZE_MAX when every candidate was pruned or failed */
    size_t n_front;
    int cancelled;
} ws_result;

/* Runs a search over `space` with `st` (sampler, seed, limits) and objectives `o`; `baseline`
 * (o->n values, may be NULL) are the input model's values for relative goals.
 * Errors: those of ws_sampler_new (empty or oversized space), OLIVE_EINVALID when an
 * objective is no metric the evaluation computed (named), OLIVE_ENOMEM. A cancelled search
 * returns OLIVE_OK with res->cancelled set. */
int ws_search_run(ws_result *res, const ws_space *space, const ws_strategy *st, const ws_objectives *o,
                  const double *baseline, ws_evaluate_fn fn, void *user);
void ws_result_clear(ws_result *res);

#endif
