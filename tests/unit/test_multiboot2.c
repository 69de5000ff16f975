/* Unit tests for the multiboot2 boot information parser. Every parse reads from a malloc'd copy of exactly the bytes
 * it is allowed to see, so ASan catches any read past avail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/fmt.c"
#include "hv/multiboot2.c"

#define IMAGE_START 0x100000u
#define IMAGE_END   0x400000u

static const struct mb2_limits limits = { .image_start = IMAGE_START, .image_end = IMAGE_END };
static struct mb2_info info;
static uint8_t *parsed_copy;

/* Assembles a boot information structure tag by tag, the way GRUB lays it out. */
struct builder {
    uint8_t buf[8192];
    size_t len;
};

static void put_bytes(struct builder *b, const void *data, size_t n)
{
    assert_true(b->len + n <= sizeof b->buf);
    memcpy(b->buf + b->len, data, n);
    b->len += n;
}

static void put32(struct builder *b, uint32_t value)
{
    put_bytes(b, &value, sizeof value);
}

static void patch32(struct builder *b, size_t at, uint32_t value)
{
    memcpy(b->buf + at, &value, sizeof value);
}

static void pad(struct builder *b)
{
    while (b->len % 8 != 0)
        b->buf[b->len++] = 0;
}

static void begin(struct builder *b)
{
    b->len = 0;
    put32(b, 0); /* total_size, set by finish */
    put32(b, 0); /* reserved */
}

/* Starts a tag whose size tag_end fills in; returns its offset. */
static size_t tag_begin(struct builder *b, uint32_t type)
{
    pad(b);
    size_t at = b->len;
    put32(b, type);
    put32(b, 0);
    return at;
}

static void tag_end(struct builder *b, size_t at)
{
    patch32(b, at + 4, (uint32_t)(b->len - at));
}

/* A tag whose size field is given verbatim, followed by payload_len zero bytes. */
static size_t add_raw_tag(struct builder *b, uint32_t type, uint32_t size, size_t payload_len)
{
    static const uint8_t zeros[64];
    size_t at = tag_begin(b, type);

    assert_true(payload_len <= sizeof zeros);
    patch32(b, at + 4, size);
    put_bytes(b, zeros, payload_len);
    return at;
}

/* A string tag holding len bytes of s: pass strlen(s) + 1 for a terminated string. */
static size_t add_string_tag(struct builder *b, uint32_t type, const char *s, size_t len)
{
    size_t at = tag_begin(b, type);
    put_bytes(b, s, len);
    tag_end(b, at);
    return at;
}

static size_t add_cmdline(struct builder *b, const char *s)
{
    return add_string_tag(b, MB2_TAG_CMDLINE, s, strlen(s) + 1);
}

static size_t add_module(struct builder *b, uint32_t start, uint32_t end, const char *cmdline)
{
    size_t at = tag_begin(b, MB2_TAG_MODULE);
    put32(b, start);
    put32(b, end);
    put_bytes(b, cmdline, strlen(cmdline) + 1);
    tag_end(b, at);
    return at;
}

/* Each entry is written into entry_size bytes: cut short when smaller than 20, zero-filled when larger. */
static size_t add_mmap(struct builder *b, uint32_t entry_size, uint32_t version, const struct mb2_mmap_entry *entries,
                       size_t count)
{
    size_t at = tag_begin(b, MB2_TAG_MMAP);

    put32(b, entry_size);
    put32(b, version);
    for (size_t i = 0; i < count; i++) {
        uint8_t raw[64] = { 0 };
        assert_true(entry_size <= sizeof raw);
        memcpy(raw, &entries[i].base, 8);
        memcpy(raw + 8, &entries[i].length, 8);
        memcpy(raw + 16, &entries[i].type, 4);
        put_bytes(b, raw, entry_size);
    }
    tag_end(b, at);
    return at;
}

/* Sets total_size to the bytes written so far, without an end tag. */
static void finish_without_end(struct builder *b)
{
    pad(b);
    patch32(b, 0, (uint32_t)b->len);
}

static void finish(struct builder *b)
{
    pad(b);
    put32(b, MB2_TAG_END);
    put32(b, 8);
    patch32(b, 0, (uint32_t)b->len);
}

