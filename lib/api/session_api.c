/* Public session, runtime and generator functions: argument checks, handle lifetimes, and the
 * onnxruntime backend's runtime table underneath (lib/backends/ort). */
#include <jansson.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api/handles.h"
#include "backends/backend.h"
#include "backends/ort/ort_generator.h"
#include "backends/ort/ort_loader.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/status.h"
#include "onnx/onnx_io.h"

struct olive_session {
    atomic_int refs; /* the caller's reference plus one per run in progress */
    const olive_backend *backend;
    struct olive_backend_model *model;
};

struct olive_generator {
    olive_ort_generator *impl;
};

/* ---- the runtime library ---- */

int olive_runtime_load(const char *path)
{
    const olive_ort *ort;
    return olive_ort_load(&ort, path);
}

static json_t *ort_json(void)
{
    const olive_ort *ort;
    json_t *o = json_object(), *providers;
    if (olive_ort_load(&ort, NULL) != OLIVE_OK) {
        json_object_set_new(o, "found", json_false());
        json_object_set_new(o, "error", json_string(olive_error_last()));
        olive_error_clear();
        return o;
    }
    providers = json_array();
    for (size_t i = 0; i < ort->n_providers; i++)
        json_array_append_new(providers, json_string(ort->providers[i]));
    json_object_set_new(o, "found", json_true());
    json_object_set_new(o, "path", json_string(ort->path));
    json_object_set_new(o, "found_by", json_string(ort->found_by));
    json_object_set_new(o, "version", json_string(ort->version));
    json_object_set_new(o, "api_version", json_integer(ort->api_version));
    json_object_set_new(o, "providers", providers);
    return o;
}

static json_t *genai_json(void)
{
    const olive_ort_genai *genai;
    json_t *o = json_object();
    if (olive_ort_genai_load(&genai, NULL, NULL) != OLIVE_OK) {
        json_object_set_new(o, "found", json_false());
        json_object_set_new(o, "error", json_string(olive_error_last()));
        olive_error_clear();
        return o;
    }
    json_object_set_new(o, "found", json_true());
    json_object_set_new(o, "path", json_string(genai->path));
    json_object_set_new(o, "found_by", json_string(genai->found_by));
    return o;
}

int olive_runtime_info_json(char **out)
{
    json_t *root;
    char *text;
    if (!out)
        return olive_fail(OLIVE_EINVALID, "olive_runtime_info_json: out must not be NULL");
    root = json_object();
    json_object_set_new(root, "onnxruntime", ort_json());
    json_object_set_new(root, "onnxruntime_genai", genai_json());
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory describing the runtime libraries");
    *out = text;
    return OLIVE_OK;
}

/* ---- sessions ---- */

static const char *provider_of(const olive_accelerator *acc)
{
    return acc ? olive_accelerator_provider(acc) : "CPUExecutionProvider";
}

int olive_session_new_from_path(olive_session **out, const char *path, const olive_accelerator *acc,
                                const char *options)
{
    const olive_backend *b = olive_backend_find("onnxruntime");
    olive_session *s;
    if (!out || !path)
        return olive_fail(OLIVE_EINVALID, "olive_session_new_from_path: out and path must not be NULL");
    if (!b || !b->rt.load)
        return olive_fail(OLIVE_EINTERNAL, "the onnxruntime backend is missing from this build");
    if (!(s = olive_calloc(1, sizeof *s)))
        return OLIVE_ENOMEM;
    int rc = b->rt.load(&s->model, b, path, provider_of(acc), options);
    if (rc != OLIVE_OK) {
        free(s);
        return rc;
    }
    atomic_init(&s->refs, 1);
    s->backend = b;
    *out = s;
    return OLIVE_OK;
}

/* A private folder for a model handed to ONNX Runtime: $TMPDIR, else /tmp. */
static char *make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir = olive_asprintf("%s/olive-session-XXXXXX", base && base[0] ? base : "/tmp");
    if (dir && !mkdtemp(dir)) {
        olive_fail_errno(errno, "olive_session_new: cannot create a temporary folder", dir);
        free(dir);
        return NULL;
    }
    return dir;
}

int olive_session_new(olive_session **out, const olive_model *model, const olive_accelerator *acc, const char *options)
{
    onnx_save_options so;
    char *dir, *path;
    int rc;
    if (!out || !model)
        return olive_fail(OLIVE_EINVALID, "olive_session_new: out and model must not be NULL");
    if (model->ir->checkpoint_path)
        return olive_fail(OLIVE_EINVALID, "olive_session_new: %s is a source checkpoint; convert it to ONNX first",
                          model->ir->checkpoint_path);
    if (!(dir = make_temp_dir()))
        return olive_error_code() ? olive_error_code() : OLIVE_ENOMEM;
    if (!(path = olive_path_join(dir, "model.onnx"))) {
        olive_rmtree(dir);
        free(dir);
        return OLIVE_ENOMEM;
    }
    onnx_save_options_init(&so);
    rc = onnx_save_file(model->ir, path, &so);
    if (rc != OLIVE_OK)
        olive_fail_context(rc, "olive_session_new: writing the model for ONNX Runtime");
    else
        rc = olive_session_new_from_path(out, path, acc, options);
    /* ONNX Runtime has read (or mapped) what it needs: the files can go. */
    olive_rmtree(dir);
    free(path);
    free(dir);
    return rc;
}

static void session_unref(olive_session *s)
{
    if (atomic_fetch_sub(&s->refs, 1) == 1) {
        s->backend->rt.free(s->model);
        free(s);
    }
}

void olive_session_free(olive_session *session)
{
    if (session)
        session_unref(session);
}

