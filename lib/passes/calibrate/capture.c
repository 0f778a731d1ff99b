/* See capture.h. The extra outputs are appended to the graph only while it is written to the
 * temporary folder, without a type: ONNX Runtime infers it, and reports it back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backends/backend.h"
#include "backends/ort/ort_loader.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
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

int olive_capture_open(olive_capture **out, oir_model *m, const char *const *names, size_t n, olive_pass_ctx *ctx,
                       const char *pass)
{
    olive_capture *c = olive_calloc(1, sizeof *c);
    char *dir = NULL, *path = NULL;
    const char *provider = olive_calib_provider(ctx, pass);
    int rc;
    if (!c)
        return OLIVE_ENOMEM;
    c->pass = pass;
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
            rc = c->backend->rt.load(&c->model, c->backend, path, provider, "graph_optimization_level=disable");
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

int olive_capture_run(olive_capture *c, const olive_calib_data *data, int64_t batch_size, const unsigned char *wanted,
                      olive_capture_fn fn, void *user, olive_pass_ctx *ctx, double progress_from, double progress_to)
{
    size_t n_out = 0;
    const char **out_names = olive_calloc(c->n ? c->n : 1, sizeof *out_names);
    size_t *index = olive_calloc(c->n ? c->n : 1, sizeof *index);
    olive_tensor **outs = olive_calloc(c->n ? c->n : 1, sizeof *outs);
    olive_tensor **ins = olive_calloc(data->n_inputs, sizeof *ins);
    int rc = OLIVE_OK;
    if (batch_size < 1)
        batch_size = 1;
    if (!out_names || !index || !outs || !ins) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (wanted[i]) {
            out_names[n_out] = c->names[i];
            index[n_out++] = i;
        }
    }
    for (int64_t start = 0; start < data->n_samples && rc == OLIVE_OK; start += batch_size) {
        int64_t count = data->n_samples - start < batch_size ? data->n_samples - start : batch_size;
        if ((rc = olive_calib_data_batch(data, start, count, ins)) != OLIVE_OK)
            break;
        rc = c->backend->rt.run(c->model, (const char *const *)data->names, (const olive_tensor *const *)ins,
                                data->n_inputs, out_names, n_out, outs);
        for (size_t i = 0; i < data->n_inputs; i++)
            olive_tensor_free(ins[i]);
        if (rc != OLIVE_OK) {
            olive_fail_context(rc, "%s: calibration samples [%lld, %lld) do not run on the model", c->pass,
                               (long long)start, (long long)(start + count));
            break;
        }
        for (size_t k = 0; k < n_out; k++) {
            if (rc == OLIVE_OK)
                rc = fn(user, index[k], outs[k]);
            olive_tensor_free(outs[k]);
        }
        if (rc == OLIVE_OK)
            rc = olive_pass_progress(ctx, progress_from + (progress_to - progress_from) * (double)(start + count) /
                                                              (double)data->n_samples);
    }
done:
    free(out_names);
    free(index);
    free(outs);
    free(ins);
    return rc;
}
