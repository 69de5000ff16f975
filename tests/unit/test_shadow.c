/* Unit tests for the shadow MMU over a fake guest RAM (holding the guest's page tables) and a bounded pool of host
 * pages. The shadow tables are inspected by walking shadow.root by hand, never through shadow.c's own helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mmu/pt_walk.c"
#include "mmu/shadow.c"

#define PAGE        4096ull
#define REGION      (2ull << 20)            /* what one shadow page table covers */
#define GIB         (1ull << 30)
#define ENTRIES     512
#define MAXPHYADDR  40
#define ENTRY_ADDR  0x000ffffffffff000ull   /* address field of a shadow entry */
#define RSVD_HIGH   (1ull << MAXPHYADDR)
#define GUEST_ADDR  0x000000fffffff000ull   /* address field of a guest entry below MAXPHYADDR */

#define P    PTE_PRESENT
#define RW   PTE_WRITABLE
#define US   PTE_USER
#define PWT  PTE_PWT
#define PCD  PTE_PCD
#define A    PTE_ACCESSED
#define D    PTE_DIRTY
#define PS   PTE_LARGE
#define NX   PTE_NX
#define G    (1ull << 8)   /* global, in a leaf */
#define ALL  (P | RW | US)
#define LEAF_FLAGS (P | RW | US | PWT | PCD | PTE_PAT_4K | NX)  /* all a shadow leaf may carry besides its address */

#define W     PT_ACCESS_WRITE
#define USER  PT_ACCESS_USER
#define FETCH PT_ACCESS_FETCH
#define IMPL  PT_ACCESS_IMPLICIT_SUPERVISOR

/* ---- Fake guest RAM: gpa [0, GUEST_PAGES * 4 KiB) holds the guest's page tables; data pages need no backing. ---- */

#define GUEST_PAGES 64
#define GUEST_CR3   0x1000ull
#define OUTSIDE_RAM 0x80000000ull

static struct {
	uint64_t page[GUEST_PAGES][ENTRIES];
	uint64_t next_table;
} guest;

static uint64_t *guest_word(uint64_t gpa)
{
	if (gpa % sizeof(uint64_t) || gpa >= GUEST_PAGES * PAGE)
		return NULL;
	return &guest.page[gpa / PAGE][gpa % PAGE / sizeof(uint64_t)];
}

static int guest_read_pte(void *opaque, uint64_t gpa, uint64_t *val)
{
	uint64_t *word = guest_word(gpa);

	(void)opaque;
	if (!word)
		return -HV_EFAULT;
	*val = *word;
	return 0;
}

static int guest_cmpxchg_pte(void *opaque, uint64_t gpa, uint64_t old, uint64_t new_val)
{
	uint64_t *word = guest_word(gpa);

	(void)opaque;
	if (!word)
		return -HV_EFAULT;
	if (*word != old)
		return 1;
	*word = new_val;
	return 0;
}

/* For walks that only look: the accessed/dirty update "succeeds" without writing guest memory. */
static int peek_cmpxchg_pte(void *opaque, uint64_t gpa, uint64_t old, uint64_t new_val)
{
	(void)opaque, (void)old, (void)new_val;
	return guest_word(gpa) ? 0 : -HV_EFAULT;
}

static const struct pt_walk_mem_ops guest_mem = { .read_pte = guest_read_pte, .cmpxchg_pte = guest_cmpxchg_pte };
static const struct pt_walk_mem_ops peek_mem = { .read_pte = guest_read_pte, .cmpxchg_pte = peek_cmpxchg_pte };

static uint64_t guest_new_table(void)
{
	uint64_t gpa = guest.next_table;

	assert_true(gpa < GUEST_PAGES * PAGE);
	guest.next_table += PAGE;
	memset(guest.page[gpa / PAGE], 0, PAGE);
	return gpa;
}

static unsigned index_at(uint64_t linear, unsigned level)
{
	return (linear >> (12 + 9 * (level - 1))) & (ENTRIES - 1);
}

/* The guest entry at `level` for `linear`; missing (or large) entries above it become fresh tables. */
static uint64_t *guest_entry(uint64_t linear, unsigned level)
{
	uint64_t table = GUEST_CR3;

	for (unsigned l = PT_LEVEL_PML4E; l > level; l--) {
		uint64_t *entry = guest_word(table + index_at(linear, l) * sizeof(uint64_t));

		if (!(*entry & P) || (*entry & PS))
			*entry = guest_new_table() | ALL;
		table = *entry & GUEST_ADDR;
	}
	return guest_word(table + index_at(linear, level) * sizeof(uint64_t));
}

/* ---- Host page pool: what shadow_ops.alloc_page hands out, host address = "physical" address. ---- */

#define POOL_PAGES 64
#define POISON     0xa5a5a5a5a5a5a5a5ull    /* freed pages: present-looking garbage, so a stale link shows */

static uint64_t pool_page[POOL_PAGES][ENTRIES] __attribute__((aligned(4096)));

static struct {
	bool used[POOL_PAGES];
	unsigned limit;         /* most pages in use at once: alloc_page fails beyond */
	unsigned in_use, frees;
	uint64_t hv_lo, hv_hi;  /* the "hypervisor" gpa range */
} pool;

static unsigned pool_index(const void *page)
{
	uintptr_t offset = (uintptr_t)page - (uintptr_t)pool_page;

	assert_true((uintptr_t)page >= (uintptr_t)pool_page && offset < sizeof(pool_page));
	assert_int_equal(offset % PAGE, 0);
	return (unsigned)(offset / PAGE);
}

static void *pool_alloc(void *opaque)
{
	assert_ptr_equal(opaque, &pool);
	if (pool.in_use >= pool.limit)
		return NULL;
	for (unsigned i = 0; i < POOL_PAGES; i++) {
		if (pool.used[i])
			continue;
		pool.used[i] = true;
		pool.in_use++;
		memset(pool_page[i], 0, PAGE);
		return pool_page[i];
	}
	return NULL;
}

static void pool_free(void *opaque, void *page)
{
	unsigned i = pool_index(page);

	assert_ptr_equal(opaque, &pool);
	assert_true(pool.used[i]);   /* double free */
	pool.used[i] = false;
	pool.in_use--;
	pool.frees++;
	for (unsigned j = 0; j < ENTRIES; j++)
		pool_page[i][j] = POISON;
}

static bool hv_forbidden(void *opaque, uint64_t gpa, uint64_t size)
{
	assert_ptr_equal(opaque, &pool);
	return gpa < pool.hv_hi && pool.hv_lo < gpa + size;
}

static const struct shadow_ops ops = {
	.alloc_page = pool_alloc, .free_page = pool_free, .gpa_forbidden = hv_forbidden, .opaque = &pool,
};

/* ---- Per-test state. ---- */

static struct shadow_mmu shadow;
static struct pt_walk_ctx ctx;

static void reset(unsigned pool_limit)
{
	memset(&guest, 0, sizeof(guest));
	guest.next_table = GUEST_CR3;
	assert_int_equal(guest_new_table(), GUEST_CR3);
	memset(&pool, 0, sizeof(pool));
	pool.limit = pool_limit;
	pool.hv_lo = 0x01100000;
	pool.hv_hi = 0x01180000;
	ctx = (struct pt_walk_ctx){ .cr3 = GUEST_CR3, .cr0_wp = true, .efer_nxe = true, .gbpages = true,
				    .maxphyaddr = MAXPHYADDR, .mem = &guest_mem };
	assert_int_equal(shadow_init(&shadow, &ops), HV_OK);
	assert_int_equal(pool.in_use, 2);
	assert_int_equal(shadow.stats.pages_in_use, 1);
	assert_ptr_not_equal(shadow.root, shadow.sink);
	assert_int_equal(shadow_root_pa(&shadow), (uintptr_t)shadow.root);
}

