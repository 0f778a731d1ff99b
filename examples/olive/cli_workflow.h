/* Running a workflow from a command: progress, Ctrl-C, and the report at the end. */
#ifndef OLIVE_CLI_WORKFLOW_H
#define OLIVE_CLI_WORKFLOW_H

#include <olive/olive.h>

/* Runs `workflow`, showing progress (see cli_progress.h), printing the pipeline first at log
 * level 1 or below and a table of pass timings at the end. Returns an exit status. */
int cli_run_workflow(olive_workflow *workflow);

/* Writes `text` to `path` (replacing it). Returns 0, or prints one error line and returns -1. */
int cli_write_text_file(const char *path, const char *text);

#endif
