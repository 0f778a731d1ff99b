/* session_params_tuning (Olive's OrtSessionParamsTuning): runs the model in ONNX Runtime with
 * every combination of the listed session settings (execution providers, graph optimization
 * levels, execution modes, intra- and inter-op thread counts), in a stable order, measures the
 * average latency of each, and records the fastest as the model's inference_settings in
 * Olive's form, which the workflow writes into model_config.json. The graph is not changed.
 *
 * Olive searches these lists one point per pass run; here one run tries them all (Olive's
 * sequential search over the pass's own space) so that a workflow needs no search for them.
 * The inputs are the rows of the data config (the workflow's data folder, <input>.npy files,
 * batch_size rows a run, cycling), or, without one, generated: ids and masks 1, floats 0.5,
 * dynamic dims batch_size first and sequence_length after. A setting the runtime refuses is
 * logged and skipped. Passes run one at a time, and OLIVE_PASS_MEASURES_TIME keeps a search's
 * workers from running candidates beside it, so no two measurements overlap. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backends/backend.h"
#include "backends/tensor.h"
#include "core/alloc.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "formats/npy.h"
#include "onnx/onnx_io.h"
#include "passes/session_tuning/session_params_tuning.h"

#define PASS "session_params_tuning"
#define MAX_LIST 32
#define WARMUP 2

typedef struct plan {
    char *providers[MAX_LIST];
    size_t n_providers;
    long intra[MAX_LIST], inter[MAX_LIST], level[MAX_LIST];
    size_t n_intra, n_inter, n_level;
    int modes; /* bit 0 sequential, bit 1 parallel */
    long batch, seq, repeat;
    char *config_opts; /* " config.K=V ..." from extra_session_config, or "" */
} plan;

static void plan_free(plan *p)
{
    for (size_t i = 0; i < p->n_providers; i++)
        free(p->providers[i]);
    free(p->config_opts);
}

/* A comma-separated list of integers >= 0 into out[]; `def` when the text is empty. */
static int int_list(long *out, size_t *n, const olive_pass_args *args, const char *name, const long *def, size_t n_def,
                    const long *allowed, size_t n_allowed)
{
    const char *s = olive_args_string(args, name);
    *n = 0;
    if (!s[0]) {
        for (size_t i = 0; i < n_def; i++)
            if (!*n || out[*n - 1] != def[i])
                out[(*n)++] = def[i];
        return OLIVE_OK;
    }
    while (*s) {
        char *end;
        int ok = !n_allowed;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || (*end && *end != ',') || errno || v < 0 || *n >= MAX_LIST)
            return olive_fail(OLIVE_EINVALID, "%s: %s must be a list of at most %d integers >= 0, not '%s'", PASS, name,
                              MAX_LIST, olive_args_string(args, name));
        for (size_t k = 0; k < n_allowed; k++)
            ok |= allowed[k] == v;
        if (!ok)
            return olive_fail(OLIVE_EINVALID,
                              "%s: %s: %ld is not a graph optimization level (0 disable, 1 basic, 2 extended, 99 all)",
                              PASS, name, v);
        out[(*n)++] = v;
        s = *end ? end + 1 : end;
    }
    return OLIVE_OK;
}

static int parse_modes(plan *p, const char *s)
{
    const char *t = s;
    if (!s[0]) {
        p->modes = 3;
        return OLIVE_OK;
    }
    p->modes = 0;
    while (*t) {
        size_t len = strcspn(t, ",");
        if ((len == 14 && !strncmp(t, "ORT_SEQUENTIAL", len)) || (len == 10 && !strncmp(t, "sequential", len)) ||
            (len == 1 && *t == '0'))
            p->modes |= 1;
        else if ((len == 12 && !strncmp(t, "ORT_PARALLEL", len)) || (len == 8 && !strncmp(t, "parallel", len)) ||
                 (len == 1 && *t == '1'))
            p->modes |= 2;
        else
            return olive_fail(OLIVE_EINVALID,
                              "%s: execution_mode_list: '%.*s' is not an execution mode (ORT_SEQUENTIAL or 0, "
                              "ORT_PARALLEL or 1)",
                              PASS, (int)len, t);
        t += len + (t[len] == ',');
    }
    return OLIVE_OK;
}

