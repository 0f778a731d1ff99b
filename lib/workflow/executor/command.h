/* External commands (sbatch, squeue, scancel, the olive command) run from an argument vector
 * with posix_spawnp: never through a shell, so no value is ever parsed as shell text. */
#ifndef OLIVE_WORKFLOW_EXECUTOR_COMMAND_H
#define OLIVE_WORKFLOW_EXECUTOR_COMMAND_H

#include <sys/types.h>

/* Runs argv (argv[0] searched in PATH) and waits for it. *out (may be NULL) receives its
 * standard output (owned). Errors: OLIVE_ENOTFOUND when the command is not found (named, with
 * `hint`), OLIVE_EIO when it cannot start, is killed or exits non-zero (the command, its exit
 * status and its standard error in the message). */
int wf_command_run(char **out, char *const argv[], const char *hint);

/* Starts argv with standard output and error appended to `log_path`; *pid receives the child.
 * Errors: OLIVE_ENOTFOUND, OLIVE_EIO, as wf_command_run. */
int wf_command_start(pid_t *pid, char *const argv[], const char *log_path);

/* The olive command a worker runs: $OLIVE_CLI, else this program when it is the olive command.
 * Owned. Errors: OLIVE_ENOTFOUND saying to set OLIVE_CLI. */
int wf_command_olive(char **out);

#endif
