#include "hv/log.h"

#include "hv/fmt.h"
#include "hv/lib.h"
#include "hv/serial.h"
#include "hv/x86.h"

#define LOG_LINE_MAX 512

enum log_level log_threshold = LOG_LEVEL_INFO;

static const char *const level_names[] = {
    [LOG_LEVEL_FATAL] = "fatal",
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

bool log_level_parse(const char *name, enum log_level *out)
{
    for (unsigned i = 0; i < ARRAY_SIZE(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    return false;
}

void log_record(enum log_level level, const char *event, const char *fmt, ...)
{
    static const char trunc_mark[] = " trunc=1\n";
    char line[LOG_LINE_MAX];
    int n = hv_snprintf(line, sizeof(line), "ts=%lu lvl=%s ev=%s ", rdtsc(), level_names[level], event);
    va_list ap;
    va_start(ap, fmt);
    n += hv_vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n + 2 > (int)sizeof(line)) {
        memcpy(line + sizeof(line) - sizeof(trunc_mark), trunc_mark, sizeof(trunc_mark));
        n = (int)sizeof(line) - 1;
    } else {
        line[n++] = '\n';
        line[n] = '\0';
    }
    serial_write(line, (size_t)n);
}
