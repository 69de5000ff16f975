/*
 * Shadow page tables, managed as a virtual TLB.
 *
 * The CPU translates guest linear addresses through tables the hypervisor owns. They are filled on demand from the
 * guest's own tables (walked by mmu/pt_walk.c) when the guest faults, and emptied exactly where the architecture
 * lets a TLB keep stale translations: on MOV to CR3, INVLPG and paging-mode changes. So the guest's page-table
 * writes need no interception, and the guest's accessed/dirty bits are kept exact: a translation is installed
 * writable only once the guest's leaf is dirty.
 *
 * One translation is installed per fault: prefetching neighbours from the same guest table (as KVM does) was
 * measured slower here for every window from 4 to 512 entries, since most are gone at the next CR3 load before use.
 *
 * Leaves are always 4 KiB (a guest 2 MiB or 1 GiB page is shadowed by one 4 KiB table per 2 MiB touched), so later
 * per-page write protection of the guest kernel needs no splitting; under a view, 2 MiB the policy treats alike are
 * still shadowed at once, the rest page by page. Guest-physical equals host-physical; a guest
 * translation to hypervisor memory is backed by a blank "sink" page instead.
 *
 * Pure: memory comes from callbacks, so the unit tests run it over fake guest RAM.
 */
#ifndef MMU_SHADOW_H
#define MMU_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/pt_walk.h"

/* The page address in a shadow entry. */
#define SHADOW_ADDR_MASK 0x000ffffffffff000ull
#define SHADOW_ENTRIES 512
/* In a shadow leaf (a bit the CPU ignores): the guest allows writing the page, the view's policy does not. */
#define SHADOW_LEAF_WRITE_DENIED (1ull << 10)

struct shadow_ops {
	/* A zeroed 4 KiB page whose address is also its physical address, or NULL when none is left. */
	void *(*alloc_page)(void *opaque);
	void (*free_page)(void *opaque, void *page);
	/* Whether [gpa, gpa + size) touches memory the guest must never reach (the hypervisor's own). */
	bool (*gpa_forbidden)(void *opaque, uint64_t gpa, uint64_t size);
	void *opaque;
};

/* The rights a shadow leaf grants. */
struct shadow_rights {
	bool writable, user, no_execute;
	unsigned pat_index;
};

/* A protection view: narrows (never widens) the rights of each 4 KiB page the guest's own tables allow. */
struct shadow_policy {
	void (*restrict_rights)(void *opaque, uint64_t linear, struct shadow_rights *r);
	/* Whether restrict_rights treats every page of [start, start + len) alike: a large guest page there is then
	 * shadowed whole at its first fault instead of page by page (NULL: never). */
	bool (*uniform)(void *opaque, uint64_t start, uint64_t len);
	void *opaque;
};

struct shadow_stats {
	uint64_t fills;            /* faults resolved by installing a translation */
	uint64_t guest_faults;     /* faults the guest's own tables do not allow: reflected */
	uint64_t flushes;          /* whole shadow emptied */
	uint64_t nonglobal_flushes; /* CR3 loads: everything but global translations dropped */
	uint64_t invalidations;    /* INVLPG */
	uint64_t forbidden;        /* guest translations to hypervisor memory, backed by the sink page */
	uint64_t out_of_memory;    /* fills that had to empty the shadow first */
	uint64_t pages_in_use;     /* shadow tables, root included */
};

struct shadow_mmu {
	uint64_t *root;            /* the PML4 the CPU uses: its address goes into the VMCS guest CR3 */
	void *sink;                /* stands in for hypervisor memory */
	struct shadow_ops ops;
	struct shadow_policy policy; /* restrict_rights NULL: the guest's rights as they are */
	struct shadow_stats stats;
	bool global_pages;         /* the guest's CR4.PGE: its global translations survive CR3 loads */
	/* The root entries marked as holding non-global translations, a bit each: a CR3 load visits only those (a
	 * driver view usually has none; scanning 512 entries of every view at each context switch is not free). */
	uint64_t nonglobal_roots[512 / 64];
};

