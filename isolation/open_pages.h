/*
 * The pages a driver's legal writes left writable in its view (the Chariot papers' shadow page cache): a driver
 * writes the same few partly authorized pages over and over (its skbs' slab pages, its small ring structs), and
 * each trapped write costs an exit and an emulation. With a cache of N pages, a page the driver wrote legally stays
 * writable in its view until N other pages came after it, or until a violation closes them all; meanwhile a write
 * anywhere on that page, legal or not, goes unchecked (an object on it freed, its interval gone, included: the
 * driver's skbs come and go on the pages it keeps writing). A trade of precision for speed, off unless asked for.
 * This is the bookkeeping, least recently written first. Pure.
 */
#ifndef ISOLATION_OPEN_PAGES_H
#define ISOLATION_OPEN_PAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/hypercall_abi.h"

#define OPEN_PAGES_MAX CHARIOT_OPEN_PAGES_MAX

struct open_pages {
    uint64_t page[OPEN_PAGES_MAX]; /* least recently written first */
    unsigned count, limit;         /* limit: 0 (none kept open) to OPEN_PAGES_MAX */
};

/* Page `page` (aligned) was written legally: it becomes the most recent. True when that pushed the least recent
 * out (*closed: it must be protected again). Nothing is kept with limit 0. */
bool open_pages_note(struct open_pages *o, uint64_t page, uint64_t *closed);
/* Whether page `page` (aligned) is open. */
bool open_pages_contains(const struct open_pages *o, uint64_t page);
/* Takes the pages out one by one (to protect them again): false once none is left. */
bool open_pages_pop(struct open_pages *o, uint64_t *page);

#endif
