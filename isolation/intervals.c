/* Authorization interval set: an AVL tree keyed by interval start, nodes in caller storage linked by 32-bit index.
 *
 * Why an AVL tree (tools/bench_intervals.c; a SLUB-like driver workload: 90% 1..8-byte writes into recently
 * allocated objects, 5% add, 5% remove of 32..4096-byte objects that mostly merge with their neighbours):
 *
 *   instructions per operation (callgrind), mix | lookup only | add/remove only
 *   N        AVL (this file)      sorted array + glibc memmove   sorted array + hv/lib.c memmove
 *   16       105 |  62 |  403      107 |  79 |    235          135 |  79 |    527
 *   256      155 |  99 |  659      159 | 125 |    433          489 | 125 |   3814
 *   4096     212 | 132 |  909     1230 | 171 |  10359         5344 | 171 |  49970
 *   65536    269 | 166 | 1164    15477 | 218 | 150032        73978 | 218 | 724417
 *   median ns per mix operation (host, 7 runs of 200k ops, a busy 2-core machine: +-15%)
 *   16 / 256 / 4096 / 65536:  AVL 36 / 63 / 87 / 134   array 32 / 44 / 73 / 454   array+hv memmove 34 / 77 / 570 / 5600
 *
 * The array wins small sets by a few ns and its lookups stay up to ~30 ns faster in time (16-byte entries, hot top
 * levels) despite more instructions. But every add or remove that changes the count moves on average half the
 * array, and in the hypervisor that is hv/lib.c's byte-at-a-time backward memmove: the mix is then 6x slower than the
 * tree at 4096 intervals and 40x at 65536 (3.4x with glibc's memmove). The tree is O(log n) for everything; what it
 * loses at small N is tiny next to a trapped write (VM exit plus emulation). It needs 32 bytes per interval, the
 * array 16. A B-tree was not tried: it could shave the constant, for more code and a capacity that depends on how
 * full its nodes are.
 *
 * Insert and delete recurse along one root-to-leaf path; the AVL height bound (1.44 log2 n) keeps that under 46
 * frames at IVSET_MAX_CAPACITY. Deletion relinks nodes instead of copying keys, so a node index held across a
 * delete of another node stays valid. */
#include "isolation/intervals.h"

#include "hv/errno.h"

#define NIL UINT32_MAX

static struct ivset_node *node(const struct ivset *set, uint32_t n)
{
    return &set->nodes[n];
}

int ivset_init(struct ivset *set, void *storage, size_t storage_bytes)
{
    if ((storage == NULL && storage_bytes != 0) || (uintptr_t)storage % _Alignof(struct ivset_node) != 0)
        return -HV_EINVAL;
    size_t capacity = storage_bytes / sizeof(struct ivset_node);
    set->nodes = storage;
    set->capacity = capacity > IVSET_MAX_CAPACITY ? IVSET_MAX_CAPACITY : (uint32_t)capacity;
    ivset_clear(set);
    return (int)set->capacity;
}

void ivset_clear(struct ivset *set)
{
    set->count = 0;
    set->root = NIL;
    set->free_head = NIL;
    set->never_used = 0;
}

size_t ivset_capacity(const struct ivset *set)
{
    return set->capacity;
}

size_t ivset_count(const struct ivset *set)
{
    return set->count;
}

static bool range_valid(uint64_t addr, uint64_t len)
{
    return len != 0 && len <= UINT64_MAX - addr;
}

static uint64_t overlap(const struct interval *iv, uint64_t start, uint64_t end)
{
    uint64_t lo = iv->start > start ? iv->start : start;
    uint64_t hi = iv->end < end ? iv->end : end;
    return hi > lo ? hi - lo : 0;
}

/* ---- lookups ---- */

/* The node with the greatest start <= addr, or NIL. */
static uint32_t last_starting_at_or_before(const struct ivset *set, uint64_t addr)
{
    uint32_t n = set->root, best = NIL;
    while (n != NIL) {
        if (node(set, n)->iv.start <= addr) {
            best = n;
            n = node(set, n)->child[1];
        } else {
            n = node(set, n)->child[0];
        }
    }
    return best;
}