static int parse_prefix(const struct builder *b, size_t avail)
{
    assert_true(avail <= b->len);
    free(parsed_copy);
    parsed_copy = malloc(avail > 0 ? avail : 1);
    assert_non_null(parsed_copy);
    memcpy(parsed_copy, b->buf, avail);
    return mb2_parse(parsed_copy, avail, &limits, &info);
}

static int parse(const struct builder *b)
{
    return parse_prefix(b, b->len);
}

static int free_parsed_copy(void **state)
{
    (void)state;
    free(parsed_copy);
    parsed_copy = NULL;
    return 0;
}

#define assert_mb2_error(rc_expr, code, needle)                                                                     \
    do {                                                                                                            \
        int rc_ = (rc_expr);                                                                                        \
        if (rc_ != (code) || strstr(info.error, (needle)) == NULL)                                                  \
            fail_msg("rc %d (want %d), error \"%s\" (want \"%s\")", rc_, (code), info.error, (needle));             \
    } while (0)

static const struct mb2_mmap_entry sample_mmap[] = {
    { .base = 0, .length = 0x9fc00, .type = MB2_MMAP_AVAILABLE },
    { .base = 0xf0000, .length = 0x10000, .type = 2 },
    { .base = 0x100000, .length = 0x7ff00000, .type = MB2_MMAP_AVAILABLE },
};

static const char rsdp_v1[20] = "RSD PTR v1 copy....";
static const char rsdp_v2[36] = "RSD PTR v2 copy....................";

/* Every tag the parser knows, plus an unknown one with a size that needs padding. */
static void build_full(struct builder *b)
{
    size_t at;

    begin(b);
    add_cmdline(b, "log=serial guest=linux");
    add_string_tag(b, MB2_TAG_BOOTLOADER_NAME, "GRUB 2.06", sizeof "GRUB 2.06");
    at = tag_begin(b, MB2_TAG_BASIC_MEMINFO);
    put32(b, 639);
    put32(b, 523264);
    tag_end(b, at);
    add_module(b, 0x1000000, 0x1800000, "bzImage console=ttyS0");
    add_module(b, 0x1800000, 0x1900000, "initrd"); /* adjacent: mod_end is exclusive */
    add_raw_tag(b, 21, 12, 4);
    add_mmap(b, 24, 0, sample_mmap, 3);
    add_string_tag(b, MB2_TAG_ACPI_OLD, rsdp_v1, sizeof rsdp_v1);
    add_string_tag(b, MB2_TAG_ACPI_NEW, rsdp_v2, sizeof rsdp_v2);
    finish(b);
}

static void test_well_formed_full(void **state)
{
    struct builder b;
    (void)state;

    build_full(&b);
    assert_int_equal(parse(&b), HV_OK);
    assert_string_equal(info.error, "");
    assert_string_equal(info.cmdline, "log=serial guest=linux");
    assert_int_equal(info.cmdline_len, strlen("log=serial guest=linux"));
    assert_string_equal(info.bootloader_name, "GRUB 2.06");
    assert_int_equal(info.bootloader_name_len, 9);
    assert_int_equal(info.mem_lower_kb, 639);
    assert_int_equal(info.mem_upper_kb, 523264);

    assert_int_equal(info.module_count, 2);
    assert_int_equal(info.modules[0].start, 0x1000000);
    assert_int_equal(info.modules[0].end, 0x1800000);
    assert_string_equal(info.modules[0].cmdline, "bzImage console=ttyS0");
    assert_int_equal(info.modules[1].start, 0x1800000);
    assert_int_equal(info.modules[1].end, 0x1900000);
    assert_string_equal(info.modules[1].cmdline, "initrd");

    assert_int_equal(info.mmap_count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(info.mmap[i].base, sample_mmap[i].base);
        assert_int_equal(info.mmap[i].length, sample_mmap[i].length);
        assert_int_equal(info.mmap[i].type, sample_mmap[i].type);
    }

    assert_int_equal(info.acpi_rsdp_old_len, sizeof rsdp_v1);
    assert_memory_equal(info.acpi_rsdp_old, rsdp_v1, sizeof rsdp_v1);
    assert_int_equal(info.acpi_rsdp_new_len, sizeof rsdp_v2);
    assert_memory_equal(info.acpi_rsdp_new, rsdp_v2, sizeof rsdp_v2);

    uint32_t expected_seen = MB2_SEEN(MB2_TAG_END) | MB2_SEEN(MB2_TAG_CMDLINE) | MB2_SEEN(MB2_TAG_BOOTLOADER_NAME) |
                             MB2_SEEN(MB2_TAG_BASIC_MEMINFO) | MB2_SEEN(MB2_TAG_MODULE) | MB2_SEEN(21) |
                             MB2_SEEN(MB2_TAG_MMAP) | MB2_SEEN(MB2_TAG_ACPI_OLD) | MB2_SEEN(MB2_TAG_ACPI_NEW);
    assert_int_equal(info.seen, expected_seen);
}

