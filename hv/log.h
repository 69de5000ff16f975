/*
 * The hypervisor's structured log: one logfmt record a line on its own serial port,
 *   ts=<tsc> lvl=<level> ev=<area.event> key=value ...
 * A record is formatted whole into a buffer and written at once, so lines never interleave.
 */
#ifndef HV_LOG_H
#define HV_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_FATAL, LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern enum log_level log_threshold;

void log_record(enum log_level level, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool log_level_parse(const char *name, enum log_level *out);

#define LOG_AT(level, event, ...)                                                                                      \
    do {                                                                                                               \
        if ((level) <= log_threshold)                                                                                  \
            log_record((level), (event), __VA_ARGS__);                                                                 \
    } while (0)
#define LOG_FATAL(event, ...) LOG_AT(LOG_LEVEL_FATAL, event, __VA_ARGS__)
#define LOG_ERROR(event, ...) LOG_AT(LOG_LEVEL_ERROR, event, __VA_ARGS__)
#define LOG_WARN(event, ...) LOG_AT(LOG_LEVEL_WARN, event, __VA_ARGS__)
#define LOG_INFO(event, ...) LOG_AT(LOG_LEVEL_INFO, event, __VA_ARGS__)
#define LOG_DEBUG(event, ...) LOG_AT(LOG_LEVEL_DEBUG, event, __VA_ARGS__)

#endif
