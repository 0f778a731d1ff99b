/* `olive passes [NAME] [--json]`: the pass registry, as the library describes it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <olive/olive.h>

#include "cli.h"
#include "cli_json.h"

static const cli_option options[] = {
    {"json", 0, NULL, "print the library's JSON description instead of text"},
    {NULL, 0, NULL, NULL},
};

static const cli_help help = {
    "passes",
    "[NAME] [--json]",
    "Without NAME, lists the registered passes with a one-line summary each.\n"
    "With NAME (a pass name or an Olive pass type, e.g. OnnxPeepholeOptimizer), describes\n"
    "the pass's parameters: type, default, accepted range or choices, what it does, and the\n"
    "default candidates of those a search tries.",
    options,
    "Example:\n  olive passes\n  olive passes peephole",
};

typedef struct passes_args {
    const char *name;
    int json;
} passes_args;

static int on_arg(void *ctx, const cli_option *opt, const char *value)
{
    passes_args *a = ctx;
    if (!opt) {
        if (a->name)
            return cli_usage("passes", "unexpected argument '%s': give at most one pass name", value);
        a->name = value;
    } else if (strcmp(opt->long_name, "json") == 0) {
        a->json = 1;
    }
    return CLI_EXIT_OK;
}

static json_t *describe(const char *name, int *rc)
{
    char *text = NULL;
    *rc = olive_pass_describe_json(&text, name);
    if (*rc != OLIVE_OK)
        return NULL;
    json_t *doc = cli_json_take(text, "pass description");
    if (!doc)
        *rc = OLIVE_EINTERNAL;
    return doc;
}

static int list_passes(int as_json)
{
    size_t n = olive_pass_registry_count();
    size_t width = 8;
    for (size_t i = 0; i < n; i++) {
        const char *name = olive_pass_registry_name(i);
        if (name && strlen(name) > width)
            width = strlen(name);
    }
    json_t *all = as_json ? json_array() : NULL;
    if (!as_json)
        printf("Passes (%zu):\n", n);
    for (size_t i = 0; i < n; i++) {
        const char *name = olive_pass_registry_name(i);
        int rc;
        if (!name)
            continue;
        json_t *desc = describe(name, &rc);
        if (!desc) {
            json_decref(all);
            return rc == OLIVE_EINTERNAL ? CLI_EXIT_FAILURE : cli_fail(rc);
        }
        if (as_json)
            json_array_append_new(all, desc);
        else {
            printf("  %-*s  %s\n", (int)width, name, cli_json_str(desc, "summary", ""));
            json_decref(desc);
        }
    }
    if (as_json) {
        char *text = json_dumps(all, JSON_INDENT(2));
        json_decref(all);
        if (!text) {
            fprintf(stderr, "olive: error: out of memory\n");
            return CLI_EXIT_FAILURE;
        }
        printf("%s\n", text);
        free(text);
    } else {
        printf("\nRun 'olive passes NAME' for the parameters of a pass.\n");
    }
    return CLI_EXIT_OK;
}

/* Prints `text` in lines of at most about 100 columns, each indented by `indent` spaces. */
static void print_wrapped(int indent, const char *text)
{
    const int width = 100 - indent;
    while (*text) {
        int len = (int)strlen(text), cut = len;
        if (len > width) {
            for (cut = width; cut > 0 && text[cut] != ' '; cut--)
                ;
            if (cut == 0)
                cut = len;
        }
        printf("%*s%.*s\n", indent, "", cut, text);
        text += cut;
        while (*text == ' ')
            text++;
    }
}

static void print_choices(const json_t *choices)
{
    size_t i;
    json_t *c;
    json_array_foreach(choices, i, c) printf("%s%s", i ? ", " : "", json_is_string(c) ? json_string_value(c) : "?");
}

