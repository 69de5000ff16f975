#include "isolation/open_pages.h"

#include "hv/lib.h"

/* Where `page` is in the list; o->count when it is not open. */
static unsigned position(const struct open_pages *o, uint64_t page)
{
    unsigned i = 0;
    while (i < o->count && o->page[i] != page)
        i++;
    return i;
}

bool open_pages_note(struct open_pages *o, uint64_t page, uint64_t *closed)
{
    if (!o->limit)
        return false;
    unsigned i = position(o, page);
    if (i < o->count) { /* again: the most recent now */
        memmove(&o->page[i], &o->page[i + 1], (o->count - i - 1) * sizeof(o->page[0]));
        o->page[o->count - 1] = page;
        return false;
    }
    bool full = o->count == o->limit;
    if (full) {
        *closed = o->page[0];
        memmove(&o->page[0], &o->page[1], (o->count - 1) * sizeof(o->page[0]));
        o->count--;
    }
    o->page[o->count++] = page;
    return full;
}

bool open_pages_contains(const struct open_pages *o, uint64_t page)
{
    return position(o, page) < o->count;
}

bool open_pages_pop(struct open_pages *o, uint64_t *page)
{
    if (!o->count)
        return false;
    *page = o->page[--o->count];
    return true;
}
