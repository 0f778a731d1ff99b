/* libolive — common definitions: status codes, errors, versions, memory, logging.
 *
 * Conventions used by every public header:
 *  - A fallible call returns int: OLIVE_OK (0) or one of the negative OLIVE_E* codes below.
 *    On failure, olive_error_last() gives a message naming what is wrong, and out-parameters
 *    are left untouched.
 *  - An out-parameter `olive_x **out` receives a new object owned by the caller, released with
 *    olive_x_free(). `char **out` strings are released with olive_free().
 *  - A returned `const char *` is borrowed from the handle it came from and lives as long as it.
 *  - _free functions accept NULL and return nothing.
 *  - Fallible calls are marked OLIVE_NODISCARD: ignoring their status is a compiler warning.
 *  - Accessors (functions that return a value, not a status: counts, names, flags) never fail:
 *    a NULL handle or an index out of range gives NULL, 0 or the documented neutral value, and
 *    leaves olive_error_last() as it was.
 *  - Every function says since which release it exists ("Since 0.1."); the library's symbol
 *    list (lib/libolive.symbols) groups the exported names by that release.
 *
 * Threads. The library has no global lock and needs none:
 *  - Errors are per thread: olive_error_last() and olive_error_code() report the calling
 *    thread's last failure.
 *  - Calls that take no handle (versions, olive_strerror, the pass registry and
 *    olive_pass_describe_json, the _new and _load constructors, olive_workflow_auto_opt_config)
 *    are safe from any thread at any time.
 *  - A handle is used by one thread at a time; different handles may be used by different
 *    threads at once. Two exceptions share a handle safely: an olive_accelerator, which does not
 *    change after it is made, and a model passed as const (save, summary, accessors, the input of
 *    olive_pass_apply or olive_engine_run), which may be read by several threads at once.
 *  - olive_engine_cancel and olive_workflow_cancel may be called from any thread, and from a
 *    signal handler, while the run goes on in another thread.
 *  - Reference-counted handles (olive_pass, olive_accelerator; their counts are atomic) may be
 *    freed from any thread while an engine or workflow that holds them runs in another: the
 *    object lives until its last holder lets go.
 *  - olive_log_set_level is safe from any thread. olive_log_set_callback is not: install the
 *    callback before other threads use the library. The callback itself is called from
 *    whichever thread logs.
 */
#ifndef OLIVE_COMMON_H
#define OLIVE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "olive/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#if defined(OLIVE_BUILDING)
#define OLIVE_API __declspec(dllexport)
#else
#define OLIVE_API
#endif
#elif defined(__GNUC__)
#define OLIVE_API __attribute__((visibility("default")))
#else
#define OLIVE_API
#endif

/* Marks a call whose status code must be looked at: ignoring it is a warning under GCC and
 * Clang. (GCC warns even through a (void) cast: test the status instead.) */
#if defined(__GNUC__) || defined(__clang__)
#define OLIVE_NODISCARD __attribute__((warn_unused_result))
#else
#define OLIVE_NODISCARD
#endif

/* Status codes. The values are pinned: they never change between releases. */
#define OLIVE_OK 0            /* success */
#define OLIVE_EINVALID -1     /* an argument or option value is invalid */
#define OLIVE_ENOTFOUND -2    /* a file, pass, parameter, tensor or value does not exist */
#define OLIVE_EFORMAT -3      /* input data is malformed (truncated file, bad protobuf, lying header) */
#define OLIVE_EUNSUPPORTED -4 /* valid input that this build does not handle */
#define OLIVE_EIO -5          /* an operating-system I/O call failed */
#define OLIVE_ENOMEM -6       /* memory allocation failed, or a size overflows */
#define OLIVE_ECANCELLED -7   /* the caller cancelled the operation */
#define OLIVE_EEXISTS -8      /* the destination exists and would be overwritten */
#define OLIVE_EINTERNAL -9    /* a bug in libolive: please report it with the message */

/* Returns the message of the last failed call on this thread, or "" if none failed.
 * The string is owned by the library and stays valid until the next failing call on this
 * thread. Never returns NULL. Since 0.1. */
OLIVE_API const char *olive_error_last(void);

/* Returns the code of the last failed call on this thread (OLIVE_OK if none). Since 0.1. */
OLIVE_API int olive_error_code(void);

/* Returns a static, human-readable name for a status code ("invalid argument", ...).
 * Unknown codes give "unknown error". Never returns NULL. Since 0.1. */
OLIVE_API const char *olive_strerror(int code);

/* Forgets the thread's last error (olive_error_last() then returns ""). Since 0.1. */
OLIVE_API void olive_error_clear(void);

/* Releases memory that libolive returned through a `char **out` parameter. Accepts NULL.
 * Since 0.1. */
OLIVE_API void olive_free(void *ptr);

/* Run-time version: the library's OLIVE_VERSION_NUMBER and its "MAJOR.MINOR.PATCH" string.
 * Compare with the compile-time OLIVE_VERSION_* macros to detect header/library mismatch.
 * Since 0.1. */
OLIVE_API uint32_t olive_version(void);
OLIVE_API const char *olive_version_string(void);

/* Log levels, as Olive's --log_level numbers them (0 most verbose). */
#define OLIVE_LOG_DEBUG 0
#define OLIVE_LOG_INFO 1
#define OLIVE_LOG_WARNING 2
#define OLIVE_LOG_ERROR 3
#define OLIVE_LOG_SILENT 4

/* Receives one log line (no trailing newline). Called from whichever thread logs. */
typedef void (*olive_log_fn)(int level, const char *message, void *user);

/* Sets the process-wide minimum level that is logged (default OLIVE_LOG_WARNING).
 * Returns OLIVE_EINVALID for a level outside 0..4. Since 0.1. */
OLIVE_API OLIVE_NODISCARD int olive_log_set_level(int level);

/* Routes log lines to `fn` (NULL restores the default: stderr). `user` is passed through.
 * Since 0.1. */
OLIVE_API void olive_log_set_callback(olive_log_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif
