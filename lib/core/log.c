#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_int min_level = OLIVE_LOG_WARNING;
static olive_log_fn log_fn;
static void *log_user;

static const char *const level_names[] = {"debug", "info", "warning", "error"};

int olive_log_set_level(int level)
{
    if (level < OLIVE_LOG_DEBUG || level > OLIVE_LOG_SILENT)
        return olive_fail(OLIVE_EINVALID, "log level %d is out of range 0..4", level);
    atomic_store(&min_level, level);
    return OLIVE_OK;
}

void olive_log_set_callback(olive_log_fn fn, void *user)
{
    log_fn = fn;
    log_user = user;
}

int olive_log_enabled(int level)
{
    return level >= atomic_load(&min_level) && level < OLIVE_LOG_SILENT;
}

void olive_log(int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (!olive_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (log_fn)
        log_fn(level, line, log_user);
    else
        fprintf(stderr, "[libolive %s] %s\n", level_names[level], line);
}
