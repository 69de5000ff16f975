/* Unit tests for isolation/intervals.c: edge cases, then randomized differential testing against a byte map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/lib.h"
#include "isolation/intervals.c"

#define MAX_SNAPSHOT 4096

struct snapshot {
    size_t count;
    struct interval iv[MAX_SNAPSHOT];
};

static void take_snapshot(const struct ivset *set, struct snapshot *snap)
{
    snap->count = 0;
    for (const struct interval *iv = ivset_first(set); iv; iv = ivset_next(set, iv)) {
        assert_true(snap->count < MAX_SNAPSHOT);
        snap->iv[snap->count++] = *iv;
    }
}

static void assert_snapshots_equal(const struct snapshot *a, const struct snapshot *b)
{
    assert_int_equal(a->count, b->count);
    assert_memory_equal(a->iv, b->iv, a->count * sizeof(a->iv[0]));
}

/* Checks the AVL shape of the subtree at n, whose starts must lie in [lo, hi]; returns its node count. */
static size_t check_subtree(const struct ivset *set, uint32_t n, uint64_t lo, uint64_t hi, int32_t *height_out)
{
    if (n == NIL) {
        *height_out = 0;
        return 0;
    }
    assert_true(n < set->capacity && n < set->never_used);
    const struct ivset_node *nd = node(set, n);
    assert_true(nd->iv.start >= lo && nd->iv.start <= hi);
    int32_t lower_height, higher_height;
    size_t nodes = 1;
    if (nd->child[0] != NIL)
        assert_true(nd->iv.start > lo);
    nodes += check_subtree(set, nd->child[0], lo, nd->iv.start - 1, &lower_height);
    nodes += check_subtree(set, nd->child[1], nd->iv.start + 1, hi, &higher_height);
    assert_int_equal(nd->height, 1 + MAX(lower_height, higher_height));
    assert_true(lower_height - higher_height <= 1 && higher_height - lower_height <= 1);
    *height_out = nd->height;
    return nodes;
}

/* Tree shape, node accounting, ordering and minimality: consecutive intervals neither overlap nor touch. */
static void check_invariants(const struct ivset *set)
{
    int32_t root_height;
    assert_int_equal(check_subtree(set, set->root, 0, UINT64_MAX, &root_height), set->count);
    size_t free_nodes = 0;
    for (uint32_t n = set->free_head; n != NIL; n = node(set, n)->child[0]) {
        assert_true(n < set->never_used);
        assert_true(++free_nodes <= set->capacity);
    }
    assert_int_equal(set->count + free_nodes, set->never_used);
    assert_true(set->never_used <= set->capacity);

    size_t seen = 0;
    const struct interval *prev = NULL;
    for (const struct interval *iv = ivset_first(set); iv; iv = ivset_next(set, iv)) {
        assert_true(iv->start < iv->end);
        if (prev)
            assert_true(prev->end < iv->start);
        assert_ptr_equal(ivset_find(set, iv->start), iv);
        assert_ptr_equal(ivset_find(set, iv->end - 1), iv);
        assert_true(ivset_contains(set, iv->start, iv->end - iv->start));
        prev = iv;
        seen++;
    }
    assert_int_equal(seen, ivset_count(set));
}

static uint64_t storage[IVSET_STORAGE_BYTES(MAX_SNAPSHOT) / sizeof(uint64_t)];

static void init_set(struct ivset *set, size_t capacity)
{
    assert_int_equal(ivset_init(set, storage, IVSET_STORAGE_BYTES(capacity)), capacity);
}

static void add_ok(struct ivset *set, uint64_t addr, uint64_t len, uint64_t expect_added)
{
    uint64_t added = ~0ull;
    assert_int_equal(ivset_add(set, addr, len, &added), HV_OK);
    assert_int_equal(added, expect_added);
    check_invariants(set);
}

static void remove_ok(struct ivset *set, uint64_t addr, uint64_t len, uint64_t expect_removed)
{
    uint64_t removed = ~0ull;
    assert_int_equal(ivset_remove(set, addr, len, &removed), HV_OK);
    assert_int_equal(removed, expect_removed);
    check_invariants(set);
}

