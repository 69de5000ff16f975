/* Unit tests for the guest page-table walker: a table of cases run against a small fake guest RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mmu/pt_walk.c"

#define RAM_PAGES   32
#define PAGE_SIZE   4096ull
#define MAXPHYADDR  40
#define CR3_GPA     0x1000ull

/* Guest RAM covers gpa [0, RAM_PAGES * 4 KiB); page tables are allocated upward from CR3_GPA. */
struct fake_ram {
	uint64_t page[RAM_PAGES][PAGE_SIZE / sizeof(uint64_t)];
	uint64_t next_table;
	unsigned cmpxchg_calls;
	/* Test hooks: on the first cmpxchg, store this value at race_gpa instead and report the change. */
	bool race_pending;
	uint64_t race_gpa;
	uint64_t race_value;
	int cmpxchg_error;
};

static uint64_t *ram_entry(struct fake_ram *ram, uint64_t gpa)
{
	if (gpa % sizeof(uint64_t) || gpa >= RAM_PAGES * PAGE_SIZE)
		return NULL;
	return &ram->page[gpa / PAGE_SIZE][gpa % PAGE_SIZE / sizeof(uint64_t)];
}

static int fake_read_pte(void *opaque, uint64_t gpa, uint64_t *val)
{
	uint64_t *entry = ram_entry(opaque, gpa);

	if (!entry)
		return -HV_EFAULT;
	*val = *entry;
	return 0;
}

static int fake_cmpxchg_pte(void *opaque, uint64_t gpa, uint64_t old, uint64_t new_val)
{
	struct fake_ram *ram = opaque;
	uint64_t *entry = ram_entry(ram, gpa);

	ram->cmpxchg_calls++;
	if (ram->cmpxchg_error)
		return ram->cmpxchg_error;
	if (!entry)
		return -HV_EFAULT;
	if (ram->race_pending) {
		ram->race_pending = false;
		*ram_entry(ram, ram->race_gpa) = ram->race_value;
	}
	if (*entry != old)
		return 1;
	*entry = new_val;
	return 0;
}

static const struct pt_walk_mem_ops fake_mem_ops = {
	.read_pte = fake_read_pte,
	.cmpxchg_pte = fake_cmpxchg_pte,
};

static uint64_t alloc_table(struct fake_ram *ram)
{
	uint64_t gpa = ram->next_table;

	assert_true(gpa < RAM_PAGES * PAGE_SIZE);
	ram->next_table += PAGE_SIZE;
	return gpa;
}

static void ram_init(struct fake_ram *ram)
{
	memset(ram, 0, sizeof(*ram));
	ram->next_table = CR3_GPA;
	assert_int_equal(alloc_table(ram), CR3_GPA);
}

/* Write entry[level] for `linear` at each level from the PML4E down, linking non-leaf entries to a fresh table (its
 * address ORed into the given flags, so flags may carry extra address bits) and stopping after a not-present or leaf
 * entry or a table outside RAM. Records the gpa of each entry written. */
static void build_path(struct fake_ram *ram, uint64_t linear, const uint64_t entry[PT_LEVEL_PML4E + 1],
		       uint64_t entry_gpa[PT_LEVEL_PML4E + 1])
{
	uint64_t table = CR3_GPA;

	for (unsigned level = PT_LEVEL_PML4E; level >= PT_LEVEL_PTE && ram_entry(ram, table); level--) {
		uint64_t value = entry[level];
		bool leaf = level == PT_LEVEL_PTE || (level <= PT_LEVEL_PDPTE && (value & PTE_LARGE));

		entry_gpa[level] = table + ((linear >> (12 + 9 * (level - 1))) & 511) * 8;
		if ((value & PTE_PRESENT) && !leaf)
			value |= alloc_table(ram);
		*ram_entry(ram, entry_gpa[level]) = value;
		if (!(value & PTE_PRESENT) || leaf)
			return;
		table = value & 0xffffffffff000ull;
	}
}