static int setup(void **state)
{
	(void)state;
	reset(POOL_PAGES);
	return 0;
}

static int peek_walk(uint64_t linear, unsigned access, struct pt_walk_result *res)
{
	struct pt_walk_ctx peek = ctx;

	peek.mem = &peek_mem;
	return pt_walk(&peek, linear, access, res);
}

/* The guest's translation of `linear` whatever the rights (SMAP would fault a supervisor read of a user page). */
static int peek_translation(uint64_t linear, struct pt_walk_result *res)
{
	struct pt_walk_ctx peek = ctx;

	peek.mem = &peek_mem;
	peek.cr4_smap = false;
	return pt_walk(&peek, linear, 0, res);
}

static int fill(uint64_t linear, unsigned access, struct pt_walk_result *walk)
{
	return shadow_fill(&shadow, &ctx, linear, access, walk);
}

/* ---- Reading the shadow tables by hand. ---- */

/* The table a present non-leaf shadow entry points to: a live pool page, linked with all rights (bits 11:9, which
 * the CPU ignores, are the shadow's own). */
static uint64_t *shadow_table(uint64_t entry)
{
	uint64_t *table = (uint64_t *)(uintptr_t)(entry & ENTRY_ADDR);

	assert_int_equal(entry & ~ENTRY_ADDR & ~0xe00ull, P | RW | US);
	assert_true(pool.used[pool_index(table)]);
	assert_ptr_not_equal(table, shadow.root);
	assert_ptr_not_equal(table, shadow.sink);
	return table;
}

/* The shadow page table covering `linear`, or NULL. */
static uint64_t *shadow_pt(uint64_t linear)
{
	uint64_t *table = shadow.root;

	for (unsigned level = PT_LEVEL_PML4E; level > PT_LEVEL_PTE; level--) {
		uint64_t entry = table[index_at(linear, level)];

		if (!(entry & P))
			return NULL;
		table = shadow_table(entry);
	}
	return table;
}

static uint64_t shadow_pte(uint64_t linear)
{
	uint64_t *pt = shadow_pt(linear);

	return pt ? pt[index_at(linear, PT_LEVEL_PTE)] : 0;
}

static uint64_t sink_pa(void)
{
	return (uint64_t)(uintptr_t)shadow.sink;
}

static uint64_t sign_extend(uint64_t linear)
{
	return linear & (1ull << 47) ? linear | 0xffff000000000000ull : linear;
}

static void check_leaf(uint64_t linear, uint64_t leaf);

/* Checks the present entries of a shadow table at `level` whose first entry translates `base`; counts the tables
 * below it into *tables and returns the number of leaves. */
static unsigned check_table(const uint64_t *table, unsigned level, uint64_t base, unsigned *tables)
{
	unsigned leaves = 0;

	for (unsigned i = 0; i < ENTRIES; i++) {
		uint64_t linear = sign_extend(base | (uint64_t)i << (12 + 9 * (level - 1)));

		if (!(table[i] & P))
			continue;
		if (level == PT_LEVEL_PTE) {
			check_leaf(linear, table[i]);
			leaves++;
		} else {
			++*tables;
			leaves += check_table(shadow_table(table[i]), level - 1, linear, tables);
		}
	}
	return leaves;
}

/* Checks every present leaf, and the table count against the pool and the stats (no leak, no stale link). */
static unsigned check_all_leaves(void)
{
	unsigned tables = 0, leaves = check_table(shadow.root, PT_LEVEL_PML4E, 0, &tables);

	assert_int_equal(shadow.stats.pages_in_use, tables + 1);
	assert_int_equal(pool.in_use, tables + 2);
	return leaves;
}

/* The number of shadow tables below the root. */
static unsigned shadow_tables(void)
{
	return pool.in_use - 2;
}

/* Every test ends here: a flush gives back every table and nothing else, and leaves an empty root. */
static void flush_and_check_empty(void)
{
	unsigned tables = shadow_tables(), frees = pool.frees;
	unsigned root = pool_index(shadow.root), sink = pool_index(shadow.sink);

	check_all_leaves();
	shadow_flush(&shadow);
	assert_int_equal(pool.frees - frees, tables);
	assert_int_equal(pool.in_use, 2);
	assert_true(pool.used[root] && pool.used[sink]);
	assert_int_equal(shadow.stats.pages_in_use, 1);
	for (unsigned i = 0; i < ENTRIES; i++)
		assert_int_equal(shadow.root[i], 0);
}

/* What the hardware allows through a shadow leaf: it runs the guest with CR0.WP=1 and the guest's CR4 and EFER. */
static bool hardware_allows(uint64_t leaf, unsigned access, bool ac)
{
	struct pt_walk_ctx hw = ctx;
	struct pt_walk_result res = { .writable = leaf & RW, .user = leaf & US, .executable = !(leaf & NX) };

	hw.cr0_wp = true;
	hw.rflags_ac = ac;
	return access_allowed(&hw, access, &res);
}

static bool guest_allows(const struct pt_walk_result *walk, unsigned access, bool ac)
{
	struct pt_walk_ctx guest_cpu = ctx;

	guest_cpu.rflags_ac = ac;
	return access_allowed(&guest_cpu, access, walk);
}

static const unsigned every_access[] = { 0, W, USER, USER | W, FETCH, USER | FETCH, IMPL, IMPL | W };

static bool only_global;   /* right after a CR3 load: only translations of global guest pages may be left */

/* A present shadow leaf must be a translation the guest's tables give now, with no more rights than they grant. */
static void check_leaf(uint64_t linear, uint64_t leaf)
{
	struct pt_walk_result walk;
	uint64_t guest_leaf;

	assert_int_equal(leaf & ~ENTRY_ADDR & ~LEAF_FLAGS, 0);
	assert_int_equal(peek_translation(linear, &walk), PT_WALK_OK);
	if (hv_forbidden(&pool, walk.gpa, PAGE))
		assert_int_equal(leaf & ENTRY_ADDR, sink_pa());
	else
		assert_int_equal(leaf & ENTRY_ADDR, walk.gpa);
	/* The CPU sets accessed bits before it caches a translation. */
	for (unsigned level = PT_LEVEL_PML4E; level >= walk.level; level--)
		assert_true(*guest_word(walk.pte_gpa[level]) & A);
	guest_leaf = *guest_word(walk.pte_gpa[walk.level]);
	if (only_global)
		assert_true(shadow.global_pages && (guest_leaf & G));
	if (leaf & RW) {
		assert_true(guest_leaf & D);
		assert_true(walk.writable || (!ctx.cr0_wp && !(leaf & US)));
	}
	if (leaf & US)
		assert_true(walk.user);
	assert_int_equal(!!(leaf & NX), ctx.efer_nxe && !walk.executable);
	assert_int_equal((leaf & PTE_PAT_4K ? 4u : 0u) | (leaf & PCD ? 2u : 0u) | (leaf & PWT ? 1u : 0u),
			 walk.pat_index);
	for (unsigned i = 0; i < ARRAY_SIZE(every_access); i++)
		for (int ac = 0; ac <= 1; ac++)
			if (hardware_allows(leaf, every_access[i], ac))
				assert_true(guest_allows(&walk, every_access[i], ac));
}

