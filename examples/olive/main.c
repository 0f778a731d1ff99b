/* olive: optimize ONNX models for ONNX Runtime from the command line.
 *
 * main() handles the top-level flags and hands the rest of the command line to one command
 * from the table below; each command is in its own cmd_<name>.c. */
#include <errno.h>
#include <string.h>

#include <olive/olive.h>

#include "cli.h"

static const cli_command commands[] = {
    {"inspect", "summarize a model: inputs, outputs, operators, parameters", cli_cmd_inspect},
    {"passes", "list the optimization passes, or describe one pass's parameters", cli_cmd_passes},
    {"run-pass", "run one pass (or a pipeline of passes) on a model and save the result", cli_cmd_run_pass},
    {"auto-opt", "optimize a model for ONNX Runtime: convert, fuse, quantize as its kind needs", cli_cmd_auto_opt},
    {"optimize", "the same as auto-opt", cli_cmd_optimize},
    {"quantize", "quantize an ONNX model's MatMul weights to int4 or int8 blocks", cli_cmd_quantize},
    {"run", "run a workflow config in Olive's schema (olive run --config FILE)", cli_cmd_run},
    {"runtime", "show the ONNX Runtime and GenAI libraries found, versions and providers", cli_cmd_runtime},
    {"benchmark", "score a decoder model on local lm-eval style tasks (acc, acc_norm, perplexity) and time generation",
     cli_cmd_benchmark},
    {"tune-session-params",
     "find the ONNX Runtime session settings (threads, execution mode, providers) with the "
     "lowest latency",
     cli_cmd_tune_session},
    {"convert-adapters", "convert a PEFT LoRA adapter to ONNX Runtime's adapter file (.onnx_adapter)",
     cli_cmd_convert_adapters},
    {"generate-adapter", "convert a base decoder with LoRA layers as inputs, for adapters at run time",
     cli_cmd_generate_adapter},
    {"extract-adapters", "move an ONNX model's LoRA weights to an adapter file and make them inputs",
     cli_cmd_extract_adapters},
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void print_top_help(FILE *out)
{
    fprintf(out, "usage: olive [--log_level N] <command> [options]\n\n"
                 "Optimizes ONNX models for ONNX Runtime.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-12s  %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nOlive commands not provided here ('olive NAME --help' says what to use instead):\n ");
    size_t col = 1;
    for (const char *const *n = cli_olive_only_names(); *n; n++) {
        if (col + strlen(*n) + 2 > 96) {
            fprintf(out, "\n ");
            col = 1;
        }
        col += (size_t)fprintf(out, " %s%s", *n, n[1] ? "," : "");
    }
    fprintf(out, "\n\nOptions:\n"
                 "  -h, --help       show this help and exit\n"
                 "      --version    show the library version and exit\n"
                 "      --log_level N\n"
                 "                   log level: 0 debug, 1 info, 2 warning (default), 3 error, 4 silent\n"
                 "\nRun 'olive <command> --help' for the options of a command.\n"
                 "Exit status: 0 success, 1 failure (also an Olive command not provided here), 2 usage error,\n"
                 "130 interrupted.\n");
}

static void print_version(void)
{
    printf("olive %s\n", olive_version_string());
    /* A library older or newer than these headers still runs, but say so. */
    if (olive_version() != OLIVE_VERSION_NUMBER)
        printf("built with libolive headers %s\n", OLIVE_VERSION_STRING);
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* The commands that may calibrate a quantizer (BLAS and LAPACK heavy): see cli_pick_blas_kernels. */
static const char *const calibrating[] = {"run", "run-pass", "quantize", "auto-opt", "optimize"};

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_top_help(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            print_version();
            return CLI_EXIT_OK;
        }
        const char *level = NULL;
        if (strcmp(arg, "--log_level") == 0 || strcmp(arg, "--log-level") == 0) {
            if (i + 1 >= argc)
                return cli_usage(NULL, "option '--log_level' needs a value (N)");
            level = argv[++i];
        } else if (strncmp(arg, "--log_level=", 12) == 0 || strncmp(arg, "--log-level=", 12) == 0) {
            level = arg + 12;
        } else {
            return cli_usage(NULL, "unknown option '%s'", arg);
        }
        if (cli_set_log_level(level) != 0)
            return cli_usage(NULL, "invalid value '%s' for --log_level: expected 0 (debug) to 4 (silent)", level);
    }
    if (i >= argc)
        return cli_usage(NULL, "no command given");

    const cli_command *cmd = find_command(argv[i]);
    int status, olive_only = 0;
    for (size_t c = 0; c < sizeof calibrating / sizeof *calibrating; c++)
        if (strcmp(argv[i], calibrating[c]) == 0)
            cli_pick_blas_kernels(argv);
    if (cmd) {
        status = cmd->run(argc - i, argv + i);
    } else {
        status = cli_olive_only(argc - i, argv + i, &olive_only);
        if (!olive_only)
            return cli_usage(NULL, "unknown command '%s'", argv[i]);
    }
    /* A full disk or a closed pipe must not pass for success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "olive: error: cannot write the output: %s\n", strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    return status;
}
