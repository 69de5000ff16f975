/* hv/lib.c: the hypervisor's string functions, renamed here so they do not collide with libc's. Checked against
 * libc on every length and alignment that matters for the 8-byte paths, including overlapping moves both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define memcpy hv_memcpy
#define memmove hv_memmove
#define memset hv_memset
#define memcmp hv_memcmp
#define strlen hv_strlen
#define strnlen hv_strnlen
#define strcmp hv_strcmp
#define strncmp hv_strncmp
#include "hv/lib.c"
#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef strlen
#undef strnlen
#undef strcmp
#undef strncmp

#define AREA 96

static void fill(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 7 + seed);
}

static void test_memcpy_memset(void **state)
{
    (void)state;
    uint8_t src[AREA], got[AREA], want[AREA];
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= AREA - 9; n++) {
            fill(src, AREA, 1);
            memset(got, 0xee, AREA);
            memset(want, 0xee, AREA);
            hv_memcpy(got + off, src + 3, n);
            memcpy(want + off, src + 3, n);
            assert_memory_equal(got, want, AREA);
            hv_memset(got + off, 0x5a, n);
            memset(want + off, 0x5a, n);
            assert_memory_equal(got, want, AREA);
        }
}

static void test_memmove_overlaps(void **state)
{
    (void)state;
    uint8_t got[AREA], want[AREA];
    for (size_t from = 0; from < 24; from++)
        for (size_t to = 0; to < 24; to++)
            for (size_t n = 0; n <= AREA - 24; n++) {
                fill(got, AREA, 3);
                fill(want, AREA, 3);
                assert_ptr_equal(hv_memmove(got + to, got + from, n), got + to);
                memmove(want + to, want + from, n);
                assert_memory_equal(got, want, AREA);
            }
}

static void test_strings(void **state)
{
    (void)state;
    assert_int_equal(hv_strlen("abc"), 3);
    assert_int_equal(hv_strnlen("abcdef", 4), 4);
    assert_true(hv_strcmp("abc", "abd") < 0);
    assert_int_equal(hv_strcmp("abc", "abc"), 0);
    assert_int_equal(hv_strncmp("abcx", "abcy", 3), 0);
    assert_true(hv_strncmp("ab", "abc", 3) < 0);
    assert_true(hv_memcmp("\x01\x02", "\x01\x03", 2) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memcpy_memset),
        cmocka_unit_test(test_memmove_overlaps),
        cmocka_unit_test(test_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
