#include "hv/guest_memory.h"

#include "hv/pmem.h"

static struct mem_range usable[MB2_MAX_MMAP];
static unsigned usable_count;

void guest_memory_init(const struct mb2_info *mb)
{
    usable_count = 0;
    for (size_t i = 0; i < mb->mmap_count; i++)
        if (mb->mmap[i].type == MB2_MMAP_AVAILABLE)
            usable[usable_count++] = (struct mem_range){mb->mmap[i].base, mb->mmap[i].base + mb->mmap[i].length};
}

/* On the shadow MMU's hot path (every guest page-table read): remember the range that matched last. */
bool guest_ram_contains(uint64_t gpa, uint64_t size)
{
    static unsigned last;
    uint64_t end = gpa + size;
    if (end < gpa || pmem_overlaps_hv(gpa, end))
        return false;
    if (last < usable_count && gpa >= usable[last].start && end <= usable[last].end)
        return true;
    for (unsigned i = 0; i < usable_count; i++)
        if (gpa >= usable[i].start && end <= usable[i].end) {
            last = i;
            return true;
        }
    return false;
}

uint64_t guest_ram_end(void)
{
    uint64_t end = 0;
    for (unsigned i = 0; i < usable_count; i++)
        if (usable[i].end > end)
            end = usable[i].end;
    return end;
}
