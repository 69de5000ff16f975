/* A small vsnprintf for the hypervisor's log: %d %i %u %x %X %p %s %c %%, flags '0' '-', width, l/ll/z/h.
 * %s escapes '"', '\\' and control characters so a guest-supplied string can never break a logfmt record. */
#ifndef HV_FMT_H
#define HV_FMT_H

#include <stdarg.h>
#include <stddef.h>

int hv_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hv_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
