/* Progress display for engine runs. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_progress.h"

#define BAR_WIDTH 30
/* Redraw at most this often; a terminal cannot show faster updates anyway. */
#define REDRAW_SECONDS 0.1

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_progress_init(cli_progress *p)
{
    memset(p, 0, sizeof *p);
    p->last_percent = -1;
    p->tty = isatty(STDERR_FILENO) && cli_log_level() < OLIVE_LOG_SILENT;
    p->lines = !p->tty && cli_log_level() <= OLIVE_LOG_WARNING;
    /* At the default level the lines go with the run's report on stdout, errors alone on stderr;
     * at info and below they join the library's log lines on stderr. */
    p->line_out = cli_log_level() <= OLIVE_LOG_INFO ? stderr : stdout;
    return p->tty || p->lines;
}

static void draw_bar(cli_progress *p, const char *pass_name, size_t pass_index, size_t pass_count, double fraction,
                     uint64_t bytes_written)
{
    char bar[BAR_WIDTH + 1], bytes[32];
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    int filled = (int)(fraction * BAR_WIDTH + 0.5);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    /* Saving and the final event come after the last pass: show it as count/count. */
    size_t shown = pass_index + 1 > pass_count ? pass_count : pass_index + 1;
    /* \r returns to column 0, \033[K clears what a longer previous line left. */
    fprintf(stderr, "\r%-20.20s %zu/%zu [%s] %3d%%  %s written\033[K", pass_name, shown, pass_count, bar,
            (int)(fraction * 100.0), cli_format_bytes(bytes, sizeof bytes, bytes_written));
    fflush(stderr);
    p->bar_visible = 1;
    p->last_percent = (int)(fraction * 100.0);
    p->last_draw = now_seconds();
}

int cli_progress_report(int event, const char *pass_name, size_t pass_index, size_t pass_count, double fraction,
                        uint64_t bytes_written, void *user)
{
    cli_progress *p = user;
    if (!pass_name)
        pass_name = "";

    if (p->lines) {
        if (event == OLIVE_PROGRESS_PASS_STARTED)
            p->pass_start = now_seconds();
        else if (event == OLIVE_PROGRESS_PASS_FINISHED) {
            fprintf(p->line_out, "olive: pass %zu/%zu %s finished in %.3f s\n", pass_index + 1, pass_count, pass_name,
                    now_seconds() - p->pass_start);
            /* A pipe is block-buffered: without this the lines would all come at the end. */
            fflush(p->line_out);
        }
    } else if (p->tty) {
        int boundary = event != OLIVE_PROGRESS_PASS_PROGRESS;
        int percent = (int)(fraction * 100.0);
        if (boundary || (percent != p->last_percent && now_seconds() - p->last_draw >= REDRAW_SECONDS))
            draw_bar(p, event == OLIVE_PROGRESS_DONE ? "done" : pass_name, pass_index, pass_count,
                     event == OLIVE_PROGRESS_DONE ? 1.0 : fraction, bytes_written);
        if (event == OLIVE_PROGRESS_DONE)
            cli_progress_end(p);
    }
    return cli_interrupted();
}

void cli_progress_end(cli_progress *p)
{
    if (p->bar_visible) {
        fputc('\n', stderr);
        p->bar_visible = 0;
    }
}
