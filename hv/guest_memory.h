/* The guest's physical memory: the usable RAM of the boot memory map, minus what the hypervisor owns. Guest-physical
 * equals host-physical, so the hypervisor reaches guest memory through its identity mapping. */
#ifndef HV_GUEST_MEMORY_H
#define HV_GUEST_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/multiboot2.h"

void guest_memory_init(const struct mb2_info *mb);
/* Whether [gpa, gpa + size) is guest RAM the hypervisor may read or write on the guest's behalf. */
bool guest_ram_contains(uint64_t gpa, uint64_t size);
/* The end of the highest usable RAM range (for the guest's memory map). */
uint64_t guest_ram_end(void);

#endif
