/* ONNX Runtime sessions: the runtime part of the onnxruntime backend (ort_backend.c).
 *
 * A loaded model holds one OrtSession, its inputs and outputs as ONNX Runtime describes them,
 * and the run options of the runs in progress (so that cancel can set their terminate flag).
 * Inputs are handed to ONNX Runtime without a copy (CreateTensorWithDataAsOrtValue over the
 * caller's buffers); outputs come back as tensors that keep ONNX Runtime's value alive and
 * release it when they are freed, so nothing is copied either way. */
#include "backends/ort/ort_session.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/tensor.h"
#include "core/alloc.h"
#include "core/status.h"
#include "core/words.h"

typedef struct ort_io {
    char *name;
    olive_dtype dtype;
    size_t rank;
    int64_t *dims;
    char **dim_names;
} ort_io;

/* One run in progress. */
typedef struct ort_run {
    OrtRunOptions *options;
    int cancelled;
    struct ort_run *next;
} ort_run;

typedef struct olive_backend_model olive_backend_model;

struct olive_backend_model {
    const olive_ort *ort;
    OrtSession *session;
    char *provider;
    ort_io *inputs, *outputs;
    size_t n_inputs, n_outputs;
    pthread_mutex_t lock; /* guards `runs` */
    ort_run *runs;
};

/* ---- options ---- */

typedef struct session_options {
    char **words;
    size_t n_words;
    int intra, inter, mode, level; /* -1: not set */
    const char *ort_library;
    const char **provider_keys, **provider_values;
    size_t n_provider;
    const char **config_keys, **config_values;
    size_t n_config;
} session_options;

static void options_free(session_options *o)
{
    olive_free_words(o->words, o->n_words);
    free(o->provider_keys);
    free(o->provider_values);
    free(o->config_keys);
    free(o->config_values);
}

static int parse_count(const char *key, const char *value, int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(value, &end, 10);
    if (!value[0] || *end || errno || v < 0 || v > INT_MAX)
        return olive_fail(OLIVE_EINVALID, "session option %s: '%s' is not a thread count (0 or more)", key, value);
    *out = (int)v;
    return OLIVE_OK;
}

static int parse_choice(const char *key, const char *value, const char *const *names, const int *values, size_t n,
                        int *out)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(value, names[i]) == 0) {
            *out = values[i];
            return OLIVE_OK;
        }
    return olive_fail(OLIVE_EINVALID, "session option %s: '%s' is not one of %s|%s%s%s%s%s", key, value, names[0],
                      names[1], n > 2 ? "|" : "", n > 2 ? names[2] : "", n > 3 ? "|" : "", n > 3 ? names[3] : "");
}

static int options_parse(session_options *o, const char *text)
{
    static const char *const modes[] = {"sequential", "parallel"};
    static const int mode_values[] = {ORT_EXEC_SEQUENTIAL, ORT_EXEC_PARALLEL};
    static const char *const levels[] = {"disable", "basic", "extended", "all"};
    static const int level_values[] = {ORT_OPT_DISABLE_ALL, ORT_OPT_BASIC, ORT_OPT_EXTENDED, ORT_OPT_ALL};
    memset(o, 0, sizeof *o);
    o->intra = o->inter = o->mode = o->level = -1;
    if (!text || !text[0])
        return OLIVE_OK;
    OLIVE_TRY(olive_split_words(&o->words, &o->n_words, text));
    if (!(o->provider_keys = olive_calloc(o->n_words + 1, sizeof *o->provider_keys)) ||
        !(o->provider_values = olive_calloc(o->n_words + 1, sizeof *o->provider_values)) ||
        !(o->config_keys = olive_calloc(o->n_words + 1, sizeof *o->config_keys)) ||
        !(o->config_values = olive_calloc(o->n_words + 1, sizeof *o->config_values))) {
        options_free(o);
        return OLIVE_ENOMEM;
    }
    for (size_t i = 0; i < o->n_words; i++) {
        char *key = o->words[i], *eq = strchr(key, '='), *value;
        int rc = OLIVE_OK;
        if (!eq || eq == key) {
            options_free(o);
            return olive_fail(OLIVE_EINVALID, "session option '%s' is not key=value", key);
        }
        *eq = '\0';
        value = eq + 1;
        if (strcmp(key, "intra_op_num_threads") == 0)
            rc = parse_count(key, value, &o->intra);
        else if (strcmp(key, "inter_op_num_threads") == 0)
            rc = parse_count(key, value, &o->inter);
        else if (strcmp(key, "execution_mode") == 0)
            rc = parse_choice(key, value, modes, mode_values, 2, &o->mode);
        else if (strcmp(key, "graph_optimization_level") == 0)
            rc = parse_choice(key, value, levels, level_values, 4, &o->level);
        else if (strcmp(key, "ort_library") == 0)
            o->ort_library = value;
        else if (strncmp(key, "provider.", 9) == 0 && key[9]) {
            o->provider_keys[o->n_provider] = key + 9;
            o->provider_values[o->n_provider++] = value;
        } else if (strncmp(key, "config.", 7) == 0 && key[7]) {
            o->config_keys[o->n_config] = key + 7;
            o->config_values[o->n_config++] = value;
        } else
            rc = olive_fail(OLIVE_ENOTFOUND,
                            "unknown session option '%s' (known: intra_op_num_threads, inter_op_num_threads, "
                            "execution_mode, graph_optimization_level, provider.KEY, config.KEY, ort_library)",
                            key);
        if (rc != OLIVE_OK) {
            options_free(o);
            return rc;
        }
    }
    return OLIVE_OK;
}

