/* Flag parsing and help pages shared by every command. */
#include <string.h>

#include "cli.h"

static const cli_option help_option = {"help", 'h', NULL, "show this help and exit"};
static const cli_option log_level_option = {"log_level", 0, "N",
                                            "log level: 0 debug, 1 info, 2 warning (default), 3 error, 4 silent"};

/* Olive spells flags with underscores; accept dashes too, as people type both. */
static int flag_name_equals(const char *name, size_t len, const char *long_name)
{
    if (strlen(long_name) != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char a = name[i] == '-' ? '_' : name[i];
        char b = long_name[i] == '-' ? '_' : long_name[i];
        if (a != b)
            return 0;
    }
    return 1;
}

static const cli_option *find_long(const cli_option *opts, const char *name, size_t len)
{
    if (flag_name_equals(name, len, help_option.long_name))
        return &help_option;
    if (flag_name_equals(name, len, log_level_option.long_name))
        return &log_level_option;
    for (const cli_option *o = opts; o && o->long_name; o++)
        if (flag_name_equals(name, len, o->long_name))
            return o;
    return NULL;
}

static const cli_option *find_short(const cli_option *opts, char c)
{
    if (c == help_option.short_name)
        return &help_option;
    for (const cli_option *o = opts; o && o->long_name; o++)
        if (o->short_name && o->short_name == c)
            return o;
    return NULL;
}

/* Handles the flags every command has; other flags go to the command. */
static int dispatch(const cli_help *help, const cli_option *opt, const char *value, cli_arg_fn fn, void *ctx)
{
    if (opt == &help_option) {
        cli_print_help(stdout, help);
        return CLI_PARSED_HELP;
    }
    if (opt == &log_level_option) {
        if (cli_set_log_level(value) != 0)
            return cli_usage(help->command, "invalid value '%s' for --log_level: expected 0 (debug) to 4 (silent)",
                             value);
        return CLI_EXIT_OK;
    }
    return fn(ctx, opt, value);
}

int cli_parse(int argc, char **argv, const cli_help *help, cli_arg_fn fn, void *ctx)
{
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const cli_option *opt = NULL;
        const char *value = NULL;
        int inline_value = 0;
        int rc;

        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            rc = fn(ctx, NULL, arg);
            if (rc != CLI_EXIT_OK)
                return rc;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            opt = find_long(help->options, name, len);
            if (!opt)
                return cli_usage(help->command, "unknown option '--%.*s'", (int)len, name);
            if (eq) {
                value = eq + 1;
                inline_value = 1;
            }
        } else {
            opt = find_short(help->options, arg[1]);
            if (!opt)
                return cli_usage(help->command, "unknown option '-%c'", arg[1]);
            if (arg[2] != '\0') {
                value = arg[2] == '=' ? arg + 3 : arg + 2;
                inline_value = 1;
            }
        }

        int wants_value = opt->metavar != NULL;
        if (!wants_value && inline_value)
            return cli_usage(help->command, "option '--%s' takes no value", opt->long_name);
        if (wants_value && !inline_value) {
            if (i + 1 >= argc)
                return cli_usage(help->command, "option '--%s' needs a value (%s)", opt->long_name, opt->metavar);
            value = argv[++i];
        }
        rc = dispatch(help, opt, value, fn, ctx);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    return CLI_EXIT_OK;
}

static void print_option(FILE *out, const cli_option *o)
{
    char left[96];
    if (o->short_name)
        snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->long_name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
    else
        snprintf(left, sizeof left, "    --%s%s%s", o->long_name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
    if (strlen(left) <= 30)
        fprintf(out, "  %-30s  %s\n", left, o->help);
    else
        fprintf(out, "  %s\n  %-30s  %s\n", left, "", o->help);
}

void cli_print_help(FILE *out, const cli_help *help)
{
    fprintf(out, "usage: olive %s %s\n\n", help->command, help->usage);
    if (help->description)
        fprintf(out, "%s\n\n", help->description);
    fprintf(out, "Options:\n");
    for (const cli_option *o = help->options; o && o->long_name; o++)
        print_option(out, o);
    print_option(out, &log_level_option);
    print_option(out, &help_option);
    if (help->epilog)
        fprintf(out, "\n%s\n", help->epilog);
}