static void print_param(const json_t *param)
{
    char text[512];
    const json_t *dflt = cli_json_get(param, "default");
    const json_t *min = cli_json_get(param, "min");
    const json_t *max = cli_json_get(param, "max");
    const json_t *choices = cli_json_get(param, "choices");

    printf("  %s (%s", cli_json_str(param, "name", "?"), cli_json_str(param, "type", "?"));
    if (dflt && !json_is_null(dflt)) {
        cli_json_scalar_text(dflt, text, sizeof text);
        printf(", default %s", text[0] ? text : "\"\"");
    }
    if (json_is_number(min) || json_is_number(max)) {
        printf(", range ");
        if (json_is_number(min))
            printf("%s", cli_json_scalar_text(min, text, sizeof text));
        printf("..");
        if (json_is_number(max))
            printf("%s", cli_json_scalar_text(max, text, sizeof text));
    }
    if (json_array_size(choices)) {
        printf(", one of: ");
        print_choices(choices);
    }
    printf(")\n");
    const char *help_text = cli_json_str(param, "help", "");
    if (help_text[0])
        printf("      %s\n", help_text);
    print_wrapped(6, cli_json_str(param, "details", ""));
}

/* The Olive pass types, with the settings a type implies: "OnnxMatMul4Quantizer (bits=4)". */
static void print_olive_types(const json_t *types)
{
    size_t i;
    json_t *type;
    if (!json_array_size(types))
        return;
    printf("Olive pass types: ");
    json_array_foreach(types, i, type)
    {
        const char *fixed = cli_json_str(type, "fixed", "");
        printf("%s%s", i ? ", " : "", cli_json_str(type, "type", "?"));
        if (fixed[0])
            printf(" (%s)", fixed);
    }
    putchar('\n');
}

/* The parameters a search tries, with their default candidates. */
static void print_searchable(const json_t *params)
{
    size_t i;
    json_t *param;
    int any = 0;
    json_array_foreach(params, i, param)
    {
        const json_t *search = cli_json_get(param, "search");
        if (!json_array_size(search))
            continue;
        if (!any++)
            printf("\nSearchable parameters (default candidates):\n");
        printf("  %s: ", cli_json_str(param, "name", "?"));
        print_choices(search);
        putchar('\n');
    }
}

/* "Surgeons (52):" then the names, ", "-separated and wrapped, for a pass that chooses among
 * named units. */
static void print_catalog(const json_t *catalog)
{
    const json_t *names = json_object_get(catalog, "names");
    const char *label = cli_json_str(catalog, "label", "names");
    size_t i, len = 1;
    json_t *n;
    char *list;
    if (!json_array_size(names))
        return;
    json_array_foreach(names, i, n) len += strlen(json_string_value(n)) + 2;
    if (!(list = malloc(len)))
        return;
    list[0] = 0;
    json_array_foreach(names, i, n)
    {
        if (i)
            strcat(list, ", ");
        strcat(list, json_string_value(n));
    }
    printf("\n%c%s (%zu):\n", toupper((unsigned char)label[0]), label + 1, json_array_size(names));
    print_wrapped(2, list);
    free(list);
}

static int describe_pass(const char *name, int as_json)
{
    if (as_json) {
        char *text = NULL;
        int rc = olive_pass_describe_json(&text, name);
        if (rc != OLIVE_OK)
            return cli_fail(rc);
        printf("%s\n", text);
        olive_free(text);
        return CLI_EXIT_OK;
    }
    int rc;
    json_t *desc = describe(name, &rc);
    if (!desc)
        return rc == OLIVE_EINTERNAL ? CLI_EXIT_FAILURE : cli_fail(rc);

    printf("%s: %s\n", cli_json_str(desc, "name", name), cli_json_str(desc, "summary", ""));
    print_wrapped(0, cli_json_str(desc, "details", ""));
    print_olive_types(cli_json_get(desc, "olive_types"));
    const json_t *params = cli_json_get(desc, "parameters");
    if (json_array_size(params) == 0) {
        printf("\nNo parameters.\n");
    } else {
        size_t i;
        json_t *param;
        printf("\nParameters (set with --param KEY=VALUE):\n");
        json_array_foreach(params, i, param) print_param(param);
    }
    print_searchable(params);
    print_catalog(cli_json_get(desc, "catalog"));
    json_decref(desc);
    return CLI_EXIT_OK;
}

int cli_cmd_passes(int argc, char **argv)
{
    passes_args a = {0};
    int rc = cli_parse(argc, argv, &help, on_arg, &a);
    if (rc == CLI_PARSED_HELP)
        return CLI_EXIT_OK;
    if (rc != CLI_EXIT_OK)
        return rc;
    return a.name ? describe_pass(a.name, a.json) : list_passes(a.json);
}
