/*
 * The guest kernel's exception tables, to tell a driver's bad pointer from a legitimate user access. Kernel code
 * touches user memory only at the instructions its exception tables list (get_user, copy_from_user, ...): a #PF
 * at a user address anywhere else is an oops in the making, which the hypervisor can then take as the driver's
 * fault. The agent registers the tables (Linux x86-64: sorted entries of three 32-bit offsets, the first giving
 * the instruction relative to itself) with the code range each covers: the kernel's own and each isolated module's.
 * Pure: guest memory is read through a callback.
 */
#ifndef ISOLATION_EXCEPTION_TABLES_H
#define ISOLATION_EXCEPTION_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#define EXCEPTION_TABLES_MAX 16
#define EXCEPTION_TABLE_MAX_ENTRIES (1u << 20)
#define EXCEPTION_ENTRY_BYTES 12

/* Covers [code_start, code_end) with `entries` entries at `table` (kernel addresses; 0 entries: none, the code
 * touches no user memory itself), replacing a table registered at code_start. HV_OK, -HV_EINVAL, -HV_ERANGE,
 * -HV_EEXIST (overlaps another range), -HV_ENOMEM. */
long exception_tables_register(uint64_t code_start, uint64_t code_end, uint64_t table, uint64_t entries);
/* The code registered at code_start is gone. */
void exception_tables_forget(uint64_t code_start);

enum exception_entry {
    EXCEPTION_ENTRY_UNKNOWN, /* rip is in no registered range, or the table could not be read */
    EXCEPTION_ENTRY_NONE,
    EXCEPTION_ENTRY_FOUND,
};
/* Reads a 32-bit value of guest memory: false when it cannot. */
typedef bool (*exception_table_read)(void *ctx, uint64_t address, int32_t *value);
enum exception_entry exception_tables_lookup(uint64_t rip, exception_table_read read, void *ctx);

#endif
