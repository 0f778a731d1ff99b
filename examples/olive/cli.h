/* The `olive` command-line tool: what every command shares.
 *
 * Each command lives in its own cmd_<name>.c and is listed in the table in main.c. Commands
 * parse their flags with cli_parse (which also handles --help and --log_level), report
 * library failures with cli_fail and bad flags with cli_usage. */
#ifndef OLIVE_CLI_H
#define OLIVE_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Exit statuses. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2
/* 128 + SIGINT, what shells expect from a program stopped by Ctrl-C. */
#define CLI_EXIT_CANCELLED 130

/* cli_parse results besides the exit statuses: help was printed, the command should exit 0. */
#define CLI_PARSED_HELP -1

typedef struct cli_command {
    const char *name;
    const char *summary; /* one line, shown by `olive --help` */
    /* argv[0] is the command name; returns an exit status. */
    int (*run)(int argc, char **argv);
} cli_command;

/* One flag of a command. Flags with a value accept "--name VALUE" and "--name=VALUE"
 * (short form: "-x VALUE"). Tables end with an entry whose long_name is NULL. */
typedef struct cli_option {
    const char *long_name; /* without the leading "--" */
    char short_name;       /* 0 for none */
    const char *metavar;   /* NULL for a flag that takes no value */
    const char *help;
} cli_option;

/* Receives each flag (value is NULL for flags without one) or, when opt is NULL, each
 * positional argument. Returns CLI_EXIT_OK to go on, or an exit status to stop parsing. */
typedef int (*cli_arg_fn)(void *ctx, const cli_option *opt, const char *value);

/* Describes a command for its --help page. */
typedef struct cli_help {
    const char *command;     /* "inspect" */
    const char *usage;       /* "MODEL [--json]" */
    const char *description; /* a paragraph, lines separated by '\n' */
    const cli_option *options;
    const char *epilog; /* examples, or NULL */
} cli_help;

/* Parses argv[1..argc) of a command. --help/-h prints the help page and gives CLI_PARSED_HELP;
 * --log_level N sets the library's log level. Unknown flags, missing values and unexpected
 * values give CLI_EXIT_USAGE after one line on stderr. Otherwise returns what `fn` returned. */
int cli_parse(int argc, char **argv, const cli_help *help, cli_arg_fn fn, void *ctx);

/* Prints a command's help page. */
void cli_print_help(FILE *out, const cli_help *help);

/* Prints "olive: error: <olive_error_last()>" on stderr and returns CLI_EXIT_FAILURE, or
 * CLI_EXIT_CANCELLED when `code` is OLIVE_ECANCELLED. */
int cli_fail(int code);
/* The same with a hint for the command-line user appended: "...; use --overwrite". */
int cli_fail_hint(int code, const char *hint);

/* Prints "olive: error: <message> (see 'olive <command> --help')" and returns CLI_EXIT_USAGE.
 * `command` may be NULL for the top level. */
int cli_usage(const char *command, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Sets the log level from its text ("0".."4"); returns 0, or -1 if the text is not a level. */
int cli_set_log_level(const char *text);

/* The level last set with --log_level (OLIVE_LOG_WARNING when none was given). */
int cli_log_level(void);

/* 1 once --log_level was given (it then overrides a workflow config's log_severity_level). */
int cli_log_level_given(void);

/* Splits "key=value" at the first '='. Returns 0, or -1 when there is no '=' or no key.
 * `key` receives a copy of the key (at most key_size bytes with its NUL); -1 if it is longer. */
int cli_split_setting(const char *setting, char *key, size_t key_size, const char **value);

/* Human-readable sizes: "1.5 KiB", "3.2 GiB"; counts: "1.2K", "7.6B". Write into buf. */
const char *cli_format_bytes(char *buf, size_t size, uint64_t bytes);
const char *cli_format_count(char *buf, size_t size, uint64_t count);

/* Commands. */
int cli_cmd_inspect(int argc, char **argv);
int cli_cmd_passes(int argc, char **argv);
int cli_cmd_run_pass(int argc, char **argv);
int cli_cmd_auto_opt(int argc, char **argv);
int cli_cmd_optimize(int argc, char **argv);
int cli_cmd_quantize(int argc, char **argv);
int cli_cmd_run(int argc, char **argv);
int cli_cmd_runtime(int argc, char **argv);
int cli_cmd_benchmark(int argc, char **argv);
int cli_cmd_tune_session(int argc, char **argv);
int cli_cmd_convert_adapters(int argc, char **argv);
int cli_cmd_generate_adapter(int argc, char **argv);
int cli_cmd_extract_adapters(int argc, char **argv);

/* Olive commands this tool does not provide (cmd_olive_only.c). The names, NULL-terminated. */
const char *const *cli_olive_only_names(void);
/* When argv[0] is one of them, sets *handled, explains what to use instead (--help: on
 * stdout, exit 0; otherwise one error line, exit 1). *handled is 0 for any other name. */
int cli_olive_only(int argc, char **argv, int *handled);

/* For the commands that calibrate (GPTQ, AWQ, static int8): when OPENBLAS_CORETYPE is unset,
 * sets it to the kernels for this CPU's vector width (SkylakeX with AVX-512, Haswell with AVX2)
 * and starts the program again with the same arguments (cli_blas.c says why). Returns when
 * it is set already, the CPU has neither, or the program cannot be started again. */
void cli_pick_blas_kernels(char **argv);

#endif
