#include "isolation/shared_code.h"

#include "hv/errno.h"
#include "hv/lib.h"
#include "isolation/domain.h"

#define PAGE 4096ull

static uint64_t pages[SHARED_CODE_PAGES_MAX]; /* page addresses, dense */
static unsigned nr_pages;

bool shared_code_contains(uint64_t linear)
{
    uint64_t page = ALIGN_DOWN(linear, PAGE);
    for (unsigned i = 0; i < nr_pages; i++)
        if (pages[i] == page)
            return true;
    return false;
}

bool shared_code_overlaps(uint64_t start, uint64_t end)
{
    for (unsigned i = 0; i < nr_pages; i++)
        if (pages[i] < end && start < pages[i] + PAGE)
            return true;
    return false;
}

long shared_code_add(uint64_t start, uint64_t end, bool (*must_switch)(void *ctx, uint64_t page), void *ctx)
{
    if (start < KERNEL_HALF_START || end <= start)
        return -HV_EINVAL;
    uint64_t first = ALIGN_DOWN(start, PAGE), last = ALIGN_DOWN(end - 1, PAGE);
    if ((last - first) / PAGE >= SHARED_FUNCTION_MAX_PAGES)
        return -HV_EINVAL;
    unsigned fresh = 0;
    for (uint64_t page = first; page <= last; page += PAGE) {
        if (must_switch(ctx, page))
            return -HV_EPERM;
        fresh += !shared_code_contains(page);
    }
    if (nr_pages + fresh > SHARED_CODE_PAGES_MAX)
        return -HV_ENOMEM;
    for (uint64_t page = first; page <= last; page += PAGE)
        if (!shared_code_contains(page))
            pages[nr_pages++] = page;
    return HV_OK;
}

bool shared_code_remove(uint64_t linear)
{
    uint64_t page = ALIGN_DOWN(linear, PAGE);
    for (unsigned i = 0; i < nr_pages; i++) {
        if (pages[i] == page) {
            pages[i] = pages[--nr_pages];
            return true;
        }
    }
    return false;
}

unsigned shared_code_pages(void) { return nr_pages; }
