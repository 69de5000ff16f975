/* Guest page-table walker for x86-64 4-level paging. One pass mirrors the CPU: each level is checked for presence
 * and reserved bits in walk order, access rights are combined across levels and checked once at the leaf (SDM vol. 3A
 * 4.6), and only a successful walk sets accessed/dirty bits, as KVM does: a faulting access leaves guest memory
 * untouched and the guest simply walks again after handling the #PF. */
#include "mmu/pt_walk.h"

#include "hv/errno.h"
#include "hv/lib.h"

#define PT_ENTRIES_SHIFT 9
#define PT_PAGE_SHIFT    12
#define PT_ACCESS_ALL    (PT_ACCESS_WRITE | PT_ACCESS_USER | PT_ACCESS_FETCH | PT_ACCESS_IMPLICIT_SUPERVISOR)

/* Internal to the walk loop: an accessed/dirty update lost a race, walk again. */
#define WALK_RETRY       (PT_WALK_FAULT + 1)

static uint64_t bit_range(unsigned high, unsigned low)
{
	return (~0ull >> (63 - high)) & (~0ull << low);
}

static unsigned level_shift(unsigned level)
{
	return PT_PAGE_SHIFT + PT_ENTRIES_SHIFT * (level - 1);
}

static uint64_t table_index(uint64_t linear, unsigned level)
{
	return (linear >> level_shift(level)) & ((1u << PT_ENTRIES_SHIFT) - 1);
}

bool pt_canonical(uint64_t linear)
{
	uint64_t upper = linear >> 47;

	return upper == 0 || upper == (1ull << 17) - 1;
}

static uint64_t phys_addr_mask(const struct pt_walk_ctx *ctx)
{
	return bit_range(ctx->maxphyaddr - 1, PT_PAGE_SHIFT);
}

static bool is_leaf(unsigned level, uint64_t pte)
{
	return level == PT_LEVEL_PTE || (level <= PT_LEVEL_PDPTE && (pte & PTE_LARGE));
}

/* Reserved bits of a present entry (SDM vol. 3A tables 4-14 to 4-20). Bits 62:52 are ignored: CR4.PKE is 0. */
static uint64_t reserved_bits(const struct pt_walk_ctx *ctx, unsigned level, uint64_t pte)
{
	uint64_t rsvd = bit_range(51, ctx->maxphyaddr);

	if (!ctx->efer_nxe)
		rsvd |= PTE_NX;
	if (level == PT_LEVEL_PML4E)
		rsvd |= PTE_LARGE;
	else if (level == PT_LEVEL_PDPTE && (pte & PTE_LARGE))
		rsvd |= ctx->gbpages ? bit_range(29, 13) : PTE_LARGE;
	else if (level == PT_LEVEL_PDE && (pte & PTE_LARGE))
		rsvd |= bit_range(20, 13);
	return pte & rsvd;
}

/* SDM vol. 3A 4.6.1, for the rights combined over all levels. */
static bool access_allowed(const struct pt_walk_ctx *ctx, unsigned access, const struct pt_walk_result *res)
{
	bool write = access & PT_ACCESS_WRITE;

	if (access & PT_ACCESS_FETCH) {
		if (!res->executable)
			return false;
		if (access & PT_ACCESS_USER)
			return res->user;
		return !(res->user && ctx->cr4_smep);
	}
	if (access & PT_ACCESS_USER)
		return res->user && (res->writable || !write);
	if (res->user && ctx->cr4_smap && (!ctx->rflags_ac || (access & PT_ACCESS_IMPLICIT_SUPERVISOR)))
		return false;
	return res->writable || !write || !ctx->cr0_wp;
}

/* The error code the CPU pushes: `cause` is 0 (not present), P|RSVD or P (protection), plus the access type. */
static int page_fault(const struct pt_walk_ctx *ctx, unsigned access, unsigned level, uint32_t cause,
		      struct pt_walk_result *res)
{
	uint32_t error_code = cause;

