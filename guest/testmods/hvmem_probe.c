// SPDX-License-Identifier: GPL-2.0
/*
 * hvmem_probe: tries to read (and write) the hypervisor's memory from inside the guest kernel and reports on the
 * console what it got. Under chariot-hv the hypervisor's image and page pool are e820 "reserved" for the guest,
 * and any guest translation to them must land on a blank sink page: no method may see the hypervisor's bytes.
 *
 *   insmod hvmem_probe.ko ranges=0x100000-0x129000,0x1be00000-0x1fe00000 [max_pages=256] [write=1] [table=1]
 *
 * Methods, each over the same sampled pages of every range:
 *   self       control: the crafted-PTE path aimed at this module's own marker (guest RAM) must find it
 *   ioremap    ioremap() of the whole range (2 MiB-aligned parts become large guest pages), memcpy_fromio
 *   pte_read   a vmalloc'ed page whose PTE is rewritten (read-only) to each physical page, then INVLPG
 *   directmap  the kernel's direct map (__va), read with copy_from_kernel_nofault: the guest never mapped these
 *              pages, so a fault is the expected answer
 *   ptable     a crafted PMD whose page TABLE is a hypervisor page (the first and the last of each range), then a
 *              read below it: the hypervisor must fail the walk (a #PF for the guest), not use its own memory as
 *              the guest's page table
 *   pte_write  the crafted PTE, writable: read, write a pattern, read it back, restore what was read
 * Each prints `HVMEM: method=<m> bytes=<read> marker_found=<0|1> nonzero=<bytes != 0> pages=<read> ...` (or
 * `HVMEM: method=<m> error=...`), then `HVMEM: done`. The markers are strings certainly in the hypervisor image
 * (its log format and event names). Pages are searched one at a time; a marker straddling a page boundary is
 * missed, but not all of them can be.
 */
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/pgtable.h>
#include <asm/special_insns.h>
#include <asm/tlbflush.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("chariot-hv test: probe the hypervisor's memory from the guest kernel");

#define MAX_RANGES 4
#define WRITE_PATTERN 0x5a
/* Holds a whole PMD_SIZE-aligned span: the PTE table of that span maps nothing but our own pages. */
#define TABLE_AREA_SIZE (2 * PMD_SIZE)

static char *ranges = "0x100000-0x110000";
module_param(ranges, charp, 0444);
MODULE_PARM_DESC(ranges, "physical ranges START-END[,START-END...], END exclusive (default: 64 KiB at 1 MiB)");
static unsigned int max_pages = 256;
module_param(max_pages, uint, 0444);
MODULE_PARM_DESC(max_pages, "pages probed per range at most: the first half densely, the rest spread to the end");
static bool do_write = true;
module_param_named(write, do_write, bool, 0444);
MODULE_PARM_DESC(write, "run the pte_write method");
static bool do_table = true;
module_param_named(table, do_table, bool, 0444);
MODULE_PARM_DESC(table, "run the ptable method (meaningful only under the hypervisor)");

/*
 * Each marker is one 32-byte-aligned object shorter than that, so never across a page boundary (the self method
 * reads the page holding the first one).
 */
static const char marker_log[32] __aligned(32) = "lvl=%s ev=%s";
static const char marker_start[32] __aligned(32) = "hv.start";
static const char marker_denied[32] __aligned(32) = "mmu.hv_memory_denied";
static const char marker_pool[32] __aligned(32) = "pmem.pool";
static const char *const markers[] = { marker_log, marker_start, marker_denied, marker_pool };

struct phys_range {
	u64 start, end;
};

static struct phys_range range[MAX_RANGES];
static unsigned int range_count;
static u8 *buf; /* the page a method just read */

struct tally {
	u64 bytes, nonzero, pages, faulted, readback;
	bool marker;
};

static bool page_has_marker(const u8 *p, size_t len)
{
	unsigned int m;
	size_t i;

	for (m = 0; m < ARRAY_SIZE(markers); m++) {
		size_t mlen = strlen(markers[m]);

		for (i = 0; i + mlen <= len; i++)
			if (p[i] == markers[m][0] && !memcmp(p + i, markers[m], mlen))
				return true;
	}
	return false;
}

static void tally_page(struct tally *t, const u8 *p, size_t len)
{
	size_t i;

	t->bytes += len;
	t->pages++;
	for (i = 0; i < len; i++)
		t->nonzero += p[i] != 0;
	t->marker |= page_has_marker(p, len);
}

static void report(const char *method, const struct tally *t, const char *extra)
{
	pr_warn("HVMEM: method=%s bytes=%llu marker_found=%d nonzero=%llu pages=%llu%s\n", method, t->bytes,
		t->marker, t->nonzero, t->pages, extra);
}

