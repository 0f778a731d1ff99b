/* See capture.h. The extra outputs are appended to the graph only while it is written to the
 * temporary folder, without a type: ONNX Runtime infers it, and reports it back.
 *
 * With several runners, each batch runs on one thread of its own (ONNX Runtime with
 * intra_op_num_threads = cores / runners), which scales better than one run split across the
 * cores op by op: a calibration run is a long chain of small ops, whose per-op hand-offs cost
 * more than they give on a few cores. The calling thread hands the batches' values to the
 * callback in batch order, so callers see exactly what a one-at-a-time run shows them. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "backends/ort/ort_loader.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/mapguard.h"
#include "core/parallel.h"
#include "core/status.h"
#include "onnx/onnx_io.h"
#include "passes/calibrate/capture.h"

struct olive_capture {
    const olive_backend *backend;
    struct olive_backend_model *model;
    size_t n;
    char **names;
    olive_dtype *dtypes;
    const char *pass;
    size_t runners; /* batches run at once (1: one after another) */
};

void olive_capture_free(olive_capture *c)
{
    if (!c)
        return;
    if (c->model)
        c->backend->rt.free(c->model);
    for (size_t i = 0; i < c->n; i++)
        free(c->names[i]);
    free(c->names);
    free(c->dtypes);
    free(c);
}

char *olive_calib_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = olive_asprintf("%s/olive-calibrate-XXXXXX", base && base[0] ? base : "/tmp");
    if (dir && !mkdtemp(dir)) {
        olive_fail_errno(errno, "cannot create a temporary folder for calibration", dir);
        free(dir);
        return NULL;
    }
    return dir;
}

/* Writes `m` with the extra outputs to dir/model.onnx, then takes them off again. */
static int write_augmented(oir_model *m, const olive_capture *c, const char *path)
{
    oir_graph *g = m->graph;
    size_t before = g->n_outputs;
    onnx_save_options so;
    int rc = OLIVE_OK;
    for (size_t i = 0; i < c->n && rc == OLIVE_OK; i++)
        if (oir_graph_output_index(g, c->names[i]) < 0)
            rc = oir_graph_add_output(g, c->names[i], NULL);
    if (rc == OLIVE_OK) {
        onnx_save_options_init(&so);
        so.scratch = 1; /* read back at once, then removed */
        rc = onnx_save_file(m, path, &so);
    }
    while (g->n_outputs > before)
        oir_graph_remove_output(g, g->n_outputs - 1);
    return rc;
}

static int find_dtypes(olive_capture *c)
{
    size_t count = c->backend->rt.io_count(c->model, 1);
    for (size_t i = 0; i < c->n; i++) {
        c->dtypes[i] = OLIVE_DTYPE_UNDEFINED;
        for (size_t k = 0; k < count; k++) {
            olive_backend_io io;
            if (c->backend->rt.io_info(c->model, 1, k, &io) == OLIVE_OK && !strcmp(io.name, c->names[i])) {
                c->dtypes[i] = io.dtype;
                break;
            }
        }
    }
    return OLIVE_OK;
}

/* The provider calibration runs on: the accelerator's, or the CPU when the loaded ONNX Runtime
 * lacks it (the values are the model's either way, and the model is written for the target all
 * the same, as Olive's calibration on the CPU does). A runtime that cannot be loaded is left to
 * the session to report. */
const char *olive_calib_provider(const olive_pass_ctx *ctx, const char *pass)
{
    const char *want = ctx && ctx->accelerator ? olive_accelerator_provider(ctx->accelerator) : "CPUExecutionProvider";
    const olive_ort *ort;
    if (!strcmp(want, "CPUExecutionProvider"))
        return want;
    if (olive_ort_load(&ort, NULL) != OLIVE_OK) {
        olive_error_clear();
        return want;
    }
    for (size_t i = 0; i < ort->n_providers; i++)
        if (!strcmp(ort->providers[i], want))
            return want;
    OLIVE_INFO("%s: ONNX Runtime %s (%s) has no %s: calibrating on CPUExecutionProvider", pass, ort->version, ort->path,
               want);
    return "CPUExecutionProvider";
}