/* ---- Addresses used by the fixed tests. ---- */

#define LA_U     0x00007ae8967c4567ull   /* PML4 0x0f5, PDPT 0x1a2, PD 0x0b3, PT 0x1c4 */
#define LA_K     0xffff888000a43567ull   /* PML4 0x111, PDPT 0, PD 5, PT 0x043 */
#define REGION_U (LA_U & ~(REGION - 1))
#define GPA_4K   0x0000000123456000ull
#define GPA_4K_2 0x0000000000abc000ull
#define GPA_2M   0x0000000345600000ull
#define GPA_1G   0x00000004c0000000ull

static uint64_t *map_4k(uint64_t linear, uint64_t pte)
{
	uint64_t *entry = guest_entry(linear, PT_LEVEL_PTE);

	*entry = pte;
	return entry;
}

/* ---- Tests. ---- */

static void test_4k_read_then_write(void **state)
{
	struct pt_walk_result walk;
	uint64_t *pte = map_4k(LA_U, ALL | GPA_4K);

	(void)state;
	assert_int_equal(fill(LA_U, 0, &walk), SHADOW_FILLED);
	assert_int_equal(walk.gpa, GPA_4K | 0x567);
	assert_int_equal(shadow_pte(LA_U), GPA_4K | P | US);   /* clean: read-only until the guest dirties it */
	assert_true(*pte & A);
	assert_false(*pte & D);
	assert_int_equal(shadow_tables(), 3);
	assert_int_equal(shadow.stats.fills, 1);

	assert_int_equal(fill(LA_U, W, &walk), SHADOW_FILLED);
	assert_true(*pte & D);
	assert_int_equal(shadow_pte(LA_U), GPA_4K | P | RW | US);
	assert_int_equal(shadow.stats.fills, 2);
	assert_int_equal(shadow_tables(), 3);
	assert_int_equal(check_all_leaves(), 1);
	flush_and_check_empty();
}

/* U/S and NX combine over the levels: a user PTE under a supervisor, XD PDE is supervisor-only and XD. */
static void test_4k_write_first_combined_rights(void **state)
{
	struct pt_walk_result walk;
	uint64_t *pte = map_4k(LA_K, ALL | GPA_4K_2);
	uint64_t *pde = guest_entry(LA_K, PT_LEVEL_PDE);

	(void)state;
	*pde = (*pde & ~US) | NX;
	assert_int_equal(fill(LA_K, W, &walk), SHADOW_FILLED);
	assert_true((*pte & (A | D)) == (A | D));
	assert_int_equal(shadow_pte(LA_K), GPA_4K_2 | P | RW | NX);
	assert_int_equal(fill(LA_K, USER, &walk), SHADOW_GUEST_FAULT);
	assert_int_equal(walk.error_code, PF_ERR_PRESENT | PF_ERR_USER);
	assert_int_equal(shadow_pte(LA_K), GPA_4K_2 | P | RW | NX);
	assert_int_equal(check_all_leaves(), 1);
	flush_and_check_empty();
}

struct fault_case {
	const char *name;
	uint64_t pte, pde;      /* pde 0: the table guest_entry made */
	bool wp;
	unsigned access;
	uint32_t error_code;
};

static const struct fault_case fault_cases[] = {
	{ "PTE not present", 0, 0, true, 0, 0 },
	{ "PTE not present, user write", RW | US | GPA_4K, 0, true, USER | W, PF_ERR_WRITE | PF_ERR_USER },
	{ "PDE not present", ALL | GPA_4K, RW | US, true, 0, 0 },
	{ "write to read-only page, WP=1", P | US | GPA_4K, 0, true, W, PF_ERR_PRESENT | PF_ERR_WRITE },
	{ "user write to read-only page, WP=0", P | US | GPA_4K, 0, false, USER | W,
	  PF_ERR_PRESENT | PF_ERR_WRITE | PF_ERR_USER },
	{ "user read of supervisor page", P | RW | GPA_4K, 0, true, USER, PF_ERR_PRESENT | PF_ERR_USER },
	{ "reserved bit", ALL | GPA_4K | RSVD_HIGH, 0, true, 0, PF_ERR_PRESENT | PF_ERR_RSVD },
	{ "fetch from XD page", ALL | NX | GPA_4K, 0, true, FETCH, PF_ERR_PRESENT | PF_ERR_FETCH },
};

static void test_guest_faults_install_nothing(void **state)
{
	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(fault_cases); i++) {
		const struct fault_case *c = &fault_cases[i];
		struct pt_walk_result walk, expect;
		uint64_t *pte;

		print_message("  %s\n", c->name);
		reset(POOL_PAGES);
		pte = map_4k(LA_U, c->pte);
		if (c->pde)
			*guest_entry(LA_U, PT_LEVEL_PDE) = c->pde;
		ctx.cr0_wp = c->wp;
		assert_int_equal(peek_walk(LA_U, c->access, &expect), PT_WALK_FAULT);
		assert_int_equal(fill(LA_U, c->access, &walk), SHADOW_GUEST_FAULT);
		assert_int_equal(walk.error_code, c->error_code);
		assert_int_equal(walk.error_code, expect.error_code);
		assert_int_equal(shadow_tables(), 0);
		assert_int_equal(shadow_pte(LA_U), 0);
		assert_int_equal(*pte, c->pte);   /* a faulting walk sets no accessed bit */
		assert_int_equal(shadow.stats.guest_faults, 1);
		assert_int_equal(shadow.stats.fills, 0);
		flush_and_check_empty();
	}
}

/* A write the guest forbids, on a page already shadowed read-only, leaves that translation alone. */
static void test_guest_fault_keeps_read_only_leaf(void **state)
{
	struct pt_walk_result walk;

	(void)state;
	map_4k(LA_U, P | US | GPA_4K);
	assert_int_equal(fill(LA_U, 0, &walk), SHADOW_FILLED);
	assert_int_equal(fill(LA_U, W, &walk), SHADOW_GUEST_FAULT);
	assert_int_equal(walk.error_code, PF_ERR_PRESENT | PF_ERR_WRITE);
	assert_int_equal(shadow_pte(LA_U), GPA_4K | P | US);
	flush_and_check_empty();
}

/* CR0.WP=0: the supervisor may write a read-only page; the leaf is writable but kept from user mode. */
static void test_wp0_supervisor_write(void **state)
{
	struct pt_walk_result walk;
	uint64_t *pte = map_4k(LA_U, P | US | GPA_4K);

	(void)state;
	ctx.cr0_wp = false;
	assert_int_equal(fill(LA_U, 0, &walk), SHADOW_FILLED);
	assert_int_equal(shadow_pte(LA_U), GPA_4K | P | US);
	assert_int_equal(fill(LA_U, W, &walk), SHADOW_FILLED);
	assert_true(*pte & D);
	assert_int_equal(shadow_pte(LA_U), GPA_4K | P | RW);
	check_all_leaves();
	assert_int_equal(fill(LA_U, USER, &walk), SHADOW_FILLED);
	assert_int_equal(shadow_pte(LA_U), GPA_4K | P | US);
	assert_int_equal(fill(LA_U, USER | W, &walk), SHADOW_GUEST_FAULT);
	assert_int_equal(walk.error_code, PF_ERR_PRESENT | PF_ERR_WRITE | PF_ERR_USER);
	flush_and_check_empty();
}