#define CPU_WP    (1u << 0)
#define CPU_SMEP  (1u << 1)
#define CPU_SMAP  (1u << 2)
#define CPU_NXE   (1u << 3)
#define CPU_AC    (1u << 4)
#define CPU_NO_1G (1u << 5)

static struct pt_walk_ctx make_ctx(unsigned cpu, struct fake_ram *ram)
{
	return (struct pt_walk_ctx){
		.cr3 = CR3_GPA,
		.cr0_wp = cpu & CPU_WP,
		.cr4_smep = cpu & CPU_SMEP,
		.cr4_smap = cpu & CPU_SMAP,
		.efer_nxe = cpu & CPU_NXE,
		.rflags_ac = cpu & CPU_AC,
		.gbpages = !(cpu & CPU_NO_1G),
		.maxphyaddr = MAXPHYADDR,
		.mem = &fake_mem_ops,
		.opaque = ram,
	};
}

#define PERM_W (1u << 0)
#define PERM_U (1u << 1)
#define PERM_X (1u << 2)

struct walk_case {
	const char *name;
	unsigned cpu;                       /* CPU_* */
	uint64_t entry[PT_LEVEL_PML4E + 1]; /* [level]; non-leaf entries get their table address ORed in */
	uint64_t linear;
	unsigned access;                    /* PT_ACCESS_* */
	int ret;
	uint64_t gpa;                       /* PT_WALK_OK */
	unsigned level;                     /* leaf level (PT_WALK_OK) or fault level (PT_WALK_FAULT) */
	unsigned perms;                     /* PERM_*, PT_WALK_OK */
	unsigned pat_index;                 /* PT_WALK_OK */
	uint32_t error_code;                /* PT_WALK_FAULT */
	unsigned accessed;                  /* bit n: the level-n entry has A set afterward */
	unsigned dirty;                     /* bit n: the level-n entry has D set afterward */
};

#define P   PTE_PRESENT
#define RW  PTE_WRITABLE
#define US  PTE_USER
#define PS  PTE_LARGE
#define NX  PTE_NX
#define A   PTE_ACCESSED
#define D   PTE_DIRTY
#define ALL (P | RW | US)

#define W     PT_ACCESS_WRITE
#define USER  PT_ACCESS_USER
#define FETCH PT_ACCESS_FETCH
#define IMPL  PT_ACCESS_IMPLICIT_SUPERVISOR

#define EC_P    PF_ERR_PRESENT
#define EC_W    PF_ERR_WRITE
#define EC_U    PF_ERR_USER
#define EC_RSVD PF_ERR_RSVD
#define EC_I    PF_ERR_FETCH

#define L1 (1u << 1)
#define L2 (1u << 2)
#define L3 (1u << 3)
#define L4 (1u << 4)
#define UPTO_L1 (L4 | L3 | L2 | L1)
#define UPTO_L2 (L4 | L3 | L2)
#define UPTO_L3 (L4 | L3)

#define FAULT PT_WALK_FAULT

/* Indices 0x0f5/0x1a2/0x0b3/0x1c4 at levels 4..1, offset 0x567: distinct, so a wrong index finds an empty entry. */
#define LA_USER   0x00007ae8967c4567ull
#define LA_KERNEL 0xffff8880001c4567ull
#define PAGE_4K   0x0000000123456000ull
#define PAGE_2M   0x0000000345600000ull
#define PAGE_1G   0x0000004c0000000ull
#define RSVD_HIGH (1ull << MAXPHYADDR)

