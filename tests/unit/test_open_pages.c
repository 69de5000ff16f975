/* Unit tests for isolation/open_pages.c: which pages a driver's legal writes keep writable in its view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "isolation/open_pages.c"

#define P(n) (0xffff888000000000ull + (uint64_t)(n) * 4096)

static void test_none_kept_without_a_limit(void **state)
{
    (void)state;
    struct open_pages o = {0};
    uint64_t closed = 0;
    assert_false(open_pages_note(&o, P(1), &closed));
    assert_int_equal(o.count, 0);
    assert_false(open_pages_pop(&o, &closed));
}

static void test_the_least_recently_written_is_closed_first(void **state)
{
    (void)state;
    struct open_pages o = {.limit = 3};
    uint64_t closed = 0;
    assert_false(open_pages_note(&o, P(1), &closed));
    assert_false(open_pages_note(&o, P(2), &closed));
    assert_false(open_pages_note(&o, P(3), &closed));
    assert_true(open_pages_contains(&o, P(1)) && open_pages_contains(&o, P(3)));
    assert_false(open_pages_contains(&o, P(4)));
    /* P(1) written again: P(2) is now the least recent */
    assert_false(open_pages_note(&o, P(1), &closed));
    assert_int_equal(o.count, 3);
    assert_true(open_pages_note(&o, P(4), &closed));
    assert_int_equal(closed, P(2));
    assert_false(open_pages_contains(&o, P(2)));
    assert_true(open_pages_note(&o, P(5), &closed));
    assert_int_equal(closed, P(3));
    assert_int_equal(o.count, 3);
    /* a violation closes them all */
    uint64_t left[3], page;
    unsigned n = 0;
    while (open_pages_pop(&o, &page))
        left[n++] = page;
    assert_int_equal(n, 3);
    assert_false(open_pages_contains(&o, P(5)));
    assert_int_equal(left[0], P(5));
    assert_int_equal(left[1], P(4));
    assert_int_equal(left[2], P(1));
    assert_false(open_pages_note(&o, P(6), &closed));
    assert_int_equal(o.count, 1);
}

static void test_the_largest_cache_fills_up_then_replaces(void **state)
{
    (void)state;
    struct open_pages o = {.limit = OPEN_PAGES_MAX};
    uint64_t closed = 0;
    for (unsigned i = 0; i < OPEN_PAGES_MAX; i++)
        assert_false(open_pages_note(&o, P(i), &closed));
    assert_true(open_pages_note(&o, P(OPEN_PAGES_MAX), &closed));
    assert_int_equal(closed, P(0));
    assert_int_equal(o.count, OPEN_PAGES_MAX);
    assert_int_equal(o.page[OPEN_PAGES_MAX - 1], P(OPEN_PAGES_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_kept_without_a_limit),
        cmocka_unit_test(test_the_least_recently_written_is_closed_first),
        cmocka_unit_test(test_the_largest_cache_fills_up_then_replaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
