/* Executors: where the candidates of a search are built and evaluated.
 *
 * - local: in this process, one candidate after another (the default); with max_parallel N > 1,
 *   up to N worker processes of the olive command, each running one candidate.
 * - slurm: every candidate a task of one Slurm job array (sbatch --array), each task running the
 *   olive command on its candidate and writing into the shared cache.
 * - task: what a worker process or a Slurm task runs: the one candidate its config names.
 *
 * Whatever the executor, the driver then walks the search as before and finds every step and
 * evaluation in the cache, so footprints, frontier and output are those of a local run. */
#ifndef OLIVE_WORKFLOW_EXECUTOR_EXECUTOR_H
#define OLIVE_WORKFLOW_EXECUTOR_EXECUTOR_H

#include <stddef.h>

#include <jansson.h>

typedef enum { WF_EXEC_LOCAL, WF_EXEC_SLURM, WF_EXEC_TASK } wf_exec_type;

typedef struct wf_executor {
    wf_exec_type type;
    size_t max_parallel;    /* 0: not set (local: 1; slurm: no limit) */
    size_t max_retries;     /* attempts after the first for a failing task */
    char *partition, *gres; /* slurm, or NULL */
    size_t max_array_size;  /* slurm: tasks per array (0: WF_EXEC_ARRAY_MAX) */
    char **sbatch_args;     /* slurm: passed to sbatch as given (owned) */
    size_t n_sbatch_args;
    /* task: the point (one index per space parameter), its text and the candidate's index */
    size_t *point;
    size_t n_point;
    char *point_text;
    size_t candidate;
} wf_executor;

#define WF_EXEC_DEFAULT_RETRIES 1
/* Array indices stay below Slurm's default MaxArraySize (1001). */
#define WF_EXEC_ARRAY_MAX 1000

/* Reads engine.executor (`v` may be NULL: local). Unknown keys and types are errors
 * (OLIVE_EINVALID naming `where` and the key), whatever the strict setting: a run sent to the
 * wrong place is worse than a refused config. */
int wf_executor_parse(wf_executor *e, const json_t *v, const char *where);
/* Sets the type by name ("local", "slurm"). Errors: OLIVE_EINVALID naming `where`. */
int wf_executor_set_type(wf_executor *e, const char *name, const char *where);
const char *wf_executor_type_name(wf_exec_type t);
void wf_executor_clear(wf_executor *e);

#endif