#define GPA_HV  0x01100000ull   /* inside the default "hypervisor" range */
#define NB(i)   (0x7000000ull + (uint64_t)(i) * PAGE)

/* The 2 MiB region around `linear` maps gpa_base + i * 4 KiB with `flags` except where holes[i]. */
static void check_region(uint64_t linear, uint64_t gpa_base, uint64_t flags, const bool *holes)
{
	uint64_t base = linear & ~(REGION - 1);

	for (unsigned i = 0; i < ENTRIES; i++)
		assert_int_equal(shadow_pte(base + i * PAGE), holes && holes[i] ? 0 : (gpa_base + i * PAGE) | flags);
}

static void test_2m_page(void **state)
{
	struct pt_walk_result walk;
	uint64_t *pde = guest_entry(LA_U, PT_LEVEL_PDE);

	(void)state;
	*pde = ALL | PS | GPA_2M;
	assert_int_equal(fill(LA_U, USER, &walk), SHADOW_FILLED);
	assert_int_equal(walk.level, PT_LEVEL_PDE);
	assert_int_equal(walk.gpa, GPA_2M | (LA_U & (REGION - 1)));
	check_region(LA_U, GPA_2M, P | US, NULL);
	assert_int_equal(shadow_pte(REGION_U - PAGE), 0);
	assert_int_equal(shadow_pte(REGION_U + REGION), 0);
	assert_int_equal(shadow_tables(), 3);
	assert_true(*pde & A);
	assert_false(*pde & D);
	assert_int_equal(fill(REGION_U + 5 * PAGE, W, &walk), SHADOW_FILLED);
	assert_true(*pde & D);
	check_region(LA_U, GPA_2M, P | RW | US, NULL);
	assert_int_equal(shadow.stats.fills, 2);
	assert_int_equal(check_all_leaves(), ENTRIES);
	flush_and_check_empty();
}

static void test_1g_page(void **state)
{
	struct pt_walk_result walk;
	uint64_t offset = LA_U & (GIB - 1) & ~(REGION - 1);
	uint64_t other = (LA_U & ~(GIB - 1)) + 3 * REGION;

	(void)state;
	*guest_entry(LA_U, PT_LEVEL_PDPTE) = P | RW | A | D | PS | NX | GPA_1G;
	assert_int_equal(fill(LA_U, 0, &walk), SHADOW_FILLED);
	assert_int_equal(walk.level, PT_LEVEL_PDPTE);
	check_region(LA_U, GPA_1G + offset, P | RW | NX, NULL);
	assert_int_equal(shadow_pte(other), 0);
	assert_int_equal(shadow_tables(), 3);
	assert_int_equal(fill(other + 0x123, W, &walk), SHADOW_FILLED);
	check_region(other, GPA_1G + 3 * REGION, P | RW | NX, NULL);
	assert_int_equal(shadow_tables(), 4);
	assert_int_equal(check_all_leaves(), 2 * ENTRIES);
	flush_and_check_empty();
}

/* Hypervisor pages inside a large guest page: left not present, except the one touched, which gets the sink. */
static void test_large_page_over_hypervisor_memory(void **state)
{
	struct pt_walk_result walk;
	bool holes[ENTRIES] = { [3] = true, [4] = true, [5] = true };

	(void)state;
	pool.hv_lo = GPA_2M + 3 * PAGE;
	pool.hv_hi = GPA_2M + 6 * PAGE - 1;
	*guest_entry(LA_U, PT_LEVEL_PDE) = ALL | A | PS | GPA_2M;
	assert_int_equal(fill(REGION_U + 10 * PAGE, 0, &walk), SHADOW_FILLED);
	check_region(LA_U, GPA_2M, P | US, holes);
	assert_int_equal(shadow.stats.forbidden, 0);

	assert_int_equal(fill(REGION_U + 4 * PAGE + 8, USER, &walk), SHADOW_FILLED_FORBIDDEN);
	assert_int_equal(walk.gpa, GPA_2M + 4 * PAGE + 8);
	assert_int_equal(shadow_pte(REGION_U + 4 * PAGE), sink_pa() | P | US);
	holes[4] = false;
	for (unsigned i = 0; i < ENTRIES; i++)
		if (i != 4)
			assert_int_equal(shadow_pte(REGION_U + i * PAGE), holes[i] ? 0 : (GPA_2M + i * PAGE) | P | US);
	assert_int_equal(shadow.stats.forbidden, 1);
	assert_int_equal(shadow.stats.fills, 2);
	assert_int_equal(check_all_leaves(), ENTRIES - 2);
	flush_and_check_empty();
}

static void test_4k_page_over_hypervisor_memory(void **state)
{
	struct pt_walk_result walk;

	(void)state;
	map_4k(LA_U, ALL | A | D | GPA_HV);
	assert_int_equal(fill(LA_U, W, &walk), SHADOW_FILLED_FORBIDDEN);
	assert_int_equal(walk.gpa, GPA_HV | 0x567);
	assert_int_equal(shadow_pte(LA_U), sink_pa() | P | RW | US);
	assert_int_equal(shadow.stats.forbidden, 1);
	flush_and_check_empty();
}

static void test_memory_type_bits(void **state)
{
	struct pt_walk_result walk;
	uint64_t *pde;

	(void)state;
	for (unsigned pat = 0; pat < 8; pat++) {
		uint64_t bits = (pat & 4 ? PTE_PAT_4K : 0) | (pat & 2 ? PCD : 0) | (pat & 1 ? PWT : 0);
		uint64_t linear = LA_U + pat * PAGE;

		map_4k(linear, ALL | bits | (GPA_4K + pat * PAGE));
		assert_int_equal(fill(linear, 0, &walk), SHADOW_FILLED);
		assert_int_equal(shadow_pte(linear), (GPA_4K + pat * PAGE) | P | US | bits);
	}
	/* In a large page PAT is bit 12; in the 4 KiB shadow leaf it is bit 7, and bit 12 is an address bit. */
	pde = guest_entry(LA_K, PT_LEVEL_PDE);
	*pde = P | PS | PTE_PAT_LARGE | PCD | GPA_2M;
	assert_int_equal(fill(LA_K, 0, &walk), SHADOW_FILLED);
	check_region(LA_K, GPA_2M, P | PTE_PAT_4K | PCD, NULL);
	check_all_leaves();
	flush_and_check_empty();
}

static void test_nx_only_with_nxe(void **state)
{
	struct pt_walk_result walk;
	uint64_t *pml4e;

	(void)state;
	map_4k(LA_U, ALL | GPA_4K);
	ctx.efer_nxe = false;
	assert_int_equal(fill(LA_U, FETCH, &walk), SHADOW_FILLED);
	assert_int_equal(shadow_pte(LA_U), GPA_4K | P | US);
	shadow_flush(&shadow);
	ctx.efer_nxe = true;
	assert_int_equal(fill(LA_U, 0, &walk), SHADOW_FILLED);
	assert_int_equal(shadow_pte(LA_U), GPA_4K | P | US);
	shadow_flush(&shadow);
	pml4e = guest_entry(LA_U, PT_LEVEL_PML4E);
	*pml4e |= NX;
	assert_int_equal(fill(LA_U, 0, &walk), SHADOW_FILLED);
	assert_int_equal(shadow_pte(LA_U), GPA_4K | P | US | NX);
	flush_and_check_empty();
}

