/* Validating parser for the multiboot2 boot information structure that GRUB passes to the hypervisor. */
#ifndef HV_MULTIBOOT2_H
#define HV_MULTIBOOT2_H

#include <stddef.h>
#include <stdint.h>

#define MB2_MAX_MODULES 16
#define MB2_MAX_MMAP    128
#define MB2_ERROR_MAX   128

enum mb2_tag_type {
    MB2_TAG_END = 0,
    MB2_TAG_CMDLINE = 1,
    MB2_TAG_BOOTLOADER_NAME = 2,
    MB2_TAG_MODULE = 3,
    MB2_TAG_BASIC_MEMINFO = 4,
    MB2_TAG_MMAP = 6,
    MB2_TAG_ACPI_OLD = 14,
    MB2_TAG_ACPI_NEW = 15,
};

/* Bit set in mb2_info.seen for each tag type that was present. */
#define MB2_SEEN(type) (1u << (type))

/* Memory-map entry types defined by the multiboot2 specification. */
enum mb2_mmap_type {
    MB2_MMAP_AVAILABLE = 1,
    MB2_MMAP_ACPI_RECLAIMABLE = 3,
    MB2_MMAP_NVS = 4,
    MB2_MMAP_BADRAM = 5,
};

struct mb2_limits {
    uint64_t image_start; /* hypervisor image physical range [image_start, image_end) */
    uint64_t image_end;
};

struct mb2_module {
    uint64_t start;      /* physical, inclusive */
    uint64_t end;        /* physical, exclusive */
    const char *cmdline; /* NUL-terminated, points into the boot information */
};

struct mb2_mmap_entry {
    uint64_t base;
    uint64_t length;
    uint32_t type;       /* enum mb2_mmap_type, or another value meaning reserved */
};

/* Pointers refer into the boot information buffer, which must outlive this structure. */
struct mb2_info {
    uint32_t seen;                  /* MB2_SEEN(MB2_TAG_*) bits */
    const char *cmdline;            /* NULL when absent */
    size_t cmdline_len;
    const char *bootloader_name;    /* NULL when absent */
    size_t bootloader_name_len;
    uint32_t mem_lower_kb;          /* valid when MB2_TAG_BASIC_MEMINFO was seen */
    uint32_t mem_upper_kb;
    const void *acpi_rsdp_old;      /* copy of the ACPI 1.0 RSDP, NULL when absent */
    size_t acpi_rsdp_old_len;
    const void *acpi_rsdp_new;      /* copy of the ACPI 2.0+ RSDP, NULL when absent */
    size_t acpi_rsdp_new_len;
    struct mb2_module modules[MB2_MAX_MODULES];
    size_t module_count;
    struct mb2_mmap_entry mmap[MB2_MAX_MMAP];
    size_t mmap_count;
    size_t error_offset;            /* byte offset of the offending tag when mb2_parse fails */
    char error[MB2_ERROR_MAX];      /* what was wrong when mb2_parse fails, "" otherwise */
};

/* Parses and validates the structure at info, reading at most avail bytes. Returns HV_OK or a negative HV_E* code
 * with out->error and out->error_offset describing the problem. */
int mb2_parse(const void *info, size_t avail, const struct mb2_limits *lim, struct mb2_info *out);

/* The module whose command line's first word is name, or NULL. */
const struct mb2_module *mb2_find_module(const struct mb2_info *info, const char *name);

#endif