/* The set holds exactly the given [start, end) pairs, in order. */
static void assert_intervals(const struct ivset *set, size_t n, const uint64_t (*expect)[2])
{
    struct snapshot snap;
    take_snapshot(set, &snap);
    assert_int_equal(snap.count, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(snap.iv[i].start, expect[i][0]);
        assert_int_equal(snap.iv[i].end, expect[i][1]);
    }
}
#define ASSERT_INTERVALS(set, ...)                                                                                     \
    do {                                                                                                               \
        static const uint64_t expect_[][2] = { __VA_ARGS__ };                                                          \
        assert_intervals(set, ARRAY_SIZE(expect_), expect_);                                                           \
    } while (0)
#define ASSERT_EMPTY(set) assert_intervals(set, 0, NULL)

/* ---- edge cases ---- */

static void test_init(void **state)
{
    (void)state;
    struct ivset set;
    assert_int_equal(ivset_init(&set, (char *)storage + 4, sizeof(storage) - 8), -HV_EINVAL);
    assert_int_equal(ivset_init(&set, NULL, 64), -HV_EINVAL);
    assert_int_equal(ivset_init(&set, NULL, 0), 0);
    assert_int_equal(ivset_add(&set, 0, 1, NULL), -HV_ENOMEM);
    assert_int_equal(ivset_init(&set, storage, sizeof(struct ivset_node) * 3 + 7), 3);
    assert_int_equal(ivset_capacity(&set), 3);
    assert_int_equal(ivset_count(&set), 0);
    assert_null(ivset_first(&set));
    assert_null(ivset_find(&set, 0));
    assert_false(ivset_contains(&set, 0, 1));
}

static void test_adjacent_merge(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 16);
    add_ok(&set, 100, 10, 10);
    add_ok(&set, 120, 10, 10);
    add_ok(&set, 110, 10, 10); /* touches both neighbours */
    ASSERT_INTERVALS(&set, { 100, 130 });
    add_ok(&set, 90, 10, 10); /* touches the left end only */
    add_ok(&set, 130, 5, 5);  /* touches the right end only */
    ASSERT_INTERVALS(&set, { 90, 135 });
    add_ok(&set, 137, 3, 3); /* a one-byte gap does not merge */
    ASSERT_INTERVALS(&set, { 90, 135 }, { 137, 140 });
}

static void test_add_inside_and_overlapping(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 16);
    add_ok(&set, 100, 100, 100);
    add_ok(&set, 120, 10, 0);
    add_ok(&set, 100, 100, 0);
    add_ok(&set, 150, 100, 50);
    add_ok(&set, 50, 60, 50);
    ASSERT_INTERVALS(&set, { 50, 250 });
}

static void test_add_spanning_many(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 16);
    for (uint64_t a = 100; a < 200; a += 20)
        add_ok(&set, a, 10, 10);
    assert_int_equal(ivset_count(&set), 5);
    add_ok(&set, 105, 80, 40); /* from inside the first to inside the last: fills the four gaps */
    ASSERT_INTERVALS(&set, { 100, 190 });
    add_ok(&set, 300, 10, 10);
    add_ok(&set, 320, 10, 10);
    add_ok(&set, 0, 1000, 1000 - 110);
    ASSERT_INTERVALS(&set, { 0, 1000 });
}

static void test_covered_range_lies_in_one_interval(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 16);
    add_ok(&set, 0, 10, 10);
    add_ok(&set, 10, 10, 10);
    assert_true(ivset_contains(&set, 5, 10));
    assert_ptr_equal(ivset_find(&set, 5), ivset_find(&set, 14));
    assert_true(ivset_contains(&set, 0, 20));
    assert_false(ivset_contains(&set, 0, 21));
    assert_false(ivset_contains(&set, 20, 1));
}

static void test_overlapping_range_touches_a_covered_byte(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 16);
    add_ok(&set, 100, 10, 10);
    add_ok(&set, 200, 10, 10);
    assert_true(ivset_overlaps(&set, 105, 1000)); /* starts inside one */
    assert_true(ivset_overlaps(&set, 0, 101));    /* ends on the first byte of one */
    assert_true(ivset_overlaps(&set, 150, 100));  /* one lies inside */
    assert_false(ivset_overlaps(&set, 0, 100));   /* ends where one starts */
    assert_false(ivset_overlaps(&set, 110, 90));  /* the gap between them, exactly */
    assert_false(ivset_overlaps(&set, 210, 1));
    assert_false(ivset_overlaps(&set, 100, 0));   /* empty */
    assert_false(ivset_overlaps(&set, UINT64_MAX, 2)); /* wraps */
}