/* extra_session_config ({"session.key": "value", ...}) as " config.key=value" options. */
static int parse_extra(plan *p, const char *s)
{
    json_error_t err;
    json_t *o;
    const char *key;
    json_t *v;
    olive_strbuf b = {0};
    olive_strbuf_append(&b, "");
    if (s[0] && strcmp(s, "null") && strcmp(s, "{}")) {
        if (!(o = json_loads(s, 0, &err)) || !json_is_object(o)) {
            json_decref(o);
            olive_strbuf_free(&b);
            return olive_fail(OLIVE_EINVALID, "%s: extra_session_config must be a JSON object of strings, not '%s'",
                              PASS, s);
        }
        json_object_foreach(o, key, v)
        {
            char num[64];
            const char *text = json_is_string(v) ? json_string_value(v) : NULL;
            if (json_is_integer(v))
                snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), text = num;
            if (!text || strpbrk(key, " =\"") || strpbrk(text, " \"")) {
                /* the message first: key lives in the object */
                int rc = olive_fail(OLIVE_EINVALID,
                                    "%s: extra_session_config: '%s' must map to a string or integer without spaces or "
                                    "quotes",
                                    PASS, key);
                json_decref(o);
                olive_strbuf_free(&b);
                return rc;
            }
            olive_strbuf_printf(&b, " config.%s=%s", key, text);
        }
        json_decref(o);
    }
    if (!(p->config_opts = olive_strbuf_take(&b)))
        return OLIVE_ENOMEM;
    return OLIVE_OK;
}

static const char *device_provider(const char *device)
{
    return !strcmp(device, "gpu") ? "CUDAExecutionProvider" : "CPUExecutionProvider";
}

/* Everything checked before anything runs. */
static int make_plan(plan *p, const olive_pass_args *args, const olive_pass_ctx *ctx)
{
    const struct olive_accelerator *acc = ctx ? ctx->accelerator : NULL;
    const char *device = olive_args_string(args, "device"), *provs = olive_args_string(args, "providers_list");
    const char *own = acc ? olive_accelerator_provider(acc) : NULL,
               *popts = olive_args_string(args, "provider_options_list");
    long cores = olive_args_int(args, "cpu_cores");
    static const long levels[] = {0, 1, 2, 99};
    long def_intra[3], zero = 0, all = 99;
    if (device[0] && strcmp(device, "cpu") && strcmp(device, "gpu") && strcmp(device, "npu"))
        return olive_fail(OLIVE_EINVALID, "%s: device must be cpu, gpu or npu, not '%s'", PASS, device);
    if (!device[0])
        device = acc ? olive_accelerator_device(acc) : "cpu";
    if (cores <= 0) {
        cores = acc ? olive_accelerator_cpu_cores(acc) : sysconf(_SC_NPROCESSORS_ONLN);
        if (cores <= 0)
            cores = 1;
    }
    def_intra[0] = 0, def_intra[1] = 1, def_intra[2] = cores;
    OLIVE_TRY(int_list(p->intra, &p->n_intra, args, "intra_thread_num_list", def_intra, 3, NULL, 0));
    OLIVE_TRY(int_list(p->inter, &p->n_inter, args, "inter_thread_num_list", &zero, 1, NULL, 0));
    OLIVE_TRY(int_list(p->level, &p->n_level, args, "opt_level_list", &all, 1, levels, 4));
    OLIVE_TRY(parse_modes(p, olive_args_string(args, "execution_mode_list")));
    if (popts[0] && strcmp(popts, "{}") && strcmp(popts, "null"))
        return olive_fail(OLIVE_EUNSUPPORTED,
                          "%s: provider_options_list is not supported (the execution provider's own options are "
                          "tried as ONNX Runtime sets them); leave it empty",
                          PASS);
    OLIVE_TRY(parse_extra(p, olive_args_string(args, "extra_session_config")));
    p->batch = olive_args_int(args, "batch_size");
    p->seq = olive_args_int(args, "sequence_length");
    p->repeat = olive_args_int(args, "repeat");
    if (!provs[0])
        provs = own ? own : device_provider(device);
    while (*provs) {
        size_t len = strcspn(provs, ",");
        if (len && p->n_providers < MAX_LIST) {
            char *ep = olive_strndup(provs, len);
            if (!ep)
                return OLIVE_ENOMEM;
            if (own && strcmp(ep, own) && !olive_args_bool(args, "force_evaluate_other_eps")) {
                /* Olive tunes only the accelerator's provider unless told otherwise. */
                OLIVE_WARN("%s: %s skipped: the accelerator's provider is %s (set force_evaluate_other_eps to try it)",
                           PASS, ep, own);
                free(ep);
            } else {
                p->providers[p->n_providers++] = ep;
            }
        } else if (len) {
            return olive_fail(OLIVE_EINVALID, "%s: providers_list names more than %d providers", PASS, MAX_LIST);
        }
        provs += len + (provs[len] == ',');
    }
    if (!p->n_providers)
        return olive_fail(OLIVE_EINVALID, "%s: providers_list leaves no execution provider to try", PASS);
    if (olive_args_bool(args, "io_bind"))
        OLIVE_INFO("%s: io_bind recorded; inputs are bound from host memory in every run here", PASS);
    if (olive_args_bool(args, "enable_profiling"))
        OLIVE_INFO("%s: enable_profiling recorded in the session options; no profile is written while tuning", PASS);
    return OLIVE_OK;
}

