/* Multiboot2 boot information parser. Every length comes from the bootloader and is checked before it is used. */
#include <stdarg.h>
#include <stdbool.h>

#include "hv/errno.h"
#include "hv/fmt.h"
#include "hv/lib.h"
#include "hv/multiboot2.h"

#define MB2_FIXED_SIZE     8u  /* total_size + reserved */
#define MB2_TAG_HEADER     8u  /* type + size */
#define MB2_TAG_ALIGN      8u
#define MB2_MIN_TOTAL      (MB2_FIXED_SIZE + MB2_TAG_HEADER)
#define MB2_MODULE_FIXED   16u /* header + mod_start + mod_end */
#define MB2_MEMINFO_SIZE   16u /* header + mem_lower + mem_upper */
#define MB2_MMAP_FIXED     16u /* header + entry_size + entry_version */
#define MB2_MMAP_ENTRY_MIN 24u /* base + length + type + reserved */
#define MB2_RSDP_V1_SIZE   20u
#define MB2_RSDP_V2_SIZE   36u

/* Tags that may appear at most once. */
#define MB2_UNIQUE_TAGS                                                                                       \
    (MB2_SEEN(MB2_TAG_CMDLINE) | MB2_SEEN(MB2_TAG_BOOTLOADER_NAME) | MB2_SEEN(MB2_TAG_BASIC_MEMINFO) |      \
     MB2_SEEN(MB2_TAG_MMAP) | MB2_SEEN(MB2_TAG_ACPI_OLD) | MB2_SEEN(MB2_TAG_ACPI_NEW))

struct mb2_tag {
    uint32_t type;
    uint32_t size;        /* including the header, excluding the alignment padding */
    size_t offset;        /* from the start of the boot information */
    const uint8_t *bytes; /* the tag header */
};

/* The bootloader guarantees alignment, but byte-wise loads keep the parser correct for any buffer. */
static uint32_t load32(const uint8_t *p)
{
    uint32_t value;
    __builtin_memcpy(&value, p, sizeof value);
    return value;
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t value;
    __builtin_memcpy(&value, p, sizeof value);
    return value;
}

/* Records the error (cut off if it does not fit) and returns code. */
__attribute__((format(printf, 4, 5)))
static int reject(struct mb2_info *out, size_t offset, int code, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    hv_vsnprintf(out->error, sizeof(out->error), fmt, args);
    va_end(args);
    out->error_offset = offset;
    return code;
}

static const char *tag_name(uint32_t type)
{
    switch (type) {
    case MB2_TAG_END: return "end";
    case MB2_TAG_CMDLINE: return "cmdline";
    case MB2_TAG_BOOTLOADER_NAME: return "bootloader name";
    case MB2_TAG_MODULE: return "module";
    case MB2_TAG_BASIC_MEMINFO: return "basic meminfo";
    case MB2_TAG_MMAP: return "mmap";
    case MB2_TAG_ACPI_OLD: return "acpi old rsdp";
    case MB2_TAG_ACPI_NEW: return "acpi new rsdp";
    default: return "unknown";
    }
}

static uint32_t tag_bit(uint32_t type)
{
    return type < 32 ? MB2_SEEN(type) : 0;
}

static int require_size(const struct mb2_tag *tag, uint32_t min_size, struct mb2_info *out)
{
    if (tag->size >= min_size)
        return HV_OK;
    return reject(out, tag->offset, -HV_EINVAL, "tag %u (%s) size %u is below the %u bytes it needs", tag->type,
                 tag_name(tag->type), tag->size, min_size);
}

/* The string fills the tag from byte skip on and must end with a NUL inside the tag. */
static int parse_string(const struct mb2_tag *tag, uint32_t skip, const char **str, size_t *len, struct mb2_info *out)
{
    const char *start = (const char *)tag->bytes + skip;
    size_t room = tag->size - skip;
    size_t length = strnlen(start, room);

    if (length == room)
        return reject(out, tag->offset, -HV_EINVAL, "tag %u (%s) string is not NUL-terminated", tag->type,
                     tag_name(tag->type));
    *str = start;
    *len = length;
    return HV_OK;
}

static bool ranges_overlap(uint64_t a_start, uint64_t a_end, uint64_t b_start, uint64_t b_end)
{
    return a_start < b_end && b_start < a_end;
}