/* ---- errors ---- */

/* libolive's code for an ONNX Runtime error code (OrtErrorCode). */
static int code_of(const olive_ort *ort, const OrtStatus *st)
{
    switch (ort->api->GetErrorCode(st)) {
    case 2: return OLIVE_EINVALID;      /* ORT_INVALID_ARGUMENT */
    case 3: return OLIVE_ENOTFOUND;     /* ORT_NO_SUCHFILE */
    case 9: return OLIVE_EUNSUPPORTED;  /* ORT_NOT_IMPLEMENTED */
    case 11: return OLIVE_EUNSUPPORTED; /* ORT_EP_FAIL */
    default: return OLIVE_EFORMAT;      /* the model, graph or run failed */
    }
}

#define ORT_CHECK(ort, call, what)                                                                                     \
    do {                                                                                                               \
        OrtStatus *st_ = (call);                                                                                       \
        if (st_)                                                                                                       \
            return olive_ort_fail((ort), st_, code_of((ort), st_), (what));                                            \
    } while (0)

/* ---- execution providers ---- */

/* The name SessionOptionsAppendExecutionProvider takes for providers appended by name. */
static const char *generic_provider_name(const char *provider)
{
    static const char *const map[][2] = {
        {"DmlExecutionProvider", "DML"},         {"OpenVINOExecutionProvider", "OpenVINO"},
        {"QNNExecutionProvider", "QNN"},         {"WebGpuExecutionProvider", "WebGPU"},
        {"CoreMLExecutionProvider", "CoreML"},   {"VitisAIExecutionProvider", "VitisAI"},
        {"XnnpackExecutionProvider", "XNNPACK"}, {"NvTensorRTRTXExecutionProvider", "NvTensorRtRtx"},
        {"JsExecutionProvider", "JS"},           {"WebNNExecutionProvider", "WEBNN"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(provider, map[i][0]) == 0)
            return map[i][1];
    return NULL;
}

static int provider_available(const olive_ort *ort, const char *provider)
{
    for (size_t i = 0; i < ort->n_providers; i++)
        if (strcmp(ort->providers[i], provider) == 0)
            return 1;
    return 0;
}

int olive_ort_providers_text(char *buf, size_t cap, const olive_ort *ort)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ort->n_providers && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", ort->providers[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return OLIVE_OK;
}

/* OLIVE_OK when the loaded ONNX Runtime has `provider`; otherwise an error naming those it has. */
static int check_provider(const olive_ort *ort, const char *provider)
{
    char have[512];
    if (provider_available(ort, provider))
        return OLIVE_OK;
    olive_ort_providers_text(have, sizeof have, ort);
    return olive_fail(OLIVE_EUNSUPPORTED, "execution provider %s is not available in ONNX Runtime %s (%s); it has: %s",
                      provider, ort->version, ort->path, have);
}

