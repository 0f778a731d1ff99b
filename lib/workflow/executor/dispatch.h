/* Sends candidates of a search to the workflow's executor (worker processes or a Slurm job
 * array): one self-contained job description per candidate (the workflow config with that
 * candidate's point, the shared cache_dir, no output), written into a job folder under the
 * cache, then the batch run to its end. */
#ifndef OLIVE_WORKFLOW_EXECUTOR_DISPATCH_H
#define OLIVE_WORKFLOW_EXECUTOR_DISPATCH_H

#include <stddef.h>

#include "core/sha256.h"
#include "workflow/cache.h"
#include "workflow/workflow.h"

typedef struct wf_job {
    const size_t *point; /* one index per space parameter (borrowed) */
    size_t n_point;
    const char *point_text;          /* the point as the search describes it (borrowed) */
    size_t candidate;                /* its index in the search */
    char eval_key[OLIVE_SHA256_HEX]; /* the cache key its evaluation is stored under */
    char *error;                     /* after the batch: why its task still failed (owned), or NULL */
} wf_job;

/* Runs `jobs` through w->executor with the olive command `cli`; `cache` is the run's cache,
 * which the tasks share: a task counts as done once its evaluation is there and verified. A job whose task still fails after max_retries gets its error; that is no
 * error of the dispatch. Errors: OLIVE_ECANCELLED (the tasks were stopped: scancel for Slurm),
 * those of the executor's commands (sbatch missing or refusing: named), OLIVE_EIO writing the
 * job folder, OLIVE_ENOMEM. */
int wf_dispatch(olive_workflow *w, const wf_cache *cache, const char *cli, wf_job *jobs, size_t n);

/* 1 when an evaluator metric measures time (latency, throughput), or a pass does
 * (OLIVE_PASS_MEASURES_TIME): such candidates must not share a machine while they are measured. */
int wf_evaluator_measures_time(const olive_workflow *w);

#endif
