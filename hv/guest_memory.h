/* The guest's physical memory: the boot memory map with the hypervisor's image and pool carved out of RAM (the map
 * the guest itself gets). Guest-physical equals host-physical, so the hypervisor reaches guest memory through its
 * identity mapping. */
#ifndef HV_GUEST_MEMORY_H
#define HV_GUEST_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/linux_boot.h"
#include "hv/multiboot2.h"

/* Returns HV_OK, or -HV_ENOMEM when the map has too many entries (logged by the caller). */
int guest_memory_init(const struct mb2_info *mb);
/* Whether [gpa, gpa + size) is guest RAM the hypervisor may read or write on the guest's behalf. */
bool guest_ram_contains(uint64_t gpa, uint64_t size);
/* The guest's memory map, as given to Linux. */
const struct e820_entry *guest_memory_map(int *count);

#endif
