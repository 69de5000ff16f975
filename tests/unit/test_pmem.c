/* hv/pmem.c: choosing the hypervisor's pool from the memory map, and the page allocator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/pmem.c"

#define MiB (1ull << 20)

static void test_pool_at_top_of_highest_range(void **state)
{
    (void)state;
    struct mem_range usable[] = {{0, 0x9f000}, {MiB, 512 * MiB}};
    struct mem_range reserved[] = {{0, MiB}, {MiB, 2 * MiB}};
    uint64_t base = 0;
    assert_int_equal(mem_find_highest(usable, 2, reserved, 2, 64 * MiB, POOL_ALIGN, 4096 * MiB, &base), HV_OK);
    assert_int_equal(base, 448 * MiB);
}

static void test_pool_avoids_reserved_ranges_and_stays_aligned(void **state)
{
    (void)state;
    struct mem_range usable[] = {{MiB, 512 * MiB}};
    /* a module near the top: the pool must go below it, 2 MiB aligned */
    struct mem_range reserved[] = {{500 * MiB + 4096, 501 * MiB}};
    uint64_t base = 0;
    assert_int_equal(mem_find_highest(usable, 1, reserved, 1, 64 * MiB, POOL_ALIGN, 4096 * MiB, &base), HV_OK);
    assert_true(base + 64 * MiB <= 500 * MiB + 4096);
    assert_int_equal(base % POOL_ALIGN, 0);
    assert_int_equal(base, 436 * MiB);
}

static void test_pool_respects_limit(void **state)
{
    (void)state;
    struct mem_range usable[] = {{MiB, 8192 * MiB}};
    uint64_t base = 0;
    assert_int_equal(mem_find_highest(usable, 1, NULL, 0, 64 * MiB, POOL_ALIGN, 4096 * MiB, &base), HV_OK);
    assert_int_equal(base, 4032 * MiB);
}

static void test_pool_does_not_fit(void **state)
{
    (void)state;
    struct mem_range usable[] = {{MiB, 32 * MiB}};
    /* 16 MiB would fit in [1, 32) MiB, but not between or around these two */
    struct mem_range reserved[] = {{8 * MiB, 9 * MiB}, {20 * MiB, 21 * MiB}};
    uint64_t base = 0;
    assert_int_equal(mem_find_highest(usable, 1, reserved, 1, 16 * MiB, POOL_ALIGN, 4096 * MiB, &base), HV_OK);
    assert_int_equal(base, 16 * MiB);
    assert_int_equal(mem_find_highest(usable, 1, reserved, 2, 16 * MiB, POOL_ALIGN, 4096 * MiB, &base), -HV_ENOMEM);
    assert_int_equal(mem_find_highest(usable, 1, NULL, 0, 64 * MiB, POOL_ALIGN, 4096 * MiB, &base), -HV_ENOMEM);
    assert_int_equal(mem_find_highest(usable, 1, NULL, 0, 0, POOL_ALIGN, 4096 * MiB, &base), -HV_EINVAL);
    /* a range near the top of the address space must not wrap */
    struct mem_range high[] = {{UINT64_MAX - MiB, UINT64_MAX}};
    assert_int_equal(mem_find_highest(high, 1, NULL, 0, 64 * MiB, POOL_ALIGN, UINT64_MAX, &base), -HV_ENOMEM);
}

static void test_allocator(void **state)
{
    (void)state;
    size_t pages = 4;
    uint8_t *pool = aligned_alloc(PAGE_SIZE, pages * PAGE_SIZE);
    memset(pool, 0xaa, pages * PAGE_SIZE);
    pmem_init(0x100000, 0x200000, (uint64_t)(uintptr_t)pool, pages * PAGE_SIZE);
    assert_int_equal(pmem_free_pages(), pages);
    uint8_t *p[4];
    for (size_t i = 0; i < pages; i++) {
        p[i] = pmem_alloc_page();
        assert_ptr_equal(p[i], pool + i * PAGE_SIZE);
        for (size_t b = 0; b < PAGE_SIZE; b++)
            assert_int_equal(p[i][b], 0);
    }
    assert_null(pmem_alloc_page());
    memset(p[1], 0x55, PAGE_SIZE);
    pmem_free_page(p[1]);
    assert_int_equal(pmem_free_pages(), 1);
    uint8_t *again = pmem_alloc_page();
    assert_ptr_equal(again, p[1]);
    assert_int_equal(again[0], 0);
    assert_int_equal(again[PAGE_SIZE - 1], 0);
    assert_true(pmem_overlaps_hv(0x1ff000, 0x201000));
    assert_false(pmem_overlaps_hv(0x200000, 0x201000));
    assert_true(pmem_overlaps_hv((uint64_t)(uintptr_t)pool + 10, (uint64_t)(uintptr_t)pool + 11));
    free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_at_top_of_highest_range),
        cmocka_unit_test(test_pool_avoids_reserved_ranges_and_stays_aligned),
        cmocka_unit_test(test_pool_respects_limit),
        cmocka_unit_test(test_pool_does_not_fit),
        cmocka_unit_test(test_allocator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
