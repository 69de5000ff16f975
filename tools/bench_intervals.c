/* Benchmark of authorization interval sets under a driver-like workload (a host program, not hypervisor code).
 *
 * Build (from the repository root):
 *   gcc -std=gnu11 -O2 -Wall -Wextra -I. tools/bench_intervals.c -o build/bench_intervals
 * Run:
 *   build/bench_intervals [--n 16|256|4096|65536] [--impl avl|array|array-hvmove] [--phase mix|lookup|update]
 *                         [--runs R] [--ops M]
 * Instructions per operation (timing-independent): count only the replay of one phase and divide by its ops, e.g.
 *   valgrind --tool=callgrind --toggle-collect='measured_replay_*' --callgrind-out-file=/dev/null \
 *       build/bench_intervals --n 4096 --impl avl --phase mix --runs 1
 * and divide the "Collected" Ir by the ops printed for that phase.
 *
 * Candidates: "avl" is isolation/intervals.c itself; "array" is a sorted array with binary search and glibc's
 * memmove; "array-hvmove" is the same array with hv/lib.c's memmove (rep movsb forwards, a byte loop backwards), which
 * is what a sorted array would pay inside the hypervisor.
 *
 * Workload: a SLUB-like allocator model. Objects of kmalloc size classes (32..4096 bytes) are carved out of 32 KiB
 * slabs placed at random in a kernel-heap-like region; consecutive allocations are adjacent and merge into one
 * interval, a free returns the slot to a per-class LIFO free list that the next allocation of that class reuses. The
 * initial set holds N intervals, each a run of 1..8 objects. The mix replays 90% writes (1, 2, 4 or 8 bytes) into one
 * of the 64 most recently allocated live objects, 5% allocations (add) and 5% frees (remove; half of them of a recent
 * object, half of any live one). "lookup" replays only the writes and "update" only the adds and removes, each from
 * the initial set. Times are the median of R runs; every run starts from the same initial set. Implementations are
 * cross-checked: every write must hit, and all must end with the same intervals. The numbers and the choice they
 * led to are at the top of isolation/intervals.c. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hv/lib.h"
#include "isolation/intervals.c"

/* ---- candidate: sorted array ---- */

struct sorted_array {
    struct interval *iv;
    size_t count;
    size_t capacity;
    void *(*move)(void *dst, const void *src, size_t n);
};

/* A copy of hv/lib.c's memmove; the attribute keeps gcc from turning the loop back into a call to glibc's. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static void *hv_memmove(void *dst, const void *src,
                                                                                      size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d <= s || d >= s + n) {
        __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
        return dst;
    }
    while (n--)
        d[n] = s[n];
    return dst;
}

static void array_init(struct sorted_array *a, void *storage, size_t bytes, void *(*move)(void *, const void *, size_t))
{
    *a = (struct sorted_array){ .iv = storage, .capacity = bytes / sizeof(struct interval), .move = move };
}

/* The first index in [lo, count) whose interval ends after addr. */
static size_t array_first_ending_after(const struct sorted_array *a, size_t lo, uint64_t addr)
{
    size_t n = a->count - lo;
    while (n > 0) {
        size_t half = n / 2;
        if (a->iv[lo + half].end <= addr) {
            lo += half + 1;
            n -= half + 1;
        } else {
            n = half;
        }
    }
    return lo;
}

/* The first index in [lo, count) whose interval starts after addr. */
static size_t array_first_starting_after(const struct sorted_array *a, size_t lo, uint64_t addr)
{
    size_t n = a->count - lo;
    while (n > 0) {
        size_t half = n / 2;
        if (a->iv[lo + half].start <= addr) {
            lo += half + 1;
            n -= half + 1;
        } else {
            n = half;
        }
    }
    return lo;
}

/* Replaces entries [i, j) by the k pieces. */
static int array_replace(struct sorted_array *a, size_t i, size_t j, const struct interval *pieces, size_t k)
{
    if (a->count - (j - i) + k > a->capacity)
        return -HV_ENOMEM;
    if (j - i != k)
        a->move(a->iv + i + k, a->iv + j, (a->count - j) * sizeof(struct interval));
    memcpy(a->iv + i, pieces, k * sizeof(struct interval));
    a->count = a->count - (j - i) + k;
    return HV_OK;
}

