/* `olive tune-session-params` (Olive's OrtSessionParamsTuning): tries ONNX Runtime session
 * settings (intra/inter-op threads, execution mode, graph optimization level, execution
 * providers) on one model with generated inputs, measures the average latency of each, and
 * writes the fastest as `inference_settings` in model_config.json, as Olive does. Every
 * combination is tried in a stable order (Olive's sequential search); a setting the runtime
 * refuses is reported and skipped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_json.h"
#include <jansson.h>

#define MAX_LIST 16

static const cli_option options[] = {
    {"model_name_or_path", 'm', "PATH", "the ONNX model (a .onnx file or a folder holding model.onnx)"},
    {"output_path", 'o', "DIR", "where model_config.json with the tuned inference_settings is written"},
    {"device", 0, "DEVICE", "cpu (default) or gpu"},
    {"providers_list", 0, "EP", "execution providers to try, comma-separated (default: the device's)"},
    {"cpu_cores", 0, "N", "the most threads to try (default: the machine's cores)"},
    {"intra_thread_num_list", 0, "N,...", "intra-op thread counts to try (default: 0 (ONNX Runtime's), 1, cpu_cores)"},
    {"inter_thread_num_list", 0, "N,...", "inter-op thread counts to try with the parallel mode (default: 0)"},
    {"execution_mode_list", 0, "MODE,...", "ORT_SEQUENTIAL and/or ORT_PARALLEL (default: both)"},
    {"opt_level_list", 0, "N,...", "graph optimization levels: 0 disable, 1 basic, 2 extended, 99 all (default: 99)"},
    {"io_bind", 0, NULL, "accepted for Olive's scripts; inputs already stay in host memory here"},
    {"enable_cuda_graph", 0, NULL, "accepted for Olive's scripts; CUDA graphs are not tried"},
    {"batch_size", 0, "N", "the size given to dynamic dims (default 1)"},
    {"sequence_length", 0, "N", "the size given to the other dynamic dims (default 8)"},
    {"repeat", 0, "N", "timed runs per setting after 2 warm-up runs (default 10)"},
    {NULL, 0, NULL, NULL},
};

static const cli_help help = {
    "tune-session-params",
    "-m MODEL -o DIR [--providers_list EP,...] [--intra_thread_num_list N,...] ...",
    "Finds the ONNX Runtime session settings with the lowest average latency for one model, as\n"
    "Olive's OrtSessionParamsTuning does: every combination of the listed thread counts, execution\n"
    "modes, optimization levels and providers is run on generated inputs (dynamic dims set from\n"
    "--batch_size and --sequence_length); the fastest is printed and written as inference_settings\n"
    "in DIR/model_config.json.",
    options,
    "Example:\n  olive tune-session-params -m model.onnx -o tuned --intra_thread_num_list 1,2,4",
};

typedef struct tune_args {
    const char *model, *output, *device, *providers;
    long cpu_cores, batch, seq, repeat;
    long intra[MAX_LIST], inter[MAX_LIST], level[MAX_LIST];
    size_t n_intra, n_inter, n_level;
    int modes; /* bit 0 sequential, bit 1 parallel */
} tune_args;

static int parse_list(long *out, size_t *n, const char *v, const char *flag)
{
    char *copy = strdup(v), *save = NULL;
    *n = 0;
    if (!copy)
        return cli_usage("tune-session-params", "out of memory");
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        long x = strtol(t, &end, 10);
        if (*end || x < 0 || *n >= MAX_LIST) {
            free(copy);
            return cli_usage("tune-session-params", "--%s expects up to %d numbers >= 0, not '%s'", flag, MAX_LIST, v);
        }
        out[(*n)++] = x;
    }
    free(copy);
    return *n ? CLI_EXIT_OK : cli_usage("tune-session-params", "--%s is empty", flag);
}

