/* `olive inspect MODEL [--json]`: what a model takes, gives and is made of. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_json.h"

static const cli_option options[] = {
    {"json", 0, NULL, "print the summary as JSON instead of text"},
    {NULL, 0, NULL, NULL},
};

static const cli_help help = {
    "inspect",
    "MODEL [--json]",
    "Summarizes an ONNX model: inputs and outputs with their types and shapes (symbolic\n"
    "dimensions by name), opset imports, operator counts, initializers, parameter count\n"
    "and weight bytes per data type. MODEL is an .onnx file, or a folder holding one (an\n"
    "output folder: the model its model_config.json names, else model.onnx). Packed int4/int8\n"
    "weights (MatMulNBits, GatherBlockQuantized) count as the weights they hold; their block\n"
    "scales and zero points are not parameters.",
    options,
    "Example:\n  olive inspect model.onnx\n  olive inspect model.onnx --json | jq .parameter_count",
};

typedef struct inspect_args {
    const char *model;
    int json;
} inspect_args;

static int on_arg(void *ctx, const cli_option *opt, const char *value)
{
    inspect_args *a = ctx;
    if (!opt) {
        if (a->model)
            return cli_usage("inspect", "unexpected argument '%s': give one model", value);
        a->model = value;
    } else if (strcmp(opt->long_name, "json") == 0) {
        a->json = 1;
    }
    return CLI_EXIT_OK;
}

/* "[batch, 128, ?]": integers as numbers, symbolic dims by name, unknown ones as "?". */
static void print_shape(const json_t *shape)
{
    if (!json_is_array(shape)) {
        printf("(unknown shape)");
        return;
    }
    size_t i;
    json_t *dim;
    putchar('[');
    json_array_foreach(shape, i, dim)
    {
        if (i)
            printf(", ");
        if (json_is_integer(dim))
            printf("%" JSON_INTEGER_FORMAT, json_integer_value(dim));
        else if (json_is_string(dim) && json_string_length(dim) > 0)
            printf("%s", json_string_value(dim));
        else
            putchar('?');
    }
    putchar(']');
}

/* A value's type: "float" for tensors, "sequence(float)", "map(int64, float)", ... */
static void type_text(const json_t *type, char *buf, size_t size)
{
    const char *kind = cli_json_str(type, "kind", "unknown");
    const json_t *element = cli_json_get(type, "element");
    char inner[96] = "?";
    if (strcmp(kind, "tensor") == 0 || strcmp(kind, "sparse_tensor") == 0) {
        snprintf(buf, size, "%s%s", kind[0] == 's' ? "sparse " : "", cli_json_str(type, "dtype", "?"));
        return;
    }
    if (element)
        type_text(element, inner, sizeof inner);
    if (strcmp(kind, "map") == 0)
        snprintf(buf, size, "map(%s, %s)", cli_json_str(type, "key_dtype", "?"), inner);
    else if (element)
        snprintf(buf, size, "%s(%s)", kind, inner);
    else
        snprintf(buf, size, "%s", kind);
}

static void print_values(const char *title, const json_t *values)
{
    size_t i, width = 4;
    json_t *v;
    printf("%s (%zu):\n", title, json_array_size(values));
    json_array_foreach(values, i, v)
    {
        size_t len = strlen(cli_json_str(v, "name", ""));
        if (len > width)
            width = len;
    }
    if (width > 40)
        width = 40;
    json_array_foreach(values, i, v)
    {
        char type[128];
        type_text(v, type, sizeof type);
        printf("  %-*s  %-9s", (int)width, cli_json_str(v, "name", "?"), type);
        if (cli_json_get(v, "dtype") && !json_is_null(cli_json_get(v, "dtype"))) {
            printf("  ");
            print_shape(cli_json_get(v, "shape"));
        }
        putchar('\n');
    }
}