static int parse_module(const struct mb2_tag *tag, const struct mb2_limits *lim, struct mb2_info *out)
{
    size_t index = out->module_count;
    struct mb2_module module;
    size_t cmdline_len;
    int rc = require_size(tag, MB2_MODULE_FIXED, out);

    if (rc != HV_OK)
        return rc;
    if (index == MB2_MAX_MODULES)
        return reject(out, tag->offset, -HV_ENOMEM, "more than %u modules", MB2_MAX_MODULES);
    module.start = load32(tag->bytes + 8);
    module.end = load32(tag->bytes + 12);
    if (module.start >= module.end)
        return reject(out, tag->offset, -HV_EINVAL, "module %zu mod_start 0x%lx is not below mod_end 0x%lx", index,
                     module.start, module.end);
    rc = parse_string(tag, MB2_MODULE_FIXED, &module.cmdline, &cmdline_len, out);
    if (rc != HV_OK)
        return rc;
    if (ranges_overlap(module.start, module.end, lim->image_start, lim->image_end))
        return reject(out, tag->offset, -HV_EOVERLAP,
                      "module %zu [0x%lx, 0x%lx) overlaps the hypervisor image [0x%lx, 0x%lx)", index, module.start,
                      module.end, lim->image_start, lim->image_end);
    for (size_t i = 0; i < index; i++) {
        const struct mb2_module *other = &out->modules[i];
        if (ranges_overlap(module.start, module.end, other->start, other->end))
            return reject(out, tag->offset, -HV_EOVERLAP,
                          "module %zu [0x%lx, 0x%lx) overlaps module %zu [0x%lx, 0x%lx)", index, module.start,
                          module.end, i, other->start, other->end);
    }
    out->modules[index] = module;
    out->module_count = index + 1;
    return HV_OK;
}

static int parse_mmap(const struct mb2_tag *tag, struct mb2_info *out)
{
    int rc = require_size(tag, MB2_MMAP_FIXED, out);

    if (rc != HV_OK)
        return rc;
    uint32_t entry_size = load32(tag->bytes + 8);
    uint32_t entry_version = load32(tag->bytes + 12);
    uint32_t entries_size = tag->size - MB2_MMAP_FIXED;

    if (entry_size < MB2_MMAP_ENTRY_MIN || entry_size % 8 != 0)
        return reject(out, tag->offset, -HV_EINVAL, "mmap entry_size %u is not a multiple of 8 of at least %u",
                     entry_size, MB2_MMAP_ENTRY_MIN);
    if (entry_version != 0)
        return reject(out, tag->offset, -HV_EINVAL, "mmap entry_version %u is not 0", entry_version);
    if (entries_size % entry_size != 0)
        return reject(out, tag->offset, -HV_EINVAL,
                      "mmap entries span %u bytes, not a whole number of %u-byte entries", entries_size, entry_size);
    size_t count = entries_size / entry_size;
    if (count > MB2_MAX_MMAP)
        return reject(out, tag->offset, -HV_ENOMEM, "mmap has %zu entries, more than %u", count, MB2_MAX_MMAP);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *entry = tag->bytes + MB2_MMAP_FIXED + i * entry_size;
        struct mb2_mmap_entry *slot = &out->mmap[i];

        slot->base = load64(entry);
        slot->length = load64(entry + 8);
        slot->type = load32(entry + 16);
        if (slot->length > UINT64_MAX - slot->base)
            return reject(out, tag->offset, -HV_ERANGE, "mmap entry %zu base 0x%lx + length 0x%lx overflows", i,
                         slot->base, slot->length);
    }
    out->mmap_count = count;
    return HV_OK;
}

/* A copy of an ACPI RSDP: only its minimum length is checked here, the ACPI code validates the contents. */
static int parse_rsdp(const struct mb2_tag *tag, uint32_t rsdp_size, const void **rsdp, size_t *len,
                      struct mb2_info *out)
{
    int rc = require_size(tag, MB2_TAG_HEADER + rsdp_size, out);

    if (rc != HV_OK)
        return rc;
    *rsdp = tag->bytes + MB2_TAG_HEADER;
    *len = tag->size - MB2_TAG_HEADER;
    return HV_OK;
}

static int parse_tag(const struct mb2_tag *tag, const struct mb2_limits *lim, struct mb2_info *out)
{
    int rc;

    switch (tag->type) {
    case MB2_TAG_CMDLINE:
        return parse_string(tag, MB2_TAG_HEADER, &out->cmdline, &out->cmdline_len, out);
    case MB2_TAG_BOOTLOADER_NAME:
        return parse_string(tag, MB2_TAG_HEADER, &out->bootloader_name, &out->bootloader_name_len, out);
    case MB2_TAG_MODULE:
        return parse_module(tag, lim, out);
    case MB2_TAG_BASIC_MEMINFO:
        rc = require_size(tag, MB2_MEMINFO_SIZE, out);
        if (rc != HV_OK)
            return rc;
        out->mem_lower_kb = load32(tag->bytes + 8);
        out->mem_upper_kb = load32(tag->bytes + 12);
        return HV_OK;
    case MB2_TAG_MMAP:
        return parse_mmap(tag, out);
    case MB2_TAG_ACPI_OLD:
        return parse_rsdp(tag, MB2_RSDP_V1_SIZE, &out->acpi_rsdp_old, &out->acpi_rsdp_old_len, out);
    case MB2_TAG_ACPI_NEW:
        return parse_rsdp(tag, MB2_RSDP_V2_SIZE, &out->acpi_rsdp_new, &out->acpi_rsdp_new_len, out);
    default:
        return HV_OK; /* tags the hypervisor does not use are skipped */
    }
}

