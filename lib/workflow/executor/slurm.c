/* Slurm: the tasks go out as one job array (sbatch --array=<indices>%<max_parallel>); each
 * array task runs <dir>/task.sh, which runs the olive command on <dir>/task-$SLURM_ARRAY_TASK_ID.json.
 * squeue (every state, one line per array task) tells how they move; a retry resubmits only the
 * failed indices as a new array; cancelling runs scancel on every array submitted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "workflow/executor/batch.h"
#include "workflow/executor/command.h"

#define SLURM_HINT "install Slurm's client commands (Debian: slurm-client) or use --executor local"

/* 'text' for a POSIX shell, single quotes escaped. */
static void shell_quote(olive_strbuf *b, const char *text)
{
    olive_strbuf_append(b, "'");
    for (const char *p = text; *p; p++)
        olive_strbuf_append(b, *p == '\'' ? "'\\''" : (char[]){*p, 0});
    olive_strbuf_append(b, "'");
}

static int write_script(const wf_backend *b, char **path)
{
    olive_strbuf s = {0};
    char *text;
    int rc;
    if (!(*path = olive_asprintf("%s/task.sh", b->dir)))
        return OLIVE_ENOMEM;
    if (access(*path, F_OK) == 0)
        return OLIVE_OK;
    olive_strbuf_append(&s, "#!/bin/sh\n# One candidate of a libolive search per array task.\nexec ");
    shell_quote(&s, b->cli);
    olive_strbuf_append(&s, " run --config ");
    shell_quote(&s, b->dir);
    olive_strbuf_append(&s, "/task-\"$SLURM_ARRAY_TASK_ID\".json\n");
    if (!(text = olive_strbuf_take(&s)))
        return OLIVE_ENOMEM;
    rc = olive_write_file(*path, text, strlen(text));
    free(text);
    return rc;
}

/* "0-3,5,7-8" */
static char *index_list(const size_t *which, size_t n)
{
    olive_strbuf b = {0};
    for (size_t k = 0; k < n;) {
        size_t e = k;
        while (e + 1 < n && which[e + 1] == which[e] + 1)
            e++;
        if (e > k)
            olive_strbuf_printf(&b, "%s%zu-%zu", k ? "," : "", which[k], which[e]);
        else
            olive_strbuf_printf(&b, "%s%zu", k ? "," : "", which[k]);
        k = e + 1;
    }
    return olive_strbuf_take(&b);
}

static int slurm_start(wf_backend *b, wf_exec_task *tasks, const size_t *which, size_t n)
{
    char *script = NULL, *list = index_list(which, n), *array = NULL, *out = NULL, *err = NULL, *chdir_arg = NULL,
         *part = NULL, *gres = NULL, *id_text = NULL, cwd[4096];
    char **argv = olive_calloc(16 + b->e->n_sbatch_args, sizeof *argv), **grown;
    size_t a = 0;
    int rc;
    if (!list || !argv || !getcwd(cwd, sizeof cwd)) {
        rc = list && argv ? olive_fail(OLIVE_EIO, "slurm: cannot read the current folder") : OLIVE_ENOMEM;
        goto out;
    }
    if ((rc = write_script(b, &script)) != OLIVE_OK)
        goto out;
    array = b->e->max_parallel ? olive_asprintf("--array=%s%%%zu", list, b->e->max_parallel)
                               : olive_asprintf("--array=%s", list);
    out = olive_asprintf("--output=%s/task-%%a.%%A.out", b->dir);
    err = olive_asprintf("--error=%s/task-%%a.%%A.err", b->dir);
    chdir_arg = olive_asprintf("--chdir=%s", cwd);
    if (!array || !out || !err || !chdir_arg) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    argv[a++] = "sbatch";
    argv[a++] = "--parsable";
    argv[a++] = "--job-name=olive-search";
    argv[a++] = array;
    argv[a++] = out;
    argv[a++] = err;
    argv[a++] = chdir_arg;
    if (b->e->partition && (argv[a++] = part = olive_asprintf("--partition=%s", b->e->partition)) == NULL)
        rc = OLIVE_ENOMEM;
    if (b->e->gres && (argv[a++] = gres = olive_asprintf("--gres=%s", b->e->gres)) == NULL)
        rc = OLIVE_ENOMEM;
    if (b->exclusive)
        argv[a++] = "--exclusive";
    for (size_t i = 0; i < b->e->n_sbatch_args; i++)
        argv[a++] = b->e->sbatch_args[i];
    argv[a++] = script;
    argv[a] = NULL;
    if (rc != OLIVE_OK)
        goto out;
    if ((rc = wf_command_run(&id_text, argv, SLURM_HINT)) != OLIVE_OK) {
        olive_fail_context(rc, "slurm: submitting the job array of %zu task%s", n, n == 1 ? "" : "s");
        goto out;
    }
    /* --parsable prints "<job id>" or "<job id>;<cluster>" */
    id_text[strcspn(id_text, ";\n ")] = '\0';
    if (!id_text[0] || strspn(id_text, "0123456789") != strlen(id_text)) {
        rc = olive_fail(OLIVE_EIO, "slurm: sbatch --parsable printed no job id");
        goto out;
    }
    if (!(grown = olive_reallocarray(b->arrays, b->n_arrays + 1, sizeof *grown))) {
        rc = OLIVE_ENOMEM;
        goto out;
    }
    b->arrays = grown;
    b->arrays[b->n_arrays++] = id_text;
    for (size_t k = 0; k < n; k++) {
        wf_exec_task *t = &tasks[which[k]];
        t->attempts++;
        t->state = WF_TASK_PENDING;
        snprintf(t->job, sizeof t->job, "%s_%zu", id_text, which[k]);
    }
    OLIVE_INFO("slurm: submitted job array %s (tasks %s%s%s), job folder %s", id_text, list,
               b->e->max_parallel ? ", at most " : "", b->e->max_parallel ? strchr(array, '%') + 1 : "", b->dir);
    id_text = NULL;
out:
    free(script);
    free(list);
    free(array);
    free(out);
    free(err);
    free(chdir_arg);
    free(part);
    free(gres);
    free(id_text);
    free(argv);
    return rc;
}