/* The inputs of one run: from the data folder, or generated. */
typedef struct feeds {
    size_t n;
    const char **names; /* borrowed from the loaded model */
    olive_tensor **tensors;
    olive_npy *arrays; /* with a data folder: one per input */
    int64_t samples;
} feeds;

static void feeds_clear(feeds *f)
{
    for (size_t i = 0; i < f->n; i++) {
        olive_tensor_free(f->tensors ? f->tensors[i] : NULL);
        if (f->arrays)
            olive_npy_clear(&f->arrays[i]);
    }
    free(f->names);
    free(f->tensors);
    free(f->arrays);
    memset(f, 0, sizeof *f);
}

static int generate(olive_tensor **out, const olive_backend_io *io, const plan *p)
{
    int64_t shape[OLIVE_TENSOR_MAX_RANK];
    olive_tensor *t;
    if (io->rank > OLIVE_TENSOR_MAX_RANK)
        return olive_fail(OLIVE_EUNSUPPORTED, "%s: input '%s' has rank %zu", PASS, io->name, io->rank);
    for (size_t d = 0; d < io->rank; d++)
        shape[d] = io->dims[d] > 0 ? io->dims[d] : d == 0 ? p->batch : p->seq;
    OLIVE_TRY(olive_tensor_new(&t, io->dtype, shape, io->rank));
    for (uint64_t k = 0; k < t->count; k++) {
        switch (t->dtype) {
        case OLIVE_DTYPE_FLOAT32: ((float *)t->data)[k] = 0.5f; break;
        case OLIVE_DTYPE_DOUBLE: ((double *)t->data)[k] = 0.5; break;
        case OLIVE_DTYPE_INT64: ((int64_t *)t->data)[k] = 1; break;
        case OLIVE_DTYPE_INT32: ((int32_t *)t->data)[k] = 1; break;
        default: break; /* zeros: float16 0.0, bools false */
        }
    }
    *out = t;
    return OLIVE_OK;
}