static void print_opsets(const json_t *opsets)
{
    size_t i;
    json_t *o;
    printf("Opsets: ");
    json_array_foreach(opsets, i, o)
        printf("%s%s %lld", i ? ", " : "", cli_json_str(o, "domain", "?"), (long long)cli_json_int(o, "version", -1));
    printf("%s\n", json_array_size(opsets) ? "" : "none");
}

typedef struct op_count {
    const char *op;
    int64_t count;
} op_count;

static int by_count_then_name(const void *pa, const void *pb)
{
    const op_count *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->op, b->op);
}

/* op_types maps "MatMul" (or "com.microsoft.GroupQueryAttention") to its node count. */
static int print_op_histogram(const json_t *summary)
{
    const json_t *hist = cli_json_get(summary, "op_types");
    size_t n = json_object_size(hist), k = 0;
    op_count *ops = calloc(n ? n : 1, sizeof *ops);
    if (!ops) {
        fprintf(stderr, "olive: error: out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    const char *op;
    json_t *count;
    json_object_foreach((json_t *)hist, op, count)
    {
        ops[k].op = op;
        ops[k++].count = json_integer_value(count);
    }
    qsort(ops, k, sizeof *ops, by_count_then_name);

    int64_t nodes = cli_json_int(summary, "node_count", 0);
    int64_t all = cli_json_int(summary, "node_count_with_subgraphs", nodes);
    printf("Nodes: %lld", (long long)nodes);
    if (all != nodes)
        printf(" (%lld with subgraphs)", (long long)all);
    printf(", %zu operator type%s:\n", k, k == 1 ? "" : "s");
    for (size_t i = 0; i < k; i++)
        printf("  %-32s %lld\n", ops[i].op, (long long)ops[i].count);
    free(ops);
    return CLI_EXIT_OK;
}

/* " (1.2M)" after a count big enough to need it, "" for small ones. */
static const char *approx_count(char *buf, size_t size, uint64_t count)
{
    char human[32];
    if (count < 1000)
        return "";
    snprintf(buf, size, " (%s)", cli_format_count(human, sizeof human, count));
    return buf;
}

static void print_dtypes(const json_t *summary)
{
    const json_t *by = cli_json_get(summary, "parameters_by_dtype");
    const char *dtype;
    json_t *entry;
    if (json_object_size(by) == 0)
        return;
    printf("Weights by data type:\n");
    json_object_foreach((json_t *)by, dtype, entry)
    {
        char bytes[32], elems[32];
        int64_t b = cli_json_int(entry, "bytes", 0), e = cli_json_int(entry, "elements", 0);
        printf("  %-14s %11s  %lld elements%s\n", dtype, cli_format_bytes(bytes, sizeof bytes, (uint64_t)b),
               (long long)e, approx_count(elems, sizeof elems, (uint64_t)e));
    }
}

static void print_metadata(const json_t *metadata)
{
    const char *key;
    json_t *value;
    if (json_object_size(metadata) == 0)
        return;
    printf("\nMetadata:\n");
    json_object_foreach((json_t *)metadata, key, value)
        printf("  %s: %s\n", key, json_is_string(value) ? json_string_value(value) : "?");
}

/* A source checkpoint has no graph yet: its kind, architecture and weights. */
static int print_checkpoint(const char *path, const json_t *c)
{
    char human[32];
    int64_t params = cli_json_int(c, "parameter_count", 0);
    printf("Checkpoint: %s\n", path);
    printf("Format: %s\n", strcmp(cli_json_str(c, "kind", ""), "gguf") ? "Hugging Face folder" : "GGUF file");
    printf("Architecture: %s\n", cli_json_str(c, "architecture", cli_json_str(c, "model_type", "(not given)")));
    printf("Tensors: %lld\n", (long long)cli_json_int(c, "tensor_count", 0));
    printf("Parameters: %lld%s", (long long)params, approx_count(human, sizeof human, (uint64_t)params));
    printf(" in %s\n", cli_format_bytes(human, sizeof human, (uint64_t)cli_json_int(c, "parameter_bytes", 0)));
    printf("(no ONNX graph yet: the convert pass, or 'olive auto-opt', turns it into one)\n");
    return CLI_EXIT_OK;
}

static int print_summary(const char *path, const json_t *s)
{
    char human[32];
    if (cli_json_get(s, "checkpoint"))
        return print_checkpoint(path, cli_json_get(s, "checkpoint"));
    printf("Model: %s\n", path);
    printf("IR version: %lld\n", (long long)cli_json_int(s, "ir_version", 0));
    const char *producer = cli_json_str(s, "producer_name", "");
    if (producer[0]) {
        const char *pv = cli_json_str(s, "producer_version", "");
        printf("Producer: %s%s%s\n", producer, pv[0] ? " " : "", pv);
    }
    print_opsets(cli_json_get(s, "opsets"));
    putchar('\n');
    print_values("Inputs", cli_json_get(s, "inputs"));
    print_values("Outputs", cli_json_get(s, "outputs"));
    putchar('\n');
    if (print_op_histogram(s) != CLI_EXIT_OK)
        return CLI_EXIT_FAILURE;
    putchar('\n');

    int64_t params = cli_json_int(s, "parameter_count", 0);
    int64_t bytes = cli_json_int(s, "parameter_bytes", 0);
    printf("Initializers: %lld\n", (long long)cli_json_int(s, "initializer_count", 0));
    printf("Parameters: %lld%s", (long long)params, approx_count(human, sizeof human, (uint64_t)params));
    printf(" in %s\n", cli_format_bytes(human, sizeof human, (uint64_t)bytes));
    print_dtypes(s);
    print_metadata(cli_json_get(s, "metadata"));
    return CLI_EXIT_OK;
}

/* The model file of an output folder (olive's or any folder holding an ONNX model): the file
 * model_config.json names, else model.onnx. NULL when `path` is not such a folder (it is then
 * loaded as given). */
static char *model_in_folder(const char *path)
{
    struct stat st;
    char *file = NULL;
    const char *name = "model.onnx";
    json_t *config = NULL;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    file = malloc(strlen(path) + sizeof "/model_config.json");
    if (!file)
        return NULL;
    sprintf(file, "%s/model_config.json", path);
    if ((config = json_load_file(file, 0, NULL))) {
        const char *named = cli_json_str(cli_json_get(config, "config"), "onnx_file_name", NULL);
        /* Only a plain file name: nothing outside the folder is read through the config. */
        if (named && named[0] && !strchr(named, '/') && strcmp(named, "..") && strcmp(named, "."))
            name = named;
    }
    free(file);
    file = malloc(strlen(path) + strlen(name) + 2);
    if (file)
        sprintf(file, "%s/%s", path, name);
    json_decref(config);
    if (file && (stat(file, &st) != 0 || !S_ISREG(st.st_mode))) {
        free(file);
        return NULL;
    }
    return file;
}

int cli_cmd_inspect(int argc, char **argv)
{
    inspect_args a = {0};
    int rc = cli_parse(argc, argv, &help, on_arg, &a);
    if (rc == CLI_PARSED_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!a.model)
        return cli_usage("inspect", "missing MODEL: give the path of an .onnx file");

    olive_model *model = NULL;
    char *text = NULL, *in_folder = model_in_folder(a.model);
    if (in_folder)
        a.model = in_folder;
    rc = olive_model_load(&model, a.model);
    if (rc == OLIVE_OK)
        rc = olive_model_summary_json(&text, model);
    olive_model_free(model);
    if (rc != OLIVE_OK) {
        free(in_folder);
        return cli_fail(rc);
    }

    if (a.json) {
        printf("%s\n", text);
        olive_free(text);
        free(in_folder);
        return CLI_EXIT_OK;
    }
    json_t *summary = cli_json_take(text, "model summary");
    if (!summary) {
        free(in_folder);
        return CLI_EXIT_FAILURE;
    }
    rc = print_summary(a.model, summary);
    json_decref(summary);
    free(in_folder);
    return rc;
}
