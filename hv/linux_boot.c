#include "hv/linux_boot.h"

#include <stdbool.h>

#include "hv/errno.h"
#include "hv/lib.h"

/* boot_params and setup-header offsets (arch/x86/include/uapi/asm/bootparam.h) */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_SENTINEL 0x1ef
#define BP_E820_TABLE 0x2d0
#define HDR_START 0x1f1
#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE 0x1f4
#define HDR_VID_MODE 0x1fa
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define HDR_MIN_SIZE 0x268 /* through init_size and handover_offset: protocol 2.12 */
#define HDR_MAX_END 0x290  /* the zero page's room for the header */

#define BOOT_FLAG 0xaa55
#define HDRS_MAGIC 0x53726448 /* "HdrS" */
#define PROTOCOL_64BIT_ENTRY 0x020c
#define XLF_KERNEL_64 (1u << 0)
#define LOADER_UNDEFINED 0xff
#define SECTOR 512

static uint64_t get(const uint8_t *p, size_t off, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[off + i] << (8 * i);
    return v;
}

static void put(uint8_t *p, size_t off, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}

static int refuse(struct bzimage_info *info, int code, const char *why)
{
    info->error = why;
    return code;
}

int bzimage_parse(const uint8_t *image, size_t size, struct bzimage_info *info)
{
    memset(info, 0, sizeof(*info));
    if (size < HDR_MIN_SIZE)
        return refuse(info, -HV_ETRUNC, "image smaller than the setup header");
    if (get(image, HDR_BOOT_FLAG, 2) != BOOT_FLAG || get(image, HDR_MAGIC, 4) != HDRS_MAGIC)
        return refuse(info, -HV_EINVAL, "not a bzImage (no boot flag or HdrS magic)");
    info->header_end = HDR_JUMP + 2 + image[HDR_JUMP + 1];
    if (info->header_end < HDR_MIN_SIZE || info->header_end > HDR_MAX_END)
        return refuse(info, -HV_EINVAL, "setup header length out of range");
    info->version = (uint16_t)get(image, HDR_VERSION, 2);
    if (info->version < PROTOCOL_64BIT_ENTRY)
        return refuse(info, -HV_EINVAL, "boot protocol older than 2.12");
    if (!(get(image, HDR_XLOADFLAGS, 2) & XLF_KERNEL_64))
        return refuse(info, -HV_EINVAL, "kernel has no 64-bit entry point");
    uint64_t setup_sects = get(image, HDR_SETUP_SECTS, 1);
    info->setup_size = ((setup_sects ? setup_sects : 4) + 1) * SECTOR;
    info->kernel_size = get(image, HDR_SYSSIZE, 4) * 16;
    if (info->setup_size > size || info->kernel_size == 0 || info->kernel_size > size - info->setup_size)
        return refuse(info, -HV_ETRUNC, "protected-mode kernel extends past the end of the image");
    info->pref_address = get(image, HDR_PREF_ADDRESS, 8);
    info->init_size = get(image, HDR_INIT_SIZE, 4);
    info->kernel_alignment = (uint32_t)get(image, HDR_KERNEL_ALIGNMENT, 4);
    info->initrd_addr_max = (uint32_t)get(image, HDR_INITRD_ADDR_MAX, 4);
    info->cmdline_size = (uint32_t)get(image, HDR_CMDLINE_SIZE, 4);
    uint32_t align = info->kernel_alignment;
    if (align == 0 || (align & (align - 1)) || (info->pref_address & (align - 1)))
        return refuse(info, -HV_EINVAL, "kernel alignment not a power of two, or preferred address misaligned");
    if (info->init_size < info->kernel_size)
        return refuse(info, -HV_EINVAL, "init_size smaller than the kernel");
    return HV_OK;
}

/* ---- memory map ---- */

static void e820_sort(struct e820_entry *e, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && e[j - 1].addr > e[j].addr; j--) {
            struct e820_entry t = e[j];
            e[j] = e[j - 1];
            e[j - 1] = t;
        }
}

