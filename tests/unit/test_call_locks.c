/* Unit tests for isolation/call_locks.c: which locks a driver's calls hold, and what aborting a call releases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "isolation/call_frames.c"
#include "isolation/call_locks.c"
#include "isolation/x86_decode.c"

#define STACK_A 0xffffc90000010000ull /* two 16 KiB kernel stacks */
#define STACK_B 0xffffc90000020000ull
#define MUTEX_LOCK 0xffffffff81a00000ull
#define MUTEX_LOCK_INTERRUPTIBLE 0xffffffff81a00100ull
#define MUTEX_TRYLOCK 0xffffffff81a00200ull
#define MUTEX_UNLOCK 0xffffffff81a00300ull
#define RTNL_LOCK 0xffffffff81b00000ull
#define RTNL_UNLOCK 0xffffffff81b00100ull
#define CLASS_MUTEX 0
#define CLASS_RTNL 4
#define DRIVER_RIP 0xffffffffc0001000ull
#define LOCK_1 0xffff888001000000ull
#define LOCK_2 0xffff888001000100ull

/* After each test: the count of records in LOCK_TAKING (the resume path's shortcut) matches the table. */
static int taking_count_matches(void **state)
{
    (void)state;
    unsigned n = 0;
    for (unsigned i = 0; i < HELD_LOCKS_MAX; i++)
        n += held[i].state == LOCK_TAKING;
    assert_int_equal(n, nr_taking);
    return 0;
}

static int reset(void **state)
{
    (void)state;
    memset(held, 0, sizeof(held));
    nr_taking = 0;
    memset(lock_functions, 0, sizeof(lock_functions));
    memset(lock_function_filter, 0, sizeof(lock_function_filter));
    nr_lock_functions = 0;
    assert_int_equal(call_locks_register(MUTEX_LOCK, CLASS_MUTEX, CHARIOT_LOCK_ACQUIRE), HV_OK);
    assert_int_equal(call_locks_register(MUTEX_LOCK_INTERRUPTIBLE, CLASS_MUTEX,
                                         CHARIOT_LOCK_ACQUIRE | CHARIOT_LOCK_OK_ZERO), HV_OK);
    assert_int_equal(call_locks_register(MUTEX_TRYLOCK, CLASS_MUTEX, CHARIOT_LOCK_ACQUIRE | CHARIOT_LOCK_OK_NONZERO),
                     HV_OK);
    assert_int_equal(call_locks_register(MUTEX_UNLOCK, CLASS_MUTEX, 0), HV_OK);
    assert_int_equal(call_locks_register(RTNL_LOCK, CLASS_RTNL, CHARIOT_LOCK_ACQUIRE | CHARIOT_LOCK_NO_ARGUMENT),
                     HV_OK);
    assert_int_equal(call_locks_register(RTNL_UNLOCK, CLASS_RTNL, CHARIOT_LOCK_NO_ARGUMENT), HV_OK);
    return 0;
}

/* The driver (domain 1, call `frame`) calls `function` from a call site whose resume point is at `rsp` on its
 * stack; the call returns `result`. */
static void lock_call(uint64_t frame, uint64_t function, uint64_t lock, uint64_t rsp, uint64_t result)
{
    call_locks_call_out(1, frame, function, lock, DRIVER_RIP + rsp % 0x1000, rsp);
    call_locks_resumed(DRIVER_RIP + rsp % 0x1000, rsp, result);
}

static void next_release_is(uint64_t abort_id, uint64_t lock_class, uint64_t lock)
{
    uint64_t domain_id = 0, got_class = 99, got_lock = 0;
    assert_true(call_locks_next_release(abort_id, &domain_id, &got_class, &got_lock));
    assert_int_equal(domain_id, 1);
    assert_int_equal(got_class, lock_class);
    assert_int_equal(got_lock, lock);
}