const char *olive_session_provider(const olive_session *s)
{
    return s ? s->backend->rt.provider(s->model) : NULL;
}

static int io(const olive_session *s, int outputs, size_t index, olive_backend_io *info)
{
    if (!s || index >= s->backend->rt.io_count(s->model, outputs))
        return 0;
    return s->backend->rt.io_info(s->model, outputs, index, info) == OLIVE_OK;
}

size_t olive_session_input_count(const olive_session *s)
{
    return s ? s->backend->rt.io_count(s->model, 0) : 0;
}
size_t olive_session_output_count(const olive_session *s)
{
    return s ? s->backend->rt.io_count(s->model, 1) : 0;
}

#define IO_ACCESSORS(kind, outputs)                                                                                    \
    const char *olive_session_##kind##_name(const olive_session *s, size_t index)                                      \
    {                                                                                                                  \
        olive_backend_io i;                                                                                            \
        return io(s, outputs, index, &i) ? i.name : NULL;                                                              \
    }                                                                                                                  \
    olive_dtype olive_session_##kind##_dtype(const olive_session *s, size_t index)                                     \
    {                                                                                                                  \
        olive_backend_io i;                                                                                            \
        return io(s, outputs, index, &i) ? i.dtype : OLIVE_DTYPE_UNDEFINED;                                            \
    }                                                                                                                  \
    size_t olive_session_##kind##_rank(const olive_session *s, size_t index)                                           \
    {                                                                                                                  \
        olive_backend_io i;                                                                                            \
        return io(s, outputs, index, &i) ? i.rank : 0;                                                                 \
    }                                                                                                                  \
    int64_t olive_session_##kind##_dim(const olive_session *s, size_t index, size_t dim)                               \
    {                                                                                                                  \
        olive_backend_io i;                                                                                            \
        return io(s, outputs, index, &i) && dim < i.rank ? i.dims[dim] : -1;                                           \
    }                                                                                                                  \
    const char *olive_session_##kind##_dim_name(const olive_session *s, size_t index, size_t dim)                      \
    {                                                                                                                  \
        olive_backend_io i;                                                                                            \
        return io(s, outputs, index, &i) && dim < i.rank ? i.dim_names[dim] : NULL;                                    \
    }

IO_ACCESSORS(input, 0)
IO_ACCESSORS(output, 1)

static json_t *io_json(const olive_session *s, int outputs)
{
    json_t *list = json_array();
    size_t n = s->backend->rt.io_count(s->model, outputs);
    for (size_t k = 0; k < n; k++) {
        olive_backend_io i;
        json_t *o = json_object(), *shape = json_array();
        if (s->backend->rt.io_info(s->model, outputs, k, &i) != OLIVE_OK)
            continue;
        for (size_t d = 0; d < i.rank; d++)
            json_array_append_new(shape, i.dims[d] >= 0      ? json_integer(i.dims[d])
                                         : i.dim_names[d][0] ? json_string(i.dim_names[d])
                                                             : json_null());
        json_object_set_new(o, "name", json_string(i.name));
        json_object_set_new(o, "dtype",
                            olive_dtype_name(i.dtype) ? json_string(olive_dtype_name(i.dtype)) : json_null());
        json_object_set_new(o, "shape", shape);
        json_array_append_new(list, o);
    }
    return list;
}

int olive_session_describe_json(char **out, const olive_session *s)
{
    json_t *root;
    char *text;
    if (!out || !s)
        return olive_fail(OLIVE_EINVALID, "olive_session_describe_json: out and session must not be NULL");
    root = json_object();
    json_object_set_new(root, "provider", json_string(olive_session_provider(s)));
    json_object_set_new(root, "inputs", io_json(s, 0));
    json_object_set_new(root, "outputs", io_json(s, 1));
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return olive_fail(OLIVE_ENOMEM, "out of memory describing the session");
    *out = text;
    return OLIVE_OK;
}

int olive_session_run(olive_tensor **out, olive_session *session, const char *const *input_names,
                      const olive_tensor *const *inputs, size_t n_inputs, const char *const *output_names,
                      size_t n_outputs)
{
    int rc;
    if (!out || !session)
        return olive_fail(OLIVE_EINVALID, "olive_session_run: out and session must not be NULL");
    /* The run holds its own reference: olive_session_free from another thread waits for it. */
    atomic_fetch_add(&session->refs, 1);
    rc = session->backend->rt.run(session->model, input_names, inputs, n_inputs, output_names, n_outputs, out);
    session_unref(session);
    return rc;
}

void olive_session_cancel(olive_session *session)
{
    if (session)
        session->backend->rt.cancel(session->model);
}

/* ---- generation ---- */

int olive_generator_new(olive_generator **out, const char *model_dir, const olive_accelerator *acc, const char *options)
{
    olive_generator *g;
    int rc;
    if (!out || !model_dir)
        return olive_fail(OLIVE_EINVALID, "olive_generator_new: out and model_dir must not be NULL");
    if (!(g = olive_calloc(1, sizeof *g)))
        return OLIVE_ENOMEM;
    if ((rc = olive_ort_generator_new(&g->impl, model_dir, provider_of(acc), options)) != OLIVE_OK) {
        free(g);
        return rc;
    }
    *out = g;
    return OLIVE_OK;
}

void olive_generator_free(olive_generator *generator)
{
    if (!generator)
        return;
    olive_ort_generator_free(generator->impl);
    free(generator);
}

int olive_generator_generate_json(char **out, olive_generator *generator, const char *prompt, size_t new_tokens)
{
    if (!generator)
        return olive_fail(OLIVE_EINVALID, "olive_generator_generate_json: generator must not be NULL");
    return olive_ort_generator_generate_json(out, generator->impl, prompt, new_tokens);
}