/* Runners for `workers` (0: two when the CPU has two cores or more: that takes the thread pool's
 * per-op hand-offs out of small machines, while memory holds at most two batches' values; the
 * cores are shared among the runners' intra-op threads) and the session options that go with
 * them. */
static size_t pick_runners(int workers, const char *provider, char *options, size_t size)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t cores = cpus > 1 ? (size_t)cpus : 1, runners = workers > 0 ? (size_t)workers : cores;
    if (runners > 2 && workers <= 0)
        runners = 2;
    if (runners > OLIVE_MAX_THREADS)
        runners = OLIVE_MAX_THREADS;
    if (strcmp(provider, "CPUExecutionProvider") || runners < 2) {
        snprintf(options, size, "graph_optimization_level=disable");
        return 1;
    }
    snprintf(options, size, "graph_optimization_level=disable intra_op_num_threads=%zu",
             cores / runners > 1 ? cores / runners : (size_t)1);
    return runners;
}

int olive_capture_open(olive_capture **out, oir_model *m, const char *const *names, size_t n, olive_pass_ctx *ctx,
                       const char *pass)
{
    return olive_capture_open_workers(out, m, names, n, 1, ctx, pass);
}

int olive_capture_open_workers(olive_capture **out, oir_model *m, const char *const *names, size_t n, int workers,
                               olive_pass_ctx *ctx, const char *pass)
{
    char options[96];
    olive_capture *c = olive_calloc(1, sizeof *c);
    char *dir = NULL, *path = NULL;
    const char *provider = olive_calib_provider(ctx, pass);
    int rc;
    if (!c)
        return OLIVE_ENOMEM;
    c->pass = pass;
    c->runners = pick_runners(workers, provider, options, sizeof options);
    c->backend = olive_backend_find("onnxruntime");
    if (!c->backend || !c->backend->rt.load) {
        free(c);
        return olive_fail(OLIVE_EINTERNAL, "the onnxruntime backend is missing from this build");
    }
    c->names = olive_calloc(n ? n : 1, sizeof *c->names);
    c->dtypes = olive_calloc(n ? n : 1, sizeof *c->dtypes);
    if (!c->names || !c->dtypes) {
        olive_capture_free(c);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(c->names[i] = olive_strdup(names[i]))) {
            olive_capture_free(c);
            return OLIVE_ENOMEM;
        }
        c->n++;
    }
    if (!(dir = olive_calib_temp_dir()) || !(path = olive_path_join(dir, "model.onnx"))) {
        rc = olive_error_code() ? olive_error_code() : OLIVE_ENOMEM;
    } else {
        rc = write_augmented(m, c, path);
        if (rc != OLIVE_OK)
            olive_fail_context(rc, "%s: writing the model for calibration", pass);
        else
            rc = c->backend->rt.load(&c->model, c->backend, path, provider, options);
        if (rc != OLIVE_OK)
            olive_fail_context(rc, "%s: loading the model in ONNX Runtime for calibration", pass);
    }
    if (dir)
        olive_rmtree(dir);
    free(dir);
    free(path);
    if (rc == OLIVE_OK)
        rc = find_dtypes(c);
    if (rc != OLIVE_OK) {
        olive_capture_free(c);
        return rc;
    }
    *out = c;
    return OLIVE_OK;
}

olive_dtype olive_capture_dtype(const olive_capture *c, size_t index)
{
    return index < c->n ? c->dtypes[index] : OLIVE_DTYPE_UNDEFINED;
}

