/* Error lines and the log level: every failure is exactly one line on stderr. */
#include <stdarg.h>

#include <olive/olive.h>

#include "cli.h"

static int current_log_level = OLIVE_LOG_WARNING;
static int log_level_given;

/* Writes `text` with line breaks turned into spaces, so a message stays on one line. */
static void put_one_line(FILE *out, const char *text)
{
    for (const char *p = text; *p; p++)
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, out);
}

int cli_fail_hint(int code, const char *hint)
{
    const char *message = olive_error_last();
    if (message[0] == '\0')
        message = olive_strerror(code);
    fputs("olive: error: ", stderr);
    put_one_line(stderr, message);
    if (hint)
        fprintf(stderr, "; %s", hint);
    fputc('\n', stderr);
    return code == OLIVE_ECANCELLED ? CLI_EXIT_CANCELLED : CLI_EXIT_FAILURE;
}

int cli_fail(int code)
{
    return cli_fail_hint(code, NULL);
}

int cli_usage(const char *command, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    fputs("olive: error: ", stderr);
    put_one_line(stderr, message);
    if (command)
        fprintf(stderr, " (see 'olive %s --help')\n", command);
    else
        fputs(" (see 'olive --help')\n", stderr);
    return CLI_EXIT_USAGE;
}

int cli_set_log_level(const char *text)
{
    if (!text || text[0] < '0' || text[0] > '4' || text[1] != '\0')
        return -1;
    int level = text[0] - '0';
    if (olive_log_set_level(level) != OLIVE_OK)
        return -1;
    current_log_level = level;
    log_level_given = 1;
    return 0;
}

int cli_log_level(void)
{
    return current_log_level;
}

int cli_log_level_given(void)
{
    return log_level_given;
}