	if (access & PT_ACCESS_WRITE)
		error_code |= PF_ERR_WRITE;
	if (access & PT_ACCESS_USER)
		error_code |= PF_ERR_USER;
	/* The I/D bit is reported only when execute rights can exist at all (SDM vol. 3A 4.7). */
	if ((access & PT_ACCESS_FETCH) && (ctx->efer_nxe || ctx->cr4_smep))
		error_code |= PF_ERR_FETCH;
	res->error_code = error_code;
	res->fault_level = level;
	return PT_WALK_FAULT;
}

/* Accessed on every entry used, dirty on the leaf for writes, top-down like the CPU. */
static int set_accessed_dirty(const struct pt_walk_ctx *ctx, unsigned access, struct pt_walk_result *res)
{
	for (unsigned level = PT_LEVEL_PML4E; level >= res->level; level--) {
		uint64_t old = res->pte[level];
		uint64_t new_val = old | PTE_ACCESSED;
		int ret;

		if (level == res->level && (access & PT_ACCESS_WRITE))
			new_val |= PTE_DIRTY;
		if (new_val == old)
			continue;
		ret = ctx->mem->cmpxchg_pte(ctx->opaque, res->pte_gpa[level], old, new_val);
		if (ret > 0)
			return WALK_RETRY;
		if (ret < 0)
			return ret;
		res->pte[level] = new_val;
	}
	return PT_WALK_OK;
}

static unsigned leaf_pat_index(unsigned level, uint64_t pte)
{
	uint64_t pat_bit = level == PT_LEVEL_PTE ? PTE_PAT_4K : PTE_PAT_LARGE;

	return (pte & pat_bit ? 4u : 0u) | (pte & PTE_PCD ? 2u : 0u) | (pte & PTE_PWT ? 1u : 0u);
}

static int walk_once(const struct pt_walk_ctx *ctx, uint64_t linear, unsigned access, struct pt_walk_result *res)
{
	uint64_t addr_mask = phys_addr_mask(ctx);
	uint64_t table = ctx->cr3 & addr_mask;
	unsigned level = PT_LEVEL_PML4E;
	uint64_t pte;

	memset(res, 0, sizeof(*res));
	res->writable = true;
	res->user = true;
	res->executable = true;
	for (;;) {
		uint64_t pte_gpa = table + table_index(linear, level) * sizeof(uint64_t);
		int ret = ctx->mem->read_pte(ctx->opaque, pte_gpa, &pte);

		if (ret)
			return ret;
		res->pte_gpa[level] = pte_gpa;
		res->pte[level] = pte;
		if (!(pte & PTE_PRESENT))
			return page_fault(ctx, access, level, 0, res);
		if (reserved_bits(ctx, level, pte))
			return page_fault(ctx, access, level, PF_ERR_PRESENT | PF_ERR_RSVD, res);
		res->writable &= !!(pte & PTE_WRITABLE);
		res->user &= !!(pte & PTE_USER);
		/* With EFER.NXE=0 a set XD bit is reserved and faulted above. */
		res->executable &= !(pte & PTE_NX);
		if (is_leaf(level, pte))
			break;
		table = pte & addr_mask;
		level--;
	}

	res->level = level;
	res->page_size = 1ull << level_shift(level);
	res->page_base = pte & addr_mask & ~(res->page_size - 1);
	res->gpa = res->page_base | (linear & (res->page_size - 1));
	res->pat_index = leaf_pat_index(level, pte);
	if (!access_allowed(ctx, access, res))
		return page_fault(ctx, access, level, PF_ERR_PRESENT, res);
	return set_accessed_dirty(ctx, access, res);
}

int pt_walk(const struct pt_walk_ctx *ctx, uint64_t linear, unsigned access, struct pt_walk_result *res)
{
	int ret;

	if ((access & ~PT_ACCESS_ALL) || ctx->maxphyaddr < 36 || ctx->maxphyaddr > 52)
		return -HV_EINVAL;
	if ((access & PT_ACCESS_FETCH) && (access & (PT_ACCESS_WRITE | PT_ACCESS_IMPLICIT_SUPERVISOR)))
		return -HV_EINVAL;
	if ((access & PT_ACCESS_USER) && (access & PT_ACCESS_IMPLICIT_SUPERVISOR))
		return -HV_EINVAL;
	if (!pt_canonical(linear))
		return -HV_ERANGE;
	do
		ret = walk_once(ctx, linear, access, res);
	while (ret == WALK_RETRY);
	return ret;
}