static uint32_t e820_type_of(uint32_t mb2_type)
{
    switch (mb2_type) {
    case MB2_MMAP_AVAILABLE: return E820_RAM;
    case MB2_MMAP_ACPI_RECLAIMABLE: return E820_ACPI;
    case MB2_MMAP_NVS: return E820_NVS;
    case MB2_MMAP_BADRAM: return E820_UNUSABLE;
    default: return E820_RESERVED;
    }
}

static bool e820_push(struct e820_entry *out, size_t *n, size_t max, uint64_t start, uint64_t end, uint32_t type)
{
    if (start >= end)
        return true;
    if (*n == max)
        return false;
    out[(*n)++] = (struct e820_entry){start, end - start, type};
    return true;
}

int e820_build(const struct mb2_mmap_entry *mmap, size_t n_mmap, const struct mem_range *holes, size_t n_holes,
               struct e820_entry *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < n_mmap; i++) {
        uint32_t type = e820_type_of(mmap[i].type);
        uint64_t start = mmap[i].base, end = mmap[i].base + mmap[i].length;
        if (type != E820_RAM) {
            if (!e820_push(out, &n, max, start, end, type))
                return -HV_ENOMEM;
            continue;
        }
        /* Cut the holes out of this RAM range, left to right (holes may come in any order). */
        while (start < end) {
            uint64_t next_hole = end, hole_end = end;
            for (size_t h = 0; h < n_holes; h++)
                if (holes[h].end > start && holes[h].start < end && MAX(holes[h].start, start) < next_hole) {
                    next_hole = MAX(holes[h].start, start);
                    hole_end = MIN(holes[h].end, end);
                }
            if (!e820_push(out, &n, max, start, next_hole, E820_RAM) ||
                !e820_push(out, &n, max, next_hole, hole_end, E820_RESERVED))
                return -HV_ENOMEM;
            start = hole_end;
        }
    }
    e820_sort(out, n);
    size_t merged = 0;
    for (size_t i = 0; i < n; i++) {
        struct e820_entry *last = merged ? &out[merged - 1] : NULL;
        if (last && last->type == out[i].type && last->addr + last->size == out[i].addr)
            last->size += out[i].size;
        else
            out[merged++] = out[i];
    }
    return (int)merged;
}

/* ---- zero page ---- */

void boot_params_build(uint8_t *bp, const uint8_t *image, const struct bzimage_info *info,
                       const struct linux_boot_args *args)
{
    memset(bp, 0, BOOT_PARAMS_SIZE);
    /* The setup header runs from 0x1f1 to the end given by the jump instruction's offset at 0x201. */
    memcpy(bp + HDR_START, image + HDR_START, info->header_end - HDR_START);

    put(bp, HDR_VID_MODE, 2, 0xffff); /* "normal" */
    put(bp, HDR_TYPE_OF_LOADER, 1, LOADER_UNDEFINED);
    put(bp, HDR_CMD_LINE_PTR, 4, (uint32_t)args->cmdline_gpa);
    put(bp, BP_EXT_CMD_LINE_PTR, 4, args->cmdline_gpa >> 32);
    put(bp, HDR_RAMDISK_IMAGE, 4, (uint32_t)args->initrd_gpa);
    put(bp, BP_EXT_RAMDISK_IMAGE, 4, args->initrd_gpa >> 32);
    put(bp, HDR_RAMDISK_SIZE, 4, (uint32_t)args->initrd_size);
    put(bp, BP_EXT_RAMDISK_SIZE, 4, args->initrd_size >> 32);
    put(bp, BP_SENTINEL, 1, 0); /* nonzero would tell the kernel the loader did not clear boot_params */

    size_t count = MIN(args->e820_count, (size_t)E820_MAX_ENTRIES);
    put(bp, BP_E820_ENTRIES, 1, count);
    for (size_t i = 0; i < count; i++) {
        size_t off = BP_E820_TABLE + i * 20;
        put(bp, off, 8, args->e820[i].addr);
        put(bp, off + 8, 8, args->e820[i].size);
        put(bp, off + 16, 4, args->e820[i].type);
    }
}