int mb2_parse(const void *info, size_t avail, const struct mb2_limits *lim, struct mb2_info *out)
{
    const uint8_t *bytes = info;

    memset(out, 0, sizeof *out);
    if (info == NULL || lim == NULL)
        return reject(out, 0, -HV_EINVAL, "no boot information or limits given");
    if (lim->image_start > lim->image_end)
        return reject(out, 0, -HV_EINVAL, "hypervisor image range [0x%lx, 0x%lx) is inverted", lim->image_start,
                     lim->image_end);
    if (avail < MB2_FIXED_SIZE)
        return reject(out, 0, -HV_ETRUNC, "only %zu bytes available, the fixed part needs %u", avail, MB2_FIXED_SIZE);

    uint32_t total_size = load32(bytes);
    uint32_t reserved = load32(bytes + 4);

    if (total_size > avail)
        return reject(out, 0, -HV_ETRUNC, "total_size %u exceeds the %zu available bytes", total_size, avail);
    if (total_size < MB2_MIN_TOTAL)
        return reject(out, 0, -HV_EINVAL, "total_size %u is below the minimum %u", total_size, MB2_MIN_TOTAL);
    if (total_size % MB2_TAG_ALIGN != 0)
        return reject(out, 0, -HV_EINVAL, "total_size %u is not a multiple of %u", total_size, MB2_TAG_ALIGN);
    if (reserved != 0)
        return reject(out, 0, -HV_EINVAL, "reserved field is 0x%x, not 0", reserved);

    /* total_size and every tag offset are multiples of 8, so a whole tag header always fits. */
    for (size_t offset = MB2_FIXED_SIZE; offset < total_size;) {
        size_t remaining = total_size - offset;
        struct mb2_tag tag = {
            .type = load32(bytes + offset),
            .size = load32(bytes + offset + 4),
            .offset = offset,
            .bytes = bytes + offset,
        };

        if (tag.size < MB2_TAG_HEADER)
            return reject(out, offset, -HV_EINVAL, "tag %u (%s) size %u is below the %u-byte header", tag.type,
                         tag_name(tag.type), tag.size, MB2_TAG_HEADER);
        if (tag.size > remaining)
            return reject(out, offset, -HV_ETRUNC, "tag %u (%s) size %u exceeds the remaining %zu bytes", tag.type,
                         tag_name(tag.type), tag.size, remaining);
        if (tag.type == MB2_TAG_END) {
            if (tag.size != MB2_TAG_HEADER)
                return reject(out, offset, -HV_EINVAL, "end tag size %u is not %u", tag.size, MB2_TAG_HEADER);
            if (remaining != MB2_TAG_HEADER)
                return reject(out, offset, -HV_EINVAL, "end tag is followed by %zu more bytes",
                             remaining - MB2_TAG_HEADER);
            out->seen |= tag_bit(MB2_TAG_END);
            return HV_OK;
        }
        if (tag_bit(tag.type) & MB2_UNIQUE_TAGS & out->seen)
            return reject(out, offset, -HV_EEXIST, "duplicate tag %u (%s)", tag.type, tag_name(tag.type));
        int rc = parse_tag(&tag, lim, out);
        if (rc != HV_OK)
            return rc;
        out->seen |= tag_bit(tag.type);
        /* remaining is a multiple of 8 and at least tag.size, so the padding fits and this cannot overflow. */
        offset += ALIGN_UP((size_t)tag.size, MB2_TAG_ALIGN);
    }
    return reject(out, total_size, -HV_ENOENT, "missing end tag");
}

const struct mb2_module *mb2_find_module(const struct mb2_info *info, const char *name)
{
    size_t name_len = strlen(name);

    for (size_t i = 0; i < info->module_count; i++) {
        const char *cmdline = info->modules[i].cmdline;
        if (strncmp(cmdline, name, name_len) == 0 && (cmdline[name_len] == '\0' || cmdline[name_len] == ' '))
            return &info->modules[i];
    }
    return NULL;
}
