/* hv/linux_boot.c: bzImage validation, the guest's e820 map with the hypervisor carved out, and the zero page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/linux_boot.c"

#define MiB (1ull << 20)
#define IMAGE_SIZE (64 * 1024)

static void put_le(uint8_t *p, size_t off, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        p[off + i] = (uint8_t)(v >> (8 * i));
}

/* A minimal but well-formed bzImage header: protocol 2.15, 64-bit entry, 4 setup sectors, 32 KiB kernel. */
static uint8_t *make_image(void)
{
    uint8_t *img = calloc(1, IMAGE_SIZE);
    img[HDR_SETUP_SECTS] = 4;
    put_le(img, HDR_SYSSIZE, 4, 32 * 1024 / 16);
    put_le(img, HDR_BOOT_FLAG, 2, BOOT_FLAG);
    img[HDR_JUMP] = 0xeb;
    img[HDR_JUMP + 1] = 0x6a; /* header ends at 0x26c */
    put_le(img, HDR_MAGIC, 4, HDRS_MAGIC);
    put_le(img, HDR_VERSION, 2, 0x020f);
    put_le(img, HDR_INITRD_ADDR_MAX, 4, 0x7fffffff);
    put_le(img, HDR_KERNEL_ALIGNMENT, 4, 0x200000);
    put_le(img, HDR_XLOADFLAGS, 2, XLF_KERNEL_64);
    put_le(img, HDR_CMDLINE_SIZE, 4, 2047);
    put_le(img, HDR_PREF_ADDRESS, 8, 0x1000000);
    put_le(img, HDR_INIT_SIZE, 4, 8 * MiB);
    return img;
}

static void test_valid_image(void **state)
{
    (void)state;
    uint8_t *img = make_image();
    struct bzimage_info info;
    assert_int_equal(bzimage_parse(img, IMAGE_SIZE, &info), HV_OK);
    assert_int_equal(info.setup_size, 5 * 512);
    assert_int_equal(info.kernel_size, 32 * 1024);
    assert_int_equal(info.pref_address, 0x1000000);
    assert_int_equal(info.init_size, 8 * MiB);
    assert_int_equal(info.header_end, 0x26c);
    free(img);
}

static void expect_refused(uint8_t *img, size_t size, int code, const char *why)
{
    struct bzimage_info info;
    assert_int_equal(bzimage_parse(img, size, &info), code);
    assert_non_null(strstr(info.error, why));
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t *img = make_image();
    expect_refused(img, 0x100, -HV_ETRUNC, "smaller than the setup header");
    expect_refused(img, 5 * 512 + 100, -HV_ETRUNC, "past the end");
    img[HDR_MAGIC] ^= 1;
    expect_refused(img, IMAGE_SIZE, -HV_EINVAL, "not a bzImage");
    img[HDR_MAGIC] ^= 1;
    put_le(img, HDR_VERSION, 2, 0x020b);
    expect_refused(img, IMAGE_SIZE, -HV_EINVAL, "older than 2.12");
    put_le(img, HDR_VERSION, 2, 0x020f);
    put_le(img, HDR_XLOADFLAGS, 2, 0);
    expect_refused(img, IMAGE_SIZE, -HV_EINVAL, "no 64-bit entry");
    put_le(img, HDR_XLOADFLAGS, 2, XLF_KERNEL_64);
    img[HDR_JUMP + 1] = 0xff;
    expect_refused(img, IMAGE_SIZE, -HV_EINVAL, "header length");
    img[HDR_JUMP + 1] = 0x6a;
    put_le(img, HDR_KERNEL_ALIGNMENT, 4, 0x300000);
    expect_refused(img, IMAGE_SIZE, -HV_EINVAL, "alignment");
    put_le(img, HDR_KERNEL_ALIGNMENT, 4, 0x200000);
    put_le(img, HDR_INIT_SIZE, 4, 4096);
    expect_refused(img, IMAGE_SIZE, -HV_EINVAL, "init_size");
    free(img);
}

