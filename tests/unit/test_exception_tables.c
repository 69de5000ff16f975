/* Unit tests for isolation/exception_tables.c: registration, the lookup of an instruction in a sorted exception
 * table, and BUG against WARN in a bug table. */
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
/* A bug table as Linux x86-64 lays it out with CONFIG_DEBUG_BUGVERBOSE: the UD2's offset, the file's, the line
 * (16 bits) and the flags (16 bits) */
#define BUG_TABLE 0xffffffff81a00000ull
#define BUG_ENTRY_BYTES 12
#define BUG_FLAGS_OFFSET 10
#define BUGFLAG_WARNING 0x1
#define BUGFLAG_ONCE 0x2
#define BUGFLAG_TAINT_DIE 0x900 /* BUGFLAG_TAINT(TAINT_DIE): a BUG's flags may carry a taint */
static int32_t bug_memory[3 * 3];

static bool read_memory(void *ctx, uint64_t address, int32_t *value)
{
    (void)ctx;
    reads++;
    if (address >= BUG_TABLE && address < BUG_TABLE + sizeof(bug_memory) && (address - BUG_TABLE) % 4 == 0) {
        *value = bug_memory[(address - BUG_TABLE) / 4];
        return true;
    }
    if (address < TABLE || address >= TABLE + sizeof(memory) || (address - TABLE) % 4)
        return false;
    *value = memory[(address - TABLE) / 4];
    return true;
}

static void set_bug_entry(unsigned i, uint64_t ud2, uint16_t line, uint16_t flags)
{
    uint64_t entry = BUG_TABLE + i * BUG_ENTRY_BYTES;
    bug_memory[i * 3] = (int32_t)(ud2 - entry);
    bug_memory[i * 3 + 1] = 0x1234; /* the file name's offset: not used */
    bug_memory[i * 3 + 2] = (int32_t)((uint32_t)flags << 16 | line);
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
    set_bug_entry(0, TEXT + 0x200, 27, 0);                                 /* BUG_ON */
    set_bug_entry(1, TEXT + 0x300, 42, BUGFLAG_WARNING | BUGFLAG_ONCE);    /* WARN_ON_ONCE */
    set_bug_entry(2, TEXT + 0x400, 7, BUGFLAG_TAINT_DIE);                  /* a BUG with a taint */
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

static void a_bug_is_told_from_a_warn(void **state)
{
    (void)state;
    assert_int_equal(bug_tables_register(TEXT, TEXT_END, BUG_TABLE, 3, BUG_ENTRY_BYTES, BUG_FLAGS_OFFSET), HV_OK);
    assert_int_equal(bug_tables_lookup(TEXT + 0x200, read_memory, NULL), BUG_ENTRY_BUG);
    assert_int_equal(bug_tables_lookup(TEXT + 0x300, read_memory, NULL), BUG_ENTRY_WARN);
    assert_int_equal(bug_tables_lookup(TEXT + 0x400, read_memory, NULL), BUG_ENTRY_BUG);
    assert_int_equal(bug_tables_lookup(TEXT + 0x500, read_memory, NULL), BUG_ENTRY_NONE); /* a UD2 not listed */
    assert_int_equal(bug_tables_lookup(MODULE_TEXT, read_memory, NULL), BUG_ENTRY_UNKNOWN);
    /* the range has no exception table yet: its exception lookup knows nothing; registering one keeps the bugs */
    assert_int_equal(exception_tables_lookup(TEXT + 0x100, read_memory, NULL), EXCEPTION_ENTRY_UNKNOWN);
    assert_int_equal(exception_tables_register(TEXT, TEXT_END, TABLE, ENTRIES), HV_OK);
    assert_int_equal(exception_tables_lookup(TEXT + 0x100, read_memory, NULL), EXCEPTION_ENTRY_FOUND);
    assert_int_equal(bug_tables_lookup(TEXT + 0x300, read_memory, NULL), BUG_ENTRY_WARN);
    exception_tables_forget(TEXT); /* both go */
    assert_int_equal(bug_tables_lookup(TEXT + 0x200, read_memory, NULL), BUG_ENTRY_UNKNOWN);
    assert_int_equal(exception_tables_lookup(TEXT + 0x100, read_memory, NULL), EXCEPTION_ENTRY_UNKNOWN);
}

/* Without CONFIG_DEBUG_BUGVERBOSE an entry is the offset and the flags (8 bytes, flags at 4): the layout is the
 * agent's to say, within bounds. */
static void bug_table_layouts_are_validated(void **state)
{
    (void)state;
    assert_int_equal(bug_tables_register(TEXT, TEXT_END, BUG_TABLE, 3, 6, 4), -HV_EINVAL);
    assert_int_equal(bug_tables_register(TEXT, TEXT_END, BUG_TABLE, 3, 12, 11), -HV_EINVAL);
    assert_int_equal(bug_tables_register(TEXT, TEXT_END, BUG_TABLE, 3, 12, 12), -HV_EINVAL);
    assert_int_equal(bug_tables_register(TEXT, TEXT_END, BUG_TABLE, 3, 12, 2), -HV_EINVAL); /* in the offset */
    assert_int_equal(bug_tables_register(TEXT, TEXT_END, BUG_TABLE, 3, BUG_ENTRY_MAX_BYTES + 4, 4), -HV_EINVAL);
    assert_int_equal(bug_tables_register(TEXT, TEXT_END, 0x1000, 3, 12, 10), -HV_ERANGE);
    for (unsigned i = 0; i < 3; i++) { /* rewrite the table as 8-byte entries */
        uint64_t entry = BUG_TABLE + i * 8;
        bug_memory[i * 2] = (int32_t)(TEXT + 0x200 + 0x100 * i - entry);
        bug_memory[i * 2 + 1] = i == 1 ? BUGFLAG_WARNING | 0x55550000 : 0x55550000; /* padding above the flags */
    }
    assert_int_equal(bug_tables_register(TEXT, TEXT_END, BUG_TABLE, 3, 8, 4), HV_OK);
    assert_int_equal(bug_tables_lookup(TEXT + 0x200, read_memory, NULL), BUG_ENTRY_BUG);
    assert_int_equal(bug_tables_lookup(TEXT + 0x300, read_memory, NULL), BUG_ENTRY_WARN);
    assert_int_equal(bug_tables_lookup(TEXT + 0x400, read_memory, NULL), BUG_ENTRY_BUG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(registration_is_validated, reset),
        cmocka_unit_test_setup(an_instruction_is_found_only_if_listed, reset),
        cmocka_unit_test_setup(code_without_entries_lists_nothing, reset),
        cmocka_unit_test_setup(an_unreadable_table_is_unknown, reset),
        cmocka_unit_test_setup(a_bug_is_told_from_a_warn, reset),
        cmocka_unit_test_setup(bug_table_layouts_are_validated, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