/* The node with the smallest start >= addr, or NIL. */
static uint32_t first_starting_at_or_after(const struct ivset *set, uint64_t addr)
{
    uint32_t n = set->root, best = NIL;
    while (n != NIL) {
        if (node(set, n)->iv.start >= addr) {
            best = n;
            n = node(set, n)->child[0];
        } else {
            n = node(set, n)->child[1];
        }
    }
    return best;
}

/* The node following the interval that starts at start, or NIL. start < end <= UINT64_MAX, so start + 1 cannot wrap. */
static uint32_t first_starting_after(const struct ivset *set, uint64_t start)
{
    return first_starting_at_or_after(set, start + 1);
}

const struct interval *ivset_find(const struct ivset *set, uint64_t addr)
{
    uint32_t n = last_starting_at_or_before(set, addr);
    if (n == NIL || addr >= node(set, n)->iv.end)
        return NULL;
    return &node(set, n)->iv;
}

bool ivset_contains(const struct ivset *set, uint64_t addr, uint64_t len)
{
    if (!range_valid(addr, len))
        return false;
    const struct interval *iv = ivset_find(set, addr);
    return iv != NULL && len <= iv->end - addr;
}

bool ivset_overlaps(const struct ivset *set, uint64_t addr, uint64_t len)
{
    if (!range_valid(addr, len))
        return false;
    if (ivset_find(set, addr))
        return true;
    uint32_t n = first_starting_at_or_after(set, addr);
    return n != NIL && node(set, n)->iv.start < addr + len;
}

const struct interval *ivset_first(const struct ivset *set)
{
    uint32_t n = first_starting_at_or_after(set, 0);
    return n == NIL ? NULL : &node(set, n)->iv;
}

const struct interval *ivset_next(const struct ivset *set, const struct interval *iv)
{
    uint32_t n = first_starting_after(set, iv->start);
    return n == NIL ? NULL : &node(set, n)->iv;
}

/* ---- AVL balancing ---- */

static int32_t height(const struct ivset *set, uint32_t n)
{
    return n == NIL ? 0 : node(set, n)->height;
}

static void update_height(struct ivset *set, uint32_t n)
{
    int32_t lower = height(set, node(set, n)->child[0]);
    int32_t higher = height(set, node(set, n)->child[1]);
    node(set, n)->height = 1 + (lower > higher ? lower : higher);
}

/* Lifts n's child on side `side` into n's place; returns the new subtree root. */
static uint32_t rotate(struct ivset *set, uint32_t n, int side)
{
    uint32_t lifted = node(set, n)->child[side];
    node(set, n)->child[side] = node(set, lifted)->child[!side];
    node(set, lifted)->child[!side] = n;
    update_height(set, n);
    update_height(set, lifted);
    return lifted;
}

/* Restores the AVL balance at n after one of its subtrees changed height by at most one; returns the new root. */
static uint32_t rebalance(struct ivset *set, uint32_t n)
{
    update_height(set, n);
    int32_t balance = height(set, node(set, n)->child[1]) - height(set, node(set, n)->child[0]);
    if (balance >= -1 && balance <= 1)
        return n;
    int heavy = balance > 0;
    uint32_t child = node(set, n)->child[heavy];
    if (height(set, node(set, child)->child[!heavy]) > height(set, node(set, child)->child[heavy]))
        node(set, n)->child[heavy] = rotate(set, child, !heavy);
    return rotate(set, n, heavy);
}

/* ---- node insertion and deletion ---- */

static bool has_free_node(const struct ivset *set)
{
    return set->free_head != NIL || set->never_used < set->capacity;
}

static uint32_t insert_below(struct ivset *set, uint32_t root, uint32_t n)
{
    if (root == NIL)
        return n;
    int side = node(set, n)->iv.start > node(set, root)->iv.start;
    node(set, root)->child[side] = insert_below(set, node(set, root)->child[side], n);
    return rebalance(set, root);
}

/* The caller has checked has_free_node() and that [start, end) neither overlaps nor touches an interval. */
static void insert_interval(struct ivset *set, uint64_t start, uint64_t end)
{
    uint32_t n;
    if (set->free_head != NIL) {
        n = set->free_head;
        set->free_head = node(set, n)->child[0];
    } else {
        n = set->never_used++;
    }
    *node(set, n) = (struct ivset_node){ .iv = { start, end }, .child = { NIL, NIL }, .height = 1 };
    set->root = insert_below(set, set->root, n);
    set->count++;
}

