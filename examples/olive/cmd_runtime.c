/* olive runtime: which ONNX Runtime and ONNX Runtime GenAI libraries libolive finds, their
 * versions and execution providers, or why they were not found. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <olive/olive.h>

#include "cli.h"

static void print_library(const char *title, json_t *o)
{
    json_t *providers = json_object_get(o, "providers");
    if (!json_is_true(json_object_get(o, "found"))) {
        printf("%s: not found\n  %s\n", title, json_string_value(json_object_get(o, "error")));
        return;
    }
    printf("%s: %s\n", title, json_string_value(json_object_get(o, "path")));
    printf("  found by:  %s\n", json_string_value(json_object_get(o, "found_by")));
    if (json_object_get(o, "version"))
        printf("  version:   %s (C API %lld)\n", json_string_value(json_object_get(o, "version")),
               (long long)json_integer_value(json_object_get(o, "api_version")));
    if (providers) {
        size_t i;
        json_t *p;
        printf("  providers:");
        json_array_foreach(providers, i, p) printf("%s %s", i ? "," : "", json_string_value(p));
        printf("\n");
    }
}

static const cli_option options[] = {
    {"ort-library", 0, "PATH", "load ONNX Runtime from PATH instead of looking it up"},
    {"json", 0, NULL, "print the library's JSON description instead of text"},
    {NULL, 0, NULL, NULL},
};

static const cli_help help = {
    "runtime",
    "[--ort-library PATH] [--json]",
    "Shows the ONNX Runtime and ONNX Runtime GenAI libraries libolive loads to run models, where\n"
    "they were found, their versions and execution providers, or why they were not found. They\n"
    "are looked up in OLIVE_ORT_LIBRARY / OLIVE_ORT_GENAI_LIBRARY, the system loader path, then\n"
    "the onnxruntime and onnxruntime-genai packages of the python3 on PATH.\n"
    "Exit status 1 when ONNX Runtime is not found.",
    options,
    "Example:\n  olive runtime\n  OLIVE_ORT_LIBRARY=/opt/ort/lib/libonnxruntime.so.1 olive runtime --json",
};

typedef struct runtime_args {
    const char *ort_library;
    int json;
} runtime_args;

static int on_arg(void *ctx, const cli_option *opt, const char *value)
{
    runtime_args *a = ctx;
    if (!opt)
        return cli_usage("runtime", "unexpected argument '%s'", value);
    if (strcmp(opt->long_name, "json") == 0)
        a->json = 1;
    else
        a->ort_library = value;
    return CLI_EXIT_OK;
}

int cli_cmd_runtime(int argc, char **argv)
{
    runtime_args a = {NULL, 0};
    int rc, found;
    char *text = NULL;
    json_t *root;
    rc = cli_parse(argc, argv, &help, on_arg, &a);
    if (rc == CLI_PARSED_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    if (a.ort_library && (rc = olive_runtime_load(a.ort_library)) != OLIVE_OK)
        return cli_fail(rc);
    if ((rc = olive_runtime_info_json(&text)) != OLIVE_OK)
        return cli_fail(rc);
    root = json_loads(text, 0, NULL);
    found = root && json_is_true(json_object_get(json_object_get(root, "onnxruntime"), "found"));
    if (a.json || !root) {
        printf("%s\n", text);
    } else {
        print_library("ONNX Runtime", json_object_get(root, "onnxruntime"));
        print_library("ONNX Runtime GenAI", json_object_get(root, "onnxruntime_genai"));
    }
    json_decref(root);
    olive_free(text);
    return found ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