static void test_find_module(void **state)
{
    struct builder b;
    (void)state;

    build_full(&b);
    assert_int_equal(parse(&b), HV_OK);
    assert_ptr_equal(mb2_find_module(&info, "bzImage"), &info.modules[0]);
    assert_ptr_equal(mb2_find_module(&info, "initrd"), &info.modules[1]);
    assert_null(mb2_find_module(&info, "bzImag"));
    assert_null(mb2_find_module(&info, "init"));
    assert_null(mb2_find_module(&info, "console=ttyS0"));
}

static void test_minimal_without_mmap(void **state)
{
    struct builder b;
    (void)state;

    begin(&b);
    finish(&b);
    assert_int_equal(b.len, 16);
    assert_int_equal(parse(&b), HV_OK);
    assert_int_equal(info.seen, MB2_SEEN(MB2_TAG_END));
    assert_null(info.cmdline);
    assert_null(info.bootloader_name);
    assert_null(info.acpi_rsdp_old);
    assert_null(info.acpi_rsdp_new);
    assert_int_equal(info.module_count, 0);
    assert_int_equal(info.mmap_count, 0);

    begin(&b);
    add_cmdline(&b, "");
    finish(&b);
    assert_int_equal(parse(&b), HV_OK);
    assert_string_equal(info.cmdline, "");
    assert_int_equal(info.cmdline_len, 0);
    assert_false(info.seen & MB2_SEEN(MB2_TAG_MMAP));
}

static void test_truncated_at_every_length(void **state)
{
    struct builder b;
    (void)state;

    build_full(&b);
    for (size_t avail = 0; avail < b.len; avail++) {
        int rc = parse_prefix(&b, avail);
        if (rc != -HV_ETRUNC || info.error[0] == '\0')
            fail_msg("avail %zu: rc %d, error \"%s\"", avail, rc, info.error);
    }
    assert_mb2_error(parse_prefix(&b, 4), -HV_ETRUNC, "only 4 bytes available");
    assert_mb2_error(parse_prefix(&b, 40), -HV_ETRUNC, "exceeds the 40 available bytes");
}

/* The structure claims to end early, as if the bootloader had cut it short. */
static void test_cut_short_at_every_length(void **state)
{
    struct builder b;
    (void)state;

    build_full(&b);
    for (size_t cut = 8; cut < b.len; cut++) {
        patch32(&b, 0, (uint32_t)cut);
        int rc = parse_prefix(&b, cut);
        if (rc >= 0 || info.error[0] == '\0')
            fail_msg("total_size %zu: rc %d, error \"%s\"", cut, rc, info.error);
    }
}

static void test_total_size_and_reserved(void **state)
{
    struct builder b;
    (void)state;

    begin(&b);
    finish(&b);
    patch32(&b, 0, 8);
    assert_mb2_error(parse(&b), -HV_EINVAL, "total_size 8 is below the minimum 16");

    begin(&b);
    finish(&b);
    put32(&b, 0);
    put32(&b, 0);
    patch32(&b, 0, 20);
    assert_mb2_error(parse(&b), -HV_EINVAL, "total_size 20 is not a multiple of 8");
    patch32(&b, 0, 24);
    assert_mb2_error(parse(&b), -HV_EINVAL, "end tag is followed by 8 more bytes");
    patch32(&b, 0, 0xFFFFFFF8);
    assert_mb2_error(parse(&b), -HV_ETRUNC, "total_size 4294967288 exceeds the 24 available bytes");

    begin(&b);
    finish(&b);
    patch32(&b, 4, 0x55);
    assert_mb2_error(parse(&b), -HV_EINVAL, "reserved field is 0x55");
}