static void registration_is_validated(void **state)
{
    (void)state;
    assert_int_equal(call_locks_register(0, CLASS_MUTEX, CHARIOT_LOCK_ACQUIRE), -HV_EINVAL);
    assert_int_equal(call_locks_register(MUTEX_LOCK, CHARIOT_LOCK_CLASSES, CHARIOT_LOCK_ACQUIRE), -HV_EINVAL);
    assert_int_equal(call_locks_register(MUTEX_LOCK, CLASS_MUTEX, 0x100), -HV_EINVAL);
    assert_int_equal(call_locks_register(MUTEX_LOCK, CLASS_MUTEX, CHARIOT_LOCK_OK_ZERO), -HV_EINVAL); /* release */
    assert_int_equal(call_locks_register(MUTEX_LOCK, CLASS_MUTEX,
                                         CHARIOT_LOCK_ACQUIRE | CHARIOT_LOCK_OK_ZERO | CHARIOT_LOCK_OK_NONZERO),
                     -HV_EINVAL);
    assert_true(call_locks_is_lock_function(MUTEX_LOCK));
    assert_false(call_locks_is_lock_function(MUTEX_LOCK + 1));
    /* a page holding one must keep switching views (isolation/shared_code.h) */
    assert_true(call_locks_any_in(MUTEX_LOCK & ~0xfffull, (MUTEX_LOCK & ~0xfffull) + 0x1000));
    assert_true(call_locks_any_in(MUTEX_LOCK, MUTEX_LOCK + 1));
    assert_false(call_locks_any_in(MUTEX_LOCK + 1, MUTEX_LOCK + 0x100));
    assert_false(call_locks_any_in(MUTEX_LOCK - 0x1000, MUTEX_LOCK));
    for (uint64_t i = nr_lock_functions; i < LOCK_FUNCTIONS_MAX; i++)
        assert_int_equal(call_locks_register(0xffffffff82000000ull + i, 1, 0), HV_OK);
    assert_int_equal(call_locks_register(0xffffffff83000000ull, 1, 0), -HV_ENOMEM);
    assert_int_equal(call_locks_register(MUTEX_LOCK, 2, CHARIOT_LOCK_ACQUIRE), HV_OK); /* again: changed, no slot */
}

static void a_lock_is_held_once_its_call_returns_saying_so(void **state)
{
    (void)state;
    call_locks_call_out(1, 7, MUTEX_LOCK, LOCK_1, DRIVER_RIP, STACK_A + 0x3e00);
    assert_int_equal(call_locks_held(1), 0); /* still sleeping on it */
    call_locks_resumed(DRIVER_RIP, STACK_A + 0x3e08, 0);
    assert_int_equal(call_locks_held(1), 0); /* another resume point */
    call_locks_resumed(DRIVER_RIP, STACK_A + 0x3e00, 0);
    assert_int_equal(call_locks_held(1), 1);

    lock_call(7, MUTEX_LOCK_INTERRUPTIBLE, LOCK_2, STACK_A + 0x3d00, (uint64_t)-4); /* -EINTR: not taken */
    lock_call(7, MUTEX_TRYLOCK, LOCK_2, STACK_A + 0x3d00, 0);                       /* busy */
    assert_int_equal(call_locks_held(1), 1);
    lock_call(7, MUTEX_TRYLOCK, LOCK_2, STACK_A + 0x3d00, 0xffffffff00000001ull); /* int 1, upper half junk */
    assert_int_equal(call_locks_held(1), 2);
    lock_call(0, MUTEX_LOCK, LOCK_1, STACK_A + 0x3e00, 0); /* frame 0: no call recorded */
    call_locks_call_out(1, 7, MUTEX_LOCK, LOCK_1, 0, 0); /* a tail call */
    assert_int_equal(call_locks_held(1), 2);
}

static void a_release_drops_the_newest_hold_of_that_lock(void **state)
{
    (void)state;
    lock_call(7, MUTEX_LOCK, LOCK_1, STACK_A + 0x3e00, 0);
    lock_call(7, RTNL_LOCK, 0x1234, STACK_A + 0x3e00, 0); /* no argument: the lock is 0 */
    call_locks_call_out(1, 7, MUTEX_UNLOCK, LOCK_2, 0, 0);  /* not held: nothing */
    call_locks_call_out(2, 7, MUTEX_UNLOCK, LOCK_1, 0, 0);  /* another domain's */
    call_locks_call_out(1, 7, RTNL_UNLOCK, 0x5678, 0, 0);  /* a release by tail call counts */
    assert_int_equal(call_locks_held(1), 1);
    call_locks_call_out(1, 7, MUTEX_UNLOCK, LOCK_1, DRIVER_RIP, STACK_A + 0x3e00);
    assert_int_equal(call_locks_held(1), 0);
}