enum shadow_fill_result {
	SHADOW_FILLED = 0,         /* resume: the access will now succeed */
	SHADOW_FILLED_FORBIDDEN,   /* resumed on the sink page: the guest translated to hypervisor memory */
	SHADOW_GUEST_FAULT,        /* inject #PF with walk->error_code */
	SHADOW_DENIED_WRITE,       /* the guest allows this write, the view's policy does not (leaf installed) */
	SHADOW_DENIED_FETCH,       /* the guest allows this fetch, the view's policy does not (leaf installed) */
};

/* Returns HV_OK or -HV_ENOMEM. */
int shadow_init(struct shadow_mmu *s, const struct shadow_ops *ops);
uint64_t shadow_root_pa(const struct shadow_mmu *s);

/*
 * Resolves a #PF the guest took at `linear` for an access of PT_ACCESS_* flags (from the hardware error code).
 * Returns an enum shadow_fill_result, -HV_ERANGE for a non-canonical address, or another negative HV_E* when the
 * guest's tables cannot be read (e.g. they lie in hypervisor memory). `walk` receives the guest translation, except
 * for a supervisor write to a page installed as SHADOW_LEAF_WRITE_DENIED: that is SHADOW_DENIED_WRITE again at once
 * (as a TLB would, the installed leaf answers; a driver's writes to its objects' pages trap again and again).
 */
int shadow_fill(struct shadow_mmu *s, const struct pt_walk_ctx *ctx, uint64_t linear, unsigned access,
		struct pt_walk_result *walk);

/* Frees every page the shadow holds, root and sink included. */
void shadow_destroy(struct shadow_mmu *s);
/* Empties the shadow (CR0/CR4/EFER paging changes, and whenever in doubt). */
void shadow_flush(struct shadow_mmu *s);
/* MOV to CR3: drops every translation except those from global guest pages (exactly what a TLB may keep). */
void shadow_flush_nonglobal(struct shadow_mmu *s);
/* The slot of the leaf translating the canonical address `linear` (its 4 KiB page), or NULL where no shadow table
 * covers it: a lookup only, never creating a table. Inline: the hypervisor translates through it at every driver
 * write it emulates and every call into or out of a driver, where a call's own cost is a fair part of the walk's. */
static inline unsigned shadow_index(uint64_t linear, unsigned level)
{
	return (linear >> (12 + 9 * (level - 1))) & (SHADOW_ENTRIES - 1);
}

static inline uint64_t *shadow_table_at(uint64_t entry)
{
	return (uint64_t *)(uintptr_t)(entry & SHADOW_ADDR_MASK);
}

static inline uint64_t *shadow_leaf_slot(const struct shadow_mmu *s, uint64_t linear)
{
	uint64_t *table = s->root;
	for (unsigned level = PT_LEVEL_PML4E; level > PT_LEVEL_PTE; level--) {
		uint64_t entry = table[shadow_index(linear, level)];
		if (!(entry & PTE_PRESENT))
			return NULL;
		table = shadow_table_at(entry);
	}
	return &table[shadow_index(linear, PT_LEVEL_PTE)];
}

/* The leaf translating the canonical address `linear`, or 0 when none is installed. */
static inline uint64_t shadow_leaf(const struct shadow_mmu *s, uint64_t linear)
{
	const uint64_t *leaf = shadow_leaf_slot(s, linear);
	return leaf ? *leaf : 0;
}
/* The view's policy changed for the 4 KiB page at `linear`: forget its translation only. */
void shadow_forget_page(struct shadow_mmu *s, uint64_t linear);
/* The view's policy now grants (or refuses) writes to the 4 KiB page at `linear`, nothing else changed: its leaf,
 * if installed, changes in place where the guest lets the page be written (a leaf without the guest's dirty bit
 * stays read-only: its first write still faults to set it), so the next access needs no fill. */
void shadow_set_writable(struct shadow_mmu *s, uint64_t linear, bool writable);
/* INVLPG: forgets the translation of `linear` (all of a large guest page's 2 MiB when it came from one). */
void shadow_invalidate(struct shadow_mmu *s, uint64_t linear);

#endif