static const struct walk_case cases[] = {
	/* Translation. */
	{ "4K supervisor read", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K }, LA_USER, 0,
	  .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L1 },
	{ "4K write sets D on the leaf only", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K }, LA_USER, W,
	  .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L1, .dirty = L1 },
	{ "4K user read, kernel half address", CPU_WP, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K },
	  LA_KERNEL, USER, .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L1 },
	{ "2M read keeps 21-bit offset", 0, { [4] = ALL, [3] = ALL, [2] = ALL | PS | PAGE_2M }, LA_USER, 0,
	  .gpa = PAGE_2M | 0x1c4567, .level = 2, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L2 },
	{ "2M write sets D on the PDE only", 0, { [4] = ALL, [3] = ALL, [2] = ALL | PS | PAGE_2M }, LA_USER, W,
	  .gpa = PAGE_2M | 0x1c4567, .level = 2, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L2, .dirty = L2 },
	{ "1G read keeps 30-bit offset", 0, { [4] = ALL, [3] = ALL | PS | PAGE_1G }, LA_USER, 0,
	  .gpa = PAGE_1G | 0x167c4567, .level = 3, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L3 },
	{ "1G write sets D on the PDPTE only", 0, { [4] = ALL, [3] = ALL | PS | PAGE_1G }, LA_USER, W,
	  .gpa = PAGE_1G | 0x167c4567, .level = 3, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L3,
	  .dirty = L3 },
	{ "highest phys bit below MAXPHYADDR is an address bit", 0,
	  { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | (RSVD_HIGH >> 1) }, LA_USER, 0,
	  .gpa = (RSVD_HIGH >> 1) | 0x567, .level = 1, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L1 },
	{ "bits 62:52 are ignored", CPU_NXE, { [4] = ALL | (0x7ffull << 52), [3] = ALL, [2] = ALL,
	  [1] = ALL | PAGE_4K | (0x7ffull << 52) }, LA_USER, 0,
	  .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L1 },
	{ "highest canonical lower-half address", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K },
	  0x00007fffffffffffull, 0, .gpa = PAGE_4K | 0xfff, .level = 1, .perms = PERM_W | PERM_U | PERM_X,
	  .accessed = UPTO_L1 },
	{ "4K memory type from PAT bit 7, PCD, PWT", 0,
	  { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K | PTE_PAT_4K | PTE_PCD | PTE_PWT }, LA_USER, 0,
	  .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_W | PERM_U | PERM_X, .pat_index = 7, .accessed = UPTO_L1 },
	{ "2M memory type from PAT bit 12, not part of the address", 0,
	  { [4] = ALL, [3] = ALL, [2] = ALL | PS | PAGE_2M | PTE_PAT_LARGE | PTE_PWT }, LA_USER, 0,
	  .gpa = PAGE_2M | 0x1c4567, .level = 2, .perms = PERM_W | PERM_U | PERM_X, .pat_index = 5,
	  .accessed = UPTO_L2 },
	{ "1G memory type PCD only", 0, { [4] = ALL, [3] = ALL | PS | PAGE_1G | PTE_PCD }, LA_USER, 0,
	  .gpa = PAGE_1G | 0x167c4567, .level = 3, .perms = PERM_W | PERM_U | PERM_X, .pat_index = 2,
	  .accessed = UPTO_L3 },
	{ "entries already accessed and dirty", 0,
	  { [4] = ALL | A, [3] = ALL | A, [2] = ALL | A, [1] = ALL | A | D | PAGE_4K }, LA_USER, W,
	  .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L1, .dirty = L1 },
	{ "rights combine: RW=0 in the PDE only", CPU_WP, { [4] = ALL, [3] = ALL, [2] = P | US, [1] = ALL | PAGE_4K },
	  LA_USER, USER, .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_U | PERM_X, .accessed = UPTO_L1 },

	/* Not present. */
	{ "PML4E not present", 0, { [4] = RW | US }, LA_USER, 0, FAULT, .level = 4, .error_code = 0 },
	{ "PDPTE not present", 0, { [4] = ALL, [3] = 0 }, LA_USER, 0, FAULT, .level = 3, .error_code = 0 },
	{ "PDE not present", 0, { [4] = ALL, [3] = ALL, [2] = RW }, LA_USER, 0, FAULT, .level = 2, .error_code = 0 },
	{ "PTE not present", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = RW | US | PAGE_4K }, LA_USER, 0, FAULT,
	  .level = 1, .error_code = 0 },
	{ "not present, user write", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = 0 }, LA_USER, USER | W, FAULT,
	  .level = 1, .error_code = EC_W | EC_U },
	{ "not present fetch reports I/D with NXE", CPU_NXE, { [4] = ALL, [3] = 0 }, LA_USER, FETCH, FAULT,
	  .level = 3, .error_code = EC_I },
	{ "not present fetch reports I/D with SMEP", CPU_SMEP, { [4] = ALL, [3] = 0 }, LA_USER, USER | FETCH,
	  FAULT, .level = 3, .error_code = EC_U | EC_I },
	{ "not present fetch: no I/D without NXE and SMEP", 0, { [4] = ALL, [3] = 0 }, LA_USER, FETCH, FAULT,
	  .level = 3, .error_code = 0 },

	/* Reserved bits. */
	{ "PML4E phys bit above MAXPHYADDR", 0, { [4] = ALL | RSVD_HIGH }, LA_USER, 0, FAULT, .level = 4,
	  .error_code = EC_P | EC_RSVD },
	{ "PDPTE bit 51", 0, { [4] = ALL, [3] = ALL | (1ull << 51) }, LA_USER, 0, FAULT, .level = 3,
	  .error_code = EC_P | EC_RSVD },
	{ "PDE phys bit above MAXPHYADDR", 0, { [4] = ALL, [3] = ALL, [2] = ALL | RSVD_HIGH }, LA_USER, W, FAULT,
	  .level = 2, .error_code = EC_P | EC_RSVD | EC_W },
	{ "PTE phys bit above MAXPHYADDR", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K | RSVD_HIGH },
	  LA_USER, USER, FAULT, .level = 1, .error_code = EC_P | EC_RSVD | EC_U },
	{ "2M PDE phys bit above MAXPHYADDR", 0, { [4] = ALL, [3] = ALL, [2] = ALL | PS | PAGE_2M | RSVD_HIGH },
	  LA_USER, 0, FAULT, .level = 2, .error_code = EC_P | EC_RSVD },
	{ "XD in PML4E without NXE", 0, { [4] = ALL | NX }, LA_USER, 0, FAULT, .level = 4,
	  .error_code = EC_P | EC_RSVD },
	{ "XD in PTE without NXE, user write", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | NX | PAGE_4K },
	  LA_USER, USER | W, FAULT, .level = 1, .error_code = EC_P | EC_RSVD | EC_W | EC_U },
	{ "PS in PML4E", 0, { [4] = ALL | PS }, LA_USER, 0, FAULT, .level = 4, .error_code = EC_P | EC_RSVD },
	{ "1G PDPTE bit 13", 0, { [4] = ALL, [3] = ALL | PS | PAGE_1G | (1ull << 13) }, LA_USER, 0, FAULT,
	  .level = 3, .error_code = EC_P | EC_RSVD },
	{ "1G PDPTE bit 29", 0, { [4] = ALL, [3] = ALL | PS | PAGE_1G | (1ull << 29) }, LA_USER, 0, FAULT,
	  .level = 3, .error_code = EC_P | EC_RSVD },
	{ "2M PDE bit 13", 0, { [4] = ALL, [3] = ALL, [2] = ALL | PS | PAGE_2M | (1ull << 13) }, LA_USER, 0, FAULT,
	  .level = 2, .error_code = EC_P | EC_RSVD },
	{ "2M PDE bit 20", 0, { [4] = ALL, [3] = ALL, [2] = ALL | PS | PAGE_2M | (1ull << 20) }, LA_USER, 0, FAULT,
	  .level = 2, .error_code = EC_P | EC_RSVD },
	{ "PS in PDPTE without 1G page support", CPU_NO_1G, { [4] = ALL, [3] = ALL | PS | PAGE_1G }, LA_USER, 0,
	  FAULT, .level = 3, .error_code = EC_P | EC_RSVD },
	{ "reserved bit on a fetch with NXE", CPU_NXE, { [4] = ALL, [3] = ALL, [2] = ALL | PS | (1ull << 14) },
	  LA_USER, FETCH, FAULT, .level = 2, .error_code = EC_P | EC_RSVD | EC_I },
	{ "reserved bit wins over a user/supervisor violation", 0, { [4] = P | RW, [3] = ALL | RSVD_HIGH },
	  LA_USER, USER, FAULT, .level = 3, .error_code = EC_P | EC_RSVD | EC_U },

	/* Write protection and user/supervisor. */
	{ "supervisor write to RO PTE, WP=1", CPU_WP, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = P | US | PAGE_4K },
	  LA_USER, W, FAULT, .level = 1, .error_code = EC_P | EC_W },
	{ "supervisor write to RO PTE, WP=0", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = P | US | PAGE_4K },
	  LA_USER, W, .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_U | PERM_X, .accessed = UPTO_L1, .dirty = L1 },
	{ "supervisor write, RO at PML4E, WP=1", CPU_WP, { [4] = P | US, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K },
	  LA_USER, W, FAULT, .level = 1, .error_code = EC_P | EC_W },
	{ "supervisor write to RO 2M page, WP=1", CPU_WP, { [4] = ALL, [3] = ALL, [2] = P | PS | PAGE_2M },
	  LA_USER, W, FAULT, .level = 2, .error_code = EC_P | EC_W },
	{ "user write to RO user page, WP=0", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = P | US | PAGE_4K },
	  LA_USER, USER | W, FAULT, .level = 1, .error_code = EC_P | EC_W | EC_U },
	{ "user read of supervisor PTE", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = P | RW | PAGE_4K },
	  LA_USER, USER, FAULT, .level = 1, .error_code = EC_P | EC_U },
	{ "user read, U/S=0 in the PDPTE only", 0, { [4] = ALL, [3] = P | RW, [2] = ALL, [1] = ALL | PAGE_4K },
	  LA_USER, USER, FAULT, .level = 1, .error_code = EC_P | EC_U },
	{ "user write to supervisor 1G page", 0, { [4] = ALL, [3] = P | RW | PS | PAGE_1G }, LA_USER, USER | W,
	  FAULT, .level = 3, .error_code = EC_P | EC_W | EC_U },

	/* Execute disable and SMEP. */
	{ "fetch from XD PTE with NXE", CPU_NXE, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | NX | PAGE_4K },
	  LA_USER, FETCH, FAULT, .level = 1, .error_code = EC_P | EC_I },
	{ "fetch, XD in PML4E only, with NXE", CPU_NXE, { [4] = ALL | NX, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K },
	  LA_USER, USER | FETCH, FAULT, .level = 1, .error_code = EC_P | EC_U | EC_I },
	{ "read from XD page with NXE", CPU_NXE, { [4] = ALL, [3] = ALL, [2] = ALL | NX, [1] = ALL | PAGE_4K },
	  LA_USER, USER, .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_W | PERM_U, .accessed = UPTO_L1 },
	{ "fetch from non-XD page with NXE", CPU_NXE, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = P | PAGE_4K },
	  LA_USER, FETCH, .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_X, .accessed = UPTO_L1 },
	{ "user fetch of supervisor page, no NXE", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = P | RW | PAGE_4K },
	  LA_USER, USER | FETCH, FAULT, .level = 1, .error_code = EC_P | EC_U },
	{ "SMEP: supervisor fetch from user page", CPU_SMEP, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K },
	  LA_USER, FETCH, FAULT, .level = 1, .error_code = EC_P | EC_I },
	{ "no SMEP: supervisor fetch from user page", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K },
	  LA_USER, FETCH, .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L1 },
	{ "SMEP: supervisor fetch from supervisor page", CPU_SMEP | CPU_NXE,
	  { [4] = ALL, [3] = P | RW, [2] = ALL, [1] = ALL | PAGE_4K }, LA_KERNEL, FETCH, .gpa = PAGE_4K | 0x567,
	  .level = 1, .perms = PERM_W | PERM_X, .accessed = UPTO_L1 },

	/* SMAP. */
	{ "SMAP: supervisor read of user page, AC=0", CPU_SMAP,
	  { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K }, LA_USER, 0, FAULT, .level = 1,
	  .error_code = EC_P },
	{ "SMAP: supervisor read of user page, AC=1", CPU_SMAP | CPU_AC,
	  { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K }, LA_USER, 0, .gpa = PAGE_4K | 0x567, .level = 1,
	  .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L1 },
	{ "SMAP: supervisor write to user page, AC=0", CPU_SMAP | CPU_WP,
	  { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K }, LA_USER, W, FAULT, .level = 1,
	  .error_code = EC_P | EC_W },
	{ "SMAP, AC=1: write to RO user page, WP=1", CPU_SMAP | CPU_AC | CPU_WP,
	  { [4] = ALL, [3] = ALL, [2] = ALL, [1] = P | US | PAGE_4K }, LA_USER, W, FAULT, .level = 1,
	  .error_code = EC_P | EC_W },
	{ "SMAP, AC=1: write to RO user page, WP=0", CPU_SMAP | CPU_AC,
	  { [4] = ALL, [3] = ALL, [2] = ALL, [1] = P | US | PAGE_4K }, LA_USER, W, .gpa = PAGE_4K | 0x567,
	  .level = 1, .perms = PERM_U | PERM_X, .accessed = UPTO_L1, .dirty = L1 },
	{ "SMAP: implicit read of user page faults even with AC=1", CPU_SMAP | CPU_AC,
	  { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K }, LA_USER, IMPL, FAULT, .level = 1,
	  .error_code = EC_P },
	{ "no SMAP: implicit read of user page", 0, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K },
	  LA_USER, IMPL, .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L1 },
	{ "SMAP: implicit write of supervisor page", CPU_SMAP | CPU_WP,
	  { [4] = ALL, [3] = ALL, [2] = P | RW, [1] = ALL | PAGE_4K }, LA_KERNEL, IMPL | W, .gpa = PAGE_4K | 0x567,
	  .level = 1, .perms = PERM_W | PERM_X, .accessed = UPTO_L1, .dirty = L1 },
	{ "SMAP does not affect fetches", CPU_SMAP, { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K },
	  LA_USER, FETCH, .gpa = PAGE_4K | 0x567, .level = 1, .perms = PERM_W | PERM_U | PERM_X, .accessed = UPTO_L1 },

	/* Not a page fault. */
	{ "non-canonical: bit 47 set, upper bits clear", 0, { [4] = ALL }, 0x0000800000000000ull, 0, .ret = -HV_ERANGE },
	{ "non-canonical: bit 47 clear, upper bits set", 0, { [4] = ALL }, 0xffff7fffffffffffull, 0, .ret = -HV_ERANGE },
	{ "page table outside guest RAM", 0, { [4] = ALL, [3] = ALL | 0x80000000ull, [2] = ALL }, LA_USER, 0,
	  .ret = -HV_EFAULT },
};