/* Runs samples [start, start + count) into outs[0..n_out). */
static int run_batch(olive_capture *c, const olive_calib_data *data, int64_t start, int64_t count,
                     const char *const *out_names, size_t n_out, olive_tensor **outs)
{
    olive_tensor **ins = olive_calloc(data->n_inputs ? data->n_inputs : 1, sizeof *ins);
    int rc;
    if (!ins)
        return OLIVE_ENOMEM;
    if ((rc = olive_calib_data_batch(data, start, count, ins)) == OLIVE_OK) {
        rc = c->backend->rt.run(c->model, (const char *const *)data->names, (const olive_tensor *const *)ins,
                                data->n_inputs, out_names, n_out, outs);
        for (size_t i = 0; i < data->n_inputs; i++)
            olive_tensor_free(ins[i]);
        if (rc != OLIVE_OK)
            olive_fail_context(rc, "%s: calibration samples [%lld, %lld) do not run on the model", c->pass,
                               (long long)start, (long long)(start + count));
    }
    free(ins);
    return rc;
}

/* The batches of one olive_capture_run shared by its runners; batch b's values go to slot
 * b % n_slots, which is free again once batch b - n_slots has been handed over. */
typedef struct capture_job {
    olive_capture *c;
    const olive_calib_data *data;
    int64_t batch_size, n_batches;
    const char *const *out_names;
    size_t n_out, n_slots;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int64_t next, handed; /* the next batch to run; the batches handed to the callback */
    int stop;
    olive_tensor **outs;  /* n_slots x n_out */
    unsigned char *ready; /* per slot: its batch has run */
    int *codes;           /* per slot: its batch's result */
    char **messages;      /* per slot: the error message of a failed batch */
} capture_job;

