#include "isolation/exception_tables.h"

#include <stddef.h>

#include "hv/errno.h"
#include "isolation/domain.h"

static struct exception_table {
    uint64_t code_start, code_end, table, entries;
} tables[EXCEPTION_TABLES_MAX];

long exception_tables_register(uint64_t code_start, uint64_t code_end, uint64_t table, uint64_t entries)
{
    struct exception_table *slot = NULL, *same = NULL;
    if (code_end <= code_start || entries > EXCEPTION_TABLE_MAX_ENTRIES)
        return -HV_EINVAL;
    if (code_start < KERNEL_HALF_START || (entries && (table < KERNEL_HALF_START ||
                                                      table + entries * EXCEPTION_ENTRY_BYTES < table)))
        return -HV_ERANGE;
    for (unsigned i = 0; i < EXCEPTION_TABLES_MAX; i++) {
        struct exception_table *t = &tables[i];
        if (!t->code_end) {
            slot = slot ? slot : t;
        } else if (t->code_start == code_start) {
            same = t;
        } else if (code_start < t->code_end && t->code_start < code_end) {
            return -HV_EEXIST;
        }
    }
    slot = same ? same : slot;
    if (!slot)
        return -HV_ENOMEM;
    *slot = (struct exception_table){code_start, code_end, table, entries};
    return HV_OK;
}

void exception_tables_forget(uint64_t code_start)
{
    for (unsigned i = 0; i < EXCEPTION_TABLES_MAX; i++)
        if (tables[i].code_end && tables[i].code_start == code_start)
            tables[i] = (struct exception_table){0};
}

enum exception_entry exception_tables_lookup(uint64_t rip, exception_table_read read, void *ctx)
{
    const struct exception_table *t = NULL;
    for (unsigned i = 0; i < EXCEPTION_TABLES_MAX && !t; i++)
        if (tables[i].code_end && rip >= tables[i].code_start && rip < tables[i].code_end)
            t = &tables[i];
    if (!t)
        return EXCEPTION_ENTRY_UNKNOWN;
    uint64_t low = 0, high = t->entries; /* the entries are sorted by instruction address */
    while (low < high) {
        uint64_t mid = low + (high - low) / 2, field = t->table + mid * EXCEPTION_ENTRY_BYTES;
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