static u64 range_pages(const struct phys_range *r)
{
	return (r->end - r->start) >> PAGE_SHIFT;
}

static u64 sampled_count(const struct phys_range *r)
{
	return min_t(u64, range_pages(r), max_pages);
}

/*
 * The physical address of the i-th sampled page of `r` (i < sampled_count(r)): every page when they are few, else
 * the first half of max_pages densely (where the hypervisor's pool allocator starts) and the rest spread evenly up
 * to the last page.
 */
static u64 sampled_page(const struct phys_range *r, u64 i)
{
	u64 n = range_pages(r), dense = max_pages / 2;

	if (n <= max_pages || i < dense)
		return r->start + (i << PAGE_SHIFT);
	return r->start + ((dense + (i - dense) * (n - 1 - dense) / (max_pages - 1 - dense)) << PAGE_SHIFT);
}

static void probe_ioremap(void)
{
	struct tally t = {};
	unsigned int r;
	u64 i;

	for (r = 0; r < range_count; r++) {
		void __iomem *io = ioremap(range[r].start, range[r].end - range[r].start);

		if (!io) {
			pr_warn("HVMEM: method=ioremap error=refused range=0x%llx-0x%llx\n", range[r].start,
				range[r].end);
			return;
		}
		for (i = 0; i < sampled_count(&range[r]); i++) {
			memcpy_fromio(buf, io + (sampled_page(&range[r], i) - range[r].start), PAGE_SIZE);
			tally_page(&t, buf, PAGE_SIZE);
		}
		iounmap(io);
	}
	report("ioremap", &t, "");
}

static void probe_directmap(void)
{
	struct tally t = {};
	char extra[32];
	unsigned int r;
	u64 i;

	for (r = 0; r < range_count; r++)
		for (i = 0; i < sampled_count(&range[r]); i++) {
			if (copy_from_kernel_nofault(buf, __va(sampled_page(&range[r], i)), PAGE_SIZE))
				t.faulted++;
			else
				tally_page(&t, buf, PAGE_SIZE);
		}
	snprintf(extra, sizeof(extra), " faulted=%llu", t.faulted);
	report("directmap", &t, extra);
}

/* A kernel page whose PTE the crafted-mapping methods point wherever they like (restored by window_close). */
struct window {
	void *va;
	pte_t *ptep;
	pte_t saved;
};

static int window_open(struct window *w)
{
	unsigned int level;

	w->va = vmalloc(PAGE_SIZE);
	if (!w->va)
		return -ENOMEM;
	w->ptep = lookup_address((unsigned long)w->va, &level);
	if (!w->ptep || level != PG_LEVEL_4K) {
		vfree(w->va);
		return -EFAULT;
	}
	w->saved = *w->ptep;
	return 0;
}

static void invlpg(unsigned long addr)
{
	/* Uniprocessor guest: INVLPG is the whole shootdown (and what tells the shadow MMU the entry changed). */
	asm volatile("invlpg (%0)" : : "r"(addr) : "memory");
}

static void window_point(struct window *w, u64 phys, pgprot_t prot)
{
	set_pte(w->ptep, pfn_pte(phys >> PAGE_SHIFT, prot));
	invlpg((unsigned long)w->va);
}

static void window_close(struct window *w)
{
	set_pte(w->ptep, w->saved);
	invlpg((unsigned long)w->va);
	vfree(w->va);
}

static void probe_pte(bool writing)
{
	const char *method = writing ? "pte_write" : "pte_read";
	struct tally t = {};
	struct window w;
	char extra[48] = "";
	unsigned int r;
	size_t b;
	u64 i;
	int err;

	err = window_open(&w);
	if (err) {
		pr_warn("HVMEM: method=%s error=%d\n", method, err);
		return;
	}
	for (r = 0; r < range_count; r++)
		for (i = 0; i < sampled_count(&range[r]); i++) {
			window_point(&w, sampled_page(&range[r], i), writing ? PAGE_KERNEL : PAGE_KERNEL_RO);
			memcpy(buf, w.va, PAGE_SIZE);
			tally_page(&t, buf, PAGE_SIZE);
			if (!writing)
				continue;
			/* Write through the mapping, read it back, put back what was read (the sink stays blank). */
			memset(w.va, WRITE_PATTERN, PAGE_SIZE);
			for (b = 0; b < PAGE_SIZE; b++)
				t.readback += READ_ONCE(((u8 *)w.va)[b]) == WRITE_PATTERN;
			memcpy(w.va, buf, PAGE_SIZE);
		}
	window_close(&w);
	if (writing)
		snprintf(extra, sizeof(extra), " written=%llu readback=%llu", t.pages * PAGE_SIZE, t.readback);
	report(method, &t, extra);
}

