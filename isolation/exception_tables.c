#include "isolation/exception_tables.h"

#include <stddef.h>

#include "hv/errno.h"
#include "hv/hypercall_abi.h"
#include "isolation/domain.h"

static struct code_tables {
    uint64_t code_start, code_end;
    bool has_extable, has_bugs; /* registered (with 0 entries: none there) */
    uint64_t extable, extable_entries;
    uint64_t bugs, bug_entries, bug_entry_bytes, bug_flags_offset;
} tables[EXCEPTION_TABLES_MAX];

static bool table_in_kernel_half(uint64_t table, uint64_t entries, uint64_t entry_bytes)
{
    return !entries || (table >= KERNEL_HALF_START && table + entries * entry_bytes > table);
}

/* The tables of [code_start, code_end), for a table of `entries` of `entry_bytes` at `table`: the range's own (its
 * other table kept if it changed extent), or a new one; NULL with *status set when the code or the table is outside
 * the kernel half, the range overlaps another or none is free. */
static struct code_tables *tables_of(uint64_t code_start, uint64_t code_end, uint64_t table, uint64_t entries,
                                     uint64_t entry_bytes, long *status)
{
    struct code_tables *slot = NULL, *same = NULL;
    if (code_start < KERNEL_HALF_START || !table_in_kernel_half(table, entries, entry_bytes)) {
        *status = -HV_ERANGE;
        return NULL;
    }
    for (unsigned i = 0; i < EXCEPTION_TABLES_MAX; i++) {
        struct code_tables *t = &tables[i];
        if (!t->code_end) {
            slot = slot ? slot : t;
        } else if (t->code_start == code_start) {
            same = t;
        } else if (code_start < t->code_end && t->code_start < code_end) {
            *status = -HV_EEXIST;
            return NULL;
        }
    }
    if (same) {
        same->code_end = code_end;
        return same;
    }
    if (!slot) {
        *status = -HV_ENOMEM;
        return NULL;
    }
    *slot = (struct code_tables){.code_start = code_start, .code_end = code_end};
    return slot;
}

long exception_tables_register(uint64_t code_start, uint64_t code_end, uint64_t table, uint64_t entries)
{
    if (code_end <= code_start || entries > EXCEPTION_TABLE_MAX_ENTRIES)
        return -HV_EINVAL;
    long status = HV_OK;
    struct code_tables *t = tables_of(code_start, code_end, table, entries, EXCEPTION_ENTRY_BYTES, &status);
    if (t) {
        t->has_extable = true;
        t->extable = table;
        t->extable_entries = entries;
    }
    return status;
}

long bug_tables_register(uint64_t code_start, uint64_t code_end, uint64_t table, uint64_t entries,
                         uint64_t entry_bytes, uint64_t flags_offset)
{
    if (code_end <= code_start || entries > BUG_TABLE_MAX_ENTRIES || entry_bytes < 8 ||
        entry_bytes > BUG_ENTRY_MAX_BYTES || entry_bytes % 4 || flags_offset % 2 || flags_offset < 4 ||
        flags_offset + 2 > entry_bytes)
        return -HV_EINVAL;
    long status = HV_OK;
    struct code_tables *t = tables_of(code_start, code_end, table, entries, entry_bytes, &status);
    if (t) {
        t->has_bugs = true;
        t->bugs = table;
        t->bug_entries = entries;
        t->bug_entry_bytes = entry_bytes;
        t->bug_flags_offset = flags_offset;
    }
    return status;
}

void exception_tables_forget(uint64_t code_start)
{
    for (unsigned i = 0; i < EXCEPTION_TABLES_MAX; i++)
        if (tables[i].code_end && tables[i].code_start == code_start)
            tables[i] = (struct code_tables){0};
}

static const struct code_tables *tables_covering(uint64_t rip)
{
    for (unsigned i = 0; i < EXCEPTION_TABLES_MAX; i++)
        if (tables[i].code_end && rip >= tables[i].code_start && rip < tables[i].code_end)
            return &tables[i];
    return NULL;
}

enum exception_entry exception_tables_lookup(uint64_t rip, exception_table_read read, void *ctx)
{
    const struct code_tables *t = tables_covering(rip);
    if (!t || !t->has_extable)
        return EXCEPTION_ENTRY_UNKNOWN;
    uint64_t low = 0, high = t->extable_entries; /* the entries are sorted by instruction address */
    while (low < high) {
        uint64_t mid = low + (high - low) / 2, field = t->extable + mid * EXCEPTION_ENTRY_BYTES;
        int32_t offset;
        if (!read(ctx, field, &offset))
            return EXCEPTION_ENTRY_UNKNOWN;
        uint64_t insn = field + (uint64_t)(int64_t)offset;
        if (insn == rip)
            return EXCEPTION_ENTRY_FOUND;
        if (insn < rip)
            low = mid + 1;
        else
            high = mid;
    }
    return EXCEPTION_ENTRY_NONE;
}

enum bug_entry_kind bug_tables_lookup(uint64_t rip, exception_table_read read, void *ctx)
{
    const struct code_tables *t = tables_covering(rip);
    if (!t || !t->has_bugs)
        return BUG_ENTRY_UNKNOWN;
    for (uint64_t i = 0; i < t->bug_entries; i++) { /* not sorted; read only when a UD2 traps */
        uint64_t entry = t->bugs + i * t->bug_entry_bytes;
        int32_t offset, flags_word;
        if (!read(ctx, entry, &offset))
            return BUG_ENTRY_UNKNOWN;
        if (entry + (uint64_t)(int64_t)offset != rip)
            continue;
        /* the 16-bit flags, from the aligned 32-bit word holding them (little-endian) */
        uint64_t word = t->bug_flags_offset & ~3ull;
        if (!read(ctx, entry + word, &flags_word))
            return BUG_ENTRY_UNKNOWN;
        uint16_t flags = (uint16_t)((uint32_t)flags_word >> (8 * (t->bug_flags_offset - word)));
        return flags & CHARIOT_BUG_WARNING ? BUG_ENTRY_WARN : BUG_ENTRY_BUG;
    }
    return BUG_ENTRY_NONE;
}
