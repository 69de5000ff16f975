#include "hv/guest_loader.h"

#include "hv/errno.h"
#include "hv/guest_longmode.h"
#include "hv/lib.h"
#include "hv/log.h"
#include "hv/pmem.h"

#define GUEST_CMDLINE_MAX 0x1000

/* The test guest receives its command line in RDI, as a NUL-terminated string in guest memory. */
int guest_load_testguest(struct vcpu *v, const struct mb2_module *m, const char *guest_cmdline)
{
    uint64_t size = m->end - m->start;
    uint64_t dst = TESTGUEST_LOAD_GPA;
    if (size == 0 || size > TESTGUEST_MAX_SIZE) {
        LOG_ERROR("guest.load_failed", "module=testguest size=%lu max=%lu reason=\"empty or too large\"", size,
                  TESTGUEST_MAX_SIZE);
        return -HV_EINVAL;
    }
    if (pmem_overlaps_hv(dst, dst + size)) {
        LOG_ERROR("guest.load_failed", "module=testguest dst=0x%lx reason=\"destination overlaps hypervisor memory\"",
                  dst);
        return -HV_EOVERLAP;
    }
    size_t cmdline_len = strnlen(guest_cmdline, GUEST_CMDLINE_MAX - 1);
    memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)m->start, size);
    guest_longmode_setup(v, dst, dst);
    /* After the boot tables: guest_longmode_setup clears the whole scratch area. */
    char *cmdline = (char *)(uintptr_t)TESTGUEST_CMDLINE_GPA;
    memcpy(cmdline, guest_cmdline, cmdline_len);
    cmdline[cmdline_len] = '\0';
    v->regs->gpr[GPR_RDI] = TESTGUEST_CMDLINE_GPA;
    LOG_INFO("guest.loaded", "kind=testguest src=0x%lx size=%lu entry=0x%lx cmdline=\"%s\"", m->start, size, dst,
             cmdline);
    return HV_OK;
}