/* A protection view: the policy narrows a page's rights; accesses the guest allows but the view denies are reported
 * (the leaf is installed all the same), large guest pages are shadowed one page at a time under a policy, and a
 * policy change forgets just the page concerned. */
static uint64_t view_protected_page, view_code_page;

static void test_view_rights(void *opaque, uint64_t page, struct shadow_rights *r)
{
	assert_ptr_equal(opaque, &view_protected_page);
	assert_int_equal(page & (PAGE - 1), 0);
	if (page == view_protected_page)
		r->writable = false;
	if (page != view_code_page)
		r->no_execute = true;
}

static void test_policy_view(void **state)
{
	(void)state;
	struct pt_walk_result walk;
	uint64_t page = LA_K & ~(PAGE - 1);
	*guest_entry(LA_K, PT_LEVEL_PDE) = P | RW | PS | GPA_2M; /* a large page, as the kernel's direct map */
	view_protected_page = page;
	view_code_page = page + PAGE;
	shadow.policy = (struct shadow_policy){.restrict_rights = test_view_rights, .opaque = &view_protected_page};

	assert_int_equal(fill(LA_K, W, &walk), SHADOW_DENIED_WRITE);
	uint64_t leaf = shadow_pte(LA_K);
	assert_true(leaf & P);
	assert_false(leaf & RW);
	assert_true(leaf & NX);
	assert_true(leaf & SHADOW_LEAF_WRITE_DENIED);
	/* the next write there is refused by the installed leaf, without a walk (the guest's entry changed without an
	 * INVLPG: a TLB would still use the old translation too) */
	uint64_t fills = shadow.stats.fills, *pde = guest_entry(LA_K, PT_LEVEL_PDE);
	*pde &= ~(uint64_t)RW;
	assert_int_equal(fill(LA_K, W, &walk), SHADOW_DENIED_WRITE);
	assert_int_equal(shadow.stats.fills, fills);
	*pde |= RW;
	/* only the page touched: its neighbours in the same 2 MiB are not shadowed yet */
	assert_int_equal(shadow_pte(page + 2 * PAGE), 0);
	assert_int_equal(fill(page + 2 * PAGE, W, &walk), SHADOW_FILLED);
	assert_true(shadow_pte(page + 2 * PAGE) & RW);
	assert_int_equal(fill(page + 2 * PAGE, FETCH, &walk), SHADOW_DENIED_FETCH);
	assert_int_equal(fill(view_code_page, FETCH, &walk), SHADOW_FILLED);
	assert_false(shadow_pte(view_code_page) & NX);

	/* the policy changes for one page: only its leaf goes */
	view_protected_page = 0;
	shadow_forget_page(&shadow, page);
	assert_int_equal(shadow_pte(page), 0);
	assert_true(shadow_pte(page + 2 * PAGE) & P);
	assert_int_equal(fill(LA_K, W, &walk), SHADOW_FILLED);
	assert_true(shadow_pte(LA_K) & RW);
	shadow.policy = (struct shadow_policy){0};
	/* (not check_all_leaves: a view's leaves are narrower than the guest's rights by design) */
	shadow_flush(&shadow);
	assert_int_equal(pool.in_use, 2);
}

/* A view's write right on one page changes in place (a driver's stack block moving): the leaf gains or loses it
 * where the guest lets the page be written, with no fill; a page the guest has not dirtied yet keeps faulting. */
static void test_set_writable_in_place(void **state)
{
	(void)state;
	struct pt_walk_result walk;
	uint64_t page = LA_K & ~(PAGE - 1), clean = page + PAGE;
	map_4k(page, P | RW | A | D | GPA_4K);
	map_4k(clean, P | RW | A | GPA_4K_2);
	view_protected_page = page;
	view_code_page = 0;
	shadow.policy = (struct shadow_policy){.restrict_rights = test_view_rights, .opaque = &view_protected_page};
	assert_int_equal(fill(page, 0, &walk), SHADOW_FILLED);
	assert_int_equal(fill(clean, 0, &walk), SHADOW_FILLED);
	uint64_t fills = shadow.stats.fills;
	assert_true(shadow_pte(page) & SHADOW_LEAF_WRITE_DENIED);

	shadow_set_writable(&shadow, page, true);
	assert_true(shadow_pte(page) & RW);
	assert_false(shadow_pte(page) & SHADOW_LEAF_WRITE_DENIED);
	assert_int_equal(shadow_pte(page) & ~(uint64_t)(RW | SHADOW_LEAF_WRITE_DENIED),
			 (GPA_4K | P | NX));
	shadow_set_writable(&shadow, page, false);
	assert_false(shadow_pte(page) & RW);
	assert_true(shadow_pte(page) & SHADOW_LEAF_WRITE_DENIED);
	/* not dirty in the guest: read-only until a write fault sets its dirty bit */
	shadow_set_writable(&shadow, clean, true);
	assert_false(shadow_pte(clean) & RW);
	/* nothing installed: nothing to change */
	shadow_set_writable(&shadow, page + 2 * PAGE, true);
	assert_int_equal(shadow_pte(page + 2 * PAGE), 0);
	assert_int_equal(shadow.stats.fills, fills);
	shadow.policy = (struct shadow_policy){0};
	shadow_flush(&shadow);
}

/* Under a view, a large guest page whose 2 MiB the policy says it treats alike is shadowed whole at its first fault,
 * every page with the rights the policy gives the one touched; one it does not is shadowed page by page. */
static uint64_t uniform_region;

static bool test_view_uniform(void *opaque, uint64_t start, uint64_t len)
{
	assert_ptr_equal(opaque, &view_protected_page);
	assert_int_equal(start & (REGION - 1), 0);
	assert_int_equal(len, REGION);
	return start == uniform_region;
}

static void test_policy_view_uniform_large_page(void **state)
{
	(void)state;
	struct pt_walk_result walk;
	uint64_t region = LA_K & ~(REGION - 1), other = region + REGION;
	*guest_entry(LA_K, PT_LEVEL_PDE) = P | RW | A | D | PS | GPA_2M;
	*guest_entry(other, PT_LEVEL_PDE) = P | RW | A | D | PS | (GPA_2M + REGION);
	view_protected_page = ~0ull; /* no page is read-only; all but view_code_page are not executable */
	view_code_page = ~0ull;
	uniform_region = region;
	shadow.policy = (struct shadow_policy){.restrict_rights = test_view_rights, .uniform = test_view_uniform,
					       .opaque = &view_protected_page};

	assert_int_equal(fill(LA_K, W, &walk), SHADOW_FILLED);
	check_region(LA_K, GPA_2M, P | RW | NX, NULL);
	assert_int_equal(shadow.stats.fills, 1);

	assert_int_equal(fill(other + 3 * PAGE, W, &walk), SHADOW_FILLED);
	assert_int_equal(shadow_pte(other + 3 * PAGE), (GPA_2M + REGION + 3 * PAGE) | P | RW | NX);
	assert_int_equal(shadow_pte(other + 4 * PAGE), 0);
	shadow.policy = (struct shadow_policy){0};
	shadow_flush(&shadow);
	assert_int_equal(pool.in_use, 2);
}

