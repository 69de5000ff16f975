/* hv/fmt.c: the log formatter, including escaping that keeps guest-supplied strings from breaking a record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hv/fmt.c"

static void check(const char *expected, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = hv_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    assert_string_equal(buf, expected);
    assert_int_equal(n, (int)strlen(expected));
}

static void test_conversions(void **state)
{
    (void)state;
    check("a=-42 b=42 c=ff d=FF", "a=%d b=%u c=%x d=%X", -42, 42u, 255u, 255u);
    check("0x0000beef|  7|7  |", "0x%08lx|%3d|%-3d|", 0xbeeful, 7, 7);
    check("-9223372036854775808 18446744073709551615", "%ld %lu", INT64_MIN, UINT64_MAX);
    check("p=0x1000 c=z %", "p=%p c=%c %%", (void *)0x1000, 'z');
    check("sz=5", "sz=%zu", (size_t)5);
}

static void test_string_escaping(void **state)
{
    (void)state;
    check("msg=\"a \\\"quoted\\\" \\\\ x\\x0a\\x1b\"", "msg=\"%s\"", "a \"quoted\" \\ x\n\x1b");
    check("(null)", "%s", (const char *)NULL);
}

static void test_truncation_reports_full_length(void **state)
{
    (void)state;
    char buf[8];
    int n = hv_snprintf(buf, sizeof(buf), "%s", "0123456789");
    assert_int_equal(n, 10);
    assert_string_equal(buf, "0123456");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_string_escaping),
        cmocka_unit_test(test_truncation_reports_full_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
