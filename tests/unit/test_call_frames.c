/* Unit tests for isolation/call_frames.c: which calls are live on which stack, and call-site recognition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "isolation/call_frames.c"
#include "isolation/x86_decode.c"

#define STACK_A 0xffffc90000010000ull /* two 16 KiB kernel stacks */
#define STACK_B 0xffffc90000020000ull

static struct call_frame frame(uint64_t domain, uint64_t rsp, uint64_t ret)
{
    return (struct call_frame){.domain_id = domain, .rsp = rsp, .return_rip = ret};
}

static int reset(void **state)
{
    (void)state;
    nr_frames = nr_resume_points = 0;
    return 0;
}

static void innermost_live_call_of_the_stack(void **state)
{
    (void)state;
    struct call_frame outer = frame(1, STACK_A + 0x3f00, 0x1111), inner = frame(1, STACK_A + 0x3c00, 0x2222);
    call_frames_push(&outer);
    call_frames_push(&inner); /* the driver called the kernel, which called the driver again */
    assert_int_equal(call_frames_innermost(1, STACK_A + 0x3b00)->return_rip, 0x2222);
    /* deeper than the outer call but above the inner one: only the outer call is running there */
    assert_int_equal(call_frames_innermost(1, STACK_A + 0x3d00)->return_rip, 0x1111);
    /* the first instruction of the call: RSP still points at the return address */
    assert_int_equal(call_frames_innermost(1, STACK_A + 0x3c00)->return_rip, 0x2222);
    assert_null(call_frames_innermost(1, STACK_A + 0x3f08)); /* above every call */
    assert_null(call_frames_innermost(1, STACK_B + 0x3000)); /* another stack */
    assert_null(call_frames_innermost(2, STACK_A + 0x3b00)); /* another domain's fault */
}

static void returns_and_tail_calls_finish_calls(void **state)
{
    (void)state;
    struct call_frame outer = frame(1, STACK_A + 0x3f00, 0x1111), inner = frame(1, STACK_A + 0x3c00, 0x2222);
    call_frames_push(&outer);
    call_frames_push(&inner);
    call_frames_unwound(STACK_A + 0x3b00); /* a call out of the driver: both still run */
    assert_int_equal(call_frames_count(), 2);
    call_frames_unwound(STACK_A + 0x3c08); /* the inner call returned */
    assert_int_equal(call_frames_count(), 1);
    assert_int_equal(call_frames_innermost(1, STACK_A + 0x3b00)->return_rip, 0x1111);
    call_frames_unwound(STACK_A + 0x3f00); /* a tail call out of the driver, return address still on top */
    assert_int_equal(call_frames_count(), 0);
}

static void a_new_call_at_the_same_depth_replaces_a_finished_one(void **state)
{
    (void)state;
    struct call_frame first = frame(1, STACK_A + 0x3c00, 0x1111), second = frame(1, STACK_A + 0x3d00, 0x2222);
    struct call_frame other_stack = frame(1, STACK_B + 0x3000, 0x3333);
    call_frames_push(&first);
    call_frames_push(&other_stack);
    call_frames_push(&second); /* shallower than first: first returned unseen (e.g. from an interrupt) */
    assert_int_equal(call_frames_count(), 2);
    assert_int_equal(call_frames_innermost(1, STACK_A + 0x3b00)->return_rip, 0x2222);
    assert_int_equal(call_frames_innermost(1, STACK_B + 0x2000)->return_rip, 0x3333);
    call_frames_forget_domain(1);
    assert_int_equal(call_frames_count(), 0);
}

static void a_full_table_drops_the_oldest(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < CALL_FRAMES_MAX + 1; i++) {
        struct call_frame f = frame(1, 0xffffc90000000000ull + (i << 14) + 0x3000, i); /* one stack each */
        call_frames_push(&f);
    }
    assert_int_equal(call_frames_count(), CALL_FRAMES_MAX);
    assert_null(call_frames_innermost(1, 0xffffc90000000000ull + 0x2000));
    assert_non_null(call_frames_innermost(1, 0xffffc90000000000ull + (1ull << 14) + 0x2000));
}