/* INVLPG anywhere in a 1 GiB guest page drops every 2 MiB shadow table of it (SDM 4.10.2.3). */
static void test_invalidate_inside_1g_page(void **state)
{
	(void)state;
	struct pt_walk_result walk;
	uint64_t base = LA_U & ~(GIB - 1), *pdpte = guest_entry(LA_U, PT_LEVEL_PDPTE);
	*pdpte = ALL | PS | GPA_1G;
	fill(base, 0, &walk);
	fill(base + REGION, 0, &walk);
	assert_int_not_equal(shadow_pte(base + REGION), 0);
	*pdpte = ALL | PS | (GPA_1G + GIB);
	shadow_invalidate(&shadow, base);
	assert_int_equal(shadow_pte(base), 0);
	assert_int_equal(shadow_pte(base + REGION), 0);
}

static void test_invalidate(void **state)
{
	static const uint64_t la[] = {
		0x0000000000205000ull, 0x0000000000215000ull,   /* two 4 KiB pages of one region */
		0x0000000000403000ull,                          /* a 2 MiB page, the next-but-one region */
		0xffff888000001000ull,                          /* 4 KiB, another PML4 slot */
	};
	struct pt_walk_result walk;
	uint64_t leaf[ARRAY_SIZE(la)];
	uint64_t *dropped;
	unsigned frees;

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(la); i++) {
		if (i == 2)
			*guest_entry(la[i], PT_LEVEL_PDE) = ALL | PS | GPA_2M;
		else
			map_4k(la[i], ALL | (GPA_4K + i * PAGE));
		assert_int_equal(fill(la[i], 0, &walk), SHADOW_FILLED);
		leaf[i] = shadow_pte(la[i]);
	}
	assert_int_equal(leaf[2], (GPA_2M + 3 * PAGE) | P | US);
	assert_int_equal(shadow_tables(), 7);
	assert_int_equal(shadow.stats.pages_in_use, 8);

	dropped = shadow_pt(la[2]);
	shadow_invalidate(&shadow, 0x00000000005ff123ull);
	assert_int_equal(shadow.stats.invalidations, 1);
	assert_null(shadow_pt(la[2]));
	assert_false(pool.used[pool_index(dropped)]);
	assert_int_equal(pool.frees, 1);
	assert_int_equal(shadow.stats.pages_in_use, 7);
	for (unsigned i = 0; i < ARRAY_SIZE(la); i++)
		if (i != 2)
			assert_int_equal(shadow_pte(la[i]), leaf[i]);
	assert_int_equal(check_all_leaves(), 3);

	shadow_invalidate(&shadow, la[0] + 0x123);
	assert_int_equal(shadow_pte(la[0]), 0);
	assert_int_equal(shadow_pte(la[3]), leaf[3]);
	check_all_leaves();

	/* Nothing there: counted, nothing freed. */
	frees = pool.frees;
	shadow_invalidate(&shadow, la[0]);
	shadow_invalidate(&shadow, 0x0000400000000000ull);
	shadow_invalidate(&shadow, 0xffff888040000000ull);
	assert_int_equal(shadow.stats.invalidations, 5);
	assert_int_equal(pool.frees, frees);

	assert_int_equal(fill(la[0], 0, &walk), SHADOW_FILLED);
	assert_int_equal(shadow_pte(la[0]), leaf[0]);
	assert_int_equal(shadow.stats.flushes, 0);
	flush_and_check_empty();
	assert_int_equal(shadow.stats.flushes, 1);
	for (unsigned i = 0; i < ARRAY_SIZE(la); i++)
		assert_int_equal(shadow_pte(la[i]), 0);
	/* Usable again after the flush. */
	assert_int_equal(fill(la[3], W, &walk), SHADOW_FILLED);
	assert_int_equal(shadow_pte(la[3]), leaf[3] | RW);
	flush_and_check_empty();
}

/* A CR3 load keeps the PML4 slots holding only translations of global guest pages (CR4.PGE=1), and drops the rest. */
static void test_cr3_load_keeps_global_translations(void **state)
{
	static const uint64_t global_4k = 0xffffffff81005000ull, global_2m = 0xffff888000a43000ull;
	static const uint64_t nonglobal = 0x00007ae8967c4000ull;
	static const uint64_t mixed = 0xffff900000001000ull;          /* a global and a non-global page, one PT */
	struct pt_walk_result walk;
	uint64_t keep_4k, keep_2m;
	unsigned frees;

	(void)state;
	shadow.global_pages = true;
	map_4k(global_4k, P | RW | G | GPA_4K);
	*guest_entry(global_2m, PT_LEVEL_PDE) = P | RW | PS | G | GPA_2M;
	map_4k(nonglobal, ALL | GPA_4K);
	map_4k(mixed, P | RW | G | GPA_4K);
	map_4k(mixed + PAGE, P | RW | GPA_4K_2);
	for (unsigned i = 0; i < 5; i++) {
		static const uint64_t *const la[] = { &global_4k, &global_2m, &nonglobal, &mixed, &mixed };
		assert_int_equal(fill(*la[i] + (i == 4 ? PAGE : 0), 0, &walk), SHADOW_FILLED);
	}
	keep_4k = shadow_pte(global_4k);
	keep_2m = shadow_pte(global_2m);
	assert_int_equal(shadow_tables(), 12);
	frees = pool.frees;

	shadow_flush_nonglobal(&shadow);
	assert_int_equal(shadow.stats.nonglobal_flushes, 1);
	assert_int_equal(shadow.stats.flushes, 0);
	assert_int_equal(pool.frees - frees, 6);
	assert_int_equal(shadow_pte(global_4k), keep_4k);
	assert_int_equal(shadow_pte(global_2m), keep_2m);
	check_region(global_2m, GPA_2M, P, NULL);
	assert_null(shadow_pt(nonglobal));
	assert_null(shadow_pt(mixed));
	only_global = true;
	assert_int_equal(check_all_leaves(), 1 + ENTRIES);
	only_global = false;

	/* Without CR4.PGE nothing is global. */
	shadow_flush(&shadow);
	shadow.global_pages = false;
	assert_int_equal(fill(global_4k, 0, &walk), SHADOW_FILLED);
	shadow_flush_nonglobal(&shadow);
	assert_int_equal(shadow_tables(), 0);
	flush_and_check_empty();
}

static void test_unreadable_guest_tables(void **state)
{
	struct pt_walk_result walk;

	(void)state;
	map_4k(LA_U, ALL | GPA_4K);
	*guest_entry(LA_U, PT_LEVEL_PDE) = ALL | OUTSIDE_RAM;
	assert_int_equal(fill(LA_U, 0, &walk), -HV_EFAULT);
	ctx.cr3 = OUTSIDE_RAM;
	assert_int_equal(fill(LA_K, W, &walk), -HV_EFAULT);
	ctx.cr3 = GUEST_CR3;
	assert_int_equal(fill(0x0000800000000000ull, 0, &walk), -HV_ERANGE);
	assert_int_equal(fill(0xffff7ffffffff000ull, W, &walk), -HV_ERANGE);
	assert_int_equal(shadow_tables(), 0);
	assert_int_equal(shadow.stats.fills + shadow.stats.guest_faults + shadow.stats.out_of_memory, 0);
	flush_and_check_empty();
}

