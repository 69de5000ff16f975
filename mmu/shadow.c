#include "mmu/shadow.h"

#include "hv/errno.h"
#include "hv/lib.h"

#define SHADOW_PAGE_SIZE 4096ull
#define LARGE_PAGE_SIZE (2ull << 20)
/* Intermediate shadow entries grant everything; the leaf carries the guest's combined rights. */
#define SHADOW_TABLE_FLAGS (PTE_PRESENT | PTE_WRITABLE | PTE_USER)
/* In a shadow PDE or PDPTE (a bit the CPU ignores): the tables below hold translations of a large guest page
 * (2 MiB, or 1 GiB for a PDPTE), which INVLPG of any address inside must drop together. */
#define SHADOW_FROM_LARGE_PAGE (1ull << 9)
#define PTE_GLOBAL (1ull << 8)

static void *alloc_table(struct shadow_mmu *s)
{
	void *page = s->ops.alloc_page(s->ops.opaque);
	if (page)
		s->stats.pages_in_use++;
	return page;
}

static void free_table(struct shadow_mmu *s, uint64_t *table, unsigned level)
{
	if (level > PT_LEVEL_PTE)
		for (unsigned i = 0; i < SHADOW_ENTRIES; i++)
			if (table[i] & PTE_PRESENT)
				free_table(s, shadow_table_at(table[i]), level - 1);
	s->ops.free_page(s->ops.opaque, table);
	s->stats.pages_in_use--;
}

int shadow_init(struct shadow_mmu *s, const struct shadow_ops *ops)
{
	memset(s, 0, sizeof(*s));
	s->ops = *ops;
	s->root = alloc_table(s);
	s->sink = s->ops.alloc_page(s->ops.opaque);
	if (s->root && s->sink)
		return HV_OK;
	if (s->root)
		free_table(s, s->root, PT_LEVEL_PTE);
	if (s->sink)
		s->ops.free_page(s->ops.opaque, s->sink);
	s->root = s->sink = NULL;
	return -HV_ENOMEM;
}

uint64_t shadow_root_pa(const struct shadow_mmu *s)
{
	return (uint64_t)(uintptr_t)s->root;
}

static void drop_root_entry(struct shadow_mmu *s, unsigned i)
{
	free_table(s, shadow_table_at(s->root[i]), PT_LEVEL_PDPTE);
	s->root[i] = 0;
}

static void drop_root_entries(struct shadow_mmu *s)
{
	for (unsigned i = 0; i < SHADOW_ENTRIES; i++)
		if (s->root[i] & PTE_PRESENT)
			drop_root_entry(s, i);
	memset(s->nonglobal_roots, 0, sizeof(s->nonglobal_roots));
}

void shadow_destroy(struct shadow_mmu *s)
{
	drop_root_entries(s);
	free_table(s, s->root, PT_LEVEL_PTE);
	s->ops.free_page(s->ops.opaque, s->sink);
	s->root = s->sink = NULL;
}

void shadow_flush(struct shadow_mmu *s)
{
	drop_root_entries(s);
	s->stats.flushes++;
}

void shadow_flush_nonglobal(struct shadow_mmu *s)
{
	for (unsigned word = 0; word < ARRAY_SIZE(s->nonglobal_roots); word++) {
		for (uint64_t bits = s->nonglobal_roots[word]; bits; bits &= bits - 1) {
			unsigned i = word * 64 + (unsigned)__builtin_ctzll(bits);
			if (s->root[i] & PTE_PRESENT)
				drop_root_entry(s, i);
		}
		s->nonglobal_roots[word] = 0;
	}
	s->stats.nonglobal_flushes++;
}

/* Global translations survive CR3 loads only where the guest has CR4.PGE set (as in a TLB): a root entry with a
 * translation below it that is not global is noted, for the next CR3 load to drop. */
static bool is_global(const struct shadow_mmu *s, uint64_t guest_leaf)
{
	return s->global_pages && (guest_leaf & PTE_GLOBAL);
}

static void note_nonglobal(struct shadow_mmu *s, uint64_t linear)
{
	bitmap_set(s->nonglobal_roots, shadow_index(linear, PT_LEVEL_PML4E));
}

/* The shadow PDE covering `linear`, with the tables above it created if `create`; NULL if absent or no memory. */
static uint64_t *shadow_pde(struct shadow_mmu *s, uint64_t linear, bool create)
{
	uint64_t *table = s->root;
	for (unsigned level = PT_LEVEL_PML4E; level > PT_LEVEL_PDE; level--) {
		uint64_t *entry = &table[shadow_index(linear, level)];
		if (!(*entry & PTE_PRESENT)) {
			if (!create)
				return NULL;
			uint64_t *next = alloc_table(s);
			if (!next)
				return NULL;
			*entry = (uint64_t)(uintptr_t)next | SHADOW_TABLE_FLAGS;
		}
		table = shadow_table_at(*entry);
	}
	return &table[shadow_index(linear, PT_LEVEL_PDE)];
}

