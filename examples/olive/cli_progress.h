/* Progress of an engine run, and stopping it on Ctrl-C. */
#ifndef OLIVE_CLI_PROGRESS_H
#define OLIVE_CLI_PROGRESS_H

#include <stdio.h>

#include <olive/olive.h>

/* Shows progress: a bar redrawn on stderr when stderr is a terminal; otherwise one line per
 * finished pass with its time, as it finishes: on stdout (flushed, so a pipe sees it at once) at
 * the default log level, on stderr with the library's log at level 1 (info) or below; nothing
 * at levels 3 and 4. */
typedef struct cli_progress {
    int tty;         /* draw a bar */
    int lines;       /* print a line per pass */
    FILE *line_out;  /* where the lines go */
    int bar_visible; /* the cursor is at the end of a drawn bar */
    int last_percent;
    double last_draw; /* seconds, monotonic */
    double pass_start;
} cli_progress;

/* Decides how to report from stderr and the log level. Returns 1 if anything will be shown
 * (attach cli_progress_report with olive_engine_set_progress then), 0 if not. */
int cli_progress_init(cli_progress *p);

/* An olive_progress_fn; `user` is the cli_progress. Returns non-zero after Ctrl-C. */
int cli_progress_report(int event, const char *pass_name, size_t pass_index, size_t pass_count, double fraction,
                        uint64_t bytes_written, void *user);

/* Ends a bar left on screen so that the next line starts at column 0. */
void cli_progress_end(cli_progress *p);

/* While watching, SIGINT and SIGTERM cancel `engine` (a second Ctrl-C kills the program at
 * once). unwatch restores the previous handlers. */
void cli_interrupt_watch(olive_engine *engine);
/* The same for a workflow run. */
void cli_interrupt_watch_workflow(olive_workflow *workflow);
void cli_interrupt_unwatch(void);
/* 1 once SIGINT or SIGTERM arrived while watching. */
int cli_interrupted(void);

/* The end of the single-model commands (run-pass, extract-adapters): unless `rc` already
 * failed, loads `model_path` and runs `engine` on it into `output` with progress and Ctrl-C
 * handling, then reports: "Saved to OUTPUT", or the error (with "use --overwrite" when the
 * folder was refused and the flag was not given). Returns the exit status. */
int cli_run_engine(olive_engine *engine, int rc, const char *model_path, const char *output, int overwrite);

#endif
