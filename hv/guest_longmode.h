/* Starting a guest directly in 64-bit mode, as the Linux x86-64 boot protocol and the test guest expect. */
#ifndef HV_GUEST_LONGMODE_H
#define HV_GUEST_LONGMODE_H

#include <stdint.h>

#include "hv/vcpu.h"

/* Guest-physical scratch area for the boot GDT and identity page tables (below 1 MiB, usable RAM the guest may
 * reuse once it has its own tables). */
#define GUEST_BOOT_SCRATCH_GPA 0x10000ull
#define GUEST_BOOT_SCRATCH_SIZE 0x8000ull
/* Boot selectors the Linux 64-bit boot protocol requires: __BOOT_CS and __BOOT_DS. */
#define GUEST_BOOT_CS 0x10
#define GUEST_BOOT_DS 0x18

/* Writes the boot GDT and page tables identity-mapping the first 4 GiB into guest memory and fills the VMCS
 * guest-state area: 64-bit mode, CPL 0, interrupts off, at `rip` with `rsp`. */
void guest_longmode_setup(struct vcpu *v, uint64_t rip, uint64_t rsp);

#endif