static void test_remove_split(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 16);
    add_ok(&set, 0, 100, 100);
    remove_ok(&set, 40, 20, 20);
    ASSERT_INTERVALS(&set, { 0, 40 }, { 60, 100 });
    assert_false(ivset_contains(&set, 39, 2));
    assert_false(ivset_contains(&set, 59, 1));
    assert_true(ivset_contains(&set, 60, 40));
    remove_ok(&set, 1, 1, 1);
    ASSERT_INTERVALS(&set, { 0, 1 }, { 2, 40 }, { 60, 100 });
}

static void test_remove_spanning_many(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 16);
    add_ok(&set, 0, 10, 10);
    add_ok(&set, 20, 10, 10);
    add_ok(&set, 40, 10, 10);
    add_ok(&set, 60, 10, 10);
    remove_ok(&set, 5, 40, 5 + 10 + 5); /* trims the first and the third, deletes the second */
    ASSERT_INTERVALS(&set, { 0, 5 }, { 45, 50 }, { 60, 70 });
    remove_ok(&set, 0, 1000, 20);
    ASSERT_EMPTY(&set);
}

static void test_remove_at_edges_and_absent(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 16);
    add_ok(&set, 100, 100, 100);
    remove_ok(&set, 100, 10, 10);
    ASSERT_INTERVALS(&set, { 110, 200 });
    remove_ok(&set, 190, 10, 10);
    ASSERT_INTERVALS(&set, { 110, 190 });
    remove_ok(&set, 100, 20, 10); /* hangs over the left edge */
    remove_ok(&set, 180, 50, 10); /* hangs over the right edge */
    ASSERT_INTERVALS(&set, { 120, 180 });
    remove_ok(&set, 0, 120, 0); /* ends exactly where the interval starts */
    remove_ok(&set, 180, 20, 0); /* starts exactly where it ends */
    remove_ok(&set, 500, 20, 0);
    ASSERT_INTERVALS(&set, { 120, 180 });
    remove_ok(&set, 120, 60, 60);
    ASSERT_EMPTY(&set);
    remove_ok(&set, 120, 60, 0);
}

static void test_address_space_ends(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 16);
    add_ok(&set, 0, 1, 1);
    assert_true(ivset_contains(&set, 0, 1));
    assert_int_equal(ivset_find(&set, 0)->start, 0);
    add_ok(&set, UINT64_MAX - 1, 1, 1); /* the highest coverable byte */
    assert_true(ivset_contains(&set, UINT64_MAX - 1, 1));
    assert_false(ivset_contains(&set, UINT64_MAX - 1, 2));
    assert_null(ivset_find(&set, UINT64_MAX));
    ASSERT_INTERVALS(&set, { 0, 1 }, { UINT64_MAX - 1, UINT64_MAX });
    add_ok(&set, 1, UINT64_MAX - 2, UINT64_MAX - 2); /* fills the whole gap: everything coverable is covered */
    ASSERT_INTERVALS(&set, { 0, UINT64_MAX });
    assert_true(ivset_contains(&set, 0, UINT64_MAX));
    remove_ok(&set, UINT64_MAX - 10, 10, 10);
    remove_ok(&set, 0, 10, 10);
    ASSERT_INTERVALS(&set, { 10, UINT64_MAX - 10 });
    remove_ok(&set, 0, UINT64_MAX, UINT64_MAX - 20);
    ASSERT_EMPTY(&set);
}

static void test_invalid_ranges(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 16);
    add_ok(&set, 100, 10, 10);
    struct snapshot before, after;
    take_snapshot(&set, &before);
    static const uint64_t bad[][2] = {
        { 100, 0 }, { 0, 0 }, { UINT64_MAX, 1 }, { UINT64_MAX, 0 }, { UINT64_MAX - 5, 10 }, { 1, UINT64_MAX },
        { 2, UINT64_MAX - 1 }, { UINT64_MAX, UINT64_MAX },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uint64_t bytes = 12345;
        assert_int_equal(ivset_add(&set, bad[i][0], bad[i][1], &bytes), -HV_ERANGE);
        assert_int_equal(ivset_remove(&set, bad[i][0], bad[i][1], &bytes), -HV_ERANGE);
        assert_int_equal(bytes, 12345);
        assert_false(ivset_contains(&set, bad[i][0], bad[i][1]));
    }
    assert_false(ivset_contains(&set, 105, 0));
    take_snapshot(&set, &after);
    assert_snapshots_equal(&before, &after);
}

