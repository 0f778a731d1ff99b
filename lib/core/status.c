#include "core/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERROR_CAP 2048

static _Thread_local char last_message[ERROR_CAP];
static _Thread_local int last_code;

int olive_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_code = code;
    return code;
}

int olive_fail_context(int code, const char *fmt, ...)
{
    char old[ERROR_CAP];
    size_t n;
    va_list ap;
    memcpy(old, last_message, sizeof old);
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    /* Append ": <old message>", cut at the buffer's end. */
    n = strlen(last_message);
    if (n + 2 < sizeof last_message) {
        memcpy(last_message + n, ": ", 2);
        n += 2;
        size_t room = sizeof last_message - n - 1, len = strlen(old);
        memcpy(last_message + n, old, len < room ? len : room);
        last_message[n + (len < room ? len : room)] = '\0';
    }
    last_code = code;
    return code;
}

int olive_fail_errno(int errnum, const char *what, const char *path)
{
    int code = errnum == ENOENT ? OLIVE_ENOTFOUND : errnum == ENOMEM ? OLIVE_ENOMEM : OLIVE_EIO;
    return olive_fail(code, "%s '%s': %s", what, path ? path : "", strerror(errnum));
}

const char *olive_error_last(void)
{
    return last_message;
}

int olive_error_code(void)
{
    return last_code;
}

void olive_error_clear(void)
{
    last_message[0] = '\0';
    last_code = OLIVE_OK;
}

const char *olive_strerror(int code)
{
    switch (code) {
    case OLIVE_OK: return "success";
    case OLIVE_EINVALID: return "invalid argument";
    case OLIVE_ENOTFOUND: return "not found";
    case OLIVE_EFORMAT: return "malformed input";
    case OLIVE_EUNSUPPORTED: return "unsupported";
    case OLIVE_EIO: return "input/output error";
    case OLIVE_ENOMEM: return "out of memory";
    case OLIVE_ECANCELLED: return "cancelled";
    case OLIVE_EEXISTS: return "already exists";
    case OLIVE_EINTERNAL: return "internal error";
    default: return "unknown error";
    }
}
