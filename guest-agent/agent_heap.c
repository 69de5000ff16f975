// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent's heap tracking: kretprobes on the kmalloc/kmem_cache_alloc family attribute an allocation to a
 * domain when the allocation call returns into that domain's code (its core text, and its init text while the
 * init of a module isolated from load runs; for the *_track_caller variants: when their `caller` argument does,
 * so kstrdup/kmemdup/krealloc called by the driver count as the driver's); the object, of its real size (ksize, or
 * the cache's object size), becomes an interval. kprobes on kfree and kmem_cache_free remove it again. Live
 * objects sit in one hash table keyed by address (with their domain), so a free of any other object costs one
 * lookup, and nothing at all while no domain exists.
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/hashtable.h>
#include <linux/kprobes.h>
#include <linux/slab.h>

#include "agent.h"

#define TRACKED_OBJECTS_MAX 4096 /* live heap objects of all domains */
#define TRACKED_HASH_BITS 10
#define ALLOC_PROBE_MAXACTIVE 32 /* isolated-driver allocations in flight at once (sleeping ones included) */

struct tracked_object {
	struct hlist_node node; /* in `tracked` while live, in `free_objects` otherwise */
	unsigned long start, len;
	struct domain *domain;
};

static DEFINE_HASHTABLE(tracked, TRACKED_HASH_BITS);
static struct tracked_object object_pool[TRACKED_OBJECTS_MAX];
static HLIST_HEAD(free_objects);

/* hypercall() for probe handlers: a misbehaving hypervisor must not turn every allocation into a console line. */
static long hypercall_in_probe(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2)
{
	long status = chariot_vmcall(nr, a0, a1, a2, 0, NULL, NULL);

	if (status)
		pr_warn_ratelimited("hypercall %s(0x%lx, 0x%lx, 0x%lx) failed: status=%ld (%s)\n",
				    chariot_hc_name(nr), a0, a1, a2, status, chariot_status_name(status));
	return status;
}

/* ---- domains and tracked objects (state_lock held) ---- */

/* The domain whose code `addr` is: its core text, or its init text while its init runs. */
static struct domain *domain_by_text(unsigned long addr)
{
	struct domain *d;

	for (d = domains; d < domains + CHARIOT_MAX_DOMAINS; d++)
		if (d->in_use && ((addr >= d->text_start && addr < d->text_end) ||
				  (addr >= d->init_start && addr < d->init_end)))
			return d;
	return NULL;
}

static struct tracked_object *find_tracked(unsigned long start)
{
	struct tracked_object *t;

	hash_for_each_possible(tracked, t, node, start)
		if (t->start == start)
			return t;
	return NULL;
}

static void untrack_object(struct tracked_object *t)
{
	hypercall_in_probe(CHARIOT_HC_INTERVAL_REMOVE, t->domain->hv_id, t->start, t->len);
	t->domain->intervals--;
	hash_del(&t->node);
	hlist_add_head(&t->node, &free_objects);
}

static void track_object(struct domain *d, unsigned long start, unsigned long len)
{
	struct tracked_object *t = find_tracked(start);

	/* Still tracked: it was freed through a path without a probe (e.g. kfree_bulk). Drop the stale interval. */
	if (t)
		untrack_object(t);
	if (hlist_empty(&free_objects)) {
		pr_warn_ratelimited("heap table full (%d objects): %s's object 0x%lx+%lu is not authorized\n",
				    TRACKED_OBJECTS_MAX, d->name, start, len);
		return;
	}
	if (hypercall_in_probe(CHARIOT_HC_INTERVAL_ADD, d->hv_id, start, len))
		return;
	t = hlist_entry(free_objects.first, struct tracked_object, node);
	hlist_del(&t->node);
	t->start = start;
	t->len = len;
	t->domain = d;
	hash_add(tracked, &t->node, start);
	d->intervals++;
}

/* ---- heap probes ---- */

struct alloc_call {
	struct domain *domain;
	unsigned int generation;
	struct kmem_cache *cache; /* kmem_cache_alloc*: the cache, whose object size bounds the interval */
};

/* Returns 0 (keep the return probe) only for allocations made by an isolated driver. */
static int alloc_entry(struct kretprobe_instance *ri, unsigned long caller, struct kmem_cache *cache)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains))
		return 1;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_by_text(caller);
	if (d) {
		call->domain = d;
		call->generation = d->generation;
		call->cache = cache;
	}
	spin_unlock_irqrestore(&state_lock, flags);
	return d ? 0 : 1;
}

/* At function entry the return address is on top of the stack: the allocation call site. */
static unsigned long entry_return_address(struct pt_regs *regs)
{
	return *(unsigned long *)regs->sp;
}

static int kmalloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL);
}

/* __kmalloc_node_track_caller(size, flags, node, caller): the 4th argument names the real caller. */
static int kmalloc_track_caller_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, regs->cx, NULL);
}

/* kmem_cache_alloc*(cache, ...) */
static int cache_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), (struct kmem_cache *)regs->di);
}