static void check_case(void **state)
{
	const struct walk_case *c = *state;
	static struct fake_ram ram;
	uint64_t entry_gpa[PT_LEVEL_PML4E + 1] = { 0 };
	struct pt_walk_ctx ctx;
	struct pt_walk_result res;
	unsigned lowest;

	ram_init(&ram);
	build_path(&ram, c->linear, c->entry, entry_gpa);
	ctx = make_ctx(c->cpu, &ram);
	assert_int_equal(pt_walk(&ctx, c->linear, c->access, &res), c->ret);
	if (c->ret == PT_WALK_OK) {
		uint64_t size = 1ull << (12 + 9 * (c->level - 1));

		assert_int_equal(res.gpa, c->gpa);
		assert_int_equal(res.level, c->level);
		assert_int_equal(res.page_size, size);
		assert_int_equal(res.page_base, c->gpa & ~(size - 1));
		assert_int_equal(res.writable, !!(c->perms & PERM_W));
		assert_int_equal(res.user, !!(c->perms & PERM_U));
		assert_int_equal(res.executable, !!(c->perms & PERM_X));
		assert_int_equal(res.pat_index, c->pat_index);
	} else if (c->ret == PT_WALK_FAULT) {
		assert_int_equal(res.error_code, c->error_code);
		assert_int_equal(res.fault_level, c->level);
	}
	if (c->ret < 0)
		return;
	lowest = c->ret == PT_WALK_OK ? res.level : res.fault_level;
	for (unsigned level = PT_LEVEL_PML4E; level >= lowest; level--) {
		uint64_t now = *ram_entry(&ram, entry_gpa[level]);

		assert_int_equal(res.pte_gpa[level], entry_gpa[level]);
		assert_int_equal(res.pte[level], now);
		assert_int_equal(!!(now & PTE_ACCESSED), !!(c->accessed & (1u << level)));
		assert_int_equal(!!(now & PTE_DIRTY), !!(c->dirty & (1u << level)));
	}
}

