/*
 * Physical memory owned by the hypervisor: its image plus one contiguous pool carved from usable RAM, from which
 * 4 KiB pages are allocated. The guest's memory map reserves both, and the MMU refuses to map them into the guest.
 */
#ifndef HV_PMEM_H
#define HV_PMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096ull
#define PAGE_SHIFT 12
#define POOL_ALIGN (2ull << 20)

struct mem_range {
    uint64_t start, end; /* [start, end) */
};

/*
 * Finds the highest `align`-aligned range of `size` bytes ending at or below `limit` that lies inside one usable range
 * and overlaps no reserved range (the pool's place; where the guest's initrd goes). Returns 0 and sets *base, or
 * -HV_ENOMEM when nothing fits.
 */
int mem_find_highest(const struct mem_range *usable, size_t n_usable, const struct mem_range *reserved,
                     size_t n_reserved, uint64_t size, uint64_t align, uint64_t limit, uint64_t *base);

void pmem_init(uint64_t image_start, uint64_t image_end, uint64_t pool_base, uint64_t pool_size);
/* A zeroed page, or NULL when the pool is exhausted (callers must handle it). */
void *pmem_alloc_page(void);
void pmem_free_page(void *page);
/* Whether [start, end) overlaps memory the hypervisor owns (image or pool). */
bool pmem_overlaps_hv(uint64_t start, uint64_t end);
struct mem_range pmem_image(void);
struct mem_range pmem_pool(void);
size_t pmem_free_pages(void);

#endif
