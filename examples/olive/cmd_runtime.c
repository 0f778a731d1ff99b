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
        json_array_foreach(providers, i, p)
            printf("%s %s", i ? "," : "", json_string_value(p));
        printf("\n");
    }
}

int cli_cmd_runtime(int argc, char **argv)
{
    const char *ort_library = NULL;
    int as_json = 0, rc, found;
    char *text = NULL;
    json_t *root;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: olive runtime [--ort-library PATH] [--json]\n\n"
                   "Shows the ONNX Runtime and ONNX Runtime GenAI libraries libolive loads (looked up in\n"
                   "OLIVE_ORT_LIBRARY / OLIVE_ORT_GENAI_LIBRARY, the system loader path, then the Python\n"
                   "packages of python3), their versions and execution providers.\n\n"
                   "Options:\n"
                   "      --ort-library PATH  load ONNX Runtime from PATH\n"
                   "      --json              print the description as JSON\n"
                   "Exit status: 0 when ONNX Runtime was found, 1 when not.\n");
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--ort-library") == 0 && i + 1 < argc) {
            ort_library = argv[++i];
        } else {
            return cli_usage("runtime", "unknown or incomplete option '%s'", argv[i]);
        }
    }
    if (ort_library && (rc = olive_runtime_load(ort_library)) != OLIVE_OK)
        return cli_fail(rc);
    if ((rc = olive_runtime_info_json(&text)) != OLIVE_OK)
        return cli_fail(rc);
    root = json_loads(text, 0, NULL);
    found = root && json_is_true(json_object_get(json_object_get(root, "onnxruntime"), "found"));
    if (as_json || !root) {
        printf("%s\n", text);
    } else {
        print_library("ONNX Runtime", json_object_get(root, "onnxruntime"));
        print_library("ONNX Runtime GenAI", json_object_get(root, "onnxruntime_genai"));
    }
    json_decref(root);
    olive_free(text);
    return found ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