static int array_add(struct sorted_array *a, uint64_t addr, uint64_t len)
{
    if (!range_valid(addr, len))
        return -HV_ERANGE;
    uint64_t end = addr + len;
    size_t i = addr == 0 ? 0 : array_first_ending_after(a, 0, addr - 1); /* overlaps or touches */
    size_t j = array_first_starting_after(a, i, end);
    struct interval merged = { addr, end };
    if (i < j) {
        merged.start = MIN(merged.start, a->iv[i].start);
        merged.end = MAX(merged.end, a->iv[j - 1].end);
    }
    return array_replace(a, i, j, &merged, 1);
}

static int array_remove(struct sorted_array *a, uint64_t addr, uint64_t len)
{
    if (!range_valid(addr, len))
        return -HV_ERANGE;
    uint64_t end = addr + len;
    size_t i = array_first_ending_after(a, 0, addr);
    size_t j = array_first_starting_after(a, i, end - 1);
    struct interval pieces[2];
    size_t k = 0;
    if (i == j)
        return HV_OK;
    if (a->iv[i].start < addr)
        pieces[k++] = (struct interval){ a->iv[i].start, addr };
    if (a->iv[j - 1].end > end)
        pieces[k++] = (struct interval){ end, a->iv[j - 1].end };
    return array_replace(a, i, j, pieces, k);
}

static bool array_contains(const struct sorted_array *a, uint64_t addr, uint64_t len)
{
    if (!range_valid(addr, len))
        return false;
    size_t i = array_first_ending_after(a, 0, addr);
    return i < a->count && a->iv[i].start <= addr && len <= a->iv[i].end - addr;
}

/* ---- workload ---- */

enum op_kind { OP_WRITE, OP_ADD, OP_REMOVE };

struct op {
    uint64_t addr;
    uint32_t len;
    uint32_t kind;
};

struct trace {
    struct op *ops;
    size_t count;
};

static uint64_t rng_state;

static uint64_t random_below(uint64_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state % n;
}

static const uint32_t size_classes[] = { 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096 };
#define CLASSES ARRAY_SIZE(size_classes)
#define SLAB_BYTES (32u * 1024)
#define SLAB_STRIDE (64u * 1024) /* slabs never touch each other */
#define HEAP_BASE 0xffff888000000000ull
#define RECENT 64
#define DEAD UINT32_MAX

struct object {
    uint64_t addr;
    uint32_t size;
    uint32_t live_index; /* DEAD once freed */
};

struct allocator {
    struct object *objects;
    size_t object_count, object_capacity;
    uint32_t *live; /* ids of live objects, in no order */
    size_t live_count;
    uint64_t *free_slots[CLASSES];
    size_t free_count[CLASSES];
    uint64_t bump[CLASSES], bump_end[CLASSES];
    uint64_t *slab_slots; /* shuffled slab positions in the heap region */
    size_t slab_count, slabs_used;
    uint32_t recent[RECENT];
    size_t recent_next, recent_count;
};

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static void push(struct trace *t, enum op_kind kind, uint64_t addr, uint32_t len)
{
    t->ops[t->count++] = (struct op){ .addr = addr, .len = len, .kind = kind };
}

static uint64_t new_slab(struct allocator *al)
{
    if (al->slabs_used == al->slab_count) {
        fprintf(stderr, "workload ran out of slab positions\n");
        exit(1);
    }
    return HEAP_BASE + al->slab_slots[al->slabs_used++] * SLAB_STRIDE;
}

static void new_object(struct allocator *al, uint64_t addr, uint32_t size)
{
    if (al->object_count == al->object_capacity) {
        al->object_capacity = 2 * al->object_capacity + 1024;
        al->objects = realloc(al->objects, al->object_capacity * sizeof(*al->objects));
        if (!al->objects)
            exit(1);
    }
    uint32_t id = (uint32_t)al->object_count++;
    al->objects[id] = (struct object){ .addr = addr, .size = size, .live_index = (uint32_t)al->live_count };
    al->live[al->live_count++] = id;
    al->recent[al->recent_next] = id;
    al->recent_next = (al->recent_next + 1) % RECENT;
    al->recent_count = MIN(al->recent_count + 1, RECENT);
}

