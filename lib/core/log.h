/* Internal logging, routed to the callback set with olive_log_set_callback. */
#ifndef OLIVE_CORE_LOG_H
#define OLIVE_CORE_LOG_H

#include "core/status.h"

void olive_log(int level, const char *fmt, ...) OLIVE_PRINTF(2, 3);
int olive_log_enabled(int level);

#define OLIVE_DEBUG(...) olive_log(OLIVE_LOG_DEBUG, __VA_ARGS__)
#define OLIVE_INFO(...) olive_log(OLIVE_LOG_INFO, __VA_ARGS__)
#define OLIVE_WARN(...) olive_log(OLIVE_LOG_WARNING, __VA_ARGS__)

#endif
