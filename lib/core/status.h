/* Internal error reporting: set the thread's last error and return its code. */
#ifndef OLIVE_CORE_STATUS_H
#define OLIVE_CORE_STATUS_H

#include "olive/common.h"

#if defined(__GNUC__)
#define OLIVE_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define OLIVE_PRINTF(a, b)
#endif

/* Records `code` and a formatted message as this thread's last error; returns `code`. */
int olive_fail(int code, const char *fmt, ...) OLIVE_PRINTF(2, 3);

/* Prefixes the current last error message with "context: " (for errors passed up);
 * returns `code` unchanged. */
int olive_fail_context(int code, const char *fmt, ...) OLIVE_PRINTF(2, 3);

/* Records an errno-based I/O error: "<what> '<path>': <strerror(errnum)>". Returns OLIVE_EIO
 * (or OLIVE_ENOTFOUND for ENOENT). */
int olive_fail_errno(int errnum, const char *what, const char *path);

#define OLIVE_TRY(expr)                                                                                                \
    do {                                                                                                               \
        int olive_try_rc_ = (expr);                                                                                    \
        if (olive_try_rc_ != OLIVE_OK)                                                                                 \
            return olive_try_rc_;                                                                                      \
    } while (0)

#endif