static void an_abort_releases_what_its_call_and_nested_calls_took_newest_first(void **state)
{
    (void)state;
    uint64_t domain_id, lock_class, lock;
    lock_call(5, MUTEX_LOCK, 0xa, STACK_A + 0x3f00, 0);  /* an earlier call on the stack: held across calls */
    lock_call(9, MUTEX_LOCK, 0xb, STACK_B + 0x3f00, 0);  /* another stack's, taken later */
    lock_call(7, MUTEX_LOCK, LOCK_1, STACK_A + 0x3e00, 0); /* the aborted call */
    lock_call(8, RTNL_LOCK, 0, STACK_A + 0x3c00, 0);     /* a call nested in it */
    call_locks_call_out(1, 7, MUTEX_LOCK, LOCK_2, DRIVER_RIP, STACK_A + 0x3d00); /* still sleeping */
    assert_int_equal(call_locks_abort(7, STACK_A + 0x3e80), 2);
    next_release_is(7, CLASS_RTNL, 0);
    next_release_is(7, CLASS_MUTEX, LOCK_1);
    assert_false(call_locks_next_release(7, &domain_id, &lock_class, &lock));
    assert_int_equal(call_locks_held(1), 2); /* 0xa and 0xb */
    call_locks_resumed(DRIVER_RIP, STACK_A + 0x3d00, 0); /* the sleeping call was dropped with the abort */
    assert_int_equal(call_locks_held(1), 2);
}

static void forgetting_a_domain_keeps_an_abort_under_way(void **state)
{
    (void)state;
    lock_call(7, MUTEX_LOCK, LOCK_1, STACK_A + 0x3e00, 0);
    lock_call(7, MUTEX_LOCK, LOCK_2, STACK_A + 0x3e00, 0);
    assert_int_equal(call_locks_abort(7, STACK_A + 0x3f00), 2);
    lock_call(9, MUTEX_LOCK, 0xc, STACK_B + 0x3e00, 0);
    call_locks_forget_domain(1);
    assert_int_equal(call_locks_held(1), 0);
    next_release_is(7, CLASS_MUTEX, LOCK_2); /* the landing runs after the driver is gone */
    next_release_is(7, CLASS_MUTEX, LOCK_1);
}

static void recovery_takes_what_a_domain_still_holds_newest_first(void **state)
{
    (void)state;
    uint64_t lock_class, lock;
    lock_call(5, MUTEX_LOCK, LOCK_1, STACK_A + 0x3f00, 0); /* taken in one call, kept after it */
    lock_call(6, RTNL_LOCK, 0, STACK_B + 0x3f00, 0);
    call_locks_call_out(2, 9, MUTEX_LOCK, LOCK_2, DRIVER_RIP, STACK_A + 0x3e00); /* another domain's */
    call_locks_resumed(DRIVER_RIP, STACK_A + 0x3e00, 0);
    assert_true(call_locks_next_held(1, &lock_class, &lock));
    assert_int_equal(lock_class, CLASS_RTNL);
    assert_true(call_locks_next_held(1, &lock_class, &lock));
    assert_int_equal(lock, LOCK_1);
    assert_false(call_locks_next_held(1, &lock_class, &lock));
    assert_int_equal(call_locks_held(2), 1);
}

static void a_full_table_forgets_the_oldest(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < HELD_LOCKS_MAX + 1; i++)
        lock_call(7, MUTEX_LOCK, LOCK_1 + i, STACK_A + 0x3e00, 0);
    assert_int_equal(call_locks_held(1), HELD_LOCKS_MAX);
    assert_int_equal(call_locks_abort(7, STACK_A + 0x3f00), HELD_LOCKS_MAX);
    next_release_is(7, CLASS_MUTEX, LOCK_1 + HELD_LOCKS_MAX);
    uint64_t domain_id, lock_class, lock = 0;
    while (call_locks_next_release(7, &domain_id, &lock_class, &lock))
        assert_int_not_equal(lock, LOCK_1); /* the first one was forgotten */
    assert_int_equal(lock, LOCK_1 + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(registration_is_validated, reset, taking_count_matches),
        cmocka_unit_test_setup_teardown(a_lock_is_held_once_its_call_returns_saying_so, reset, taking_count_matches),
        cmocka_unit_test_setup_teardown(a_release_drops_the_newest_hold_of_that_lock, reset, taking_count_matches),
        cmocka_unit_test_setup_teardown(an_abort_releases_what_its_call_and_nested_calls_took_newest_first, reset, taking_count_matches),
        cmocka_unit_test_setup_teardown(forgetting_a_domain_keeps_an_abort_under_way, reset, taking_count_matches),
        cmocka_unit_test_setup_teardown(recovery_takes_what_a_domain_still_holds_newest_first, reset, taking_count_matches),
        cmocka_unit_test_setup_teardown(a_full_table_forgets_the_oldest, reset, taking_count_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
