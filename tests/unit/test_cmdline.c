/* hv/cmdline.c: option parsing, defaults, bad options, and the guest command line after "--". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hv/cmdline.c"

static struct hv_options parse(const char *text, char *buf, size_t size)
{
    struct hv_options o;
    snprintf(buf, size, "%s", text);
    hv_options_parse(buf, &o);
    return o;
}

static void test_defaults(void **state)
{
    (void)state;
    char buf[64];
    struct hv_options o = parse("", buf, sizeof(buf));
    assert_int_equal(o.log_port, COM2_BASE);
    assert_string_equal(o.loglevel, "info");
    assert_int_equal(o.pool_mib, HV_DEFAULT_POOL_MIB);
    assert_null(o.guest);
    assert_string_equal(o.guest_cmdline, "");
    assert_null(o.bad_option);
}

static void test_all_options_and_guest_cmdline(void **state)
{
    (void)state;
    char buf[128];
    struct hv_options o = parse("log=com1  loglevel=debug hvmem=128 guest=linux -- console=ttyS0 -- quiet", buf,
                                sizeof(buf));
    assert_int_equal(o.log_port, COM1_BASE);
    assert_string_equal(o.loglevel, "debug");
    assert_int_equal(o.pool_mib, 128);
    assert_string_equal(o.guest, "linux");
    assert_string_equal(o.guest_cmdline, "console=ttyS0 -- quiet");
    assert_int_equal(o.bad_count, 0);
}

static void test_image_path_skipped(void **state)
{
    (void)state;
    char buf[64];
    struct hv_options o = parse("/boot/hv.elf log=com1", buf, sizeof(buf));
    assert_int_equal(o.log_port, COM1_BASE);
    assert_int_equal(o.bad_count, 0);
}

static void test_bad_options_reported(void **state)
{
    (void)state;
    char buf[128];
    struct hv_options o = parse("log=com3 hvmem=12x hvmem=1 hvmem=99999999999999999999999 --x", buf, sizeof(buf));
    assert_int_equal(o.bad_count, 5);
    assert_string_equal(o.bad_option, "log=com3");
    assert_int_equal(o.log_port, COM2_BASE);
    assert_string_equal(o.guest_cmdline, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_options_and_guest_cmdline),
        cmocka_unit_test(test_image_path_skipped),
        cmocka_unit_test(test_bad_options_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
