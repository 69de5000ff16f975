/* Loading the guest named on the command line from its multiboot2 module(s). */
#ifndef HV_GUEST_LOADER_H
#define HV_GUEST_LOADER_H

#include "hv/guest_longmode.h"
#include "hv/multiboot2.h"
#include "hv/vcpu.h"

/* Where the flat test-guest binary is linked (tests/guest/testguest.ld) and loaded. */
#define TESTGUEST_LOAD_GPA 0x1000000ull
#define TESTGUEST_MAX_SIZE 0x100000ul
#define TESTGUEST_CMDLINE_GPA (GUEST_BOOT_SCRATCH_GPA + GUEST_BOOT_SCRATCH_SIZE - 0x1000)

/* Copies the test guest into guest memory and prepares the VMCS to start it. Returns HV_OK or a negative HV_E*
 * (logged). */
int guest_load_testguest(struct vcpu *v, const struct mb2_module *m, const char *guest_cmdline);

/* Linux, by the 64-bit boot protocol: the zero page and command line sit just above the boot scratch area. */
#define LINUX_BOOT_PARAMS_GPA (GUEST_BOOT_SCRATCH_GPA + GUEST_BOOT_SCRATCH_SIZE)
#define LINUX_CMDLINE_GPA (LINUX_BOOT_PARAMS_GPA + 0x1000)
#define LINUX_CMDLINE_MAX 0x1000

/* Loads a bzImage (and optional initrd) and prepares the VMCS to enter its 64-bit entry point. HV_OK or a negative
 * HV_E* (logged with the reason). */
int guest_load_linux(struct vcpu *v, const struct mb2_info *mb, const struct mb2_module *kernel,
                     const struct mb2_module *initrd, const char *guest_cmdline);

#endif
