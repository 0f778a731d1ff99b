#include "workflow/executor/batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"

#define POLL_MS 500
#define POLL_TRIES 5

void wf_task_fail(wf_exec_task *t, const char *fmt, ...)
{
    va_list ap;
    char buf[2048];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(t->error);
    t->error = olive_strdup(buf);
    t->state = WF_TASK_FAILED;
}

char *wf_task_log_tail(const char *path)
{
    char *text = NULL, *p;
    size_t n = 0, lines = 0;
    if (olive_read_file(&text, &n, path, 64u << 20) != OLIVE_OK) {
        olive_error_clear();
        return NULL;
    }
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    for (p = text + n; p > text; p--)
        if (p[-1] == '\n' && ++lines == 3)
            break;
    if (!*p) {
        free(text);
        return NULL;
    }
    p = olive_strdup(p);
    free(text);
    return p;
}

void wf_backend_clear(wf_backend *b)
{
    for (size_t i = 0; i < b->n_arrays; i++)
        free(b->arrays[i]);
    free(b->arrays);
    b->arrays = NULL;
    b->n_arrays = 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void progress(const wf_backend *b, const wf_exec_task *tasks, size_t n, char *last, size_t last_size)
{
    size_t c[5] = {0};
    char line[256];
    for (size_t i = 0; i < n; i++)
        c[tasks[i].state]++;
    snprintf(line, sizeof line, "%s: %zu done, %zu running, %zu pending, %zu failed (of %zu)", b->name, c[WF_TASK_DONE],
             c[WF_TASK_RUNNING], c[WF_TASK_PENDING] + c[WF_TASK_WAITING], c[WF_TASK_FAILED], n);
    if (strcmp(line, last)) {
        OLIVE_INFO("%s", line);
        snprintf(last, last_size, "%s", line);
    }
}

/* Starts waiting tasks, as many as the backend allows at once. */
static int start_waiting(wf_backend *b, wf_exec_task *tasks, size_t n, size_t *which)
{
    size_t inflight = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        inflight += tasks[i].state == WF_TASK_PENDING || tasks[i].state == WF_TASK_RUNNING;
    for (size_t i = 0; i < n; i++)
        if (tasks[i].state == WF_TASK_WAITING && (!b->max_inflight || inflight + k < b->max_inflight))
            which[k++] = i;
    return k ? b->start(b, tasks, which, k) : OLIVE_OK;
}

int wf_batch_run(wf_backend *b, wf_exec_task *tasks, size_t n, atomic_int *cancelled, wf_task_check_fn check,
                 void *user)
{
    size_t *which = olive_calloc(n + 1, sizeof *which);
    unsigned char *seen = olive_calloc(n + 1, 1);
    char last[256] = "";
    int rc = OLIVE_OK, poll_failures = 0;
    long delay = POLL_MS;
    if (!which || !seen) {
        free(which);
        free(seen);
        return OLIVE_ENOMEM;
    }
    for (int changed = 1;; changed = 0) {
        size_t active = 0, waiting = 0;
        if (atomic_load(cancelled)) {
            b->cancel(b, tasks, n);
            rc = olive_fail(OLIVE_ECANCELLED, "cancelled: the %s tasks were stopped", b->name);
            break;
        }
        if ((rc = start_waiting(b, tasks, n, which)) != OLIVE_OK) {
            b->cancel(b, tasks, n);
            break;
        }
        if ((rc = b->poll(b, tasks, n)) != OLIVE_OK) {
            /* A busy or restarting controller: asked again a few times before giving up. */
            if (rc != OLIVE_ENOMEM && ++poll_failures < POLL_TRIES) {
                OLIVE_WARN("%s: %s; asking again", b->name, olive_error_last());
                rc = OLIVE_OK;
                sleep_ms(POLL_MS * 4);
                continue;
            }
            b->cancel(b, tasks, n);
            break;
        }
        poll_failures = 0;
        for (size_t i = 0; i < n; i++) {
            wf_exec_task *t = &tasks[i];
            if (t->state == WF_TASK_DONE && !seen[i] && !check(i, user))
                wf_task_fail(t, "%s task %s exited without its evaluation in the cache", b->name, t->job);
            if (t->state == WF_TASK_FAILED && !seen[i]) {
                if (t->attempts <= b->e->max_retries) {
                    OLIVE_WARN("%s: task %zu (%s) failed, retrying (attempt %zu of %zu): %s", b->name, i, t->job,
                               t->attempts + 1, b->e->max_retries + 1, t->error ? t->error : "?");
                    t->state = WF_TASK_WAITING;
                    changed = 1;
                    waiting++;
                    continue;
                }
                OLIVE_WARN("%s: task %zu (%s) failed %zu time%s; the candidate is reported failed: %s", b->name, i,
                           t->job, t->attempts, t->attempts == 1 ? "" : "s", t->error ? t->error : "?");
            }
            if ((t->state == WF_TASK_DONE || t->state == WF_TASK_FAILED) && !seen[i]) {
                seen[i] = 1;
                changed = 1;
            }
            active += t->state == WF_TASK_PENDING || t->state == WF_TASK_RUNNING;
            waiting += t->state == WF_TASK_WAITING;
        }
        progress(b, tasks, n, last, sizeof last);
        if (!active && !waiting)
            break;
        /* A task that ended frees a place: start the next one at once. While nothing changes,
         * polls grow further apart, sparing a busy controller. */
        if (changed)
            delay = POLL_MS;
        else if (delay < b->max_poll_ms)
            delay = delay * 3 / 2 < b->max_poll_ms ? delay * 3 / 2 : b->max_poll_ms;
        /* in slices, so that a cancel is seen within a tenth of a second */
        for (long slept = 0; (!changed || !waiting) && slept < delay && !atomic_load(cancelled); slept += 100)
            sleep_ms(delay - slept < 100 ? delay - slept : 100);
    }
    free(which);
    free(seen);
    return rc;
}
