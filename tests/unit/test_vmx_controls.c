/* hv/vmx_controls.c: VMCS control values computed from the allowed-0/allowed-1 capability MSRs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hv/vmx_controls.c"

static void test_msr_split(void **state)
{
    (void)state;
    struct vmx_control_caps c = vmx_control_caps_from_msr(0xfff9fffe04006172ull);
    assert_int_equal(c.must_be_one, 0x04006172);
    assert_int_equal(c.may_be_one, 0xfff9fffe);
}

static void test_must_be_one_bits_forced_and_may_be_zero_bits_dropped(void **state)
{
    (void)state;
    struct vmx_control_caps c = {.must_be_one = 0x16, .may_be_one = 0x3f};
    struct vmx_control_request req = {"pin", 0x1, 0x40 | 0x8};
    struct vmx_control_result r = vmx_compute_control(&c, &req);
    assert_int_equal(r.value, 0x16 | 0x1 | 0x8); /* 0x40 not allowed: optional, silently off */
    assert_int_equal(r.missing, 0);
}

static void test_missing_required_bits_reported(void **state)
{
    (void)state;
    /* bx_generic's exit controls: no EFER save/load */
    struct vmx_control_caps c = vmx_control_caps_from_msr(0x0003efff00036dfbull);
    struct vmx_control_request req = {"exit", EXIT_HOST_ADDRESS_SPACE_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER, 0};
    struct vmx_control_result r = vmx_compute_control(&c, &req);
    assert_int_equal(r.missing, EXIT_SAVE_EFER | EXIT_LOAD_EFER);
    assert_true(r.value & EXIT_HOST_ADDRESS_SPACE_64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msr_split),
        cmocka_unit_test(test_must_be_one_bits_forced_and_may_be_zero_bits_dropped),
        cmocka_unit_test(test_missing_required_bits_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