static const uint64_t path_4k[PT_LEVEL_PML4E + 1] = { [4] = ALL, [3] = ALL, [2] = ALL, [1] = ALL | PAGE_4K };

static void test_no_cmpxchg_when_bits_already_set(void **state)
{
	static const uint64_t path[PT_LEVEL_PML4E + 1] = { [4] = ALL | A, [3] = ALL | A, [2] = ALL | A,
							   [1] = ALL | A | D | PAGE_4K };
	static struct fake_ram ram;
	uint64_t entry_gpa[PT_LEVEL_PML4E + 1];
	struct pt_walk_ctx ctx = make_ctx(0, &ram);
	struct pt_walk_result res;

	(void)state;
	ram_init(&ram);
	build_path(&ram, LA_USER, path, entry_gpa);
	assert_int_equal(pt_walk(&ctx, LA_USER, W, &res), PT_WALK_OK);
	assert_int_equal(ram.cmpxchg_calls, 0);
}

/* Another writer remaps the leaf between the read and the accessed-bit update: the walk restarts and sees it. */
static void test_cmpxchg_race_restarts_walk(void **state)
{
	static struct fake_ram ram;
	uint64_t entry_gpa[PT_LEVEL_PML4E + 1];
	struct pt_walk_ctx ctx = make_ctx(0, &ram);
	struct pt_walk_result res;

	(void)state;
	ram_init(&ram);
	build_path(&ram, LA_USER, path_4k, entry_gpa);
	ram.race_pending = true;
	ram.race_gpa = entry_gpa[1];
	ram.race_value = ALL | 0x777000;
	assert_int_equal(pt_walk(&ctx, LA_USER, W, &res), PT_WALK_OK);
	assert_int_equal(res.gpa, 0x777567);
	assert_int_equal(*ram_entry(&ram, entry_gpa[1]), ALL | A | D | 0x777000);
	assert_int_equal(ram.cmpxchg_calls, 5);
}

