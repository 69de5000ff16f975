#include "hv/guest_memory.h"

#include "hv/errno.h"
#include "hv/lib.h"
#include "hv/pmem.h"

static struct e820_entry map[E820_MAX_ENTRIES];
static int map_count;
static struct mem_range ram[E820_MAX_ENTRIES]; /* the map's RAM entries */
static unsigned ram_count;

int guest_memory_init(const struct mb2_info *mb)
{
    const struct mem_range holes[] = {pmem_image(), pmem_pool()};
    map_count = e820_build(mb->mmap, mb->mmap_count, holes, ARRAY_SIZE(holes), map, E820_MAX_ENTRIES);
    if (map_count < 0)
        return map_count;
    ram_count = 0;
    for (int i = 0; i < map_count; i++)
        if (map[i].type == E820_RAM)
            ram[ram_count++] = (struct mem_range){map[i].addr, map[i].addr + map[i].size};
    return HV_OK;
}

/* On the shadow MMU's hot path (every guest page-table read): the hypervisor's memory is already out of these
 * ranges, and the one that matched last is tried first. */
bool guest_ram_contains(uint64_t gpa, uint64_t size)
{
    static unsigned last;
    uint64_t end = gpa + size;
    if (end < gpa)
        return false;
    if (last < ram_count && gpa >= ram[last].start && end <= ram[last].end)
        return true;
    for (unsigned i = 0; i < ram_count; i++)
        if (gpa >= ram[i].start && end <= ram[i].end) {
            last = i;
            return true;
        }
    return false;
}

const struct e820_entry *guest_memory_map(int *count)
{
    *count = map_count;
    return map;
}