static void resume_points_are_exact_and_end_with_their_stack(void **state)
{
    (void)state;
    call_frames_note_resume(0xffffffffa0001234ull, STACK_A + 0x3b08); /* a call out at RSP 0x3b00 */
    assert_false(call_frames_take_resume(0xffffffffa0001234ull, STACK_A + 0x3b10)); /* another depth */
    assert_false(call_frames_take_resume(0xffffffffa0001238ull, STACK_A + 0x3b08)); /* another place */
    assert_true(call_frames_take_resume(0xffffffffa0001234ull, STACK_A + 0x3b08));
    assert_false(call_frames_take_resume(0xffffffffa0001234ull, STACK_A + 0x3b08)); /* taken once */

    call_frames_note_resume(0xffffffffa0001234ull, STACK_A + 0x3b08);
    call_frames_unwound(STACK_A + 0x3b00); /* still below it: it may resume */
    call_frames_unwound(STACK_B + 0x3f00); /* another stack */
    assert_true(call_frames_take_resume(0xffffffffa0001234ull, STACK_A + 0x3b08));
    call_frames_note_resume(0xffffffffa0001234ull, STACK_A + 0x3b08);
    call_frames_unwound(STACK_A + 0x3c00); /* the driver's call returned above it */
    assert_false(call_frames_take_resume(0xffffffffa0001234ull, STACK_A + 0x3b08));
}

/* Full: the oldest point goes; taking one from the middle leaves every other one to be found. */
static void a_full_resume_table_drops_the_oldest(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < RESUME_POINTS_MAX + 1; i++)
        call_frames_note_resume(0xffffffffa0000000ull + i, STACK_A + 0x3000);
    assert_false(call_frames_take_resume(0xffffffffa0000000ull, STACK_A + 0x3000));
    assert_true(call_frames_take_resume(0xffffffffa0000000ull + RESUME_POINTS_MAX / 2, STACK_A + 0x3000));
    for (uint64_t i = 1; i < RESUME_POINTS_MAX + 1; i++)
        if (i != RESUME_POINTS_MAX / 2)
            assert_true(call_frames_take_resume(0xffffffffa0000000ull + i, STACK_A + 0x3000));
}

static void call_sites(void **state)
{
    (void)state;
    static const struct {
        uint8_t bytes[CALL_SITE_BYTES];
        bool call;
    } cases[] = {
        {{0x48, 0x89, 0xe8, 0x12, 0x34, 0x56, 0x78}, true},  /* call rel32 */
        {{0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xd0}, true},  /* call *%rax */
        {{0x90, 0x90, 0x90, 0x90, 0x41, 0xff, 0xd3}, true},  /* call *%r11 */
        {{0x90, 0x90, 0x90, 0x90, 0xff, 0x50, 0x08}, true},  /* call *0x8(%rax) */
        {{0x90, 0xff, 0x15, 0x00, 0x10, 0x00, 0x00}, true},  /* call *0x1000(%rip) */
        {{0xff, 0x94, 0xc1, 0x00, 0x01, 0x00, 0x00}, true},  /* call *0x100(%rcx,%rax,8) */
        {{0x90, 0x90, 0x90, 0x90, 0x90, 0xff, 0xe0}, false}, /* jmp *%rax */
        {{0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xc3}, false}, /* ret */
        {{0x48, 0x89, 0x45, 0xf8, 0x48, 0x89, 0xc7}, false}, /* mov %rax,-8(%rbp); mov %rax,%rdi */
        {{0x90, 0x90, 0xe9, 0x12, 0x34, 0x56, 0x78}, false}, /* jmp rel32 */
    };
    for (int round = 0; round < 2; round++) { /* the second time, from the sites remembered */
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            if (call_site_precedes(0xffffffff81000000ull + i * 0x40, cases[i].bytes) != cases[i].call)
                fail_msg("case %zu round %d: expected %s", i, round, cases[i].call ? "a call" : "no call");
        }
    }
    /* A remembered site whose bytes changed (text patched) is decoded again. */
    assert_false(call_site_precedes(0xffffffff81000000ull, cases[6].bytes));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(innermost_live_call_of_the_stack, reset),
        cmocka_unit_test_setup(returns_and_tail_calls_finish_calls, reset),
        cmocka_unit_test_setup(a_new_call_at_the_same_depth_replaces_a_finished_one, reset),
        cmocka_unit_test_setup(a_full_table_drops_the_oldest, reset),
        cmocka_unit_test_setup(a_full_resume_table_drops_the_oldest, reset),
        cmocka_unit_test_setup(resume_points_are_exact_and_end_with_their_stack, reset),
        cmocka_unit_test_setup(call_sites, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