static void test_truncated_at_every_length_never_overreads(void **state)
{
    (void)state;
    uint8_t *img = make_image();
    for (size_t n = 0; n < 5 * 512 + 32 * 1024; n += 7) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, img, n);
        struct bzimage_info info;
        assert_int_not_equal(bzimage_parse(copy, n, &info), HV_OK);
        free(copy);
    }
    free(img);
}

static void test_e820_carves_holes_sorts_and_merges(void **state)
{
    (void)state;
    struct mb2_mmap_entry mmap[] = {
        {0x100000, 0x1fef0000, MB2_MMAP_AVAILABLE}, /* out of order on purpose */
        {0, 0x9f000, MB2_MMAP_AVAILABLE},
        {0x9f000, 0x1000, 2},
        {0x1fff0000, 0x10000, MB2_MMAP_ACPI_RECLAIMABLE},
    };
    struct mem_range holes[] = {{448 * MiB, 512 * MiB}, {0x100000, 0x125000}};
    struct e820_entry e[16];
    int n = e820_build(mmap, 4, holes, 2, e, 16);
    assert_int_equal(n, 6);
    struct e820_entry want[] = {
        {0, 0x9f000, E820_RAM},
        {0x9f000, 0x1000, E820_RESERVED},
        {0x100000, 0x25000, E820_RESERVED},
        {0x125000, 448 * MiB - 0x125000, E820_RAM},
        {448 * MiB, 0x1fff0000 - 448 * MiB, E820_RESERVED},
        {0x1fff0000, 0x10000, E820_ACPI},
    };
    /* the hole reaches past the end of RAM: only RAM becomes reserved, the ACPI entry stays as it is */
    for (int i = 0; i < n; i++) {
        assert_int_equal(e[i].addr, want[i].addr);
        assert_int_equal(e[i].size, want[i].size);
        assert_int_equal(e[i].type, want[i].type);
    }
    assert_int_equal(e820_build(mmap, 4, holes, 2, e, 3), -HV_ENOMEM);
}

static void test_boot_params(void **state)
{
    (void)state;
    uint8_t *img = make_image();
    struct bzimage_info info;
    assert_int_equal(bzimage_parse(img, IMAGE_SIZE, &info), HV_OK);
    struct e820_entry e820[] = {{0, 0x9f000, E820_RAM}, {0x100000, 0x1000000, E820_RAM}};
    struct linux_boot_args args = {0x19000, 0x1b9e7000, 0x418000, e820, 2};
    uint8_t bp[BOOT_PARAMS_SIZE];
    memset(bp, 0xcc, sizeof(bp));
    boot_params_build(bp, img, &info, &args);
    assert_memory_equal(bp + HDR_MAGIC, img + HDR_MAGIC, 4);
    assert_int_equal(get(bp, HDR_TYPE_OF_LOADER, 1), LOADER_UNDEFINED);
    assert_int_equal(get(bp, HDR_CMD_LINE_PTR, 4), 0x19000);
    assert_int_equal(get(bp, HDR_RAMDISK_IMAGE, 4), 0x1b9e7000);
    assert_int_equal(get(bp, HDR_RAMDISK_SIZE, 4), 0x418000);
    assert_int_equal(get(bp, BP_E820_ENTRIES, 1), 2);
    assert_int_equal(get(bp, BP_E820_TABLE + 20, 8), 0x100000);
    assert_int_equal(get(bp, BP_E820_TABLE + 20 + 16, 4), E820_RAM);
    assert_int_equal(bp[BP_SENTINEL], 0);
    assert_int_equal(bp[0], 0); /* everything the loader does not set is zero */
    assert_int_equal(bp[info.header_end], 0);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_image),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_truncated_at_every_length_never_overreads),
        cmocka_unit_test(test_e820_carves_holes_sorts_and_merges),
        cmocka_unit_test(test_boot_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
