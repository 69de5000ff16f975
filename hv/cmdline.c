#include "hv/cmdline.h"

#include <stdbool.h>

#include "hv/lib.h"
#include "hv/serial.h"

static bool has_prefix(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static bool parse_option(const char *opt, struct hv_options *o)
{
    if (strcmp(opt, "log=com1") == 0)
        o->log_port = COM1_BASE;
    else if (strcmp(opt, "log=com2") == 0)
        o->log_port = COM2_BASE;
    else if (has_prefix(opt, "loglevel="))
        o->loglevel = opt + strlen("loglevel=");
    else if (has_prefix(opt, "hvmem="))
        return parse_u64(opt + strlen("hvmem="), &o->pool_mib) && o->pool_mib >= 4 && o->pool_mib <= 2048;
    else if (has_prefix(opt, "guest="))
        o->guest = opt + strlen("guest=");
    else
        return false;
    return true;
}

void hv_options_parse(char *cmdline, struct hv_options *o)
{
    *o = (struct hv_options){.log_port = COM2_BASE, .loglevel = "info", .pool_mib = HV_DEFAULT_POOL_MIB,
                             .guest_cmdline = ""};
    char *p = cmdline;
    /* Multiboot1-style loaders put the image path first. */
    if (*p == '/')
        while (*p && *p != ' ')
            p++;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (p[0] == '-' && p[1] == '-' && (p[2] == ' ' || p[2] == '\0')) {
            p += 2;
            while (*p == ' ')
                p++;
            o->guest_cmdline = p;
            return;
        }
        char *opt = p;
        while (*p && *p != ' ')
            p++;
        if (*p)
            *p++ = '\0';
        if (!parse_option(opt, o)) {
            if (!o->bad_option)
                o->bad_option = opt;
            o->bad_count++;
        }
    }
}
