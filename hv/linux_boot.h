/*
 * The Linux x86 boot protocol (Documentation/x86/boot.rst), 64-bit entry: validating a bzImage, and building the
 * boot_params "zero page" with the guest's memory map, command line and initrd. Pure: the loader does the copying.
 */
#ifndef HV_LINUX_BOOT_H
#define HV_LINUX_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "hv/multiboot2.h"
#include "hv/pmem.h"

#define BOOT_PARAMS_SIZE 4096
#define E820_MAX_ENTRIES 128

enum e820_type { E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3, E820_NVS = 4, E820_UNUSABLE = 5 };

struct e820_entry {
    uint64_t addr, size;
    uint32_t type;
};

struct bzimage_info {
    uint64_t setup_size;       /* bytes before the protected-mode kernel */
    uint64_t kernel_size;      /* protected-mode kernel bytes in the image */
    uint64_t pref_address;     /* where it wants to run */
    uint64_t init_size;        /* memory it needs from its load address while decompressing */
    uint32_t kernel_alignment;
    uint32_t initrd_addr_max;
    uint32_t cmdline_size;     /* longest command line, without its NUL */
    uint16_t version;
    size_t header_end;         /* end of the setup header (copied into the zero page) */
    const char *error;         /* why the image was refused */
};

/* Checks the image (HdrS magic, protocol >= 2.12, 64-bit entry, sizes within the file); HV_OK or -HV_EINVAL /
 * -HV_ETRUNC with info->error set. */
int bzimage_parse(const uint8_t *image, size_t size, struct bzimage_info *info);

/*
 * The guest's memory map: the boot loader's map with `holes` (the hypervisor's memory) carved out of RAM and marked
 * reserved, sorted, adjacent same-type entries merged. Returns the entry count, or -HV_ENOMEM if over `max`.
 */
int e820_build(const struct mb2_mmap_entry *mmap, size_t n_mmap, const struct mem_range *holes, size_t n_holes,
               struct e820_entry *out, size_t max);

struct linux_boot_args {
    uint64_t cmdline_gpa;
    uint64_t initrd_gpa, initrd_size; /* size 0: no initrd */
    const struct e820_entry *e820;
    size_t e820_count;
};

/* Fills the zero page: the image's setup header (as bzimage_parse found it), then what the loader provides. */
void boot_params_build(uint8_t *boot_params, const uint8_t *image, const struct bzimage_info *info,
                       const struct linux_boot_args *args);

#endif