/* The PML4E vanishes during the race: the retried walk faults on it. */
static void test_cmpxchg_race_then_fault(void **state)
{
	static struct fake_ram ram;
	uint64_t entry_gpa[PT_LEVEL_PML4E + 1];
	struct pt_walk_ctx ctx = make_ctx(0, &ram);
	struct pt_walk_result res;

	(void)state;
	ram_init(&ram);
	build_path(&ram, LA_USER, path_4k, entry_gpa);
	ram.race_pending = true;
	ram.race_gpa = entry_gpa[4];
	ram.race_value = 0;
	assert_int_equal(pt_walk(&ctx, LA_USER, 0, &res), PT_WALK_FAULT);
	assert_int_equal(res.fault_level, 4);
	assert_int_equal(res.error_code, 0);
}

static void test_cmpxchg_error_propagates(void **state)
{
	static struct fake_ram ram;
	uint64_t entry_gpa[PT_LEVEL_PML4E + 1];
	struct pt_walk_ctx ctx = make_ctx(0, &ram);
	struct pt_walk_result res;

	(void)state;
	ram_init(&ram);
	build_path(&ram, LA_USER, path_4k, entry_gpa);
	ram.cmpxchg_error = -HV_EFAULT;
	assert_int_equal(pt_walk(&ctx, LA_USER, 0, &res), -HV_EFAULT);
}