static int make_feeds(feeds *f, const olive_backend *be, struct olive_backend_model *model, const char *data_dir,
                      const plan *p)
{
    size_t n = be->rt.io_count(model, 0);
    f->names = olive_calloc(n ? n : 1, sizeof *f->names);
    f->tensors = olive_calloc(n ? n : 1, sizeof *f->tensors);
    if (data_dir[0])
        f->arrays = olive_calloc(n ? n : 1, sizeof *f->arrays);
    if (!f->names || !f->tensors || (data_dir[0] && !f->arrays))
        return OLIVE_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        olive_backend_io io;
        OLIVE_TRY(be->rt.io_info(model, 0, i, &io));
        f->names[i] = io.name;
        f->n = i + 1;
        if (!data_dir[0]) {
            OLIVE_TRY(generate(&f->tensors[i], &io, p));
            continue;
        }
        char *file = olive_asprintf("%s.npy", io.name), *path = file ? olive_path_join(data_dir, file) : NULL;
        int rc = path ? olive_npy_load(&f->arrays[i], path) : OLIVE_ENOMEM;
        free(file);
        free(path);
        if (rc != OLIVE_OK)
            return olive_fail_context(rc, "%s: the data config has no samples for input '%s'", PASS, io.name);
        if (f->arrays[i].rank < 1 || f->arrays[i].dtype != (int32_t)io.dtype)
            return olive_fail(OLIVE_EINVALID, "%s: the data for input '%s' is not an array of %s samples", PASS,
                              io.name, olive_dtype_name(io.dtype) ? olive_dtype_name(io.dtype) : "its type");
        if (!i || f->arrays[i].dims[0] < f->samples)
            f->samples = f->arrays[i].dims[0];
    }
    if (data_dir[0] && f->samples < 1)
        return olive_fail(OLIVE_EINVALID, "%s: the data config gives no samples", PASS);
    return OLIVE_OK;
}