static void test_tag_size_out_of_range(void **state)
{
    static const uint32_t too_large[] = { 24, 0x80000000, 0xFFFFFFF8, 0xFFFFFFFF };
    struct builder b;
    (void)state;

    begin(&b);
    add_raw_tag(&b, MB2_TAG_CMDLINE, 4, 0);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "tag 1 (cmdline) size 4 is below the 8-byte header");
    assert_int_equal(info.error_offset, 8);

    begin(&b);
    add_raw_tag(&b, 0x1234, 0, 0);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "size 0 is below");

    for (size_t i = 0; i < sizeof too_large / sizeof too_large[0]; i++) {
        begin(&b);
        add_cmdline(&b, "x");
        size_t at = add_raw_tag(&b, MB2_TAG_MMAP, too_large[i], 0);
        finish(&b);
        assert_mb2_error(parse(&b), -HV_ETRUNC, "tag 6 (mmap) size");
        assert_mb2_error(parse(&b), -HV_ETRUNC, "exceeds the remaining 16 bytes");
        assert_int_equal(info.error_offset, at);
    }
}

static void test_tag_too_small_for_its_type(void **state)
{
    static const struct { uint32_t type, size; const char *message; } cases[] = {
        { MB2_TAG_MODULE, 12, "tag 3 (module) size 12 is below the 16 bytes" },
        { MB2_TAG_BASIC_MEMINFO, 12, "tag 4 (basic meminfo) size 12 is below the 16 bytes" },
        { MB2_TAG_MMAP, 8, "tag 6 (mmap) size 8 is below the 16 bytes" },
        { MB2_TAG_ACPI_OLD, 27, "tag 14 (acpi old rsdp) size 27 is below the 28 bytes" },
        { MB2_TAG_ACPI_NEW, 43, "tag 15 (acpi new rsdp) size 43 is below the 44 bytes" },
    };
    struct builder b;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        begin(&b);
        add_raw_tag(&b, cases[i].type, cases[i].size, cases[i].size - 8);
        finish(&b);
        assert_mb2_error(parse(&b), -HV_EINVAL, cases[i].message);
    }
}

static void test_end_tag(void **state)
{
    struct builder b;
    (void)state;

    begin(&b);
    add_cmdline(&b, "no end");
    finish_without_end(&b);
    assert_mb2_error(parse(&b), -HV_ENOENT, "missing end tag");
    assert_int_equal(info.error_offset, b.len);

    begin(&b);
    add_raw_tag(&b, MB2_TAG_END, 16, 8);
    finish_without_end(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "end tag size 16 is not 8");

    begin(&b);
    finish(&b);
    add_cmdline(&b, "after the end");
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "end tag is followed by");
    assert_int_equal(info.error_offset, 8);
}

static void test_unterminated_strings(void **state)
{
    struct builder b;
    size_t at;
    (void)state;

    /* The padding after "abc" is zero: the NUL must be inside the tag, not in the padding. */
    begin(&b);
    add_string_tag(&b, MB2_TAG_CMDLINE, "abc", 3);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "tag 1 (cmdline) string is not NUL-terminated");

    /* Last bytes of the buffer and no NUL anywhere after them: ASan catches a search that runs past the tag. */
    begin(&b);
    add_string_tag(&b, MB2_TAG_CMDLINE, "abcdefgh", 8);
    finish_without_end(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "tag 1 (cmdline) string is not NUL-terminated");

    begin(&b);
    add_string_tag(&b, MB2_TAG_CMDLINE, "", 0);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "tag 1 (cmdline) string is not NUL-terminated");

    begin(&b);
    add_string_tag(&b, MB2_TAG_BOOTLOADER_NAME, "GRUB 2.06", 9);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "tag 2 (bootloader name) string is not NUL-terminated");

    begin(&b);
    at = tag_begin(&b, MB2_TAG_MODULE);
    put32(&b, 0x1000000);
    put32(&b, 0x1001000);
    put_bytes(&b, "bzImage", 7);
    tag_end(&b, at);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "tag 3 (module) string is not NUL-terminated");
}