static int append_provider(const olive_ort *ort, OrtSessionOptions *so, const char *provider, const session_options *o)
{
    const ort_api *api = ort->api;
    char what[256];
    const char *generic;
    snprintf(what, sizeof what, "onnxruntime: adding execution provider %s", provider);
    if (strcmp(provider, "CPUExecutionProvider") == 0) {
        if (o->n_provider)
            return olive_fail(OLIVE_EINVALID, "CPUExecutionProvider takes no provider options (provider.%s given)",
                              o->provider_keys[0]);
        return OLIVE_OK; /* ONNX Runtime always has it, as the last fallback */
    }
    if (strcmp(provider, "CUDAExecutionProvider") == 0) {
        OrtCUDAProviderOptionsV2 *cuda = NULL;
        OrtStatus *st = api->CreateCUDAProviderOptions(&cuda);
        if (!st && o->n_provider)
            st = api->UpdateCUDAProviderOptions(cuda, o->provider_keys, o->provider_values, o->n_provider);
        if (!st)
            st = api->SessionOptionsAppendExecutionProvider_CUDA_V2(so, cuda);
        api->ReleaseCUDAProviderOptions(cuda);
        return st ? olive_ort_fail(ort, st, OLIVE_EUNSUPPORTED, what) : OLIVE_OK;
    }
    if (strcmp(provider, "TensorrtExecutionProvider") == 0) {
        OrtTensorRTProviderOptionsV2 *trt = NULL;
        OrtStatus *st = api->CreateTensorRTProviderOptions(&trt);
        if (!st && o->n_provider)
            st = api->UpdateTensorRTProviderOptions(trt, o->provider_keys, o->provider_values, o->n_provider);
        if (!st)
            st = api->SessionOptionsAppendExecutionProvider_TensorRT_V2(so, trt);
        api->ReleaseTensorRTProviderOptions(trt);
        return st ? olive_ort_fail(ort, st, OLIVE_EUNSUPPORTED, what) : OLIVE_OK;
    }
    if ((generic = generic_provider_name(provider)) != NULL) {
        OrtStatus *st = api->SessionOptionsAppendExecutionProvider(so, generic, o->provider_keys, o->provider_values,
                                                                   o->n_provider);
        return st ? olive_ort_fail(ort, st, OLIVE_EUNSUPPORTED, what) : OLIVE_OK;
    }
    return olive_fail(OLIVE_EUNSUPPORTED, "execution provider %s: libolive cannot add it to a session yet", provider);
}

static int configure(const olive_ort *ort, OrtSessionOptions *so, const session_options *o)
{
    const ort_api *api = ort->api;
    if (o->intra >= 0)
        ORT_CHECK(ort, api->SetIntraOpNumThreads(so, o->intra), "onnxruntime: setting intra_op_num_threads");
    if (o->inter >= 0)
        ORT_CHECK(ort, api->SetInterOpNumThreads(so, o->inter), "onnxruntime: setting inter_op_num_threads");
    if (o->mode >= 0)
        ORT_CHECK(ort, api->SetSessionExecutionMode(so, o->mode), "onnxruntime: setting execution_mode");
    ORT_CHECK(ort, api->SetSessionGraphOptimizationLevel(so, o->level >= 0 ? o->level : ORT_OPT_ALL),
              "onnxruntime: setting graph_optimization_level");
    for (size_t i = 0; i < o->n_config; i++) {
        OrtStatus *st = api->AddSessionConfigEntry(so, o->config_keys[i], o->config_values[i]);
        if (st) {
            char what[320];
            snprintf(what, sizeof what, "onnxruntime: session config entry %s", o->config_keys[i]);
            return olive_ort_fail(ort, st, OLIVE_EINVALID, what);
        }
    }
    return OLIVE_OK;
}

/* ---- inputs and outputs ---- */

static olive_dtype dtype_of(int elem)
{
    switch (elem) {
    case ORT_ELEM_FLOAT:
    case ORT_ELEM_UINT8:
    case ORT_ELEM_INT8:
    case ORT_ELEM_UINT16:
    case ORT_ELEM_INT16:
    case ORT_ELEM_INT32:
    case ORT_ELEM_INT64:
    case ORT_ELEM_BOOL:
    case ORT_ELEM_FLOAT16:
    case ORT_ELEM_DOUBLE:
    case ORT_ELEM_UINT32:
    case ORT_ELEM_UINT64:
    case ORT_ELEM_BFLOAT16: return (olive_dtype)elem;
    default: return OLIVE_DTYPE_UNDEFINED;
    }
}

