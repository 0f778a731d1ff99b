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

/* `depth` of a candidate that ran every pass (every level of a pass-by-pass search). */
#define WS_EVERY_LEVEL ((size_t)-1)

/* Evaluates the candidate of point `idx` (n params), built by the passes of levels 0..depth
 * only, or by every pass when depth is WS_EVERY_LEVEL (parameters of later levels are then not
 * used). On success *results receives {"<metric>-<sub>": {"value": v, ...}} (owned by the
 * loop). Return OLIVE_ECANCELLED to stop the search (the candidates finished so far are kept);
 * any other error marks this candidate failed (its message is recorded) and the search goes
 * on. `index` is the candidate's position in the result. */
typedef int (*ws_evaluate_fn)(json_t **results, const size_t *idx, size_t depth, size_t index, void *user);

typedef struct ws_candidate {
    size_t *idx;  /* the point (owned) */
    size_t depth; /* the last level it ran, or WS_EVERY_LEVEL */
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

/* Olive's pass-by-pass search: level k is the parameters with level_of[p] == k (n_levels
 * levels, every parameter's parents on its own level). Every point of level 0 is evaluated
 * (the model after level 0's passes), then the best of them, in priority order among those
 * meeting the goals (all of them when none does), is kept and level 1 is searched from it, and
 * so on to the last level, whose candidates ran every pass. When the last level is done, the
 * previous level's next best is taken and the last level searched again from it, until that
 * level has no result left (Olive 0.13's walk). Each level's sampler starts from `st->seed`
 * and stops after max_samples points; max_iter and max_time count over the whole walk. The best
 * and the frontier are chosen among the candidates that ran every pass. Errors: those of
 * ws_search_run, and OLIVE_EINVALID when a parameter's parent is on another level. */
int ws_search_run_levels(ws_result *res, const ws_space *space, const size_t *level_of, size_t n_levels,
                         const ws_strategy *st, const ws_objectives *o, const double *baseline, ws_evaluate_fn fn,
                         void *user);
void ws_result_clear(ws_result *res);

/* The loop's state shared by both walks (internal to lib/workflow/search). */
typedef struct ws_search_loop {
    ws_result *res;
    size_t cap; /* slots allocated in res->cands */
    const ws_space *space;
    const ws_strategy *st;
    const ws_objectives *o;
    const double *baseline;
    ws_evaluate_fn fn;
    void *user;
    double t0;
    int stop; /* cancelled, or a limit or stop_when_goals_met reached */
} ws_search_loop;

struct ws_sampler;
void ws_search_loop_init(ws_search_loop *l, ws_result *res, const ws_space *space, const ws_strategy *st,
                         const ws_objectives *o, const double *baseline, ws_evaluate_fn fn, void *user);
/* Evaluates the full point `idx` (the sampler proposed `sub_idx` of its own space), records the
 * candidate, tells the sampler, and sets l->stop on cancellation or a limit. Errors:
 * OLIVE_ENOMEM, or an objective the results lack. */
int ws_search_record(ws_search_loop *l, struct ws_sampler *smp, const size_t *sub_idx, const size_t *idx, size_t depth);
/* Chooses the best and marks the frontier. Errors: OLIVE_ENOMEM. */
int ws_search_finish(ws_result *res, const ws_objectives *o);

#endif