/* squeue for every array submitted, one "array|index|STATE" line per task, every state. */
static int squeue_lines(wf_backend *b, char **out)
{
    olive_strbuf ids = {0};
    char *list, *jobs;
    int rc;
    for (size_t i = 0; i < b->n_arrays; i++)
        olive_strbuf_printf(&ids, "%s%s", i ? "," : "", b->arrays[i]);
    if (!(list = olive_strbuf_take(&ids)))
        return OLIVE_ENOMEM;
    jobs = olive_asprintf("--jobs=%s", list);
    free(list);
    if (!jobs)
        return OLIVE_ENOMEM;
    char *argv[] = {"squeue", "--noheader", "--array", "--states=all", jobs, "--format=%F|%K|%T", NULL};
    rc = wf_command_run(out, argv, SLURM_HINT);
    free(jobs);
    if (rc == OLIVE_EIO && strstr(olive_error_last(), "Invalid job id")) {
        /* every array has left slurmctld's memory: nothing is listed */
        olive_error_clear();
        return (*out = olive_strdup("")) ? OLIVE_OK : OLIVE_ENOMEM;
    }
    return rc;
}

static int is_active(const char *st)
{
    return !strcmp(st, "PENDING") || !strcmp(st, "RUNNING") || !strcmp(st, "CONFIGURING") ||
           !strcmp(st, "COMPLETING") || !strcmp(st, "SUSPENDED") || !strcmp(st, "REQUEUED") ||
           !strcmp(st, "RESIZING") || !strcmp(st, "SIGNALING") || !strcmp(st, "STAGE_OUT");
}

/* The final state of a task from sacct; DONE (checked against the cache by the driver) when
 * the cluster keeps no accounting. */
static void sacct_state(const wf_backend *b, wf_exec_task *t, size_t i)
{
    char *jobs = olive_asprintf("--jobs=%s", t->job), *text = NULL;
    char *argv[] = {"sacct", "--noheader", "--parsable2", "--allocations", jobs, "--format=JobID,State", NULL};
    t->state = WF_TASK_DONE;
    if (!jobs)
        return;
    if (wf_command_run(&text, argv, NULL) != OLIVE_OK) {
        olive_error_clear();
        free(jobs);
        return;
    }
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *bar = strchr(line, '|'), *sp;
        if (!bar)
            continue;
        *bar = '\0';
        if (strcmp(line, t->job))
            continue;
        if ((sp = strchr(bar + 1, ' '))) /* "CANCELLED by 0" */
            *sp = '\0';
        if (strcmp(bar + 1, "COMPLETED") && !is_active(bar + 1))
            wf_task_fail(t, "slurm task %s ended %s (sacct; stderr in %s/task-%zu.*.err)", t->job, bar + 1, b->dir, i);
        break;
    }
    free(text);
    free(jobs);
}