static void io_free(ort_io *io, size_t n)
{
    for (size_t i = 0; io && i < n; i++) {
        free(io[i].name);
        free(io[i].dims);
        for (size_t d = 0; io[i].dim_names && d < io[i].rank; d++)
            free(io[i].dim_names[d]);
        free(io[i].dim_names);
    }
    free(io);
}

static int describe_one(const olive_ort *ort, OrtSession *s, int outputs, size_t index, ort_io *io)
{
    const ort_api *api = ort->api;
    OrtTypeInfo *info = NULL;
    const OrtTensorTypeAndShapeInfo *tinfo = NULL;
    char *name = NULL;
    int type = 0, elem = 0, rc = OLIVE_OK;
    size_t rank = 0;
    const char **syms = NULL;
    OrtStatus *st = outputs ? api->SessionGetOutputName(s, index, ort->allocator, &name)
                            : api->SessionGetInputName(s, index, ort->allocator, &name);
    if (st)
        return olive_ort_fail(ort, st, OLIVE_EFORMAT, "onnxruntime: reading the model's value names");
    io->name = olive_strdup(name);
    if ((st = api->AllocatorFree(ort->allocator, name)) != NULL)
        api->ReleaseStatus(st);
    if (!io->name)
        return OLIVE_ENOMEM;
    st = outputs ? api->SessionGetOutputTypeInfo(s, index, &info) : api->SessionGetInputTypeInfo(s, index, &info);
    if (!st)
        st = api->GetOnnxTypeFromTypeInfo(info, &type);
    if (!st && type == ORT_TYPE_TENSOR) {
        st = api->CastTypeInfoToTensorInfo(info, &tinfo);
        if (!st && tinfo)
            st = api->GetTensorElementType(tinfo, &elem);
        if (!st && tinfo)
            st = api->GetDimensionsCount(tinfo, &rank);
    }
    if (st) {
        api->ReleaseTypeInfo(info);
        return olive_ort_fail(ort, st, OLIVE_EFORMAT, "onnxruntime: reading the model's value types");
    }
    io->dtype = type == ORT_TYPE_TENSOR ? dtype_of(elem) : OLIVE_DTYPE_UNDEFINED;
    if (rank) {
        io->dims = olive_calloc(rank, sizeof *io->dims);
        io->dim_names = olive_calloc(rank, sizeof *io->dim_names);
        syms = olive_calloc(rank, sizeof *syms);
        if (!io->dims || !io->dim_names || !syms)
            rc = OLIVE_ENOMEM;
        else if ((st = api->GetDimensions(tinfo, io->dims, rank)) != NULL ||
                 (st = api->GetSymbolicDimensions(tinfo, syms, rank)) != NULL)
            rc = olive_ort_fail(ort, st, OLIVE_EFORMAT, "onnxruntime: reading the model's value shapes");
        else {
            io->rank = rank;
            for (size_t d = 0; d < rank; d++) {
                if (io->dims[d] < 0)
                    io->dims[d] = -1;
                if (!(io->dim_names[d] = olive_strdup(syms[d] ? syms[d] : ""))) {
                    rc = OLIVE_ENOMEM;
                    break;
                }
            }
        }
    }
    free(syms);
    api->ReleaseTypeInfo(info);
    return rc;
}

static int describe(olive_backend_model *m)
{
    const ort_api *api = m->ort->api;
    ORT_CHECK(m->ort, api->SessionGetInputCount(m->session, &m->n_inputs), "onnxruntime: counting the model's inputs");
    ORT_CHECK(m->ort, api->SessionGetOutputCount(m->session, &m->n_outputs),
              "onnxruntime: counting the model's outputs");
    m->inputs = olive_calloc(m->n_inputs ? m->n_inputs : 1, sizeof *m->inputs);
    m->outputs = olive_calloc(m->n_outputs ? m->n_outputs : 1, sizeof *m->outputs);
    if (!m->inputs || !m->outputs)
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < m->n_inputs; i++)
        OLIVE_TRY(describe_one(m->ort, m->session, 0, i, &m->inputs[i]));
    for (size_t i = 0; i < m->n_outputs; i++)
        OLIVE_TRY(describe_one(m->ort, m->session, 1, i, &m->outputs[i]));
    return OLIVE_OK;
}