/* The kernel PMD entry for `addr`, walked from CR3 (init_mm is not exported); NULL unless it points to a table. */
static pmd_t *kernel_pmd(unsigned long addr)
{
	pgd_t *pgd = (pgd_t *)__va(__read_cr3() & CR3_ADDR_MASK) + pgd_index(addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;

	if (!pgd_present(*pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (!p4d_present(*p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (!pud_present(*pud) || pud_large(*pud))
		return NULL;
	pmd = pmd_offset(pud, addr);
	if (!pmd_present(*pmd) || pmd_large(*pmd))
		return NULL;
	return pmd;
}

static void probe_table(void)
{
	void *area = vmalloc(TABLE_AREA_SIZE);
	struct tally t = {};
	unsigned long span, flags;
	char extra[32];
	unsigned int r, i;
	pmd_t *pmdp;
	pmd_t saved;
	long err;

	if (!area) {
		pr_warn("HVMEM: method=ptable error=%d\n", -ENOMEM);
		return;
	}
	span = ALIGN((unsigned long)area, PMD_SIZE);
	pmdp = kernel_pmd(span);
	if (!pmdp) {
		pr_warn("HVMEM: method=ptable error=no_pmd\n");
		vfree(area);
		return;
	}
	saved = *pmdp;
	for (r = 0; r < range_count; r++) {
		u64 tables[2] = { range[r].start, range[r].end - PAGE_SIZE };

		for (i = 0; i < ARRAY_SIZE(tables); i++) {
			local_irq_save(flags);
			set_pmd(pmdp, __pmd(tables[i] | _KERNPG_TABLE));
			invlpg(span);
			err = copy_from_kernel_nofault(buf, (void *)span, PAGE_SIZE);
			set_pmd(pmdp, saved);
			__flush_tlb_all(); /* the whole span, global translations included */
			local_irq_restore(flags);
			if (err)
				t.faulted++;
			else
				tally_page(&t, buf, PAGE_SIZE);
		}
	}
	vfree(area);
	snprintf(extra, sizeof(extra), " faulted=%llu", t.faulted);
	report("ptable", &t, extra);
}

static void probe_self(void)
{
	u64 phys = ((u64)vmalloc_to_pfn(marker_log) << PAGE_SHIFT) | offset_in_page(marker_log);
	struct tally t = {};
	struct window w;
	char extra[48];
	int err;

	err = window_open(&w);
	if (err) {
		pr_warn("HVMEM: method=self error=%d\n", err);
		return;
	}
	window_point(&w, phys & PAGE_MASK, PAGE_KERNEL_RO);
	memcpy(buf, w.va, PAGE_SIZE);
	window_close(&w);
	tally_page(&t, buf, PAGE_SIZE);
	snprintf(extra, sizeof(extra), " phys=0x%llx len=%zu", phys, strlen(marker_log));
	report("self", &t, extra);
}

static int parse_ranges(void)
{
	char *copy = kstrdup(ranges, GFP_KERNEL), *cursor = copy, *item, *dash;
	u64 start, end;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	while (!err && (item = strsep(&cursor, ","))) {
		if (!*item)
			continue;
		dash = strchr(item, '-');
		if (!dash || range_count == MAX_RANGES) {
			err = -EINVAL;
			break;
		}
		*dash = '\0';
		if (kstrtoull(item, 0, &start) || kstrtoull(dash + 1, 0, &end) || end <= start ||
		    !PAGE_ALIGNED(start) || !PAGE_ALIGNED(end))
			err = -EINVAL;
		else
			range[range_count++] = (struct phys_range){ start, end };
	}
	kfree(copy);
	if (!err && !range_count)
		err = -EINVAL;
	return err;
}

static int __init hvmem_probe_init(void)
{
	unsigned int r;
	int err;

	err = parse_ranges();
	if (err) {
		pr_warn("HVMEM: bad ranges=\"%s\" (want page-aligned START-END[,START-END...])\n", ranges);
		return err;
	}
	max_pages = max(max_pages, 4u);
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (r = 0; r < range_count; r++)
		pr_warn("HVMEM: range=0x%llx-0x%llx pages=%llu probed=%llu\n", range[r].start, range[r].end,
			range_pages(&range[r]), sampled_count(&range[r]));
	probe_self();
	probe_ioremap();
	probe_pte(false);
	probe_directmap();
	if (do_table)
		probe_table();
	if (do_write)
		probe_pte(true);
	kfree(buf);
	pr_warn("HVMEM: done\n");
	/* Stay loaded: user space reads the self marker's page through /dev/mem as a second control. */
	return 0;
}

static void __exit hvmem_probe_exit(void)
{
}

module_init(hvmem_probe_init);
module_exit(hvmem_probe_exit);
