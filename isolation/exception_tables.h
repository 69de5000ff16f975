/*
 * The guest kernel's exception and bug tables, per range of code: the kernel's own and each isolated module's.
 * Exception tables tell a driver's bad pointer from a legitimate user access. Kernel code touches user memory only
 * at the instructions its exception tables list (get_user, copy_from_user, ...): a #PF at a user address anywhere
 * else is an oops in the making, which the hypervisor can then take as the driver's fault (Linux x86-64: sorted
 * entries of three 32-bit offsets, the first giving the instruction relative to itself).
 * Bug tables tell a BUG() from a WARN(): both are a UD2 the table lists (Linux: unsorted entries, the UD2's
 * address a 32-bit offset relative to the entry, a flags field saying WARN). A BUG kills the guest (or at least the
 * task), so one met in a driver's call, in its code or in kernel code it called with bad arguments, is taken as
 * the driver's fault; after a WARN the kernel goes on.
 * Pure: guest memory is read through a callback.
 */
#ifndef ISOLATION_EXCEPTION_TABLES_H
#define ISOLATION_EXCEPTION_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#define EXCEPTION_TABLES_MAX 16
#define EXCEPTION_TABLE_MAX_ENTRIES (1u << 20)
#define EXCEPTION_ENTRY_BYTES 12
#define BUG_TABLE_MAX_ENTRIES (1u << 20)
#define BUG_ENTRY_MAX_BYTES 32

/* Covers [code_start, code_end) with `entries` entries at `table` (kernel addresses; 0 entries: none, the code
 * touches no user memory itself), replacing a table registered at code_start. HV_OK, -HV_EINVAL, -HV_ERANGE,
 * -HV_EEXIST (overlaps another range), -HV_ENOMEM. */
long exception_tables_register(uint64_t code_start, uint64_t code_end, uint64_t table, uint64_t entries);
/* The same for the bug table of [code_start, code_end): `entries` of `entry_bytes` (8 to BUG_ENTRY_MAX_BYTES, a
 * multiple of 4), each starting with the UD2's offset and holding 16-bit flags at even `flags_offset`. */
long bug_tables_register(uint64_t code_start, uint64_t code_end, uint64_t table, uint64_t entries,
                         uint64_t entry_bytes, uint64_t flags_offset);
/* The code registered at code_start is gone: both its tables. */
void exception_tables_forget(uint64_t code_start);

enum exception_entry {
    EXCEPTION_ENTRY_UNKNOWN, /* rip is in no registered range, or the table could not be read */
    EXCEPTION_ENTRY_NONE,
    EXCEPTION_ENTRY_FOUND,
};
/* Reads a 32-bit value of guest memory: false when it cannot. */
typedef bool (*exception_table_read)(void *ctx, uint64_t address, int32_t *value);
enum exception_entry exception_tables_lookup(uint64_t rip, exception_table_read read, void *ctx);

enum bug_entry_kind {
    BUG_ENTRY_UNKNOWN, /* rip is in no range with a bug table, or the table could not be read */
    BUG_ENTRY_NONE,    /* a UD2 the table does not list */
    BUG_ENTRY_BUG,
    BUG_ENTRY_WARN,
};
enum bug_entry_kind bug_tables_lookup(uint64_t rip, exception_table_read read, void *ctx);

#endif