static void free_object(struct allocator *al, uint32_t id)
{
    uint32_t index = al->objects[id].live_index, last = al->live[--al->live_count];
    al->live[index] = last;
    al->objects[last].live_index = index;
    al->objects[id].live_index = DEAD;
}

static uint32_t recent_live_object(const struct allocator *al)
{
    for (int tries = 0; tries < 8; tries++) {
        uint32_t id = al->recent[random_below(al->recent_count)];
        if (al->objects[id].live_index != DEAD)
            return id;
    }
    return al->live[random_below(al->live_count)];
}

static size_t class_of(uint32_t size)
{
    size_t c = 0;
    while (size_classes[c] != size)
        c++;
    return c;
}

/* Builds the initial adds for `intervals` intervals and a mix of `ops` operations after them. */
static void build_workload(size_t intervals, size_t ops, struct trace *initial, struct trace *mix)
{
    struct allocator al = { 0 };
    al.slab_count = 2 * intervals + ops / 8 + CLASSES;
    al.slab_slots = xmalloc(al.slab_count * sizeof(uint64_t));
    for (size_t i = 0; i < al.slab_count; i++)
        al.slab_slots[i] = i;
    for (size_t i = al.slab_count - 1; i > 0; i--) {
        size_t j = random_below(i + 1);
        uint64_t t = al.slab_slots[i];
        al.slab_slots[i] = al.slab_slots[j];
        al.slab_slots[j] = t;
    }
    al.live = xmalloc((8 * intervals + ops) * sizeof(uint32_t));
    for (size_t c = 0; c < CLASSES; c++) {
        al.free_slots[c] = xmalloc(ops * sizeof(uint64_t));
        al.bump[c] = new_slab(&al);
        al.bump_end[c] = al.bump[c] + SLAB_BYTES;
    }
    initial->ops = xmalloc(8 * intervals * sizeof(struct op));
    initial->count = 0;
    for (size_t i = 0; i < intervals; i++) {
        uint32_t size = size_classes[random_below(CLASSES)];
        uint32_t objects = 1 + random_below(8);
        uint64_t run = new_slab(&al) + random_below(SLAB_BYTES / size - objects + 1) * size;
        for (uint32_t k = 0; k < objects; k++) {
            new_object(&al, run + k * size, size);
            push(initial, OP_ADD, run + k * size, size);
        }
    }

    size_t target_live = al.live_count;
    mix->ops = xmalloc(ops * sizeof(struct op));
    mix->count = 0;
    while (mix->count < ops) {
        if (random_below(100) < 90) {
            const struct object *o = &al.objects[recent_live_object(&al)];
            uint32_t width = 1u << random_below(4);
            push(mix, OP_WRITE, o->addr + random_below(o->size / width) * width, width);
        } else if (random_below(2 * target_live) >= al.live_count) {
            /* Allocate; the odds lean towards freeing when there are more live objects than at the start. */
            size_t c = random_below(CLASSES);
            uint64_t addr;
            if (al.free_count[c] > 0) {
                addr = al.free_slots[c][--al.free_count[c]];
            } else {
                if (al.bump[c] == al.bump_end[c]) {
                    al.bump[c] = new_slab(&al);
                    al.bump_end[c] = al.bump[c] + SLAB_BYTES;
                }
                addr = al.bump[c];
                al.bump[c] += size_classes[c];
            }
            new_object(&al, addr, size_classes[c]);
            push(mix, OP_ADD, addr, size_classes[c]);
        } else {
            uint32_t id = random_below(2) ? recent_live_object(&al) : al.live[random_below(al.live_count)];
            const struct object *o = &al.objects[id];
            size_t c = class_of(o->size);
            al.free_slots[c][al.free_count[c]++] = o->addr;
            free_object(&al, id);
            push(mix, OP_REMOVE, o->addr, o->size);
        }
    }
    free(al.objects);
    free(al.live);
    free(al.slab_slots);
    for (size_t c = 0; c < CLASSES; c++)
        free(al.free_slots[c]);
}

/* The operations of `from` of the given kinds, in order. */
static struct trace filter_trace(const struct trace *from, bool writes, bool updates)
{
    struct trace t = { xmalloc(from->count * sizeof(struct op)), 0 };
    for (size_t i = 0; i < from->count; i++)
        if (from->ops[i].kind == OP_WRITE ? writes : updates)
            t.ops[t.count++] = from->ops[i];
    return t;
}

