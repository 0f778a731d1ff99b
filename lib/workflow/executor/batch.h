/* A batch of candidate tasks sent to a backend (worker processes, a Slurm job array): the
 * driver starts them, polls them, retries the failed ones up to max_retries, prints progress
 * (done / running / pending / failed) and cancels them when the run is cancelled. Task i runs
 * the job description <dir>/task-<i>.json. */
#ifndef OLIVE_WORKFLOW_EXECUTOR_BATCH_H
#define OLIVE_WORKFLOW_EXECUTOR_BATCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include "workflow/executor/executor.h"

typedef enum { WF_TASK_WAITING, WF_TASK_PENDING, WF_TASK_RUNNING, WF_TASK_DONE, WF_TASK_FAILED } wf_task_state;

typedef struct wf_exec_task {
    wf_task_state state;
    size_t attempts;
    char job[64]; /* the backend's name of the current attempt: "1234_3", "pid 5678" */
    char *error;  /* why the last attempt failed (owned), or NULL */
    pid_t pid;    /* worker processes */
} wf_exec_task;

typedef struct wf_backend wf_backend;
struct wf_backend {
    const char *name;
    const wf_executor *e;
    const char *dir;     /* the batch's job folder */
    const char *cli;     /* the olive command */
    size_t max_inflight; /* the driver starts at most this many at once (0: every task at once) */
    int exclusive;       /* slurm: each task takes a whole node (timing metrics) */
    long max_poll_ms;    /* polls slow down to this while nothing changes (0: never) */
    char **arrays;       /* slurm: the job arrays submitted (owned) */
    size_t n_arrays;
    /* Starts an attempt of each task in `which`. */
    int (*start)(wf_backend *b, wf_exec_task *tasks, const size_t *which, size_t n);
    /* Moves started tasks on: RUNNING, DONE (the task exited 0) or FAILED (error set). */
    int (*poll)(wf_backend *b, wf_exec_task *tasks, size_t n);
    /* Stops every started task and waits until they are gone. */
    void (*cancel)(wf_backend *b, wf_exec_task *tasks, size_t n);
};

/* 1 when task i's result is in the cache (a task that exited 0 without it has failed). */
typedef int (*wf_task_check_fn)(size_t i, void *user);

/* Runs the batch to its end. Tasks that still fail after max_retries keep WF_TASK_FAILED and
 * their error; that is no error of the batch. Errors: OLIVE_ECANCELLED (every task stopped),
 * the backend's errors (sbatch missing or refusing the array: named). */
int wf_batch_run(wf_backend *b, wf_exec_task *tasks, size_t n, atomic_int *cancelled, wf_task_check_fn check,
                 void *user);

/* The backends; their state lives in `b`. */
void wf_backend_procs(wf_backend *b);
void wf_backend_slurm(wf_backend *b);
void wf_backend_clear(wf_backend *b);

/* Sets task->error (owned) to the printf text. */
void wf_task_fail(wf_exec_task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last lines of a task's log file, for its error message (owned; NULL when none). */
char *wf_task_log_tail(const char *path);

#endif