static void *runner(void *arg)
{
    capture_job *j = arg;
    pthread_mutex_lock(&j->lock);
    for (;;) {
        int64_t b, start, count;
        size_t slot;
        int rc;
        while (!j->stop && j->next < j->n_batches && j->next >= j->handed + (int64_t)j->n_slots)
            pthread_cond_wait(&j->changed, &j->lock);
        if (j->stop || j->next >= j->n_batches)
            break;
        b = j->next++;
        pthread_mutex_unlock(&j->lock);
        slot = (size_t)(b % (int64_t)j->n_slots);
        start = b * j->batch_size;
        count = j->data->n_samples - start < j->batch_size ? j->data->n_samples - start : j->batch_size;
        OLIVE_MAP_GUARDED(rc,
                          run_batch(j->c, j->data, start, count, j->out_names, j->n_out, j->outs + slot * j->n_out));
        if (rc != OLIVE_OK)
            j->messages[slot] = olive_strdup(olive_error_last());
        pthread_mutex_lock(&j->lock);
        j->codes[slot] = rc;
        j->ready[slot] = 1;
        pthread_cond_broadcast(&j->changed);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

static void free_slot(capture_job *j, size_t slot)
{
    for (size_t k = 0; k < j->n_out; k++) {
        olive_tensor_free(j->outs[slot * j->n_out + k]);
        j->outs[slot * j->n_out + k] = NULL;
    }
    free(j->messages[slot]);
    j->messages[slot] = NULL;
}

/* The batches on the runners, handed to fn here in batch order. Returns -1 when no runner
 * thread could be started (nothing ran), else the result. */
static int run_parallel(capture_job *j, const size_t *index, olive_capture_fn fn, void *user, olive_pass_ctx *ctx,
                        double progress_from, double progress_to)
{
    pthread_t threads[OLIVE_MAX_THREADS];
    size_t started = 0, n_threads = j->n_slots;
    int rc = OLIVE_OK;
    j->outs = olive_calloc(j->n_slots * (j->n_out ? j->n_out : 1), sizeof *j->outs);
    j->ready = olive_calloc(j->n_slots, 1);
    j->codes = olive_calloc(j->n_slots, sizeof *j->codes);
    j->messages = olive_calloc(j->n_slots, sizeof *j->messages);
    if (!j->outs || !j->ready || !j->codes || !j->messages) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->changed, NULL);
    for (size_t t = 0; t < n_threads; t++)
        if (pthread_create(&threads[started], NULL, runner, j) == 0)
            started++;
    if (!started) {
        rc = -1;
        goto destroy;
    }
    for (int64_t b = 0; b < j->n_batches && rc == OLIVE_OK; b++) {
        size_t slot = (size_t)(b % (int64_t)j->n_slots);
        int64_t end = (b + 1) * j->batch_size < j->data->n_samples ? (b + 1) * j->batch_size : j->data->n_samples;
        pthread_mutex_lock(&j->lock);
        while (!j->ready[slot])
            pthread_cond_wait(&j->changed, &j->lock);
        pthread_mutex_unlock(&j->lock);
        if ((rc = j->codes[slot]) != OLIVE_OK)
            olive_fail(rc, "%s", j->messages[slot] ? j->messages[slot] : "calibration run failed");
        for (size_t k = 0; k < j->n_out && rc == OLIVE_OK; k++)
            rc = fn(user, index[k], j->outs[slot * j->n_out + k]);
        free_slot(j, slot);
        if (rc == OLIVE_OK)
            rc = olive_pass_progress(ctx, progress_from +
                                              (progress_to - progress_from) * (double)end / (double)j->data->n_samples);
        pthread_mutex_lock(&j->lock);
        j->ready[slot] = 0;
        j->handed++;
        if (rc != OLIVE_OK)
            j->stop = 1;
        pthread_cond_broadcast(&j->changed);
        pthread_mutex_unlock(&j->lock);
    }
    for (size_t t = 0; t < started; t++)
        pthread_join(threads[t], NULL);
    for (size_t slot = 0; slot < j->n_slots; slot++)
        free_slot(j, slot);
destroy:
    pthread_cond_destroy(&j->changed);
    pthread_mutex_destroy(&j->lock);
done:
    free(j->outs);
    free(j->ready);
    free(j->codes);
    free(j->messages);
    return rc;
}

int olive_capture_run(olive_capture *c, const olive_calib_data *data, int64_t batch_size, const unsigned char *wanted,
                      olive_capture_fn fn, void *user, olive_pass_ctx *ctx, double progress_from, double progress_to)
{
    size_t n_out = 0;
    const char **out_names = olive_calloc(c->n ? c->n : 1, sizeof *out_names);
    size_t *index = olive_calloc(c->n ? c->n : 1, sizeof *index);
    olive_tensor **outs = olive_calloc(c->n ? c->n : 1, sizeof *outs);
    int64_t n_batches;
    int rc = OLIVE_OK;
    if (batch_size < 1)
        batch_size = 1;
    if (!out_names || !index || !outs) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (wanted[i]) {
            out_names[n_out] = c->names[i];
            index[n_out++] = i;
        }
    }
    n_batches = (data->n_samples + batch_size - 1) / batch_size;
    if (c->runners > 1 && n_batches > 1) {
        capture_job j;
        memset(&j, 0, sizeof j);
        j.c = c;
        j.data = data;
        j.batch_size = batch_size;
        j.n_batches = n_batches;
        j.out_names = out_names;
        j.n_out = n_out;
        j.n_slots = c->runners < (size_t)n_batches ? c->runners : (size_t)n_batches;
        if ((rc = run_parallel(&j, index, fn, user, ctx, progress_from, progress_to)) != -1)
            goto done;
        rc = OLIVE_OK; /* no thread started: one batch after another */
    }
    for (int64_t start = 0; start < data->n_samples && rc == OLIVE_OK; start += batch_size) {
        int64_t count = data->n_samples - start < batch_size ? data->n_samples - start : batch_size;
        if ((rc = run_batch(c, data, start, count, out_names, n_out, outs)) != OLIVE_OK)
            break;
        for (size_t k = 0; k < n_out; k++) {
            if (rc == OLIVE_OK)
                rc = fn(user, index[k], outs[k]);
            olive_tensor_free(outs[k]);
            outs[k] = NULL;
        }
        if (rc == OLIVE_OK)
            rc = olive_pass_progress(ctx, progress_from + (progress_to - progress_from) * (double)(start + count) /
                                                              (double)data->n_samples);
    }
done:
    free(out_names);
    free(index);
    free(outs);
    return rc;
}