/* ---- harness ---- */

struct result {
    size_t intervals_before, intervals_after;
    uint64_t hits;
    struct interval *final; /* the intervals after the run, for cross-checking implementations */
};

#define DEFINE_REPLAY(name, set_type, add, remove, contains)                                                           \
    __attribute__((noinline)) static uint64_t replay_##name(set_type *s, const struct trace *t)                        \
    {                                                                                                                  \
        uint64_t hits = 0;                                                                                             \
        for (size_t i = 0; i < t->count; i++) {                                                                        \
            const struct op *o = &t->ops[i];                                                                           \
            if (o->kind == OP_WRITE)                                                                                   \
                hits += contains(s, o->addr, o->len);                                                                  \
            else if ((o->kind == OP_ADD ? add(s, o->addr, o->len) : remove(s, o->addr, o->len)) != HV_OK)              \
                abort();                                                                                               \
        }                                                                                                              \
        return hits;                                                                                                   \
    }                                                                                                                  \
    /* The timed replays, separate so that callgrind can count them alone. */                                          \
    __attribute__((noinline)) static uint64_t measured_replay_##name(set_type *s, const struct trace *t)               \
    {                                                                                                                  \
        return replay_##name(s, t);                                                                                    \
    }

static int avl_add(struct ivset *s, uint64_t addr, uint64_t len)
{
    return ivset_add(s, addr, len, NULL);
}

static int avl_remove(struct ivset *s, uint64_t addr, uint64_t len)
{
    return ivset_remove(s, addr, len, NULL);
}

DEFINE_REPLAY(avl, struct ivset, avl_add, avl_remove, ivset_contains)
DEFINE_REPLAY(array, struct sorted_array, array_add, array_remove, array_contains)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int compare_op_addr(const void *a, const void *b)
{
    return compare_u64(&((const struct op *)a)->addr, &((const struct op *)b)->addr);
}

enum impl { IMPL_AVL, IMPL_ARRAY, IMPL_ARRAY_HVMOVE, IMPLS };
static const char *const impl_names[IMPLS] = { "avl", "array", "array-hvmove" };

/* Runs `phase` `runs` times from the initial set (the array loads it in address order: the same set, far quicker);
 * returns the median nanoseconds per operation, times 10. */
