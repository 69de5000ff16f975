/* Hypervisor-wide entry points. */
#ifndef HV_HV_H
#define HV_HV_H

#include <stdint.h>

#define HV_VERSION_STRING "0.1"

void hv_main(uint32_t magic, uint64_t info_pa);
/* Logs the exit summary and powers the machine off; never returns. */
void hv_shutdown(const char *reason) __attribute__((noreturn));

#endif