static int slurm_poll(wf_backend *b, wf_exec_task *tasks, size_t n)
{
    char *text = NULL, *save = NULL;
    unsigned char *listed = olive_calloc(n + 1, 1);
    int rc;
    if (!listed)
        return OLIVE_ENOMEM;
    if ((rc = squeue_lines(b, &text)) != OLIVE_OK) {
        free(listed);
        return olive_fail_context(rc, "slurm: polling the job arrays");
    }
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char job[64], *bar1 = strchr(line, '|'), *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL, *end;
        size_t i;
        if (!bar2)
            continue;
        *bar1 = *bar2 = '\0';
        i = strtoul(bar1 + 1, &end, 10);
        if (*end || i >= n)
            continue;
        snprintf(job, sizeof job, "%s_%zu", line, i);
        wf_exec_task *t = &tasks[i];
        if (strcmp(t->job, job) || (t->state != WF_TASK_PENDING && t->state != WF_TASK_RUNNING))
            continue; /* an earlier attempt's record */
        listed[i] = 1;
        const char *st = bar2 + 1;
        if (!strcmp(st, "PENDING") || !strcmp(st, "CONFIGURING") || !strcmp(st, "REQUEUED"))
            t->state = WF_TASK_PENDING;
        else if (is_active(st))
            t->state = WF_TASK_RUNNING;
        else if (!strcmp(st, "COMPLETED"))
            t->state = WF_TASK_DONE;
        else {
            char *err = olive_asprintf("%s/task-%zu.%s.err", b->dir, i, line),
                 *tail = err ? wf_task_log_tail(err) : NULL;
            wf_task_fail(t, "slurm task %s ended %s (stderr %s)%s%s", job, st, err ? err : "?", tail ? ": " : "",
                         tail ? tail : "");
            free(err);
            free(tail);
        }
    }
    /* A task no longer listed has left slurmctld's memory (MinJobAge): accounting knows how it
     * ended where the cluster keeps it; else the cache tells whether it worked. */
    for (size_t i = 0; i < n; i++)
        if (!listed[i] && (tasks[i].state == WF_TASK_PENDING || tasks[i].state == WF_TASK_RUNNING))
            sacct_state(b, &tasks[i], i);
    free(listed);
    free(text);
    return OLIVE_OK;
}

static void slurm_cancel(wf_backend *b, wf_exec_task *tasks, size_t n)
{
    char **argv = olive_calloc(b->n_arrays + 2, sizeof *argv);
    if (!argv || !b->n_arrays) {
        free(argv);
        return;
    }
    argv[0] = "scancel";
    for (size_t i = 0; i < b->n_arrays; i++)
        argv[i + 1] = b->arrays[i];
    if (wf_command_run(NULL, argv, SLURM_HINT) != OLIVE_OK)
        OLIVE_WARN("slurm: %s", olive_error_last());
    else
        OLIVE_INFO("slurm: cancelled job array%s %s%s (scancel)", b->n_arrays > 1 ? "s" : "", b->arrays[0],
                   b->n_arrays > 1 ? " and later retries" : "");
    free(argv);
    /* Wait until Slurm has stopped them, so no task writes into the cache after the run returns. */
    for (int round = 0; round < 120; round++) {
        char *text = NULL, *save = NULL;
        int active = 0;
        if (squeue_lines(b, &text) != OLIVE_OK) {
            olive_error_clear();
            break;
        }
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *bar = strrchr(line, '|');
            active |= bar && is_active(bar + 1);
        }
        free(text);
        if (!active)
            break;
        struct timespec ts = {0, 500000000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n; i++)
        if (tasks[i].state == WF_TASK_PENDING || tasks[i].state == WF_TASK_RUNNING)
            wf_task_fail(&tasks[i], "cancelled");
}

void wf_backend_slurm(wf_backend *b)
{
    b->name = "slurm";
    b->start = slurm_start;
    b->poll = slurm_poll;
    b->cancel = slurm_cancel;
    b->max_inflight = 0; /* the array's %max_parallel throttles */
    b->max_poll_ms = 5000;
}