/* The shadow PDPTE covering `linear` (it exists once shadow_pde() has run for the address). */
static uint64_t *shadow_pdpte(struct shadow_mmu *s, uint64_t linear)
{
	uint64_t pml4e = s->root[shadow_index(linear, PT_LEVEL_PML4E)];
	return &shadow_table_at(pml4e)[shadow_index(linear, PT_LEVEL_PDPTE)];
}

/* The shadow page table (level 1) covering `linear`, created if absent; NULL when out of memory. `guest_level` is
 * the level of the guest leaf it will shadow. */
static uint64_t *leaf_table(struct shadow_mmu *s, uint64_t linear, unsigned guest_level)
{
	uint64_t *pde = shadow_pde(s, linear, true);
	if (!pde)
		return NULL;
	if (!(*pde & PTE_PRESENT)) {
		uint64_t *table = alloc_table(s);
		if (!table)
			return NULL;
		*pde = (uint64_t)(uintptr_t)table | SHADOW_TABLE_FLAGS;
	}
	if (guest_level >= PT_LEVEL_PDE)
		*pde |= SHADOW_FROM_LARGE_PAGE;
	if (guest_level == PT_LEVEL_PDPTE)
		*shadow_pdpte(s, linear) |= SHADOW_FROM_LARGE_PAGE;
	return shadow_table_at(*pde);
}

void shadow_forget_page(struct shadow_mmu *s, uint64_t linear)
{
	uint64_t *leaf = shadow_leaf_slot(s, linear);
	if (leaf)
		*leaf = 0;
}

void shadow_set_writable(struct shadow_mmu *s, uint64_t linear, bool writable)
{
	uint64_t *leaf = shadow_leaf_slot(s, linear);
	if (!leaf)
		return;
	if (writable && (*leaf & SHADOW_LEAF_WRITE_DENIED))
		*leaf = (*leaf & ~SHADOW_LEAF_WRITE_DENIED) | PTE_WRITABLE;
	else if (!writable && (*leaf & PTE_WRITABLE))
		*leaf = (*leaf & ~(uint64_t)PTE_WRITABLE) | SHADOW_LEAF_WRITE_DENIED;
}

void shadow_invalidate(struct shadow_mmu *s, uint64_t linear)
{
	s->stats.invalidations++;
	uint64_t *pde = shadow_pde(s, linear, false);
	if (!pde)
		return;
	uint64_t *pdpte = shadow_pdpte(s, linear);
	if (*pdpte & SHADOW_FROM_LARGE_PAGE) {
		free_table(s, shadow_table_at(*pdpte), PT_LEVEL_PDE);
		*pdpte = 0;
		return;
	}
	if (!(*pde & PTE_PRESENT))
		return;
	if (*pde & SHADOW_FROM_LARGE_PAGE) {
		free_table(s, shadow_table_at(*pde), PT_LEVEL_PTE);
		*pde = 0;
	} else {
		shadow_table_at(*pde)[shadow_index(linear, PT_LEVEL_PTE)] = 0;
	}
}

/* A leaf for `gpa`, or for the sink page when `gpa` is the hypervisor's (then *forbidden is set). */
static uint64_t make_leaf(struct shadow_mmu *s, uint64_t gpa, const struct shadow_rights *r, bool *forbidden)
{
	if (s->ops.gpa_forbidden(s->ops.opaque, gpa, SHADOW_PAGE_SIZE)) {
		*forbidden = true;
		gpa = (uint64_t)(uintptr_t)s->sink;
	}
	uint64_t leaf = gpa | PTE_PRESENT;
	if (r->writable)
		leaf |= PTE_WRITABLE;
	if (r->user)
		leaf |= PTE_USER;
	if (r->no_execute)
		leaf |= PTE_NX;
	if (r->pat_index & 1)
		leaf |= PTE_PWT;
	if (r->pat_index & 2)
		leaf |= PTE_PCD;
	if (r->pat_index & 4)
		leaf |= PTE_PAT_4K;
	return leaf;
}


/* Without EFER.NXE the NX bit is reserved: a view cannot use it then. */
static void restrict_page(const struct shadow_mmu *s, const struct pt_walk_ctx *ctx, uint64_t linear,
			  struct shadow_rights *r)
{
	if (!s->policy.restrict_rights)
		return;
	s->policy.restrict_rights(s->policy.opaque, linear & ~(SHADOW_PAGE_SIZE - 1), r);
	r->no_execute = r->no_execute && ctx->efer_nxe;
}

static int fill_once(struct shadow_mmu *s, const struct pt_walk_ctx *ctx, uint64_t linear, unsigned access,
		     struct pt_walk_result *walk)
{
	int ret = pt_walk(ctx, linear, access, walk);
	if (ret < 0)
		return ret;
	if (ret == PT_WALK_FAULT) {
		s->stats.guest_faults++;
		return SHADOW_GUEST_FAULT;
	}

