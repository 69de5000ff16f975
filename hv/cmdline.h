/*
 * The hypervisor's command line (from GRUB's multiboot2 line):
 *   log=com1|com2  loglevel=fatal|error|warn|info|debug  hvmem=<MiB>  guest=testguest|linux  -- <guest command line>
 */
#ifndef HV_CMDLINE_H
#define HV_CMDLINE_H

#include <stddef.h>
#include <stdint.h>

#define HV_CMDLINE_MAX 1024
#define HV_DEFAULT_POOL_MIB 64

struct hv_options {
    uint16_t log_port;
    const char *loglevel;
    uint64_t pool_mib;
    const char *guest;         /* NULL: chosen from the modules present */
    const char *guest_cmdline; /* everything after "--", verbatim */
    const char *bad_option;    /* the first option not understood, or NULL */
    unsigned bad_count;
};

/* Parses `cmdline`, which it modifies in place (options become NUL-terminated); the results point into it. */
void hv_options_parse(char *cmdline, struct hv_options *o);

#endif