static int on_arg(void *ctx, const cli_option *opt, const char *value)
{
    tune_args *a = ctx;
    const char *n = opt ? opt->long_name : NULL;
    long *num = NULL;
    if (!opt)
        return cli_usage("tune-session-params", "unexpected argument '%s'", value);
    if (!strcmp(n, "model_name_or_path"))
        a->model = value;
    else if (!strcmp(n, "output_path"))
        a->output = value;
    else if (!strcmp(n, "device"))
        a->device = value;
    else if (!strcmp(n, "providers_list"))
        a->providers = value;
    else if (!strcmp(n, "intra_thread_num_list"))
        return parse_list(a->intra, &a->n_intra, value, n);
    else if (!strcmp(n, "inter_thread_num_list"))
        return parse_list(a->inter, &a->n_inter, value, n);
    else if (!strcmp(n, "opt_level_list"))
        return parse_list(a->level, &a->n_level, value, n);
    else if (!strcmp(n, "execution_mode_list")) {
        a->modes = 0;
        if (strstr(value, "ORT_SEQUENTIAL") || strstr(value, "sequential"))
            a->modes |= 1;
        if (strstr(value, "ORT_PARALLEL") || strstr(value, "parallel"))
            a->modes |= 2;
        if (!a->modes)
            return cli_usage("tune-session-params", "--execution_mode_list takes ORT_SEQUENTIAL and/or ORT_PARALLEL");
    } else if (!strcmp(n, "cpu_cores"))
        num = &a->cpu_cores;
    else if (!strcmp(n, "batch_size"))
        num = &a->batch;
    else if (!strcmp(n, "sequence_length"))
        num = &a->seq;
    else if (!strcmp(n, "repeat"))
        num = &a->repeat;
    if (num) {
        char *end;
        *num = strtol(value, &end, 10);
        if (!*value || *end || *num <= 0)
            return cli_usage("tune-session-params", "--%s expects a number > 0, not '%s'", n, value);
    }
    return CLI_EXIT_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Inputs for every model input: dynamic dims from batch/sequence, ids 1, floats 0.5, masks 1. */
static int make_inputs(olive_tensor **t, const char **names, olive_session *s, const tune_args *a)
{
    size_t n = olive_session_input_count(s);
    for (size_t i = 0; i < n; i++) {
        int64_t shape[8];
        size_t rank = olive_session_input_rank(s, i);
        olive_dtype dt = olive_session_input_dtype(s, i);
        int rc;
        if (rank > 8)
            return OLIVE_EUNSUPPORTED;
        for (size_t d = 0; d < rank; d++) {
            int64_t v = olive_session_input_dim(s, i, d);
            shape[d] = v > 0 ? v : d == 0 ? a->batch : a->seq;
        }
        if ((rc = olive_tensor_new(&t[i], dt, shape, rank)) != OLIVE_OK)
            return rc;
        names[i] = olive_session_input_name(s, i);
        uint64_t count = olive_tensor_element_count(t[i]);
        void *p = olive_tensor_data(t[i]);
        for (uint64_t k = 0; k < count; k++) {
            if (dt == OLIVE_DTYPE_FLOAT32)
                ((float *)p)[k] = 0.5f;
            else if (dt == OLIVE_DTYPE_INT64)
                ((int64_t *)p)[k] = 1;
            else if (dt == OLIVE_DTYPE_INT32)
                ((int32_t *)p)[k] = 1;
        }
    }
    return OLIVE_OK;
}

/* Average seconds per run of the model with `options`, or a negative error code. */
static int measure(double *out, const char *path, const olive_accelerator *acc, const char *options, const tune_args *a)
{
    olive_session *s = NULL;
    olive_tensor *in[64] = {0}, **res = NULL;
    const char *names[64];
    size_t n_in = 0, n_out = 0;
    int rc = olive_session_new_from_path(&s, path, acc, options);
    if (rc != OLIVE_OK)
        return rc;
    n_in = olive_session_input_count(s);
    n_out = olive_session_output_count(s);
    if (n_in > 64 || !(res = calloc(n_out + 1, sizeof *res))) {
        olive_session_free(s);
        return OLIVE_ENOMEM;
    }
    rc = make_inputs(in, names, s, a);
    double t0 = 0;
    for (long r = 0; rc == OLIVE_OK && r < a->repeat + 2; r++) {
        if (r == 2)
            t0 = now_s();
        rc = olive_session_run(res, s, names, (const olive_tensor *const *)in, n_in, NULL, n_out);
        for (size_t k = 0; rc == OLIVE_OK && k < n_out; k++)
            olive_tensor_free(res[k]);
    }
    if (rc == OLIVE_OK)
        *out = (now_s() - t0) / (double)a->repeat;
    for (size_t i = 0; i < n_in; i++)
        olive_tensor_free(in[i]);
    free(res);
    olive_session_free(s);
    return rc;
}

static const char *level_name(long l)
{
    return l == 0 ? "disable" : l == 1 ? "basic" : l == 2 ? "extended" : "all";
}

int cli_cmd_tune_session(int argc, char **argv)
{
    tune_args a = {.batch = 1, .seq = 8, .repeat = 10, .modes = 3};
    olive_accelerator *acc = NULL;
    char path[4096], best_opts[512] = "", provs[512];
    double best = -1;
    int rc = cli_parse(argc, argv, &help, on_arg, &a), tried = 0;
    long best_intra = 0, best_inter = 0, best_level = 99;
    int best_mode = 1;
    const char *best_provider = NULL;
    if (rc == CLI_PARSED_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!a.model || !a.output)
        return cli_usage("tune-session-params", "-m MODEL and -o DIR are required");
    snprintf(path, sizeof path, "%s", a.model);
    if (!strstr(a.model, ".onnx"))
        snprintf(path, sizeof path, "%s/model.onnx", a.model);
    if ((rc = olive_accelerator_new(&acc, a.device ? a.device : "cpu", NULL)) != OLIVE_OK)
        return cli_fail(rc);
    if (!a.cpu_cores)
        a.cpu_cores = olive_accelerator_cpu_cores(acc) > 0 ? olive_accelerator_cpu_cores(acc) : 1;
    if (!a.n_intra) {
        long d[] = {0, 1, a.cpu_cores};
        for (size_t i = 0; i < 3; i++)
            if (!a.n_intra || a.intra[a.n_intra - 1] != d[i])
                a.intra[a.n_intra++] = d[i];
    }
    if (!a.n_inter)
        a.inter[a.n_inter++] = 0;
    if (!a.n_level)
        a.level[a.n_level++] = 99;
    snprintf(provs, sizeof provs, "%s", a.providers ? a.providers : olive_accelerator_provider(acc));
    olive_accelerator_free(acc);
    acc = NULL;
    char *save = NULL;
    for (char *ep = strtok_r(provs, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
        olive_accelerator *pacc = NULL;
        if ((rc = olive_accelerator_new(&pacc, a.device ? a.device : "cpu", ep)) != OLIVE_OK) {
            fprintf(stderr, "olive: %s skipped: %s\n", ep, olive_error_last());
            continue;
        }
        for (size_t li = 0; li < a.n_level; li++)
            for (int mode = 1; mode <= 2; mode++) {
                if (!(a.modes & mode))
                    continue;
                for (size_t ii = 0; ii < a.n_intra; ii++)
                    for (size_t ei = 0; ei < (mode == 2 ? a.n_inter : 1); ei++) {
                        char opts[512];
                        double t = 0;
                        long inter = mode == 2 ? a.inter[ei] : 0;
                        snprintf(opts, sizeof opts,
                                 "intra_op_num_threads=%ld inter_op_num_threads=%ld "
                                 "execution_mode=%s graph_optimization_level=%s",
                                 a.intra[ii], inter, mode == 1 ? "sequential" : "parallel", level_name(a.level[li]));
                        rc = measure(&t, path, pacc, opts, &a);
                        tried++;
                        if (rc != OLIVE_OK) {
                            printf("%-28s %s: failed: %s\n", ep, opts, olive_error_last());
                            if (rc == OLIVE_ENOTFOUND && !strstr(olive_error_last(), "option")) {
                                olive_accelerator_free(pacc);
                                return cli_fail(rc); /* no model or no ONNX Runtime */
                            }
                            continue;
                        }
                        printf("%-28s %s: %.4f ms\n", ep, opts, t * 1e3);
                        if (best < 0 || t < best) {
                            best = t;
                            snprintf(best_opts, sizeof best_opts, "%s", opts);
                            best_intra = a.intra[ii];
                            best_inter = inter;
                            best_mode = mode;
                            best_level = a.level[li];
                            best_provider = ep;
                        }
                    }
            }
        olive_accelerator_free(pacc); /* ep points into provs, which outlives the loop */
    }
    if (best < 0) {
        fprintf(stderr, "olive: error: none of the %d settings ran\n", tried);
        return CLI_EXIT_FAILURE;
    }
    printf("best of %d settings: %s, %s: %.3f ms\n", tried, best_provider, best_opts, best * 1e3);
    {
        char mc_path[4096];
        json_t *mc = json_pack("{s:s, s:{s:s, s:{s:[s], s:{s:I, s:I, s:i, s:I}}}, s:f}", "type", "ONNXModel", "config",
                               "model_path", path, "inference_settings", "execution_provider", best_provider,
                               "session_options", "intra_op_num_threads", (json_int_t)best_intra,
                               "inter_op_num_threads", (json_int_t)best_inter, "execution_mode", best_mode - 1,
                               "graph_optimization_level", (json_int_t)best_level, "latency_ms", best * 1e3);
        snprintf(mc_path, sizeof mc_path, "%s/model_config.json", a.output);
        if (!mc || (mkdir(a.output, 0777) != 0 && errno != EEXIST) ||
            json_dump_file(mc, mc_path, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "olive: error: cannot write '%s'\n", mc_path);
            json_decref(mc);
            return CLI_EXIT_FAILURE;
        }
        json_decref(mc);
        printf("inference_settings written to %s\n", mc_path);
    }
    return CLI_EXIT_OK;
}
