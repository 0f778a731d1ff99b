/* `olive tune-session-params` (Olive's command): runs the library's OrtSessionParamsTuning
 * pass (session_params_tuning) on one model with this command's flags, prints the latency of
 * each setting it tries (the pass's log lines) and writes the fastest as `inference_settings`
 * in DIR/model_config.json, as Olive does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

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
    {"io_bind", 0, NULL, "recorded in inference_settings; inputs stay in host memory while tuning"},
    {"enable_cuda_graph", 0, NULL, "recorded as the CUDA provider's option; CUDA graphs are not tried"},
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
    int io_bind, cuda_graph;
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
    else if (!strcmp(n, "io_bind"))
        a->io_bind = 1;
    else if (!strcmp(n, "enable_cuda_graph"))
        a->cuda_graph = 1;
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

/* A list of numbers as the pass takes it ("1,2,4"). */
static void list_text(char *out, size_t size, const long *v, size_t n)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%ld", i ? "," : "", v[i]);
}

/* The pass logs each setting it tries and the best at INFO level, prefixed with its name:
 * those lines are this command's output; warnings and errors go to stderr as usual. */
#define TUNING_PREFIX "session_params_tuning: "

static void on_log(int level, const char *message, void *user)
{
    int shown = *(const int *)user;
    if (!strncmp(message, TUNING_PREFIX, strlen(TUNING_PREFIX)))
        printf("%s\n", message + strlen(TUNING_PREFIX));
    else if (level >= shown)
        fprintf(stderr, "%s\n", message);
}

static int set_params(olive_pass *p, const tune_args *a)
{
    char text[512];
    int rc = OLIVE_OK;
    if (a->device)
        rc = olive_pass_set(p, "device", a->device);
    if (rc == OLIVE_OK && a->providers)
        rc = olive_pass_set(p, "providers_list", a->providers);
    if (rc == OLIVE_OK && a->cpu_cores)
        rc = olive_pass_set_int(p, "cpu_cores", a->cpu_cores);
    if (rc == OLIVE_OK && a->n_intra)
        list_text(text, sizeof text, a->intra, a->n_intra), rc = olive_pass_set(p, "intra_thread_num_list", text);
    if (rc == OLIVE_OK && a->n_inter)
        list_text(text, sizeof text, a->inter, a->n_inter), rc = olive_pass_set(p, "inter_thread_num_list", text);
    if (rc == OLIVE_OK && a->n_level)
        list_text(text, sizeof text, a->level, a->n_level), rc = olive_pass_set(p, "opt_level_list", text);
    if (rc == OLIVE_OK)
        rc = olive_pass_set(p, "execution_mode_list",
                            a->modes == 1   ? "ORT_SEQUENTIAL"
                            : a->modes == 2 ? "ORT_PARALLEL"
                                            : "ORT_SEQUENTIAL,ORT_PARALLEL");
    if (rc == OLIVE_OK)
        rc = olive_pass_set_bool(p, "io_bind", a->io_bind);
    if (rc == OLIVE_OK)
        rc = olive_pass_set_bool(p, "enable_cuda_graph", a->cuda_graph);
    if (rc == OLIVE_OK)
        rc = olive_pass_set_int(p, "batch_size", a->batch);
    if (rc == OLIVE_OK)
        rc = olive_pass_set_int(p, "sequence_length", a->seq);
    if (rc == OLIVE_OK)
        rc = olive_pass_set_int(p, "repeat", a->repeat);
    return rc;
}

/* DIR/model_config.json: the input model with the tuned inference_settings, as Olive writes it. */
static int write_model_config(const char *dir, const char *model_path, const char *settings)
{
    char mc_path[4096];
    json_t *inf = json_loads(settings, 0, NULL);
    json_t *mc = inf ? json_pack("{s:s, s:{s:s, s:o}}", "type", "ONNXModel", "config", "model_path", model_path,
                                 "inference_settings", inf)
                     : NULL;
    snprintf(mc_path, sizeof mc_path, "%s/model_config.json", dir);
    if (!mc || (mkdir(dir, 0777) != 0 && errno != EEXIST) || json_dump_file(mc, mc_path, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "olive: error: cannot write '%s'\n", mc_path);
        json_decref(mc);
        return CLI_EXIT_FAILURE;
    }
    json_decref(mc);
    printf("inference_settings written to %s\n", mc_path);
    return CLI_EXIT_OK;
}

int cli_cmd_tune_session(int argc, char **argv)
{
    tune_args a = {.batch = 1, .seq = 8, .repeat = 10, .modes = 3};
    olive_model *model = NULL, *tuned = NULL;
    olive_pass *pass = NULL;
    char path[4096];
    int shown, rc = cli_parse(argc, argv, &help, on_arg, &a);
    if (rc == CLI_PARSED_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!a.model || !a.output)
        return cli_usage("tune-session-params", "-m MODEL and -o DIR are required");
    snprintf(path, sizeof path, "%s", a.model);
    if (!strstr(a.model, ".onnx"))
        snprintf(path, sizeof path, "%s/model.onnx", a.model);
    /* The tuning itself is the library's OrtSessionParamsTuning pass. */
    if ((rc = olive_pass_new(&pass, "OrtSessionParamsTuning")) != OLIVE_OK || (rc = set_params(pass, &a)) != OLIVE_OK ||
        (rc = olive_model_load(&model, path)) != OLIVE_OK) {
        olive_pass_free(pass);
        return cli_fail(rc);
    }
    shown = cli_log_level();
    olive_log_set_callback(on_log, &shown);
    if (olive_log_set_level(shown < OLIVE_LOG_INFO ? shown : OLIVE_LOG_INFO) == OLIVE_OK)
        rc = olive_pass_apply(&tuned, pass, model);
    olive_log_set_callback(NULL, NULL);
    if (olive_log_set_level(shown) != OLIVE_OK) /* the level it had: cannot fail */
        shown = OLIVE_LOG_WARNING;
    olive_pass_free(pass);
    olive_model_free(model);
    if (rc != OLIVE_OK)
        return cli_fail(rc);
    if (!olive_model_inference_settings(tuned)) { /* the pass warned: no provider to tune is here */
        fprintf(stderr, "olive: error: none of the settings ran; nothing written\n");
        olive_model_free(tuned);
        return CLI_EXIT_FAILURE;
    }
    rc = write_model_config(a.output, path, olive_model_inference_settings(tuned));
    olive_model_free(tuned);
    return rc;
}
