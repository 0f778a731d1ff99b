/* The parts of a workflow run that the search shares with the plain run (workflow_run.c):
 * the run's state, one cached pass step and one evaluation. Internal to lib/workflow. */
#ifndef OLIVE_WORKFLOW_RUN_H
#define OLIVE_WORKFLOW_RUN_H

#include <jansson.h>

#include "workflow/cache.h"
#include "workflow/outputs.h"
#include "workflow/workflow.h"
#include "workflow/search/chart.h"

typedef struct run_ctx {
    olive_workflow *w;
    wf_cache cache;
    size_t step_index, step_count; /* across all candidates, for progress */
    uint64_t bytes_written;        /* pass results stored in the cache, then the output, for progress */
    wf_step *steps;
    size_t n_steps, cap_steps;
} run_ctx;

/* Runs `choice` (its pass as configured) of `slot` on `in` through the cache; the step is
 * appended to r->steps and *out is the stored result. */
int wf_run_step(run_ctx *r, const wf_slot *slot, const wf_choice *choice, const char *parent, const oir_model *in,
                oir_model **out);
/* The cache key of running pass `p` (as configured) on the model `parent`: the id wf_run_step
 * gives its step, computed without running anything. */
int wf_step_id(char out[OLIVE_SHA256_HEX], run_ctx *r, const olive_pass *p, const char *parent);
/* Evaluates the model file `path` with `e`, logging `what`. */
int wf_run_evaluate(json_t **out, olive_workflow *w, const wf_evaluator *e, const char *path, uint64_t size,
                    size_t index, size_t count, const char *what);

/* Checks once, before any pass runs, that the loaded ONNX Runtime has the target's execution
 * provider when some metric will need a session on it (target_provider.c). When it lacks it:
 * a search, or ranked metrics choosing among several candidates, is refused
 * (OLIVE_EUNSUPPORTED naming the provider, the library and the providers it has); otherwise
 * it warns once and sets w->unmeasured, and those metrics are recorded as not measured. */
int wf_check_target_provider(olive_workflow *w, int searching, size_t n_candidates);

/* The outcome of a search run (workflow_search.c). */
typedef struct wf_search_outcome {
    oir_model *best; /* the best candidate's model (owned), NULL when none met the goals */
    char best_id[OLIVE_SHA256_HEX];
    json_t *best_results; /* its metric results (owned) */
    json_t *candidates;   /* the summary's candidate list (owned) */
    json_t *frontier;     /* pareto_frontier_footprint.json (owned) */
    size_t best_index;
    ws_chart_point *chart; /* every evaluated candidate on the first two objectives (owned) */
    size_t n_chart;
    char *x_label, *y_label;             /* owned */
    char (*front_ids)[OLIVE_SHA256_HEX]; /* frontier models, best first by priority order (owned) */
    size_t n_front;
} wf_search_outcome;

/* Searches the workflow's space (slots with alternatives, searched parameters) with its
 * search_strategy; `baseline` (may be NULL) are the input model's results. Errors: those of
 * the space, objectives and evaluation; OLIVE_EINVALID when every candidate was pruned or
 * failed (the input model's metrics in the message); OLIVE_ECANCELLED. */
int wf_search_workflow(wf_search_outcome *out, run_ctx *r, const oir_model *input, const char *input_id,
                       const json_t *baseline);
void wf_search_outcome_clear(wf_search_outcome *o);
/* Runs the one candidate that the task executor names (w->executor.point) into the cache: its
 * steps and its evaluation, nothing else. Errors: OLIVE_EINVALID when the point is not one of
 * the workflow's space (a job description written for another config), the candidate's. */
int wf_search_task(run_ctx *r, const oir_model *input, const char *input_id);
/* 1 when the workflow searches (search_strategy on, or searched parameters). */
int wf_is_search(const olive_workflow *w);

#endif