	uint64_t *leaves = leaf_table(s, linear, walk->level);
	if (!leaves)
		return -HV_ENOMEM;

	bool dirty = walk->pte[walk->level] & PTE_DIRTY;
	struct shadow_rights r = {
		.writable = walk->writable && dirty,
		.user = walk->user,
		.no_execute = ctx->efer_nxe && !walk->executable,
		.pat_index = walk->pat_index,
	};
	/* CR0.WP=0 lets the supervisor write read-only pages: grant it for this supervisor write only, keeping user
	 * code out of the page until its next fault recomputes the rights. Turning a user page into a supervisor one
	 * would let SMEP allow a fetch the guest forbids: NX prevents that where EFER.NXE exists. Known imprecision:
	 * under SMAP such a page stays readable by the supervisor with RFLAGS.AC=0 until its next fault (Linux never
	 * runs with WP=0). */
	if (!walk->writable && !ctx->cr0_wp && (access & PT_ACCESS_WRITE) && !(access & PT_ACCESS_USER)) {
		r.writable = true;
		if (walk->user) {
			r.user = false;
			r.no_execute = r.no_execute || (ctx->efer_nxe && ctx->cr4_smep);
		}
	}

	bool forbidden = false;
	bool nonglobal = !is_global(s, walk->pte[walk->level]);
	struct shadow_rights page = r; /* the faulting page's rights after the view's policy */
	restrict_page(s, ctx, linear, &page);
	uint64_t write_denied = r.writable && !page.writable ? SHADOW_LEAF_WRITE_DENIED : 0;
	if (walk->level == PT_LEVEL_PTE) {
		leaves[shadow_index(linear, PT_LEVEL_PTE)] = make_leaf(s, walk->page_base, &page, &forbidden) | write_denied;
	} else if (s->policy.restrict_rights &&
		   !(s->policy.uniform && s->policy.uniform(s->policy.opaque, linear & ~(LARGE_PAGE_SIZE - 1),
							   LARGE_PAGE_SIZE))) {
		/* A large guest page the view treats page by page: only the page touched (a driver view touches few of
		 * the kernel's pages). */
		leaves[shadow_index(linear, PT_LEVEL_PTE)] =
			make_leaf(s, walk->gpa & ~(SHADOW_PAGE_SIZE - 1), &page, &forbidden) | write_denied;
	} else {
		/* A large guest page: shadow the whole 2 MiB around the access with the same rights. */
		uint64_t base = walk->gpa & ~(LARGE_PAGE_SIZE - 1);
		unsigned faulting = shadow_index(linear, PT_LEVEL_PTE);
		if (!s->ops.gpa_forbidden(s->ops.opaque, base, LARGE_PAGE_SIZE)) {
			uint64_t first = make_leaf(s, base, &page, &forbidden) | write_denied;
			for (unsigned i = 0; i < SHADOW_ENTRIES; i++)
				leaves[i] = first + i * SHADOW_PAGE_SIZE;
		} else {
			for (unsigned i = 0; i < SHADOW_ENTRIES; i++) {
				uint64_t gpa = base + i * SHADOW_PAGE_SIZE;
				if (i == faulting || !s->ops.gpa_forbidden(s->ops.opaque, gpa, SHADOW_PAGE_SIZE))
					leaves[i] = make_leaf(s, gpa, &page, &forbidden) | write_denied;
				else
					leaves[i] = 0; /* left to fault, so that touching it is seen and logged */
			}
		}
	}
	if (nonglobal)
		note_nonglobal(s, linear);
	s->stats.fills++;
	if ((access & PT_ACCESS_WRITE) && r.writable && !page.writable)
		return SHADOW_DENIED_WRITE;
	if ((access & PT_ACCESS_FETCH) && !r.no_execute && page.no_execute)
		return SHADOW_DENIED_FETCH;
	if (forbidden) {
		s->stats.forbidden++;
		return SHADOW_FILLED_FORBIDDEN;
	}
	return SHADOW_FILLED;
}

int shadow_fill(struct shadow_mmu *s, const struct pt_walk_ctx *ctx, uint64_t linear, unsigned access,
		struct pt_walk_result *walk)
{
	if ((access & PT_ACCESS_WRITE) && !(access & PT_ACCESS_USER) && pt_canonical(linear) &&
	    (shadow_leaf(s, linear) & SHADOW_LEAF_WRITE_DENIED))
		return SHADOW_DENIED_WRITE;
	int ret = fill_once(s, ctx, linear, access, walk);
	if (ret == -HV_ENOMEM) {
		/* Out of shadow pages: start over; one translation needs at most three tables. */
		s->stats.out_of_memory++;
		shadow_flush(s);
		ret = fill_once(s, ctx, linear, access, walk);
	}
	return ret;
}
