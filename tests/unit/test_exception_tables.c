/* Unit tests for isolation/exception_tables.c: registration and the lookup of an instruction in a sorted table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "isolation/exception_tables.c"

#define TEXT 0xffffffff81000000ull
#define TEXT_END 0xffffffff81600000ull
#define MODULE_TEXT 0xffffffffa0000000ull
#define TABLE 0xffffffff81943680ull /* where the fake guest memory below lives */
#define ENTRIES 5

/* Guest memory for the table: entry i lists the instruction at TEXT + 0x100 * (i + 1). */
static int32_t memory[ENTRIES * 3];
static unsigned reads;

static bool read_memory(void *ctx, uint64_t address, int32_t *value)
{
    (void)ctx;
    reads++;
    if (address < TABLE || address >= TABLE + sizeof(memory) || (address - TABLE) % 4)
        return false;
    *value = memory[(address - TABLE) / 4];
    return true;
}

static int reset(void **state)
{
    (void)state;
    memset(tables, 0, sizeof(tables));
    for (unsigned i = 0; i < ENTRIES; i++) {
        uint64_t field = TABLE + i * EXCEPTION_ENTRY_BYTES;
        memory[i * 3] = (int32_t)(TEXT + 0x100 * (i + 1) - field); /* relative to the field itself: negative */
        memory[i * 3 + 1] = 0x40;                                   /* fixup, data: not used */
        memory[i * 3 + 2] = 0;
    }
    reads = 0;
    return 0;
}

static void registration_is_validated(void **state)
{
    (void)state;
    assert_int_equal(exception_tables_register(TEXT_END, TEXT, TABLE, ENTRIES), -HV_EINVAL);
    assert_int_equal(exception_tables_register(TEXT, TEXT_END, TABLE, EXCEPTION_TABLE_MAX_ENTRIES + 1), -HV_EINVAL);
    assert_int_equal(exception_tables_register(0x1000, 0x2000, TABLE, ENTRIES), -HV_ERANGE);
    assert_int_equal(exception_tables_register(TEXT, TEXT_END, 0x1000, ENTRIES), -HV_ERANGE);
    assert_int_equal(exception_tables_register(TEXT, TEXT_END, 0xfffffffffffffff0ull, ENTRIES), -HV_ERANGE);
    assert_int_equal(exception_tables_register(TEXT, TEXT_END, TABLE, ENTRIES), HV_OK);
    assert_int_equal(exception_tables_register(TEXT + 0x1000, TEXT_END + 0x1000, TABLE, 1), -HV_EEXIST);
    assert_int_equal(exception_tables_register(TEXT, TEXT_END, TABLE, 2), HV_OK); /* the same range: replaced */
    for (unsigned i = 1; i < EXCEPTION_TABLES_MAX; i++)
        assert_int_equal(exception_tables_register(MODULE_TEXT + i * 0x10000, MODULE_TEXT + i * 0x10000 + 0x1000,
                                                   TABLE, 1),
                         HV_OK);
    assert_int_equal(exception_tables_register(MODULE_TEXT, MODULE_TEXT + 0x1000, TABLE, 1), -HV_ENOMEM);
    exception_tables_forget(TEXT); /* a slot is free */
    assert_int_equal(exception_tables_register(MODULE_TEXT, MODULE_TEXT + 0x1000, TABLE, 1), HV_OK);
}

static void an_instruction_is_found_only_if_listed(void **state)
{
    (void)state;
    assert_int_equal(exception_tables_register(TEXT, TEXT_END, TABLE, ENTRIES), HV_OK);
    for (unsigned i = 0; i < ENTRIES; i++) {
        assert_int_equal(exception_tables_lookup(TEXT + 0x100 * (i + 1), read_memory, NULL), EXCEPTION_ENTRY_FOUND);
        assert_int_equal(exception_tables_lookup(TEXT + 0x100 * (i + 1) + 1, read_memory, NULL),
                         EXCEPTION_ENTRY_NONE);
    }
    assert_int_equal(exception_tables_lookup(TEXT, read_memory, NULL), EXCEPTION_ENTRY_NONE); /* before the first */
    reads = 0;
    assert_int_equal(exception_tables_lookup(TEXT_END - 1, read_memory, NULL), EXCEPTION_ENTRY_NONE);
    assert_true(reads <= 3); /* a binary search */
    assert_int_equal(exception_tables_lookup(MODULE_TEXT, read_memory, NULL), EXCEPTION_ENTRY_UNKNOWN);
}

static void code_without_entries_lists_nothing(void **state)
{
    (void)state;
    assert_int_equal(exception_tables_register(MODULE_TEXT, MODULE_TEXT + 0x1000, 0, 0), HV_OK);
    reads = 0;
    assert_int_equal(exception_tables_lookup(MODULE_TEXT + 0x10, read_memory, NULL), EXCEPTION_ENTRY_NONE);
    assert_int_equal(reads, 0);
    exception_tables_forget(MODULE_TEXT);
    assert_int_equal(exception_tables_lookup(MODULE_TEXT + 0x10, read_memory, NULL), EXCEPTION_ENTRY_UNKNOWN);
}

static void an_unreadable_table_is_unknown(void **state)
{
    (void)state;
    assert_int_equal(exception_tables_register(TEXT, TEXT_END, TABLE + 0x10000, ENTRIES), HV_OK);
    assert_int_equal(exception_tables_lookup(TEXT + 0x100, read_memory, NULL), EXCEPTION_ENTRY_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(registration_is_validated, reset),
        cmocka_unit_test_setup(an_instruction_is_found_only_if_listed, reset),
        cmocka_unit_test_setup(code_without_entries_lists_nothing, reset),
        cmocka_unit_test_setup(an_unreadable_table_is_unknown, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