static void test_pool_exhaustion_flushes_and_retries(void **state)
{
	static const uint64_t near_k = LA_K + REGION;   /* shares the shadow PDPT and PD with LA_K */
	struct pt_walk_result walk;

	(void)state;
	reset(2 + 3);
	map_4k(LA_U, ALL | GPA_4K);
	map_4k(LA_K, ALL | GPA_4K_2);
	map_4k(near_k, ALL | GPA_4K);
	assert_int_equal(fill(LA_U, 0, &walk), SHADOW_FILLED);
	assert_int_equal(pool.in_use, 5);
	assert_int_equal(fill(LA_K, 0, &walk), SHADOW_FILLED);
	assert_int_equal(shadow.stats.out_of_memory, 1);
	assert_int_equal(shadow.stats.flushes, 1);
	assert_int_equal(shadow_pte(LA_U), 0);
	assert_int_equal(shadow_pte(LA_K), GPA_4K_2 | P | US);
	assert_int_equal(check_all_leaves(), 1);
	assert_int_equal(fill(near_k, W, &walk), SHADOW_FILLED);
	assert_int_equal(shadow.stats.out_of_memory, 2);
	assert_int_equal(shadow_pte(LA_K), 0);
	assert_int_equal(shadow_pte(near_k), GPA_4K | P | RW | US);
	assert_int_equal(check_all_leaves(), 1);
	flush_and_check_empty();
}

static void test_pool_too_small(void **state)
{
	struct pt_walk_result walk;

	(void)state;
	for (unsigned tables = 0; tables < 3; tables++) {
		reset(2 + tables);
		map_4k(LA_U, ALL | GPA_4K);
		assert_int_equal(fill(LA_U, 0, &walk), -HV_ENOMEM);
		assert_int_equal(shadow.stats.out_of_memory, 1);
		assert_int_equal(shadow.stats.fills, 0);
		assert_int_equal(shadow_pte(LA_U), 0);
		assert_int_equal(check_all_leaves(), 0);   /* partly built paths stay linked, not leaked */
		assert_int_equal(fill(LA_U, W, &walk), -HV_ENOMEM);
		flush_and_check_empty();
	}
}

static void test_init_out_of_memory(void **state)
{
	struct shadow_mmu s;

	(void)state;
	memset(&pool, 0, sizeof(pool));
	assert_int_equal(shadow_init(&s, &ops), -HV_ENOMEM);
	pool.limit = 1;
	assert_int_equal(shadow_init(&s, &ops), -HV_ENOMEM);
}

/* ---- Randomized: random guest tables, accesses, guest table changes with the invalidation they need. ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static bool chance(unsigned percent)
{
	return rnd_below(100) < percent;
}

#define DATA_SPACE (64ull << 20)   /* gpas of the random data pages */
#define HV_REGION  0x01000000ull   /* the 2 MiB of DATA_SPACE the hypervisor range lies in */
#define GIANT      2               /* the region alone in its 1 GiB, which may be a 1 GiB page */

static const uint64_t region_base[] = {
	0x0000000000200000ull, 0x0000000000400000ull,  /* neighbours in one PD */
	0x0000000040000000ull, 0x00007f0000000000ull, 0xffff888000000000ull, 0xffffffff80000000ull,
};
static uint64_t region_pt[ARRAY_SIZE(region_base)];
static uint64_t giant_pd;

static uint64_t random_rights(void)
{
	uint64_t f = P;

	f |= chance(70) ? RW : 0;
	f |= chance(60) ? US : 0;
	f |= chance(50) ? A : 0;
	f |= chance(40) ? D : 0;
	f |= chance(20) ? NX : 0;
	f |= chance(15) ? PWT : 0;
	f |= chance(15) ? PCD : 0;
	f |= chance(25) ? G : 0;
	f |= chance(4) ? (rnd() & 0x7ffull) << 52 : 0;
	f |= chance(3) ? RSVD_HIGH : 0;
	return f;
}

static uint64_t random_pte(void)
{
	if (chance(20))
		return rnd() & ~P;
	return random_rights() | (chance(10) ? PTE_PAT_4K : 0) |
	       (chance(15) ? HV_REGION + rnd_below(ENTRIES) * PAGE : rnd_below(DATA_SPACE / PAGE) * PAGE);
}

static uint64_t random_large(uint64_t gpa)
{
	return random_rights() | PS | (chance(10) ? PTE_PAT_LARGE : 0) | (chance(3) ? 1ull << 13 : 0) | gpa;
}

static uint64_t random_table_entry(uint64_t table)
{
	return P | table | (chance(85) ? RW : 0) | (chance(85) ? US : 0) | (chance(50) ? A : 0) |
	       (chance(10) ? NX : 0);
}

static uint64_t random_address(void)
{
	unsigned r = rnd_below(ARRAY_SIZE(region_base));

	if (chance(5))
		return sign_extend(rnd() & 0x0000ffffffffffffull);
	if (r == GIANT && chance(20))   /* the 2 MiB holding the hypervisor range when a 1 GiB page maps gpa 0 */
		return region_base[r] + HV_REGION + rnd_below(REGION);
	return region_base[r] + (chance(60) ? rnd_below(8) : rnd_below(ENTRIES)) * PAGE + rnd_below(PAGE);
}

static void random_guest(void)
{
	for (unsigned r = 0; r < ARRAY_SIZE(region_base); r++) {
		uint64_t *pde = guest_entry(region_base[r], PT_LEVEL_PDE);

		region_pt[r] = guest_new_table();
		*pde = random_table_entry(region_pt[r]);
		for (unsigned i = 0; i < ENTRIES; i++)
			*guest_word(region_pt[r] + i * 8) = random_pte();
	}
	giant_pd = *guest_entry(region_base[GIANT], PT_LEVEL_PDPTE) & GUEST_ADDR;
}

static void random_access(void)
{
	uint64_t linear = random_address();
	unsigned access = every_access[rnd_below(ARRAY_SIZE(every_access))];
	struct shadow_stats before = shadow.stats;
	struct pt_walk_result walk, expect;
	int want, ret;

	ctx.rflags_ac = chance(50);
	want = peek_walk(linear, access, &expect);
	ret = fill(linear, access, &walk);
	if (want < 0) {
		assert_int_equal(ret, want);
		assert_int_equal(shadow_pte(linear), 0);
	} else if (want == PT_WALK_FAULT) {
		assert_int_equal(ret, SHADOW_GUEST_FAULT);
		assert_int_equal(walk.error_code, expect.error_code);
		assert_int_equal(shadow.stats.guest_faults, before.guest_faults + 1);
	} else {
		bool forbidden = hv_forbidden(&pool, expect.gpa & ~(PAGE - 1), PAGE);
		uint64_t leaf = shadow_pte(linear);

		assert_int_equal(ret, forbidden ? SHADOW_FILLED_FORBIDDEN : SHADOW_FILLED);
		assert_int_equal(walk.gpa, expect.gpa);
		assert_int_equal(shadow.stats.fills, before.fills + 1);
		assert_int_equal(shadow.stats.forbidden, before.forbidden + forbidden);
		/* The access now succeeds on the shadow. */
		assert_int_equal(leaf & ENTRY_ADDR, forbidden ? sink_pa() : expect.gpa & ~(PAGE - 1));
		assert_true(hardware_allows(leaf, access, ctx.rflags_ac));
	}
}

