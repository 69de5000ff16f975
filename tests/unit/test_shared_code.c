/* Unit tests for isolation/shared_code.c: which kernel pages a driver's view runs itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "isolation/shared_code.c"

#define TEXT 0xffffffff81000000ull
#define LOCK_PAGE (TEXT + 0x7000)

static unsigned asked;

/* The one page that must switch: LOCK_PAGE. */
static bool lock_page_must_switch(void *ctx, uint64_t page)
{
    (void)ctx;
    asked++;
    return page == LOCK_PAGE;
}

static int reset(void **state)
{
    (void)state;
    nr_pages = 0;
    asked = 0;
    return 0;
}

static void test_a_function_shares_every_page_it_spans(void **state)
{
    (void)state;
    assert_int_equal(shared_code_add(TEXT + 0x1f80, TEXT + 0x2040, lock_page_must_switch, NULL), HV_OK);
    assert_int_equal(asked, 2);
    assert_int_equal(shared_code_pages(), 2);
    assert_true(shared_code_contains(TEXT + 0x1000));
    assert_true(shared_code_contains(TEXT + 0x2fff));
    assert_false(shared_code_contains(TEXT + 0x3000));
    assert_false(shared_code_contains(TEXT + 0xfff));
    assert_true(shared_code_overlaps(TEXT, TEXT + 0x1001));
    assert_false(shared_code_overlaps(TEXT, TEXT + 0x1000));
    assert_false(shared_code_overlaps(TEXT + 0x3000, TEXT + 0x200000));
    /* a second function on the same page takes no more room */
    assert_int_equal(shared_code_add(TEXT + 0x2100, TEXT + 0x2180, lock_page_must_switch, NULL), HV_OK);
    assert_int_equal(shared_code_pages(), 2);
}

static void test_nothing_is_shared_when_a_page_must_switch(void **state)
{
    (void)state;
    assert_int_equal(shared_code_add(LOCK_PAGE - 0x10, LOCK_PAGE + 0x10, lock_page_must_switch, NULL), -HV_EPERM);
    assert_int_equal(shared_code_pages(), 0);
    assert_false(shared_code_contains(LOCK_PAGE - 0x10));
}

static void test_bad_ranges_are_refused(void **state)
{
    (void)state;
    assert_int_equal(shared_code_add(0x400000, 0x400100, lock_page_must_switch, NULL), -HV_EINVAL);
    assert_int_equal(shared_code_add(TEXT + 0x100, TEXT + 0x100, lock_page_must_switch, NULL), -HV_EINVAL);
    assert_int_equal(shared_code_add(TEXT + 0x100, TEXT, lock_page_must_switch, NULL), -HV_EINVAL);
    assert_int_equal(shared_code_add(TEXT, TEXT + (SHARED_FUNCTION_MAX_PAGES + 1) * PAGE - 1, lock_page_must_switch,
                                     NULL), -HV_EINVAL);
    assert_int_equal(shared_code_add(TEXT, TEXT + SHARED_FUNCTION_MAX_PAGES * PAGE, lock_page_must_switch, NULL),
                     HV_OK);
    assert_int_equal(asked, SHARED_FUNCTION_MAX_PAGES);
}

static void test_a_full_table_takes_nothing_more(void **state)
{
    (void)state;
    uint64_t base = 0xffffffffa0000000ull;
    for (unsigned i = 0; i < SHARED_CODE_PAGES_MAX; i++)
        assert_int_equal(shared_code_add(base + i * PAGE, base + i * PAGE + 8, lock_page_must_switch, NULL), HV_OK);
    assert_int_equal(shared_code_add(TEXT, TEXT + 8, lock_page_must_switch, NULL), -HV_ENOMEM);
    assert_false(shared_code_contains(TEXT));
    /* a page already shared still is */
    assert_int_equal(shared_code_add(base + 8, base + 16, lock_page_must_switch, NULL), HV_OK);
    /* straddling a shared page and a new one: nothing added */
    assert_int_equal(shared_code_add(base - 8, base + 8, lock_page_must_switch, NULL), -HV_ENOMEM);
    assert_false(shared_code_contains(base - 8));
}

static void test_a_removed_page_switches_again(void **state)
{
    (void)state;
    assert_int_equal(shared_code_add(TEXT + 0x1000, TEXT + 0x3800, lock_page_must_switch, NULL), HV_OK);
    assert_true(shared_code_remove(TEXT + 0x2345));
    assert_false(shared_code_remove(TEXT + 0x2345));
    assert_false(shared_code_contains(TEXT + 0x2000));
    assert_true(shared_code_contains(TEXT + 0x1000));
    assert_true(shared_code_contains(TEXT + 0x3000));
    assert_int_equal(shared_code_pages(), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_a_function_shares_every_page_it_spans, reset),
        cmocka_unit_test_setup(test_nothing_is_shared_when_a_page_must_switch, reset),
        cmocka_unit_test_setup(test_bad_ranges_are_refused, reset),
        cmocka_unit_test_setup(test_a_full_table_takes_nothing_more, reset),
        cmocka_unit_test_setup(test_a_removed_page_switches_again, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
