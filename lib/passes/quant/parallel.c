/* A parallel loop for the whole-weight quantizers (see parallel.h). */
#include <pthread.h>
#include <unistd.h>

#include "passes/quant/parallel.h"

#define MAX_THREADS 16

typedef struct chunk {
    olive_range_fn fn;
    void *ctx;
    size_t begin, end;
} chunk;

static void *run_chunk(void *arg)
{
    chunk *c = arg;
    c->fn(c->ctx, c->begin, c->end);
    return NULL;
}

void olive_quant_parallel(size_t n, size_t min_chunk, olive_range_fn fn, void *ctx)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t threads = cpus > 1 ? (size_t)cpus : 1, per;
    pthread_t th[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    chunk chunks[MAX_THREADS];
    if (n == 0)
        return;
    threads = threads < MAX_THREADS ? threads : MAX_THREADS;
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
    }
    for (size_t t = 1; t < threads; t++)
        started[t] = pthread_create(&th[t], NULL, run_chunk, &chunks[t]) == 0;
    run_chunk(&chunks[0]);
    for (size_t t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            run_chunk(&chunks[t]);
    }
}