static void test_cr3_outside_ram(void **state)
{
	static struct fake_ram ram;
	struct pt_walk_ctx ctx = make_ctx(0, &ram);
	struct pt_walk_result res;

	(void)state;
	ram_init(&ram);
	ctx.cr3 = 0x40000000;
	assert_int_equal(pt_walk(&ctx, LA_USER, 0, &res), -HV_EFAULT);
}

/* CR3 bits 3 and 4 (PWT, PCD) are not part of the PML4 address. */
static void test_cr3_flag_bits_ignored(void **state)
{
	static struct fake_ram ram;
	uint64_t entry_gpa[PT_LEVEL_PML4E + 1];
	struct pt_walk_ctx ctx = make_ctx(0, &ram);
	struct pt_walk_result res;

	(void)state;
	ram_init(&ram);
	build_path(&ram, LA_USER, path_4k, entry_gpa);
	ctx.cr3 |= 0x18;
	assert_int_equal(pt_walk(&ctx, LA_USER, 0, &res), PT_WALK_OK);
	assert_int_equal(res.gpa, PAGE_4K | 0x567);
}

static void test_invalid_arguments(void **state)
{
	static struct fake_ram ram;
	struct pt_walk_ctx ctx = make_ctx(0, &ram);
	struct pt_walk_result res;

	(void)state;
	ram_init(&ram);
	assert_int_equal(pt_walk(&ctx, LA_USER, FETCH | W, &res), -HV_EINVAL);
	assert_int_equal(pt_walk(&ctx, LA_USER, USER | IMPL, &res), -HV_EINVAL);
	assert_int_equal(pt_walk(&ctx, LA_USER, 1u << 8, &res), -HV_EINVAL);
	ctx.maxphyaddr = 53;
	assert_int_equal(pt_walk(&ctx, LA_USER, 0, &res), -HV_EINVAL);
}

static const struct CMUnitTest extra_tests[] = {
	cmocka_unit_test(test_no_cmpxchg_when_bits_already_set),
	cmocka_unit_test(test_cmpxchg_race_restarts_walk),
	cmocka_unit_test(test_cmpxchg_race_then_fault),
	cmocka_unit_test(test_cmpxchg_error_propagates),
	cmocka_unit_test(test_cr3_outside_ram),
	cmocka_unit_test(test_cr3_flag_bits_ignored),
	cmocka_unit_test(test_invalid_arguments),
};

int main(void)
{
	static struct CMUnitTest tests[ARRAY_SIZE(cases) + ARRAY_SIZE(extra_tests)];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		tests[i] = (struct CMUnitTest){ .name = cases[i].name, .test_func = check_case,
						.initial_state = (void *)&cases[i] };
	memcpy(&tests[ARRAY_SIZE(cases)], extra_tests, sizeof(extra_tests));
	return _cmocka_run_group_tests("pt_walk", tests, ARRAY_SIZE(tests), NULL, NULL);
}
