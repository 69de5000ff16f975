#include "isolation/open_pages.h"

#include "hv/lib.h"

bool open_pages_note(struct open_pages *o, uint64_t page, uint64_t *closed)
{
    if (!o->limit)
        return false;
    for (unsigned i = 0; i < o->count; i++) {
        if (o->page[i] == page) { /* again: the most recent now */
            memmove(&o->page[i], &o->page[i + 1], (o->count - i - 1) * sizeof(o->page[0]));
            o->page[o->count - 1] = page;
            return false;
        }
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
    for (unsigned i = 0; i < o->count; i++)
        if (o->page[i] == page)
            return true;
    return false;
}

bool open_pages_pop(struct open_pages *o, uint64_t *page)
{
    if (!o->count)
        return false;
    *page = o->page[--o->count];
    return true;
}