static void test_full_set_unchanged(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 4);
    for (uint64_t a = 0; a < 400; a += 100)
        add_ok(&set, a, 50, 50);
    struct snapshot before, after;
    take_snapshot(&set, &before);
    uint64_t bytes = 12345;
    assert_int_equal(ivset_add(&set, 60, 10, &bytes), -HV_ENOMEM);
    assert_int_equal(ivset_remove(&set, 10, 10, &bytes), -HV_ENOMEM); /* would split */
    assert_int_equal(bytes, 12345);
    take_snapshot(&set, &after);
    assert_snapshots_equal(&before, &after);
    check_invariants(&set);

    add_ok(&set, 50, 10, 10);        /* merging needs no node */
    remove_ok(&set, 0, 10, 10);      /* trimming needs no node */
    remove_ok(&set, 140, 80, 10 + 20); /* trims two, splits none */
    ASSERT_INTERVALS(&set, { 10, 60 }, { 100, 140 }, { 220, 250 }, { 300, 350 });
    add_ok(&set, 60, 40, 40); /* merging frees a node... */
    add_ok(&set, 400, 1, 1);  /* ...which the next new interval reuses */
    assert_int_equal(ivset_add(&set, 500, 1, NULL), -HV_ENOMEM);
    ASSERT_INTERVALS(&set, { 10, 140 }, { 220, 250 }, { 300, 350 }, { 400, 401 });
}

static void test_clear_and_refill(void **state)
{
    (void)state;
    struct ivset set;
    init_set(&set, 64);
    for (int round = 0; round < 3; round++) {
        for (uint64_t i = 0; i < 64; i++)
            assert_int_equal(ivset_add(&set, (i * 37 % 64) * 16, 8, NULL), HV_OK);
        assert_int_equal(ivset_count(&set), 64);
        check_invariants(&set);
        assert_int_equal(ivset_add(&set, 5000, 1, NULL), -HV_ENOMEM);
        if (round == 1) {
            for (uint64_t i = 0; i < 64; i += 2)
                remove_ok(&set, i * 16, 8, 8);
            for (uint64_t i = 0; i < 64; i += 2)
                add_ok(&set, i * 16, 8, 8);
        }
        ivset_clear(&set);
        ASSERT_EMPTY(&set);
        check_invariants(&set);
    }
}

/* ---- randomized differential testing against a byte map ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t random_below(uint64_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng % n;
}

struct reference {
    uint64_t base;
    size_t size;
    uint8_t covered[4096];
};

static size_t reference_runs(const struct reference *ref)
{
    size_t runs = 0;
    for (size_t i = 0; i < ref->size; i++)
        runs += ref->covered[i] && (i == 0 || !ref->covered[i - 1]);
    return runs;
}

static uint64_t reference_count(const struct reference *ref, size_t off, size_t len, uint8_t value)
{
    uint64_t n = 0;
    for (size_t i = off; i < off + len; i++)
        n += ref->covered[i] == value;
    return n;
}

/* The set holds exactly the reference's maximal runs, shifted by base. */
static void assert_matches_reference(const struct ivset *set, const struct reference *ref)
{
    const struct interval *iv = ivset_first(set);
    for (size_t i = 0; i < ref->size;) {
        if (!ref->covered[i]) {
            i++;
            continue;
        }
        size_t run_end = i;
        while (run_end < ref->size && ref->covered[run_end])
            run_end++;
        assert_non_null(iv);
        assert_int_equal(iv->start, ref->base + i);
        assert_int_equal(iv->end, ref->base + run_end);
        iv = ivset_next(set, iv);
        i = run_end;
    }
    assert_null(iv);
}

/* Endpoints mostly on an 8-byte grid so that ranges often touch or share edges, as slab objects do. */
static size_t random_offset(size_t size)
{
    return random_below(4) ? random_below(size / 8 + 1) * 8 : random_below(size + 1);
}

