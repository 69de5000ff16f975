#include "hv/pmem.h"

#include "hv/errno.h"
#include <stdbool.h>

#include "hv/lib.h"

static bool ranges_overlap(uint64_t a_start, uint64_t a_end, uint64_t b_start, uint64_t b_end)
{
    return a_start < b_end && b_start < a_end;
}

int mem_find_highest(const struct mem_range *usable, size_t n_usable, const struct mem_range *reserved,
                     size_t n_reserved, uint64_t size, uint64_t align, uint64_t limit, uint64_t *base)
{
    bool found = false;
    uint64_t best = 0;
    if (size == 0)
        return -HV_EINVAL;
    for (size_t i = 0; i < n_usable; i++) {
        uint64_t end = MIN(usable[i].end, limit);
        if (end < usable[i].start + size || usable[i].start + size < usable[i].start)
            continue;
        /* Walk candidate bases downwards, stepping below each reserved range we collide with. */
        uint64_t candidate = ALIGN_DOWN(end - size, align);
        while (candidate >= usable[i].start && candidate + size <= end) {
            size_t r;
            for (r = 0; r < n_reserved; r++)
                if (ranges_overlap(candidate, candidate + size, reserved[r].start, reserved[r].end))
                    break;
            if (r == n_reserved) {
                if (!found || candidate > best)
                    best = candidate;
                found = true;
                break;
            }
            if (reserved[r].start < size)
                break;
            candidate = ALIGN_DOWN(reserved[r].start - size, align);
        }
    }
    if (!found)
        return -HV_ENOMEM;
    *base = best;
    return HV_OK;
}

static struct {
    struct mem_range image, pool;
    uint64_t bump;  /* next never-allocated page */
    void *free_list; /* freed pages, linked through their first word */
    size_t free_count;
} pmem;

void pmem_init(uint64_t image_start, uint64_t image_end, uint64_t pool_base, uint64_t pool_size)
{
    pmem.image = (struct mem_range){image_start, image_end};
    pmem.pool = (struct mem_range){pool_base, pool_base + pool_size};
    pmem.bump = pool_base;
    pmem.free_list = NULL;
    pmem.free_count = 0;
}

void *pmem_alloc_page(void)
{
    void *page;
    if (pmem.free_list) {
        page = pmem.free_list;
        pmem.free_list = *(void **)page;
        pmem.free_count--;
    } else if (pmem.bump + PAGE_SIZE <= pmem.pool.end) {
        page = (void *)(uintptr_t)pmem.bump;
        pmem.bump += PAGE_SIZE;
    } else {
        return NULL;
    }
    memset(page, 0, PAGE_SIZE);
    return page;
}

void pmem_free_page(void *page)
{
    *(void **)page = pmem.free_list;
    pmem.free_list = page;
    pmem.free_count++;
}

bool pmem_overlaps_hv(uint64_t start, uint64_t end)
{
    return ranges_overlap(start, end, pmem.image.start, pmem.image.end) ||
           ranges_overlap(start, end, pmem.pool.start, pmem.pool.end);
}

struct mem_range pmem_image(void) { return pmem.image; }
struct mem_range pmem_pool(void) { return pmem.pool; }
size_t pmem_free_pages(void) { return (size_t)((pmem.pool.end - pmem.bump) / PAGE_SIZE) + pmem.free_count; }