/* ---- load and free ---- */

void olive_ort_model_free(olive_backend_model *m)
{
    if (!m)
        return;
    if (m->session)
        m->ort->api->ReleaseSession(m->session);
    io_free(m->inputs, m->n_inputs);
    io_free(m->outputs, m->n_outputs);
    free(m->provider);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

int olive_ort_model_load(olive_backend_model **out, const olive_backend *backend, const char *path,
                         const char *provider, const char *options)
{
    session_options o;
    const olive_ort *ort;
    OrtSessionOptions *so = NULL;
    olive_backend_model *m;
    struct stat sb;
    int rc;
    (void)backend;
    if (!out || !path || !provider)
        return olive_fail(OLIVE_EINVALID, "onnxruntime: out, path and provider must not be NULL");
    OLIVE_TRY(options_parse(&o, options));
    if ((rc = olive_ort_load(&ort, o.ort_library)) != OLIVE_OK) {
        options_free(&o);
        return rc;
    }
    if (stat(path, &sb) != 0) {
        options_free(&o);
        return olive_fail_errno(errno, "onnxruntime: cannot open the model", path);
    }
    if (!(m = olive_calloc(1, sizeof *m))) {
        options_free(&o);
        return OLIVE_ENOMEM;
    }
    m->ort = ort;
    pthread_mutex_init(&m->lock, NULL);
    if (!(m->provider = olive_strdup(provider)))
        rc = OLIVE_ENOMEM;
    else
        rc = check_provider(ort, provider);
    if (rc == OLIVE_OK) {
        OrtStatus *st = ort->api->CreateSessionOptions(&so);
        if (st)
            rc = olive_ort_fail(ort, st, OLIVE_ENOMEM, "onnxruntime: creating session options");
    }
    if (rc == OLIVE_OK)
        rc = configure(ort, so, &o);
    if (rc == OLIVE_OK)
        rc = append_provider(ort, so, provider, &o);
    if (rc == OLIVE_OK) {
        OrtStatus *st = ort->api->CreateSession(ort->env, path, so, &m->session);
        if (st) {
            char what[1024];
            snprintf(what, sizeof what, "onnxruntime: loading the model '%s'", path);
            rc = olive_ort_fail(ort, st, code_of(ort, st), what);
        }
    }
    if (rc == OLIVE_OK)
        rc = describe(m);
    if (so)
        ort->api->ReleaseSessionOptions(so);
    options_free(&o);
    if (rc != OLIVE_OK) {
        olive_ort_model_free(m);
        return rc;
    }
    *out = m;
    return OLIVE_OK;
}

const char *olive_ort_model_provider(const olive_backend_model *m)
{
    return m ? m->provider : NULL;
}

size_t olive_ort_model_io_count(const olive_backend_model *m, int outputs)
{
    return !m ? 0 : outputs ? m->n_outputs : m->n_inputs;
}

int olive_ort_model_io_info(const olive_backend_model *m, int outputs, size_t index, olive_backend_io *out)
{
    const ort_io *io;
    if (!m || !out || index >= olive_ort_model_io_count(m, outputs))
        return olive_fail(OLIVE_EINVALID, "onnxruntime: %s index %zu out of range", outputs ? "output" : "input",
                          index);
    io = outputs ? &m->outputs[index] : &m->inputs[index];
    out->name = io->name;
    out->dtype = io->dtype;
    out->rank = io->rank;
    out->dims = io->dims;
    out->dim_names = (const char *const *)io->dim_names;
    return OLIVE_OK;
}

/* ---- run ---- */

static int find_io(const ort_io *io, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(io[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void names_text(char *buf, size_t cap, const ort_io *io, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        int k = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", io[i].name);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static int check_input(const olive_backend_model *m, const char *name, const olive_tensor *t, unsigned char *seen)
{
    int k;
    const ort_io *io;
    if (!name || !t)
        return olive_fail(OLIVE_EINVALID, "olive_session_run: an input name or tensor is NULL");
    if ((k = find_io(m->inputs, m->n_inputs, name)) < 0) {
        char have[1024];
        names_text(have, sizeof have, m->inputs, m->n_inputs);
        return olive_fail(OLIVE_EINVALID, "olive_session_run: the model has no input '%s' (its inputs: %s)", name,
                          have);
    }
    if (seen[k]++)
        return olive_fail(OLIVE_EINVALID, "olive_session_run: input '%s' is given twice", name);
    io = &m->inputs[k];
    if (io->dtype != t->dtype)
        return olive_fail(OLIVE_EINVALID, "olive_session_run: input '%s' is %s, but the model takes %s", name,
                          olive_dtype_name(t->dtype),
                          io->dtype ? olive_dtype_name(io->dtype) : "a value of another type");
    if (io->rank && io->rank != t->rank)
        return olive_fail(OLIVE_EINVALID, "olive_session_run: input '%s' has rank %zu, but the model takes rank %zu",
                          name, t->rank, io->rank);
    for (size_t d = 0; io->rank && d < io->rank; d++)
        if (io->dims[d] >= 0 && io->dims[d] != t->shape[d])
            return olive_fail(OLIVE_EINVALID,
                              "olive_session_run: input '%s' has dim %zu = %lld, but the model fixes it to %lld", name,
                              d, (long long)t->shape[d], (long long)io->dims[d]);
    return OLIVE_OK;
}

static void release_value(void *value)
{
    const olive_ort *ort = olive_ort_loaded();
    if (ort && value)
        ort->api->ReleaseValue(value);
}

/* Wraps ONNX Runtime's output `value` (taking it over) as a tensor. */
static int output_tensor(const olive_backend_model *m, const char *name, OrtValue *value, olive_tensor **out)
{
    const ort_api *api = m->ort->api;
    OrtTensorTypeAndShapeInfo *info = NULL;
    int elem = 0;
    size_t rank = 0;
    int64_t dims[OLIVE_TENSOR_MAX_RANK];
    void *data = NULL;
    OrtStatus *st = api->GetTensorTypeAndShape(value, &info);
    if (!st)
        st = api->GetTensorElementType(info, &elem);
    if (!st)
        st = api->GetDimensionsCount(info, &rank);
    if (!st && rank <= OLIVE_TENSOR_MAX_RANK)
        st = api->GetDimensions(info, dims, rank);
    if (!st && dtype_of(elem) != OLIVE_DTYPE_UNDEFINED && rank <= OLIVE_TENSOR_MAX_RANK)
        st = api->GetTensorMutableData(value, &data);
    api->ReleaseTensorTypeAndShapeInfo(info);
    if (st) {
        api->ReleaseValue(value);
        return olive_ort_fail(m->ort, st, OLIVE_EFORMAT, "onnxruntime: reading an output");
    }
    if (dtype_of(elem) == OLIVE_DTYPE_UNDEFINED || rank > OLIVE_TENSOR_MAX_RANK) {
        api->ReleaseValue(value);
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "olive_session_run: output '%s' has element type %d or rank %zu, which "
                          "olive_tensor does not hold",
                          name, elem, rank);
    }
    return olive_tensor_hold(out, dtype_of(elem), dims, rank, data, release_value, value);
}

int olive_ort_model_run(olive_backend_model *m, const char *const *input_names, const olive_tensor *const *inputs,
                        size_t n_inputs, const char *const *output_names, size_t n_outputs, olive_tensor **outputs)
{
    const ort_api *api;
    const char **out_names = NULL;
    OrtValue **in_values = NULL, **out_values = NULL;
    unsigned char *seen = NULL;
    ort_run run = {0};
    int rc = OLIVE_OK;
    OrtStatus *st;
    if (!m || !outputs || (n_inputs && (!input_names || !inputs)))
        return olive_fail(OLIVE_EINVALID, "olive_session_run: session, out, input names and inputs must not be NULL");
    api = m->ort->api;
    if (!output_names && n_outputs != m->n_outputs)
        return olive_fail(OLIVE_EINVALID,
                          "olive_session_run: with no output names, all %zu outputs are returned, but "
                          "room for %zu was given",
                          m->n_outputs, n_outputs);
    seen = olive_calloc(m->n_inputs + 1, 1);
    out_names = olive_calloc(n_outputs + 1, sizeof *out_names);
    in_values = olive_calloc(n_inputs + 1, sizeof *in_values);
    out_values = olive_calloc(n_outputs + 1, sizeof *out_values);
    if (!seen || !out_names || !in_values || !out_values) {
        rc = OLIVE_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n_inputs && rc == OLIVE_OK; i++)
        rc = check_input(m, input_names[i], inputs[i], seen);
    for (size_t i = 0; i < n_outputs && rc == OLIVE_OK; i++) {
        int k = output_names ? (output_names[i] ? find_io(m->outputs, m->n_outputs, output_names[i]) : -1) : (int)i;
        if (k < 0) {
            char have[1024];
            names_text(have, sizeof have, m->outputs, m->n_outputs);
            rc = olive_fail(OLIVE_EINVALID, "olive_session_run: the model has no output '%s' (its outputs: %s)",
                            output_names[i] ? output_names[i] : "(NULL)", have);
        } else if (m->outputs[k].dtype == OLIVE_DTYPE_UNDEFINED) {
            rc = olive_fail(OLIVE_EUNSUPPORTED,
                            "olive_session_run: output '%s' is not a tensor of a dtype olive_tensor "
                            "holds",
                            m->outputs[k].name);
        } else {
            out_names[i] = m->outputs[k].name;
        }
    }
    for (size_t i = 0; i < n_inputs && rc == OLIVE_OK; i++) {
        const olive_tensor *t = inputs[i];
        st = api->CreateTensorWithDataAsOrtValue(m->ort->cpu_memory, t->data, t->bytes, t->shape, t->rank,
                                                 (int)t->dtype, &in_values[i]);
        if (st) {
            char what[512];
            snprintf(what, sizeof what, "onnxruntime: passing input '%s'", input_names[i]);
            rc = olive_ort_fail(m->ort, st, OLIVE_EINVALID, what);
        }
    }
    if (rc != OLIVE_OK)
        goto done;
    if ((st = api->CreateRunOptions(&run.options)) != NULL) {
        rc = olive_ort_fail(m->ort, st, OLIVE_ENOMEM, "onnxruntime: creating run options");
        goto done;
    }
    pthread_mutex_lock(&m->lock);
    run.next = m->runs;
    m->runs = &run;
    pthread_mutex_unlock(&m->lock);
    st = api->Run(m->session, run.options, input_names, (const OrtValue *const *)in_values, n_inputs, out_names,
                  n_outputs, out_values);
    pthread_mutex_lock(&m->lock);
    for (ort_run **p = &m->runs; *p; p = &(*p)->next)
        if (*p == &run) {
            *p = run.next;
            break;
        }
    pthread_mutex_unlock(&m->lock);
    if (st) {
        if (run.cancelled) {
            api->ReleaseStatus(st);
            rc = olive_fail(OLIVE_ECANCELLED, "olive_session_run: the run was cancelled");
        } else {
            rc = olive_ort_fail(m->ort, st, code_of(m->ort, st) == OLIVE_EINVALID ? OLIVE_EINVALID : OLIVE_EFORMAT,
                                "onnxruntime: running the model");
        }
        goto done;
    }
    {
        olive_tensor **made = olive_calloc(n_outputs + 1, sizeof *made);
        if (!made) {
            rc = OLIVE_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < n_outputs; i++) {
            OrtValue *v = out_values[i];
            out_values[i] = NULL;
            if (rc == OLIVE_OK)
                rc = output_tensor(m, out_names[i], v, &made[i]);
            else
                api->ReleaseValue(v);
        }
        for (size_t i = 0; i < n_outputs; i++) {
            if (rc == OLIVE_OK)
                outputs[i] = made[i];
            else
                olive_tensor_free(made[i]);
        }
        free(made);
    }
done:
    if (run.options)
        api->ReleaseRunOptions(run.options);
    for (size_t i = 0; in_values && i < n_inputs; i++)
        if (in_values[i])
            api->ReleaseValue(in_values[i]);
    for (size_t i = 0; out_values && i < n_outputs; i++)
        if (out_values[i])
            api->ReleaseValue(out_values[i]);
    free(seen);
    free(out_names);
    free(in_values);
    free(out_values);
    return rc;
}

void olive_ort_model_cancel(olive_backend_model *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    for (ort_run *r = m->runs; r; r = r->next) {
        OrtStatus *st = m->ort->api->RunOptionsSetTerminate(r->options);
        if (st)
            m->ort->api->ReleaseStatus(st);
        else
            r->cancelled = 1;
    }
    pthread_mutex_unlock(&m->lock);
}
