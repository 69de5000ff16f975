/* Authorization intervals: a set of disjoint byte ranges [start, end) of guest linear addresses that an isolated
 * driver may write. Adding merges with overlapping and adjacent ranges, so the set is always minimal: any range that
 * is covered at all lies inside a single interval. Fixed capacity in caller-provided storage; never allocates.
 *
 * Ranges are passed as (addr, len) and must satisfy len > 0 and addr + len <= UINT64_MAX (no wrap): the end is
 * exclusive, so the last byte of the address space (UINT64_MAX) can never be covered. No kernel object lives there.
 * Anything else is rejected with -HV_ERANGE. Pointers returned by find/first/next stay valid until the next
 * add/remove/clear. */
#ifndef ISOLATION_INTERVALS_H
#define ISOLATION_INTERVALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct interval {
    uint64_t start;
    uint64_t end; /* exclusive */
};

/* One interval per node; nodes are linked by index into the caller's storage. */
struct ivset_node {
    struct interval iv;
    uint32_t child[2]; /* [0] lower starts, [1] higher starts; [0] also links the free list */
    int32_t height;
};

struct ivset {
    struct ivset_node *nodes;
    uint32_t capacity;
    uint32_t count;
    uint32_t root;
    uint32_t free_head;  /* freed nodes, reused first */
    uint32_t never_used; /* nodes [never_used, capacity) have not been handed out since the last clear */
};

/* Largest capacity ivset_init hands out: node indices and counts stay below UINT32_MAX and fit an int. */
#define IVSET_MAX_CAPACITY 0x7fffffffu
#define IVSET_STORAGE_BYTES(n_intervals) ((size_t)(n_intervals) * sizeof(struct ivset_node))

/* Returns the capacity in intervals (storage_bytes / sizeof(struct ivset_node), at most IVSET_MAX_CAPACITY, possibly
 * 0), or -HV_EINVAL if storage is NULL with nonzero size or not aligned for struct ivset_node. */
int ivset_init(struct ivset *set, void *storage, size_t storage_bytes);
void ivset_clear(struct ivset *set);
size_t ivset_capacity(const struct ivset *set);
size_t ivset_count(const struct ivset *set);

/* Covers [addr, addr+len). *bytes_added (optional) gets how many of those bytes were not covered before.
 * -HV_ENOMEM, with the set unchanged, if a new interval is needed and the set is full. */
int ivset_add(struct ivset *set, uint64_t addr, uint64_t len, uint64_t *bytes_added);
/* Uncovers [addr, addr+len); uncovering what is not covered is not an error. *bytes_removed (optional) gets how many
 * bytes were covered before. -HV_ENOMEM, with the set unchanged, if an interval must split and the set is full. */
int ivset_remove(struct ivset *set, uint64_t addr, uint64_t len, uint64_t *bytes_removed);

/* True iff every byte of [addr, addr+len) is covered; false for a range that add would reject. */
bool ivset_contains(const struct ivset *set, uint64_t addr, uint64_t len);
/* True iff some byte of [addr, addr+len) is covered; false for a range that add would reject. */
bool ivset_overlaps(const struct ivset *set, uint64_t addr, uint64_t len);
/* The interval that contains addr, or NULL. */
const struct interval *ivset_find(const struct ivset *set, uint64_t addr);

/* In-order iteration by increasing start: for (iv = ivset_first(s); iv; iv = ivset_next(s, iv)). */
const struct interval *ivset_first(const struct ivset *set);
const struct interval *ivset_next(const struct ivset *set, const struct interval *iv);

#endif
