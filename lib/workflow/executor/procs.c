/* Worker processes on this machine: each task runs `olive run --config <dir>/task-<i>.json`,
 * its output in <dir>/task-<i>.log; at most max_parallel at once. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/executor/batch.h"
#include "workflow/executor/command.h"

static int procs_start(wf_backend *b, wf_exec_task *tasks, const size_t *which, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        wf_exec_task *t = &tasks[which[k]];
        char *config = olive_asprintf("%s/task-%zu.json", b->dir, which[k]);
        char *log = olive_asprintf("%s/task-%zu.log", b->dir, which[k]);
        char *argv[] = {(char *)b->cli, "run", "--config", config, NULL};
        int rc = config && log ? wf_command_start(&t->pid, argv, log) : OLIVE_ENOMEM;
        free(config);
        free(log);
        if (rc != OLIVE_OK)
            return rc;
        t->attempts++;
        t->state = WF_TASK_RUNNING;
        snprintf(t->job, sizeof t->job, "pid %ld", (long)t->pid);
        OLIVE_INFO("local: task %zu started as process %ld", which[k], (long)t->pid);
    }
    return OLIVE_OK;
}

static int procs_poll(wf_backend *b, wf_exec_task *tasks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        wf_exec_task *t = &tasks[i];
        int status;
        pid_t got;
        if (t->state != WF_TASK_RUNNING)
            continue;
        got = waitpid(t->pid, &status, WNOHANG);
        if (got == 0 || (got < 0 && errno == EINTR))
            continue;
        if (got < 0) {
            wf_task_fail(t, "local task %zu: cannot wait for process %ld: %s", i, (long)t->pid, strerror(errno));
            continue;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            t->state = WF_TASK_DONE;
            continue;
        }
        {
            char *log = olive_asprintf("%s/task-%zu.log", b->dir, i), *tail = log ? wf_task_log_tail(log) : NULL;
            if (WIFEXITED(status))
                wf_task_fail(t, "process exited with status %d (log %s)%s%s", WEXITSTATUS(status), log ? log : "?",
                             tail ? ": " : "", tail ? tail : "");
            else
                wf_task_fail(t, "process killed by signal %d (log %s)", WTERMSIG(status), log ? log : "?");
            free(log);
            free(tail);
        }
    }
    return OLIVE_OK;
}

static void procs_cancel(wf_backend *b, wf_exec_task *tasks, size_t n)
{
    (void)b;
    for (size_t i = 0; i < n; i++)
        if (tasks[i].state == WF_TASK_RUNNING)
            kill(tasks[i].pid, SIGTERM);
    for (size_t i = 0; i < n; i++) {
        int status;
        if (tasks[i].state != WF_TASK_RUNNING)
            continue;
        while (waitpid(tasks[i].pid, &status, 0) < 0 && errno == EINTR)
            ;
        wf_task_fail(&tasks[i], "cancelled");
    }
}

void wf_backend_procs(wf_backend *b)
{
    b->name = "local";
    b->start = procs_start;
    b->poll = procs_poll;
    b->cancel = procs_cancel;
    b->max_inflight = b->e->max_parallel ? b->e->max_parallel : 1;
}
