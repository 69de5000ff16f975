/* Guest page-table walker: translates a guest linear address through the guest's own x86-64 4-level paging
 * structures exactly as the CPU would (SDM vol. 3A 4.5-4.8), for the shadow MMU and the instruction emulator. */
#ifndef MMU_PT_WALK_H
#define MMU_PT_WALK_H

#include <stdbool.h>
#include <stdint.h>

/* Paging-structure entry bits (SDM vol. 3A tables 4-14 to 4-20). */
#define PTE_PRESENT    (1ull << 0)
#define PTE_WRITABLE   (1ull << 1)
#define PTE_USER       (1ull << 2)
#define PTE_PWT        (1ull << 3)
#define PTE_PCD        (1ull << 4)
#define PTE_ACCESSED   (1ull << 5)
#define PTE_DIRTY      (1ull << 6)   /* leaf entries only */
#define PTE_LARGE      (1ull << 7)   /* PS in a PDPTE or PDE */
#define PTE_PAT_4K     (1ull << 7)   /* PAT in a 4 KiB PTE */
#define PTE_PAT_LARGE  (1ull << 12)  /* PAT in a 2 MiB PDE or 1 GiB PDPTE */
#define PTE_NX         (1ull << 63)

/* #PF error code bits (SDM vol. 3A 4.7). */
#define PF_ERR_PRESENT (1u << 0)
#define PF_ERR_WRITE   (1u << 1)
#define PF_ERR_USER    (1u << 2)
#define PF_ERR_RSVD    (1u << 3)
#define PF_ERR_FETCH   (1u << 4)

/* Levels, as the leaf level in results: 1 = 4 KiB PTE, 2 = 2 MiB PDE, 3 = 1 GiB PDPTE, 4 = PML4E. */
#define PT_LEVEL_PTE   1
#define PT_LEVEL_PDE   2
#define PT_LEVEL_PDPTE 3
#define PT_LEVEL_PML4E 4

/* Access flags for pt_walk(). No flag: a supervisor-mode (CPL < 3) explicit data read. */
#define PT_ACCESS_WRITE               (1u << 0)
#define PT_ACCESS_USER                (1u << 1)  /* user-mode access (CPL 3) */
#define PT_ACCESS_FETCH               (1u << 2)  /* instruction fetch; not with WRITE */
#define PT_ACCESS_IMPLICIT_SUPERVISOR (1u << 3)  /* GDT/IDT/LDT/TSS access: SMAP ignores RFLAGS.AC; not with USER */

/* pt_walk() results; errors are negative HV_E* codes. */
#define PT_WALK_OK    0
#define PT_WALK_FAULT 1

struct pt_walk_mem_ops {
	/* 0 on success, negative HV_E* (e.g. -HV_EFAULT for a gpa outside guest RAM). */
	int (*read_pte)(void *opaque, uint64_t gpa, uint64_t *val);
	/* Atomically replace old by new_val: 0 done, 1 the entry no longer held old (the walk restarts), negative error. */
	int (*cmpxchg_pte)(void *opaque, uint64_t gpa, uint64_t old, uint64_t new_val);
};

struct pt_walk_ctx {
	uint64_t cr3;               /* bits 51:12 locate the PML4 (CR4.PCIDE is always 0 for the guest) */
	bool cr0_wp;
	bool cr4_smep;
	bool cr4_smap;
	bool efer_nxe;
	bool rflags_ac;
	bool gbpages;               /* CPUID.80000001H:EDX.Page1GB */
	unsigned maxphyaddr;        /* CPUID.80000008H:EAX[7:0], 36..52 */
	const struct pt_walk_mem_ops *mem;
	void *opaque;
};

struct pt_walk_result {
	/* PT_WALK_OK: the translation. */
	uint64_t gpa;               /* guest-physical address of the byte at the linear address */
	unsigned level;             /* PT_LEVEL_* of the leaf */
	uint64_t page_base;
	uint64_t page_size;
	bool writable;              /* R/W=1 at every level (CR0.WP decides whether the supervisor may still write) */
	bool user;                  /* U/S=1 at every level */
	bool executable;            /* no level has XD=1 with EFER.NXE=1 */
	unsigned pat_index;         /* PAT << 2 | PCD << 1 | PWT of the leaf: the IA32_PAT entry selecting the memory type */

	/* PT_WALK_FAULT: the #PF to inject. */
	uint32_t error_code;
	unsigned fault_level;       /* level of the entry that was not present or had reserved bits; leaf level otherwise */

	/* Both: the entries read, indexed by level, from PT_LEVEL_PML4E down to the leaf or the faulting level; the
	 * values include the accessed/dirty bits this walk set. */
	uint64_t pte_gpa[PT_LEVEL_PML4E + 1];
	uint64_t pte[PT_LEVEL_PML4E + 1];
};

/* Linear addresses are 48 bits wide, sign-extended (LA57 is hidden from the guest). */
bool pt_canonical(uint64_t linear);

/* Translate `linear` for an access described by PT_ACCESS_* flags. Returns PT_WALK_OK (accessed bits set on every
 * entry used, dirty bit on the leaf for writes), PT_WALK_FAULT (no bit set), -HV_ERANGE for a non-canonical address
 * (the caller injects #GP or #SS), -HV_EINVAL for bad arguments, or the memory callbacks' negative error. */
int pt_walk(const struct pt_walk_ctx *ctx, uint64_t linear, unsigned access, struct pt_walk_result *res);


#endif