static void random_paging_mode(void)
{
	switch (rnd_below(5)) {
	case 0: ctx.cr0_wp = !ctx.cr0_wp; break;
	case 1: ctx.efer_nxe = !ctx.efer_nxe; break;
	case 2: ctx.cr4_smep = !ctx.cr4_smep; break;
	case 3: ctx.cr4_smap = !ctx.cr4_smap; break;
	default: shadow.global_pages = !shadow.global_pages; break;   /* CR4.PGE */
	}
	/* Known gap, kept out of the rights check: shadow.c's CR0.WP=0 write path turns a read-only user page into a
	 * writable supervisor one, through which the supervisor accesses SMEP and SMAP forbid succeed. */
	if (!ctx.cr0_wp)
		ctx.cr4_smep = ctx.cr4_smap = false;
	shadow_flush(&shadow);
}

/* A new PDE for the region (4 KiB table, 2 MiB page, not present, table outside RAM), or a new 1 GiB PDPTE. */
static void remap_region(unsigned r, uint64_t in_region)
{
	uint64_t *pdpte = guest_entry(region_base[r], PT_LEVEL_PDPTE);
	unsigned kind = rnd_below(20);
	uint64_t *pde, old;

	if (r == GIANT && (kind == 0 || (*pdpte & PS))) {
		*pdpte = kind == 0 ? random_large(rnd_below(2) * GIB) : random_table_entry(giant_pd);
		/* MOV to CR3, not INVLPG. Known gap: INVLPG anywhere in a 1 GiB page must drop all of it, and shadow.c
		 * drops only the 2 MiB around the address. */
		shadow_flush(&shadow);
		return;
	}
	pde = guest_word((*pdpte & GUEST_ADDR) + index_at(region_base[r], PT_LEVEL_PDE) * sizeof(uint64_t));
	old = *pde;
	if (kind < 10)
		*pde = random_table_entry(region_pt[r]);
	else if (kind < 17)
		*pde = random_large(chance(25) ? HV_REGION : rnd_below(DATA_SPACE / REGION) * REGION);
	else if (kind < 19)
		*pde = rnd() & ~P;
	else
		*pde = random_table_entry(OUTSIDE_RAM);
	/* As the SDM asks: INVLPG of one address for a large page, of every page for an entry referencing a table. */
	if ((old & (P | PS)) == (P | PS))
		shadow_invalidate(&shadow, in_region);
	else
		for (unsigned i = 0; i < ENTRIES; i++)
			shadow_invalidate(&shadow, region_base[r] + i * PAGE + rnd_below(PAGE));
}

static void random_step(void)
{
	unsigned r = rnd_below(ARRAY_SIZE(region_base)), op = rnd_below(100);
	uint64_t in_region = region_base[r] + rnd_below(REGION);

	if (op < 58) {
		random_access();
	} else if (op < 68) {   /* rewrite some PTEs, each followed by INVLPG */
		for (unsigned n = 1 + rnd_below(16); n; n--) {
			unsigned i = chance(50) ? rnd_below(8) : rnd_below(ENTRIES);
			*guest_word(region_pt[r] + i * 8) = random_pte();
			shadow_invalidate(&shadow, region_base[r] + i * PAGE + rnd_below(PAGE));
		}
	} else if (op < 73) {   /* not present to present needs no invalidation */
		unsigned i = rnd_below(ENTRIES);
		uint64_t *pte = guest_word(region_pt[r] + i * 8);
		if (!(*pte & P))
			*pte = random_pte();
	} else if (op < 79) {
		remap_region(r, in_region);
	} else if (op < 85) {
		shadow_invalidate(&shadow, random_address());
	} else if (op < 87) {
		shadow_flush(&shadow);
	} else if (op < 92) {   /* rewrite some PTEs, INVLPG the global ones, MOV to CR3 */
		for (unsigned n = 1 + rnd_below(16); n; n--) {
			unsigned i = chance(50) ? rnd_below(8) : rnd_below(ENTRIES);
			uint64_t *pte = guest_word(region_pt[r] + i * 8);
			if ((*pte & (P | G)) == (P | G))
				shadow_invalidate(&shadow, region_base[r] + i * PAGE);
			*pte = random_pte();
		}
		shadow_flush_nonglobal(&shadow);
		only_global = true;
		check_all_leaves();
		only_global = false;
	} else if (op < 95) {   /* upper-level rights: MOV to CR3 follows */
		uint64_t *entry = guest_entry(region_base[r], PT_LEVEL_PML4E);
		*entry = random_table_entry(*entry & GUEST_ADDR);
		shadow_flush(&shadow);
	} else if (op < 98) {
		random_paging_mode();
	} else {
		pool.limit = chance(50) ? POOL_PAGES : 5 + rnd_below(12);
	}
	check_all_leaves();
}

static void test_randomized(void **state)
{
	static const uint64_t seeds[] = { 1, 0x5eed, 0xdeadbeefcafe, 42424242 };

	(void)state;
	for (unsigned s = 0; s < ARRAY_SIZE(seeds); s++) {
		print_message("  seed %#llx\n", (unsigned long long)seeds[s]);
		reset(POOL_PAGES);
		rng_state = seeds[s];
		random_guest();
		for (unsigned step = 0; step < 3000; step++)
			random_step();
		print_message("    fills %llu guest faults %llu forbidden %llu out of memory %llu "
			      "flushes %llu/%llu invalidations %llu\n", (unsigned long long)shadow.stats.fills,
			      (unsigned long long)shadow.stats.guest_faults,
			      (unsigned long long)shadow.stats.forbidden, (unsigned long long)shadow.stats.out_of_memory,
			      (unsigned long long)shadow.stats.flushes, (unsigned long long)shadow.stats.nonglobal_flushes,
			      (unsigned long long)shadow.stats.invalidations);
		assert_true(shadow.stats.fills && shadow.stats.guest_faults &&
			    shadow.stats.forbidden && shadow.stats.out_of_memory);
		flush_and_check_empty();
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_4k_read_then_write, setup),
		cmocka_unit_test_setup(test_4k_write_first_combined_rights, setup),
		cmocka_unit_test_setup(test_guest_faults_install_nothing, setup),
		cmocka_unit_test_setup(test_guest_fault_keeps_read_only_leaf, setup),
		cmocka_unit_test_setup(test_wp0_supervisor_write, setup),
		cmocka_unit_test_setup(test_2m_page, setup),
		cmocka_unit_test_setup(test_1g_page, setup),
		cmocka_unit_test_setup(test_large_page_over_hypervisor_memory, setup),
		cmocka_unit_test_setup(test_4k_page_over_hypervisor_memory, setup),
		cmocka_unit_test_setup(test_memory_type_bits, setup),
		cmocka_unit_test_setup(test_nx_only_with_nxe, setup),
		cmocka_unit_test_setup(test_invalidate, setup),
		cmocka_unit_test_setup(test_invalidate_inside_1g_page, setup),
		cmocka_unit_test_setup(test_policy_view, setup),
		cmocka_unit_test_setup(test_set_writable_in_place, setup),
		cmocka_unit_test_setup(test_policy_view_uniform_large_page, setup),
		cmocka_unit_test_setup(test_cr3_load_keeps_global_translations, setup),
		cmocka_unit_test_setup(test_unreadable_guest_tables, setup),
		cmocka_unit_test_setup(test_pool_exhaustion_flushes_and_retries, setup),
		cmocka_unit_test_setup(test_pool_too_small, setup),
		cmocka_unit_test(test_init_out_of_memory),
		cmocka_unit_test(test_randomized),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