static uint64_t measure(enum impl impl, void *storage, size_t storage_bytes, const struct trace *initial,
                        const struct trace *initial_by_address, const struct trace *phase, size_t runs,
                        struct result *res)
{
    uint64_t *times = xmalloc(runs * sizeof(uint64_t));
    struct ivset tree;
    struct sorted_array array;
    for (size_t r = 0; r < runs; r++) {
        uint64_t start;
        if (impl == IMPL_AVL) {
            ivset_init(&tree, storage, storage_bytes);
            if (replay_avl(&tree, initial) != 0)
                abort();
            res->intervals_before = ivset_count(&tree);
            start = now_ns();
            res->hits = measured_replay_avl(&tree, phase);
            times[r] = now_ns() - start;
            res->intervals_after = ivset_count(&tree);
        } else {
            array_init(&array, storage, storage_bytes, impl == IMPL_ARRAY ? memmove : hv_memmove);
            if (replay_array(&array, initial_by_address) != 0)
                abort();
            res->intervals_before = array.count;
            start = now_ns();
            res->hits = measured_replay_array(&array, phase);
            times[r] = now_ns() - start;
            res->intervals_after = array.count;
        }
    }
    res->final = xmalloc(res->intervals_after * sizeof(struct interval) + 1);
    if (impl == IMPL_AVL) {
        size_t i = 0;
        for (const struct interval *iv = ivset_first(&tree); iv; iv = ivset_next(&tree, iv))
            res->final[i++] = *iv;
    } else {
        memcpy(res->final, array.iv, array.count * sizeof(struct interval));
    }
    qsort(times, runs, sizeof(uint64_t), compare_u64);
    uint64_t median = times[runs / 2];
    free(times);
    return phase->count ? median * 10 / phase->count : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_intervals [--n N] [--impl avl|array|array-hvmove] [--phase mix|lookup|update] "
                    "[--runs R] [--ops M]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = { 16, 256, 4096, 65536 };
    static const char *const phase_names[] = { "mix", "lookup", "update" };
    size_t runs = 7, ops = 200000, only_n = 0;
    int only_impl = -1, only_phase = -1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 == argc)
            usage();
        const char *opt = argv[i], *val = argv[++i];
        if (!strcmp(opt, "--n")) {
            only_n = strtoul(val, NULL, 0);
        } else if (!strcmp(opt, "--runs")) {
            runs = strtoul(val, NULL, 0);
        } else if (!strcmp(opt, "--ops")) {
            ops = strtoul(val, NULL, 0);
        } else if (!strcmp(opt, "--impl")) {
            for (only_impl = IMPLS - 1; only_impl >= 0 && strcmp(val, impl_names[only_impl]); only_impl--)
                ;
            if (only_impl < 0)
                usage();
        } else if (!strcmp(opt, "--phase")) {
            for (only_phase = 2; only_phase >= 0 && strcmp(val, phase_names[only_phase]); only_phase--)
                ;
            if (only_phase < 0)
                usage();
        } else {
            usage();
        }
    }
    if (runs == 0 || ops == 0)
        usage();

    printf("%-13s %6s %15s %8s  %s\n", "impl", "N", "intervals", "ops", "median ns/op  (mix | lookup | update)");
    for (size_t si = 0; si < ARRAY_SIZE(sizes); si++) {
        size_t n = sizes[si];
        if (only_n && only_n != n)
            continue;
        rng_state = 0x9e3779b97f4a7c15ull + n;
        struct trace initial, mix;
        build_workload(n, ops, &initial, &mix);
        struct trace initial_by_address = filter_trace(&initial, false, true);
        qsort(initial_by_address.ops, initial_by_address.count, sizeof(struct op), compare_op_addr);
        struct trace phases[3] = { mix, filter_trace(&mix, true, false), filter_trace(&mix, false, true) };
        size_t storage_bytes = IVSET_STORAGE_BYTES(initial.count + ops);
        void *storage = xmalloc(storage_bytes);
        struct result reference[3] = { 0 };
        const char *reference_impl = NULL;
        for (int impl = 0; impl < IMPLS; impl++) {
            if (only_impl >= 0 && impl != only_impl)
                continue;
            uint64_t tenths[3] = { 0 };
            struct result res[3] = { 0 };
            for (int p = 0; p < 3; p++) {
                if (only_phase >= 0 && p != only_phase)
                    continue;
                tenths[p] = measure(impl, storage, storage_bytes, &initial, &initial_by_address, &phases[p], runs,
                                    &res[p]);
                if (p == 0 && res[p].hits != phases[1].count) {
                    fprintf(stderr, "%s: %lu of %zu writes hit\n", impl_names[impl], (unsigned long)res[p].hits,
                            phases[1].count);
                    return 1;
                }
                if (!reference[p].final) {
                    reference[p] = res[p];
                    reference_impl = impl_names[impl];
                } else if (res[p].hits != reference[p].hits || res[p].intervals_after != reference[p].intervals_after ||
                           memcmp(res[p].final, reference[p].final, res[p].intervals_after * sizeof(struct interval))) {
                    fprintf(stderr, "%s disagrees with %s\n", impl_names[impl], reference_impl);
                    return 1;
                } else {
                    free(res[p].final);
                }
            }
            int shown = only_phase < 0 ? 0 : only_phase;
            char columns[3][24];
            for (int p = 0; p < 3; p++) {
                if (only_phase >= 0 && p != only_phase)
                    snprintf(columns[p], sizeof(columns[p]), "%8s", "-");
                else
                    snprintf(columns[p], sizeof(columns[p]), "%6lu.%lu", (unsigned long)(tenths[p] / 10),
                             (unsigned long)(tenths[p] % 10));
            }
            printf("%-13s %6zu %7zu->%-7zu %8zu  %s | %s | %s\n", impl_names[impl], n, res[shown].intervals_before,
                   res[shown].intervals_after, phases[shown].count, columns[0], columns[1], columns[2]);
            fflush(stdout);
        }
        for (int p = 0; p < 3; p++) {
            free(reference[p].final);
            if (p > 0)
                free(phases[p].ops);
        }
        free(mix.ops);
        free(initial.ops);
        free(initial_by_address.ops);
        free(storage);
    }
    return 0;
}