static void test_module_ranges(void **state)
{
    struct builder b;
    (void)state;

    begin(&b);
    add_module(&b, 0x1000000, 0x1800000, "bzImage");
    size_t second = add_module(&b, 0x17ff000, 0x1900000, "initrd");
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EOVERLAP,
                     "module 1 [0x17ff000, 0x1900000) overlaps module 0 [0x1000000, 0x1800000)");
    assert_int_equal(info.error_offset, second);

    begin(&b);
    add_module(&b, 0x1000000, 0x1800000, "bzImage");
    add_module(&b, 0x1100000, 0x1200000, "inside");
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EOVERLAP, "overlaps module 0");

    begin(&b);
    add_module(&b, IMAGE_END - 0x1000, 0x500000, "bzImage");
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EOVERLAP, "overlaps the hypervisor image [0x100000, 0x400000)");

    begin(&b);
    add_module(&b, 0x1000, IMAGE_START, "below");
    add_module(&b, IMAGE_END, IMAGE_END + 0x1000, "above");
    finish(&b);
    assert_int_equal(parse(&b), HV_OK);
    assert_int_equal(info.module_count, 2);

    begin(&b);
    add_module(&b, 0x1000000, 0x1000000, "empty");
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "mod_start 0x1000000 is not below mod_end 0x1000000");

    begin(&b);
    add_module(&b, 0x2000000, 0x1000000, "inverted");
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "is not below mod_end");
}

static void test_mmap_entry_layout(void **state)
{
    static const uint32_t bad_sizes[] = { 0, 8, 16, 20, 23, 25, 28 };
    struct builder b;
    (void)state;

    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        begin(&b);
        size_t at = add_mmap(&b, bad_sizes[i], 0, sample_mmap, 1);
        finish(&b);
        assert_mb2_error(parse(&b), -HV_EINVAL, "mmap entry_size");
        assert_int_equal(info.error_offset, at);
    }

    /* Larger entries from a future revision are read by their known prefix. */
    begin(&b);
    add_mmap(&b, 32, 0, sample_mmap, 3);
    finish(&b);
    assert_int_equal(parse(&b), HV_OK);
    assert_int_equal(info.mmap_count, 3);
    assert_int_equal(info.mmap[2].base, sample_mmap[2].base);
    assert_int_equal(info.mmap[2].length, sample_mmap[2].length);
    assert_int_equal(info.mmap[2].type, sample_mmap[2].type);

    begin(&b);
    add_mmap(&b, 24, 1, sample_mmap, 3);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "mmap entry_version 1 is not 0");

    begin(&b);
    size_t at = add_mmap(&b, 24, 0, sample_mmap, 2);
    put32(&b, 0);
    tag_end(&b, at);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EINVAL, "mmap entries span 52 bytes, not a whole number of 24-byte entries");
}

static void test_mmap_overflow(void **state)
{
    const struct mb2_mmap_entry overflowing[] = {
        { .base = 0x100000, .length = 0x1000, .type = 1 },
        { .base = UINT64_MAX - 0xfff, .length = 0x1000, .type = 2 },
    };
    const struct mb2_mmap_entry at_the_top[] = { { .base = UINT64_MAX - 0x1000, .length = 0x1000, .type = 2 } };
    struct builder b;
    (void)state;

    begin(&b);
    add_mmap(&b, 24, 0, overflowing, 2);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_ERANGE, "mmap entry 1 base 0xfffffffffffff000 + length 0x1000 overflows");

    begin(&b);
    add_mmap(&b, 24, 0, at_the_top, 1);
    finish(&b);
    assert_int_equal(parse(&b), HV_OK);
}

