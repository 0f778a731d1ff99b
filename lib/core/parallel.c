/* Threads for the quantizers (see parallel.h). */
#include <pthread.h>
#include <unistd.h>

#include "core/mapguard.h"
#include "core/parallel.h"

typedef struct chunk {
    olive_range_fn fn;
    void *ctx;
    size_t begin, end;
    void *fault; /* where a mapped file's bytes went missing under this chunk */
} chunk;

static int call_chunk(chunk *c)
{
    c->fn(c->ctx, c->begin, c->end);
    return 0;
}

/* Each chunk, the caller's too, runs under a guard: a bus error (a mapped file shrank) ends the
 * chunk, every thread is joined, and the fault is then passed to the caller's own guard. */
static void *run_chunk(void *arg)
{
    chunk *c = arg;
    int rc;
    OLIVE_MAP_GUARDED(rc, call_chunk(c));
    if (rc != 0)
        c->fault = olive_map_guard_last_fault();
    return NULL;
}

void olive_parallel_for(size_t n, size_t min_chunk, olive_range_fn fn, void *ctx)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t threads = cpus > 1 ? (size_t)cpus : 1, per;
    chunk chunks[OLIVE_MAX_THREADS];
    if (n == 0)
        return;
    threads = threads < OLIVE_MAX_THREADS ? threads : OLIVE_MAX_THREADS;
    if (min_chunk < 1)
        min_chunk = 1;
    if (threads > n / min_chunk)
        threads = n / min_chunk ? n / min_chunk : 1;
    per = (n + threads - 1) / threads;
    for (size_t t = 0; t < threads; t++) {
        chunks[t].fn = fn;
        chunks[t].ctx = ctx;
        chunks[t].begin = t * per < n ? t * per : n;
        chunks[t].end = (t + 1) * per < n ? (t + 1) * per : n;
        chunks[t].fault = NULL;
    }
    olive_run_threads(run_chunk, chunks, sizeof *chunks, threads);
    for (size_t t = 0; t < threads; t++)
        if (chunks[t].fault)
            olive_map_guard_rethrow(chunks[t].fault);
}

void olive_run_threads(void *(*fn)(void *), void *items, size_t size, size_t n)
{
    pthread_t th[OLIVE_MAX_THREADS];
    int started[OLIVE_MAX_THREADS] = {0};
    char *at = items;
    for (size_t i = 1; i < n; i++)
        started[i] = pthread_create(&th[i], NULL, fn, at + i * size) == 0;
    fn(at);
    for (size_t i = 1; i < n; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            fn(at + i * size);
    }
}