static int alloc_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	void *obj = (void *)regs_return_value(regs);
	unsigned long flags;
	size_t len;

	if (ZERO_OR_NULL_PTR(obj))
		return 0;
	/* ksize: the object's real extent, which the driver may legally use; a cache's objects may be followed by
	 * slab metadata that ksize would include, so their size is the cache's object size. */
	len = call->cache ? kmem_cache_size(call->cache) : ksize(obj);
	spin_lock_irqsave(&state_lock, flags);
	if (call->domain->in_use && call->domain->generation == call->generation && len)
		track_object(call->domain, (unsigned long)obj, len);
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

static void object_freed(unsigned long start)
{
	struct tracked_object *t;
	unsigned long flags;

	if (!READ_ONCE(nr_domains) || ZERO_OR_NULL_PTR((void *)start))
		return;
	spin_lock_irqsave(&state_lock, flags);
	t = find_tracked(start);
	if (t)
		untrack_object(t);
	spin_unlock_irqrestore(&state_lock, flags);
}

/* The interval goes before the object is freed: from then on a write by the driver is a use after free. */
static int kfree_pre(struct kprobe *p, struct pt_regs *regs)
{
	object_freed(regs->di); /* kfree(object) */
	return 0;
}

static int kmem_cache_free_pre(struct kprobe *p, struct pt_regs *regs)
{
	object_freed(regs->si); /* kmem_cache_free(cache, object) */
	return 0;
}

#define ALLOC_PROBE(sym, entry)                                                                            \
	{                                                                                                  \
		.kp.symbol_name = sym, .entry_handler = entry, .handler = alloc_return,                    \
		.data_size = sizeof(struct alloc_call), .maxactive = ALLOC_PROBE_MAXACTIVE,                 \
	}

/* The whole family across kernel versions: those missing from this kernel are skipped at load. */
static struct kretprobe alloc_probes[] = {
	ALLOC_PROBE("__kmalloc", kmalloc_entry),
	ALLOC_PROBE("__kmalloc_node", kmalloc_entry),
	ALLOC_PROBE("__kmalloc_node_track_caller", kmalloc_track_caller_entry),
	ALLOC_PROBE("kmalloc_trace", kmalloc_entry),
	ALLOC_PROBE("kmalloc_node_trace", kmalloc_entry),
	ALLOC_PROBE("kmalloc_large", kmalloc_entry),
	ALLOC_PROBE("kmalloc_large_node", kmalloc_entry),
	ALLOC_PROBE("kmem_cache_alloc_trace", kmalloc_entry),      /* before 6.1: kmalloc objects */
	ALLOC_PROBE("kmem_cache_alloc_node_trace", kmalloc_entry), /* before 6.1 */
	ALLOC_PROBE("kmem_cache_alloc", cache_alloc_entry),
	ALLOC_PROBE("kmem_cache_alloc_lru", cache_alloc_entry),
	ALLOC_PROBE("kmem_cache_alloc_node", cache_alloc_entry),
};
static bool alloc_probe_registered[ARRAY_SIZE(alloc_probes)];

static struct kprobe free_probes[] = {
	{ .symbol_name = "kfree", .pre_handler = kfree_pre },
	{ .symbol_name = "kmem_cache_free", .pre_handler = kmem_cache_free_pre },
};

void unregister_heap_probes(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(alloc_probes); i++)
		if (alloc_probe_registered[i]) {
			if (alloc_probes[i].nmissed)
				pr_warn("%s: %d allocations missed (maxactive %d)\n", alloc_probes[i].kp.symbol_name,
					alloc_probes[i].nmissed, ALLOC_PROBE_MAXACTIVE);
			unregister_kretprobe(&alloc_probes[i]);
			alloc_probe_registered[i] = false;
		}
	for (i = 0; i < ARRAY_SIZE(free_probes); i++)
		if (free_probes[i].addr)
			unregister_kprobe(&free_probes[i]);
}

int register_heap_probes(void)
{
	int registered = 0, err;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(alloc_probes); i++) {
		err = register_kretprobe(&alloc_probes[i]);
		if (err) {
			pr_info("allocator %s: not probed (%d), skipped\n", alloc_probes[i].kp.symbol_name, err);
			continue;
		}
		alloc_probe_registered[i] = true;
		registered++;
	}
	if (!registered) {
		pr_err("no allocator function could be probed\n");
		return -ENOENT;
	}
	for (i = 0; i < ARRAY_SIZE(free_probes); i++) {
		err = register_kprobe(&free_probes[i]);
		if (err) {
			pr_err("cannot probe %s: %d\n", free_probes[i].symbol_name, err);
			free_probes[i].addr = NULL;
			unregister_heap_probes();
			return err;
		}
	}
	pr_info("heap tracking: %d allocator functions, %zu free functions probed\n", registered,
		ARRAY_SIZE(free_probes));
	return 0;
}

void heap_init(void)
{
	int i;

	for (i = 0; i < TRACKED_OBJECTS_MAX; i++)
		hlist_add_head(&object_pool[i].node, &free_objects);
}

void heap_forget_domain(struct domain *d)
{
	struct tracked_object *t;
	struct hlist_node *tmp;
	int bkt;

	hash_for_each_safe(tracked, bkt, tmp, t, node)
		if (t->domain == d) {
			hash_del(&t->node);
			hlist_add_head(&t->node, &free_objects);
		}
}