/* Views of rows [start, start + count) of every array (data folder only). */
static int select_rows(feeds *f, int64_t start, int64_t count)
{
    for (size_t i = 0; i < f->n; i++) {
        const olive_npy *a = &f->arrays[i];
        int64_t shape[OLIVE_NPY_MAX_RANK];
        size_t row = a->elem_size;
        for (size_t k = 1; k < a->rank; k++)
            row *= (size_t)a->dims[k];
        memcpy(shape, a->dims, a->rank * sizeof *shape);
        shape[0] = count;
        olive_tensor_free(f->tensors[i]);
        f->tensors[i] = NULL;
        OLIVE_TRY(olive_tensor_wrap(&f->tensors[i], (olive_dtype)a->dtype, shape, a->rank,
                                    (void *)(a->data + (size_t)start * row), (size_t)count * row));
    }
    return OLIVE_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Average seconds per run of the model file with `options`. */
static int measure(double *out, const olive_backend *be, const char *path, const char *provider, const char *options,
                   const char *data_dir, const plan *p)
{
    struct olive_backend_model *model = NULL;
    feeds f = {0};
    olive_tensor **res = NULL;
    size_t n_out;
    double t0 = 0;
    int64_t next = 0;
    int rc = be->rt.load(&model, be, path, provider, options);
    if (rc != OLIVE_OK)
        return rc;
    n_out = be->rt.io_count(model, 1);
    if (!(res = olive_calloc(n_out + 1, sizeof *res)))
        rc = OLIVE_ENOMEM;
    if (rc == OLIVE_OK)
        rc = make_feeds(&f, be, model, data_dir, p);
    for (long r = 0; rc == OLIVE_OK && r < p->repeat + WARMUP; r++) {
        if (data_dir[0]) { /* the next batch_size rows, from the start again at the end */
            int64_t count = p->batch < f.samples ? p->batch : f.samples;
            if (next + count > f.samples)
                next = 0;
            if ((rc = select_rows(&f, next, count)) != OLIVE_OK)
                break;
            next += count;
        }
        if (r == WARMUP)
            t0 = now_s();
        rc = be->rt.run(model, f.names, (const olive_tensor *const *)f.tensors, f.n, NULL, n_out, res);
        for (size_t k = 0; rc == OLIVE_OK && k < n_out; k++) {
            olive_tensor_free(res[k]);
            res[k] = NULL;
        }
    }
    if (rc == OLIVE_OK)
        *out = (now_s() - t0) / (double)p->repeat;
    feeds_clear(&f);
    free(res);
    be->rt.free(model);
    return rc;
}

static const char *level_name(long l)
{
    return l == 0 ? "disable" : l == 1 ? "basic" : l == 2 ? "extended" : "all";
}

typedef struct best {
    double seconds;
    const char *provider;
    long intra, inter, level;
    int mode; /* 1 sequential, 2 parallel */
} best;

/* Olive's inference_settings for the best setting. */
static char *settings_json(const best *b, const olive_pass_args *args, const plan *p)
{
    json_t *so = json_pack("{s:I, s:I, s:i, s:I}", "intra_op_num_threads", (json_int_t)b->intra, "inter_op_num_threads",
                           (json_int_t)b->inter, "execution_mode", b->mode - 1, "graph_optimization_level",
                           (json_int_t)b->level);
    json_t *po = json_object(), *doc;
    char *text, *copy;
    const char *extra = olive_args_string(args, "extra_session_config");
    if (!so || !po) {
        json_decref(so), json_decref(po);
        return NULL;
    }
    if (p->config_opts[0])
        json_object_set_new(so, "extra_session_config", json_loads(extra, 0, NULL));
    if (olive_args_bool(args, "enable_profiling"))
        json_object_set_new(so, "enable_profiling", json_true());
    /* Olive sets these provider options for the providers they belong to. */
    if (!strcmp(b->provider, "CUDAExecutionProvider"))
        json_object_set_new(po, "enable_cuda_graph", json_boolean(olive_args_bool(args, "enable_cuda_graph")));
    if (!strcmp(b->provider, "TensorrtExecutionProvider"))
        json_object_set_new(po, "trt_fp16_enable", json_boolean(olive_args_bool(args, "trt_fp16_enable")));
    doc = json_pack("{s:[s], s:[o], s:b, s:n, s:o}", "execution_provider", b->provider, "provider_options", po,
                    "io_bind", olive_args_bool(args, "io_bind"), "tuning_op_result", "session_options", so);
    if (!doc)
        return NULL;
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    copy = text ? olive_strdup(text) : NULL;
    free(text);
    return copy;
}

static int save_model(const oir_model *m, char **dir, char **path)
{
    const char *base = getenv("TMPDIR");
    onnx_save_options so;
    *dir = olive_asprintf("%s/olive-tuning-XXXXXX", base && base[0] ? base : "/tmp");
    if (!*dir)
        return OLIVE_ENOMEM;
    if (!mkdtemp(*dir)) {
        int rc = olive_fail_errno(errno, "cannot create a temporary folder for session tuning", *dir);
        free(*dir);
        *dir = NULL;
        return rc;
    }
    if (!(*path = olive_path_join(*dir, "model.onnx")))
        return OLIVE_ENOMEM;
    onnx_save_options_init(&so);
    return onnx_save_file(m, *path, &so);
}

/* Runs every setting of the plan; the fastest into *b. */
static int tune(best *b, const olive_backend *be, const char *path, const char *data_dir, const plan *p,
                olive_pass_ctx *ctx)
{
    size_t total = 0, done = 0;
    int tried = 0, last_rc = OLIVE_OK, missing = 1;
    char last_error[512] = "";
    b->seconds = -1;
    for (int mode = 1; mode <= 2; mode++)
        if (p->modes & mode)
            total += p->n_intra * (mode == 2 ? p->n_inter : 1);
    total *= p->n_providers * p->n_level;
    for (size_t pi = 0; pi < p->n_providers; pi++) {
        int unavailable = 0;
        for (size_t li = 0; li < p->n_level && !unavailable; li++)
            for (int mode = 1; mode <= 2 && !unavailable; mode++) {
                if (!(p->modes & mode))
                    continue;
                for (size_t ii = 0; ii < p->n_intra && !unavailable; ii++)
                    for (size_t ei = 0; ei < (mode == 2 ? p->n_inter : 1) && !unavailable; ei++) {
                        char opts[1024];
                        double t = 0;
                        long inter = mode == 2 ? p->inter[ei] : 0;
                        int rc;
                        snprintf(opts, sizeof opts,
                                 "intra_op_num_threads=%ld inter_op_num_threads=%ld execution_mode=%s "
                                 "graph_optimization_level=%s",
                                 p->intra[ii], inter, mode == 1 ? "sequential" : "parallel", level_name(p->level[li]));
                        {
                            char *full = olive_asprintf("%s%s", opts, p->config_opts);
                            if (!full)
                                return OLIVE_ENOMEM;
                            rc = measure(&t, be, path, p->providers[pi], full, data_dir, p);
                            free(full);
                        }
                        tried++;
                        if (rc == OLIVE_ENOMEM || rc == OLIVE_ECANCELLED)
                            return rc;
                        if (rc != OLIVE_OK) {
                            OLIVE_INFO("%s: %-28s %s: failed: %s", PASS, p->providers[pi], opts, olive_error_last());
                            snprintf(last_error, sizeof last_error, "%s", olive_error_last());
                            last_rc = rc;
                            if (rc == OLIVE_ENOTFOUND && !strstr(olive_error_last(), "option"))
                                return rc; /* no ONNX Runtime: nothing else will run */
                            /* a provider this ONNX Runtime lacks: none of its settings will run */
                            unavailable = rc == OLIVE_EUNSUPPORTED && strstr(olive_error_last(), "not available");
                            missing &= unavailable;
                        } else {
                            OLIVE_INFO("%s: %-28s %s: %.4f ms", PASS, p->providers[pi], opts, t * 1e3);
                            if (b->seconds < 0 || t < b->seconds) {
                                b->seconds = t;
                                b->provider = p->providers[pi];
                                b->intra = p->intra[ii];
                                b->inter = inter;
                                b->level = p->level[li];
                                b->mode = mode;
                            }
                        }
                        OLIVE_TRY(olive_pass_progress(ctx, (double)++done / (double)(total ? total : 1)));
                    }
            }
    }
    if (b->seconds < 0 && missing) {
        /* As Olive does when its baseline cannot run: the model goes on without settings. */
        OLIVE_WARN("%s: no provider to tune is available here (%s); the model keeps no inference_settings", PASS,
                   last_error);
        return OLIVE_OK;
    }
    if (b->seconds < 0)
        return olive_fail(last_rc ? last_rc : OLIVE_EUNSUPPORTED, "%s: none of the %d settings ran; the last: %s", PASS,
                          tried, last_error);
    OLIVE_INFO("%s: best of %d settings: %s, intra_op_num_threads=%ld inter_op_num_threads=%ld execution_mode=%s "
               "graph_optimization_level=%s: %.4f ms",
               PASS, tried, b->provider, b->intra, b->inter, b->mode == 1 ? "sequential" : "parallel",
               level_name(b->level), b->seconds * 1e3);
    return OLIVE_OK;
}

static int run(oir_model *m, const olive_pass_args *args, olive_pass_ctx *ctx)
{
    const olive_backend *be = olive_backend_find("onnxruntime");
    const char *data_dir = olive_args_string(args, "data_dir");
    plan p = {0};
    best b = {0};
    char *dir = NULL, *path = NULL, *settings = NULL;
    int rc = make_plan(&p, args, ctx);
    if (rc == OLIVE_OK && (!be || !be->rt.load))
        rc = olive_fail(OLIVE_EINTERNAL, "the onnxruntime backend is missing from this build");
    if (rc == OLIVE_OK && (rc = save_model(m, &dir, &path)) != OLIVE_OK)
        olive_fail_context(rc, "%s: writing the model to run it", PASS);
    if (rc == OLIVE_OK)
        rc = tune(&b, be, path, data_dir, &p, ctx);
    if (rc == OLIVE_OK && b.seconds >= 0 && !(settings = settings_json(&b, args, &p)))
        rc = olive_fail(OLIVE_ENOMEM, "out of memory");
    if (rc == OLIVE_OK && settings) {
        free(m->inference_settings);
        m->inference_settings = settings;
    }
    if (dir)
        olive_rmtree(dir);
    free(dir);
    free(path);
    plan_free(&p);
    return rc;
}

static const olive_param_spec params[] = {
    {.name = "data_dir",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Folder of <input name>.npy samples to run (a workflow fills it from data_config)",
     .details = "Empty: inputs are generated (ids and masks 1, floats 0.5; dynamic dims batch_size first, "
                "sequence_length after).",
     .data_folder = 1},
    {.name = "device",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "cpu or gpu: the device whose default provider is tried (empty: the accelerator's)"},
    {.name = "providers_list",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Execution providers to try (empty: the accelerator's, or the device's default)"},
    {.name = "provider_options_list",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Olive's provider options to try (refused unless empty)"},
    {.name = "cpu_cores",
     .type = OLIVE_PARAM_INT,
     .default_value = "0",
     .min = 0,
     .max = 4096,
     .help = "The largest thread count tried by default (0: the machine's cores)"},
    {.name = "intra_thread_num_list",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Intra-op thread counts to try (empty: 0 (ONNX Runtime's choice), 1 and cpu_cores)"},
    {.name = "inter_thread_num_list",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Inter-op thread counts to try with the parallel mode (empty: 0)"},
    {.name = "execution_mode_list",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "ORT_SEQUENTIAL (0) and/or ORT_PARALLEL (1) (empty: both)"},
    {.name = "opt_level_list",
     .type = OLIVE_PARAM_LIST,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "Graph optimization levels: 0 disable, 1 basic, 2 extended, 99 all (empty: 99)"},
    {.name = "extra_session_config",
     .type = OLIVE_PARAM_STRING,
     .default_value = "",
     .min = 0,
     .max = -1,
     .help = "JSON object of ONNX Runtime session config entries set in every setting tried"},
    {.name = "io_bind",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .help = "Recorded in inference_settings; runs here always feed inputs from host memory"},
    {.name = "enable_cuda_graph",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .help = "Recorded as the CUDA provider's option; CUDA graphs are not tried while tuning"},
    {.name = "trt_fp16_enable",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .help = "Recorded as the TensorRT provider's option; not tried while tuning"},
    {.name = "force_evaluate_other_eps",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .help = "Also try providers other than the accelerator's (default: they are skipped, as in Olive)"},
    {.name = "enable_profiling",
     .type = OLIVE_PARAM_BOOL,
     .default_value = "false",
     .min = 0,
     .max = -1,
     .help = "Recorded in the session options; no profile is written while tuning"},
    {.name = "batch_size",
     .type = OLIVE_PARAM_INT,
     .default_value = "1",
     .min = 1,
     .max = 1e6,
     .help = "Rows a run (data) or the size of generated inputs' first dynamic dim"},
    {.name = "sequence_length",
     .type = OLIVE_PARAM_INT,
     .default_value = "8",
     .min = 1,
     .max = 1e6,
     .help = "The size of generated inputs' other dynamic dims"},
    {.name = "repeat",
     .type = OLIVE_PARAM_INT,
     .default_value = "10",
     .min = 1,
     .max = 1e6,
     .help = "Timed runs per setting, after 2 warm-up runs"},
};

/* Keys of Olive's config that change nothing here: its user script for data configs. */
static const char *const ignored[] = {"user_script", "script_dir", NULL};
static const olive_pass_type olive_types[] = {{"OrtSessionParamsTuning", NULL, NULL, ignored},
                                              {NULL, NULL, NULL, NULL}};

const olive_pass_def olive_pass_session_params_tuning = {
    .name = "session_params_tuning",
    .summary = "Finds the ONNX Runtime session settings with the lowest latency; records inference_settings",
    .details = "Runs the model in ONNX Runtime with every combination of providers_list, opt_level_list, "
               "execution_mode_list, intra_thread_num_list and inter_thread_num_list (the inter-op counts with the "
               "parallel mode only), in that order, on the data config's samples or generated inputs; each "
               "setting is run twice to warm up, then `repeat` times, and its average latency is logged. The "
               "fastest becomes the model's inference_settings (Olive's execution_provider, provider_options, "
               "io_bind and session_options), which a workflow writes into model_config.json. A setting the "
               "runtime refuses is logged and skipped; the pass fails when none runs. The graph is not changed.",
    .flags = OLIVE_PASS_DEPENDS_ON_ACCELERATOR | OLIVE_PASS_MEASURES_TIME,
    .olive_types = olive_types,
    .params = params,
    .n_params = sizeof params / sizeof *params,
    .run = run,
};