static void test_too_many_modules(void **state)
{
    struct builder b;
    (void)state;

    for (size_t count = MB2_MAX_MODULES; count <= MB2_MAX_MODULES + 1; count++) {
        begin(&b);
        for (uint32_t i = 0; i < count; i++)
            add_module(&b, 0x1000000 + i * 0x1000, 0x1001000 + i * 0x1000, "m");
        finish(&b);
        if (count == MB2_MAX_MODULES) {
            assert_int_equal(parse(&b), HV_OK);
            assert_int_equal(info.module_count, MB2_MAX_MODULES);
        } else {
            assert_mb2_error(parse(&b), -HV_ENOMEM, "more than 16 modules");
        }
    }
}

static void test_too_many_mmap_entries(void **state)
{
    static struct mb2_mmap_entry entries[MB2_MAX_MMAP + 1];
    struct builder b;
    (void)state;

    for (size_t i = 0; i < MB2_MAX_MMAP + 1; i++)
        entries[i] = (struct mb2_mmap_entry){ .base = i * 0x1000, .length = 0x1000, .type = 1 };

    begin(&b);
    add_mmap(&b, 24, 0, entries, MB2_MAX_MMAP);
    finish(&b);
    assert_int_equal(parse(&b), HV_OK);
    assert_int_equal(info.mmap_count, MB2_MAX_MMAP);
    assert_int_equal(info.mmap[MB2_MAX_MMAP - 1].base, (MB2_MAX_MMAP - 1) * 0x1000);

    begin(&b);
    add_mmap(&b, 24, 0, entries, MB2_MAX_MMAP + 1);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_ENOMEM, "mmap has 129 entries, more than 128");
}

static void test_duplicate_unique_tags(void **state)
{
    struct builder b;
    (void)state;

    begin(&b);
    add_cmdline(&b, "first");
    size_t second = add_cmdline(&b, "second");
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EEXIST, "duplicate tag 1 (cmdline)");
    assert_int_equal(info.error_offset, second);

    begin(&b);
    add_mmap(&b, 24, 0, sample_mmap, 1);
    add_mmap(&b, 24, 0, sample_mmap, 1);
    finish(&b);
    assert_mb2_error(parse(&b), -HV_EEXIST, "duplicate tag 6 (mmap)");
}

static void test_unknown_tags_skipped(void **state)
{
    struct builder b;
    (void)state;

    begin(&b);
    add_raw_tag(&b, 8, 13, 5);           /* framebuffer-like, size needs padding */
    add_raw_tag(&b, 0xFFFFFFFF, 8, 0);   /* beyond the seen bitmask */
    add_raw_tag(&b, 21, 12, 4);
    add_cmdline(&b, "after unknown tags");
    finish(&b);
    assert_int_equal(parse(&b), HV_OK);
    assert_string_equal(info.cmdline, "after unknown tags");
    assert_true(info.seen & MB2_SEEN(8));
    assert_true(info.seen & MB2_SEEN(21));
}

static void test_bad_arguments(void **state)
{
    const struct mb2_limits inverted = { .image_start = IMAGE_END, .image_end = IMAGE_START };
    struct builder b;
    (void)state;

    begin(&b);
    finish(&b);
    assert_int_equal(mb2_parse(NULL, 16, &limits, &info), -HV_EINVAL);
    assert_mb2_error(mb2_parse(b.buf, b.len, &inverted, &info), -HV_EINVAL, "is inverted");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed_full),
        cmocka_unit_test(test_find_module),
        cmocka_unit_test(test_minimal_without_mmap),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_cut_short_at_every_length),
        cmocka_unit_test(test_total_size_and_reserved),
        cmocka_unit_test(test_tag_size_out_of_range),
        cmocka_unit_test(test_tag_too_small_for_its_type),
        cmocka_unit_test(test_end_tag),
        cmocka_unit_test(test_unterminated_strings),
        cmocka_unit_test(test_module_ranges),
        cmocka_unit_test(test_mmap_entry_layout),
        cmocka_unit_test(test_mmap_overflow),
        cmocka_unit_test(test_too_many_modules),
        cmocka_unit_test(test_too_many_mmap_entries),
        cmocka_unit_test(test_duplicate_unique_tags),
        cmocka_unit_test(test_unknown_tags_skipped),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, free_parsed_copy);
}