/* Unlinks the leftmost node of the subtree at root into *min; returns the new subtree root. */
static uint32_t detach_min(struct ivset *set, uint32_t root, uint32_t *min)
{
    if (node(set, root)->child[0] == NIL) {
        *min = root;
        return node(set, root)->child[1];
    }
    node(set, root)->child[0] = detach_min(set, node(set, root)->child[0], min);
    return rebalance(set, root);
}

static uint32_t delete_below(struct ivset *set, uint32_t root, uint64_t start)
{
    struct ivset_node *r = node(set, root);
    if (start != r->iv.start) {
        int side = start > r->iv.start;
        r->child[side] = delete_below(set, r->child[side], start);
        return rebalance(set, root);
    }
    uint32_t replacement;
    if (r->child[0] == NIL || r->child[1] == NIL) {
        replacement = r->child[r->child[0] == NIL];
    } else {
        uint32_t higher = detach_min(set, r->child[1], &replacement);
        node(set, replacement)->child[0] = r->child[0];
        node(set, replacement)->child[1] = higher;
        replacement = rebalance(set, replacement);
    }
    r->child[0] = set->free_head;
    set->free_head = root;
    set->count--;
    return replacement;
}

static void delete_node(struct ivset *set, uint32_t n)
{
    set->root = delete_below(set, set->root, node(set, n)->iv.start);
}

/* ---- set operations ---- */

int ivset_add(struct ivset *set, uint64_t addr, uint64_t len, uint64_t *bytes_added)
{
    if (!range_valid(addr, len))
        return -HV_ERANGE;
    uint64_t end = addr + len;

    /* Every interval that overlaps or touches [addr, end) merges into the first of them. */
    uint32_t first = last_starting_at_or_before(set, addr);
    if (first == NIL || node(set, first)->iv.end < addr)
        first = first_starting_at_or_after(set, addr);
    if (first == NIL || node(set, first)->iv.start > end) {
        if (!has_free_node(set))
            return -HV_ENOMEM;
        insert_interval(set, addr, end);
        if (bytes_added)
            *bytes_added = len;
        return HV_OK;
    }

    struct interval *merged = &node(set, first)->iv;
    uint64_t already_covered = overlap(merged, addr, end);
    uint64_t merged_end = merged->end > end ? merged->end : end;
    for (uint32_t next = first_starting_after(set, merged->start); next != NIL && node(set, next)->iv.start <= end;
         next = first_starting_after(set, merged->start)) {
        already_covered += overlap(&node(set, next)->iv, addr, end);
        if (node(set, next)->iv.end > merged_end)
            merged_end = node(set, next)->iv.end;
        delete_node(set, next);
    }
    if (addr < merged->start)
        merged->start = addr;
    merged->end = merged_end;
    if (bytes_added)
        *bytes_added = len - already_covered;
    return HV_OK;
}

int ivset_remove(struct ivset *set, uint64_t addr, uint64_t len, uint64_t *bytes_removed)
{
    if (!range_valid(addr, len))
        return -HV_ERANGE;
    uint64_t end = addr + len;
    uint64_t removed = 0;

    /* An interval starting before addr keeps its head; if it also ends after end, it splits in two. */
    uint32_t n = last_starting_at_or_before(set, addr);
    if (n != NIL && node(set, n)->iv.start < addr && node(set, n)->iv.end > addr) {
        uint64_t old_end = node(set, n)->iv.end;
        if (old_end > end) {
            if (!has_free_node(set))
                return -HV_ENOMEM;
            node(set, n)->iv.end = addr;
            insert_interval(set, end, old_end);
            if (bytes_removed)
                *bytes_removed = len;
            return HV_OK;
        }
        removed += old_end - addr;
        node(set, n)->iv.end = addr;
    }

    /* Intervals starting inside [addr, end) go entirely, except the last may keep its tail. */
    for (n = first_starting_at_or_after(set, addr); n != NIL && node(set, n)->iv.start < end;
         n = first_starting_at_or_after(set, addr)) {
        struct interval *iv = &node(set, n)->iv;
        if (iv->end > end) {
            removed += end - iv->start;
            iv->start = end;
            break;
        }
        removed += iv->end - iv->start;
        delete_node(set, n);
    }
    if (bytes_removed)
        *bytes_removed = removed;
    return HV_OK;
}