static void random_operation(struct ivset *set, struct reference *ref)
{
    size_t a = random_offset(ref->size), b = random_offset(ref->size);
    if (random_below(4) != 0 && b > a + 64)
        b = a + 1 + random_below(64); /* mostly small objects, sometimes a sweep over many intervals */
    if (a > b) {
        size_t t = a;
        a = b;
        b = t;
    }
    if (a == b)
        b = a + 1 > ref->size ? a : a + 1;
    if (a == b)
        a--;
    bool adding = random_below(100) < 55;
    struct reference after = *ref;
    memset(after.covered + a, adding, b - a);
    bool overflows = reference_runs(&after) > ivset_capacity(set);

    struct snapshot before_snap;
    if (overflows)
        take_snapshot(set, &before_snap);
    uint64_t bytes = ~0ull;
    int rc = adding ? ivset_add(set, ref->base + a, b - a, &bytes) : ivset_remove(set, ref->base + a, b - a, &bytes);
    if (overflows) {
        struct snapshot after_snap;
        assert_int_equal(rc, -HV_ENOMEM);
        take_snapshot(set, &after_snap);
        assert_snapshots_equal(&before_snap, &after_snap);
    } else {
        assert_int_equal(rc, HV_OK);
        assert_int_equal(bytes, reference_count(ref, a, b - a, !adding));
        *ref = after;
    }
    check_invariants(set);
    assert_matches_reference(set, ref);
}

static bool reference_contains(const struct reference *ref, size_t off, size_t len)
{
    return reference_count(ref, off, len, 1) == len;
}

/* Many operations on a 4 KiB space, checking structure and contents after each and random lookups. */
static void differential_run(uint64_t base, size_t capacity, int operations)
{
    static struct reference ref;
    struct ivset set;
    memset(&ref, 0, sizeof(ref));
    ref.base = base;
    ref.size = sizeof(ref.covered);
    init_set(&set, capacity);
    for (int op = 0; op < operations; op++) {
        random_operation(&set, &ref);
        for (int probe = 0; probe < 32; probe++) {
            size_t off = random_below(ref.size), len = 1 + random_below(MIN(ref.size - off, probe < 16 ? 16 : 512));
            assert_int_equal(ivset_contains(&set, base + off, len), reference_contains(&ref, off, len));
            assert_int_equal(ivset_overlaps(&set, base + off, len), reference_count(&ref, off, len, 1) != 0);
            const struct interval *iv = ivset_find(&set, base + off);
            assert_int_equal(iv != NULL, ref.covered[off]);
            if (iv)
                assert_true(iv->start <= base + off && base + off < iv->end);
        }
    }
}

static void test_differential_low(void **state)
{
    (void)state;
    differential_run(0, MAX_SNAPSHOT, 6000);
}

static void test_differential_top(void **state)
{
    (void)state;
    differential_run(UINT64_MAX - 4096, MAX_SNAPSHOT, 6000); /* the last range ends at UINT64_MAX */
}

static void test_differential_small_capacity(void **state)
{
    (void)state;
    differential_run(0x100000, 6, 6000);
}

/* A 128-byte space small enough to check contains() for every byte range after every operation. */
static void test_differential_exhaustive(void **state)
{
    (void)state;
    static struct reference ref;
    struct ivset set;
    memset(&ref, 0, sizeof(ref));
    ref.base = 0x1000;
    ref.size = 128;
    init_set(&set, 12);
    for (int op = 0; op < 2000; op++) {
        random_operation(&set, &ref);
        for (size_t off = 0; off < ref.size; off++) {
            size_t covered_len = 0;
            while (off + covered_len < ref.size && ref.covered[off + covered_len])
                covered_len++;
            for (size_t len = 1; off + len <= ref.size + 1; len++)
                assert_int_equal(ivset_contains(&set, ref.base + off, len), len <= covered_len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_adjacent_merge),
        cmocka_unit_test(test_add_inside_and_overlapping),
        cmocka_unit_test(test_add_spanning_many),
        cmocka_unit_test(test_covered_range_lies_in_one_interval),
        cmocka_unit_test(test_overlapping_range_touches_a_covered_byte),
        cmocka_unit_test(test_remove_split),
        cmocka_unit_test(test_remove_spanning_many),
        cmocka_unit_test(test_remove_at_edges_and_absent),
        cmocka_unit_test(test_address_space_ends),
        cmocka_unit_test(test_invalid_ranges),
        cmocka_unit_test(test_full_set_unchanged),
        cmocka_unit_test(test_clear_and_refill),
        cmocka_unit_test(test_differential_low),
        cmocka_unit_test(test_differential_top),
        cmocka_unit_test(test_differential_small_capacity),
        cmocka_unit_test(test_differential_exhaustive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
