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
#include <linux/mm.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "agent.h"

#define TRACKED_OBJECTS_MAX 4096 /* live heap objects of all domains */
#define TRACKED_HASH_BITS 10

struct tracked_object {
	struct hlist_node node; /* in `tracked` while live, in `free_objects` otherwise */
	unsigned long key;      /* what the free is called with: the object, mapping or buffer address */
	unsigned long start, len; /* the interval: may differ from the key (page-rounded mappings, a net_device) */
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
struct domain *domain_by_text(unsigned long addr)
{
	struct domain *d;

	for (d = domains; d < domains + CHARIOT_MAX_DOMAINS; d++)
		if (d->in_use && ((addr >= d->text_start && addr < d->text_end) ||
				  (addr >= d->init_start && addr < d->init_end)))
			return d;
	return NULL;
}

/* The object `key` as authorized for domain `d` (NULL: for any domain). Several domains may hold grants on one
 * object (an urb is the USB storage driver's allocation and, while queued, its host controller driver's). */
static struct tracked_object *find_tracked(unsigned long key, const struct domain *d)
{
	struct tracked_object *t;

	hash_for_each_possible(tracked, t, node, key)
		if (t->key == key && (!d || t->domain == d))
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

void track_range(struct domain *d, unsigned long key, unsigned long start, unsigned long len)
{
	struct tracked_object *t = find_tracked(key, d);

	/* Granted again as it is (a request or an urb reused): nothing to tell the hypervisor. */
	if (t && t->start == start && t->len == len)
		return;
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
	t->key = key;
	t->start = start;
	t->len = len;
	t->domain = d;
	hash_add(tracked, &t->node, key);
	d->intervals++;
}


/* ---- allocation probes ---- */

/* Fills the call for domain d (state_lock held); 0 (keep the return probe) only if there is one. */
static int start_call(struct kretprobe_instance *ri, struct domain *d, struct kmem_cache *cache,
		      unsigned long size, unsigned long offset)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;

	if (!d || !d->in_use)
		return 1;
	call->domain = d;
	call->generation = d->generation;
	call->cache = cache;
	call->size = size;
	call->offset = offset;
	return 0;
}

/* Starts the call for the domain find(key) names, looked up under the same lock (fast path: no domain at all). */
static int entry_for(struct kretprobe_instance *ri, struct domain *(*find)(unsigned long key), unsigned long key,
		     struct kmem_cache *cache, unsigned long size, unsigned long offset)
{
	unsigned long flags;
	int skip;

	if (!READ_ONCE(nr_domains))
		return 1;
	spin_lock_irqsave(&state_lock, flags);
	skip = start_call(ri, find(key), cache, size, offset);
	spin_unlock_irqrestore(&state_lock, flags);
	return skip;
}

/* The caller's own code, or a delegation under way for it. */
static struct domain *caller_domain(unsigned long caller)
{
	struct domain *d = domain_by_text(caller);

	return d ? d : delegated_domain(caller);
}

static struct domain *module_domain(unsigned long mod)
{
	return domain_of_module((const struct module *)mod);
}

int alloc_entry(struct kretprobe_instance *ri, unsigned long caller, struct kmem_cache *cache,
		unsigned long size, unsigned long offset)
{
	return entry_for(ri, caller_domain, caller, cache, size, offset);
}

int alloc_entry_for_module(struct kretprobe_instance *ri, const struct module *mod, unsigned long size,
			   unsigned long offset)
{
	return entry_for(ri, module_domain, (unsigned long)mod, NULL, size, offset);
}

int alloc_entry_for_data(struct kretprobe_instance *ri, unsigned long addr, unsigned long size, unsigned long offset)
{
	return entry_for(ri, domain_by_address, addr, NULL, size, offset);
}

static int kmalloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, 0, 0);
}

/* __kmalloc_node_track_caller(size, flags, node, caller): the 4th argument names the real caller. */
static int kmalloc_track_caller_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, regs->cx, NULL, 0, 0);
}

/* kmem_cache_alloc*(cache, ...) */
static int cache_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), (struct kmem_cache *)regs->di, 0, 0);
}

/* Adds the interval if the allocating domain is still the one the entry saw. */
void track_for_call(struct alloc_call *call, unsigned long key, unsigned long start, unsigned long len)
{
	unsigned long flags;

	spin_lock_irqsave(&state_lock, flags);
	if (call->domain->in_use && call->domain->generation == call->generation && len)
		track_range(call->domain, key, start, len);
	spin_unlock_irqrestore(&state_lock, flags);
}

static int alloc_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	void *obj = (void *)regs_return_value(regs);

	if (ZERO_OR_NULL_PTR(obj))
		return 0;
	/* ksize: the object's real extent, which the driver may legally use; a cache's objects may be followed by
	 * slab metadata that ksize would include, so their size is the cache's object size. */
	track_for_call(call, (unsigned long)obj, (unsigned long)obj,
		       call->cache ? kmem_cache_size(call->cache) : ksize(obj));
	return 0;
}

/* ---- vmalloc, kvmalloc ---- */

/* __vmalloc_node_range(size, align, start, end, gfp, prot, vm_flags, node, caller): vmalloc, vzalloc,
 * __vmalloc_node and kvmalloc_node's vmalloc fallback all pass their own caller as `caller`. */
static int vmalloc_range_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_stack_arg(regs, 9), NULL, regs->di, 0);
}

/* kvmalloc_node(size, flags, node): its kmalloc path calls __kmalloc_node from the kernel, not the driver. */
static int sized_entry_di(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, regs->di, 0);
}

/* vmalloc maps whole pages (its guard page excluded). */
static int vmalloc_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	void *obj = (void *)regs_return_value(regs);

	if (ZERO_OR_NULL_PTR(obj))
		return 0;
	track_for_call(call, (unsigned long)obj, (unsigned long)obj,
		       is_vmalloc_addr(obj) ? PAGE_ALIGN(call->size) : ksize(obj));
	return 0;
}

/* ---- I/O mappings ---- */

/* ioremap*(phys, size[, prot]) */
static int ioremap_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, regs->si, regs->di & ~PAGE_MASK);
}

/* devm_ioremap*(dev, offset, size) */
static int devm_ioremap_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, regs->dx, regs->si & ~PAGE_MASK);
}

/* pci_ioremap_bar(pdev, bar), pci_ioremap_wc_bar: the whole BAR. */
static int pci_ioremap_bar_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct pci_dev *pdev = (struct pci_dev *)regs->di;
	int bar = regs->si;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return 1;
	return alloc_entry(ri, entry_return_address(regs), NULL, pci_resource_len(pdev, bar),
			   pci_resource_start(pdev, bar) & ~PAGE_MASK);
}

/* pci_iomap(pdev, bar, maxlen), pci_iomap_wc: maxlen 0 is the whole BAR (an I/O port BAR gives no mapping). */
static int pci_iomap_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct pci_dev *pdev = (struct pci_dev *)regs->di;
	int bar = regs->si;
	unsigned long len, maxlen = regs->dx;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return 1;
	len = pci_resource_len(pdev, bar);
	if (maxlen && maxlen < len)
		len = maxlen;
	return alloc_entry(ri, entry_return_address(regs), NULL, len, pci_resource_start(pdev, bar) & ~PAGE_MASK);
}

/* The mapping covers whole pages: [phys & PAGE_MASK, PAGE_ALIGN(phys + size)), returned at its offset. */
static int ioremap_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	unsigned long addr = regs_return_value(regs), start;

	if (!addr || IS_ERR_VALUE(addr) || !is_vmalloc_addr((void *)addr))
		return 0;
	start = addr & PAGE_MASK;
	track_for_call(call, addr, start, PAGE_ALIGN(addr + call->size) - start);
	return 0;
}

/* ---- DMA-coherent buffers ---- */

/* dma_alloc_attrs(dev, size, dma_handle, gfp, attrs): the CPU address of whole pages. */
static int dma_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, regs->si, 0);
}

static int dma_alloc_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	unsigned long addr = regs_return_value(regs);

	if (addr)
		track_for_call(call, addr, addr, PAGE_ALIGN(call->size));
	return 0;
}

/* ---- net_device ---- */

/* alloc_netdev_mqs(sizeof_priv, ...), alloc_etherdev_mqs(sizeof_priv, ...) */
static int netdev_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, regs->di, 0);
}

/* The net_device and its private area; keyed by the allocation kvfree gets at release (dev - dev->padded). */
static int netdev_alloc_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	struct net_device *dev = (struct net_device *)regs_return_value(regs);
	unsigned long start, end;

	if (!dev || IS_ERR(dev))
		return 0;
	start = (unsigned long)dev;
	end = (unsigned long)netdev_priv(dev) + call->size;
	track_for_call(call, start - dev->padded, start, end - start);
	/* Its transmit queues (netif_tx_start/stop_queue, BQL's netdev_tx_sent_queue/completed_queue: inline). */
	if (dev->_tx)
		track_for_call(call, (unsigned long)dev->_tx, (unsigned long)dev->_tx,
			       dev->num_tx_queues * sizeof(struct netdev_queue));
	return 0;
}

/* ---- the device a driver is bound to ---- */

/* Without CONFIG_PM_SLEEP, device_set_wakeup_enable() is inline and sets dev->power.should_wakeup, a bit field
 * alone in its storage unit: the byte holding it, found at init (-1: none, device_set_wakeup_enable is a call). */
static long should_wakeup_offset = -1;

static void find_should_wakeup(void)
{
#ifndef CONFIG_PM_SLEEP
	static struct dev_pm_info pm; /* zero; only touched here, at module init */
	const unsigned char *b = (const unsigned char *)&pm;
	size_t i;

	pm.should_wakeup = 1;
	for (i = 0; i < sizeof(pm); i++)
		if (b[i]) {
			should_wakeup_offset = i;
			break;
		}
#endif
}

/* really_probe(dev, drv): drv is about to probe dev (any bus). Its probe may set the device's driver data
 * (dev_set_drvdata and the bus wrappers are inline) and its wakeup flag (device_set_wakeup_enable, inline without
 * CONFIG_PM_SLEEP), each keyed by its address until the device is removed. */
static int device_probe_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct device *dev = (struct device *)regs->di;
	struct device_driver *drv = (struct device_driver *)regs->si;
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains) || !drv->owner)
		return 0;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_of_module(drv->owner);
	if (d) {
		track_range(d, (unsigned long)&dev->driver_data, (unsigned long)&dev->driver_data,
			    sizeof(dev->driver_data));
		if (should_wakeup_offset >= 0)
			track_range(d, (unsigned long)&dev->power + should_wakeup_offset,
				    (unsigned long)&dev->power + should_wakeup_offset, 1);
	}
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

/* device_remove(dev) unbinds its driver, whose remove function may still clear its driver data (usb-storage's
 * disconnect does: usb_set_intfdata(intf, NULL)): the grants end when it returns. */
static int device_remove_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	if (!READ_ONCE(nr_domains))
		return 1;
	*(struct device **)ri->data = (struct device *)regs->di;
	return 0;
}

static int device_remove_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct device *dev = *(struct device **)ri->data;

	object_freed((unsigned long)&dev->driver_data);
	if (should_wakeup_offset >= 0)
		object_freed((unsigned long)&dev->power + should_wakeup_offset);
	return 0;
}

/* ---- sk_buffs the driver holds ---- */

/* The skb and its data (head .. end + skb_shared_info), keyed by the skb and by its head. */
static void grant_skb(struct domain *d, struct sk_buff *skb)
{
	unsigned long head = (unsigned long)skb->head;

	track_range(d, (unsigned long)skb, (unsigned long)skb, sizeof(*skb));
	if (head)
		track_range(d, head, head, (unsigned long)skb_end_pointer(skb) + sizeof(struct skb_shared_info) - head);
}

static void ungrant_skb(struct sk_buff *skb)
{
	if (!skb)
		return;
	object_freed((unsigned long)skb);
	object_freed((unsigned long)skb->head);
}

/* __netdev_alloc_skb, __napi_alloc_skb, napi_build_skb, build_skb, __alloc_skb called by the driver */
static int skb_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return alloc_entry(ri, entry_return_address(regs), NULL, 0, 0);
}

/* The same, or for a net_device whose ops are a domain's: a library receives for the driver and has the driver
 * fill the skb (8390's ei_receive allocates it and calls ne2k_pci's block_input, then netif_rx). */
static int netdev_skb_alloc_entry(struct kretprobe_instance *ri, struct net_device *dev, struct pt_regs *regs)
{
	int skip = skb_alloc_entry(ri, regs);

	if (skip && dev && dev->netdev_ops)
		skip = alloc_entry_for_data(ri, (unsigned long)dev->netdev_ops, 0, 0);
	return skip;
}

/* __netdev_alloc_skb(dev, len, gfp_mask) */
static int netdev_alloc_skb_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return netdev_skb_alloc_entry(ri, (struct net_device *)regs->di, regs);
}

/* __napi_alloc_skb(napi, len, gfp_mask) */
static int napi_alloc_skb_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return netdev_skb_alloc_entry(ri, ((struct napi_struct *)regs->di)->dev, regs);
}

static int skb_alloc_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct alloc_call *call = (struct alloc_call *)ri->data;
	struct sk_buff *skb = (struct sk_buff *)regs_return_value(regs);
	unsigned long flags;

	if (!skb)
		return 0;
	spin_lock_irqsave(&state_lock, flags);
	if (call->domain->in_use && call->domain->generation == call->generation)
		grant_skb(call->domain, skb);
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

/* dev_hard_start_xmit(first, dev, txq, ret): skbs on their way to a driver's ndo_start_xmit. */
static int xmit_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct sk_buff *skb = (struct sk_buff *)regs->di;
	struct net_device *dev = (struct net_device *)regs->si;
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains) || !dev || !dev->netdev_ops)
		return 0;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_by_text((unsigned long)dev->netdev_ops->ndo_start_xmit);
	for (; d && skb; skb = skb->next)
		grant_skb(d, skb);
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

/* The driver hands a received skb to the stack: it holds it no more. napi_gro_receive(napi, skb) */
static int skb_handoff_rsi_pre(struct kprobe *p, struct pt_regs *regs)
{
	ungrant_skb((struct sk_buff *)regs->si);
	return 0;
}

/* netif_receive_skb(skb), netif_rx(skb), skb_release_all(skb, reason): every skb free passes there */
static int skb_handoff_rdi_pre(struct kprobe *p, struct pt_regs *regs)
{
	ungrant_skb((struct sk_buff *)regs->di);
	return 0;
}

/* ---- frees ---- */

/* Every domain's grant on the object goes. */
void object_freed(unsigned long key)
{
	struct tracked_object *t;
	unsigned long flags;

	if (!READ_ONCE(nr_domains) || ZERO_OR_NULL_PTR((void *)key))
		return;
	spin_lock_irqsave(&state_lock, flags);
	while ((t = find_tracked(key, NULL)))
		untrack_object(t);
	spin_unlock_irqrestore(&state_lock, flags);
}

/* Only domain d's grant goes (state_lock held). */
void ungrant(struct domain *d, unsigned long key)
{
	struct tracked_object *t = find_tracked(key, d);

	if (t)
		untrack_object(t);
}

struct domain *domain_by_address(unsigned long addr)
{
	struct domain *d;

	for (d = domains; d < domains + CHARIOT_MAX_DOMAINS; d++)
		if (d->in_use && within_module(addr, (struct module *)d->mod))
			return d;
	return NULL;
}

struct domain *domain_of_module(const struct module *mod)
{
	struct domain *d;

	for (d = domains; mod && d < domains + CHARIOT_MAX_DOMAINS; d++)
		if (d->in_use && d->mod == mod)
			return d;
	return NULL;
}

/* The interval goes before the object is freed: from then on a write by the driver is a use after free. */
int free_rdi_pre(struct kprobe *p, struct pt_regs *regs)
{
	object_freed(regs->di); /* kfree(object), vfree(addr), iounmap(addr) */
	return 0;
}

int free_rsi_pre(struct kprobe *p, struct pt_regs *regs)
{
	object_freed(regs->si); /* kmem_cache_free(cache, object) */
	return 0;
}

int free_rdx_pre(struct kprobe *p, struct pt_regs *regs)
{
	object_freed(regs->dx); /* dma_free_attrs(dev, size, cpu_addr, dma_handle, attrs) */
	return 0;
}

#define ALLOC_PROBE_H(sym, entry, ret) ALLOC_KRETPROBE(sym, entry, ret)
#define ALLOC_PROBE(sym, entry) ALLOC_KRETPROBE(sym, entry, alloc_return)

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
	ALLOC_PROBE_H("__vmalloc_node_range", vmalloc_range_entry, vmalloc_return),
	ALLOC_PROBE_H("kvmalloc_node", sized_entry_di, vmalloc_return),
	ALLOC_PROBE_H("ioremap", ioremap_entry, ioremap_return),
	ALLOC_PROBE_H("ioremap_wc", ioremap_entry, ioremap_return),
	ALLOC_PROBE_H("ioremap_uc", ioremap_entry, ioremap_return),
	ALLOC_PROBE_H("ioremap_cache", ioremap_entry, ioremap_return),
	ALLOC_PROBE_H("ioremap_prot", ioremap_entry, ioremap_return),
	ALLOC_PROBE_H("devm_ioremap", devm_ioremap_entry, ioremap_return),
	ALLOC_PROBE_H("devm_ioremap_wc", devm_ioremap_entry, ioremap_return),
	ALLOC_PROBE_H("devm_ioremap_uc", devm_ioremap_entry, ioremap_return),
	ALLOC_PROBE_H("pci_ioremap_bar", pci_ioremap_bar_entry, ioremap_return),
	ALLOC_PROBE_H("pci_ioremap_wc_bar", pci_ioremap_bar_entry, ioremap_return),
	ALLOC_PROBE_H("pci_iomap", pci_iomap_entry, ioremap_return),
	ALLOC_PROBE_H("pci_iomap_wc", pci_iomap_entry, ioremap_return),
	ALLOC_PROBE_H("dma_alloc_attrs", dma_alloc_entry, dma_alloc_return),
	ALLOC_PROBE_H("alloc_netdev_mqs", netdev_alloc_entry, netdev_alloc_return),
	ALLOC_PROBE_H("alloc_etherdev_mqs", netdev_alloc_entry, netdev_alloc_return),
	ALLOC_PROBE_H("__netdev_alloc_skb", netdev_alloc_skb_entry, skb_alloc_return),
	ALLOC_PROBE_H("__napi_alloc_skb", napi_alloc_skb_entry, skb_alloc_return),
	ALLOC_PROBE_H("napi_build_skb", skb_alloc_entry, skb_alloc_return),
	ALLOC_PROBE_H("build_skb", skb_alloc_entry, skb_alloc_return),
	ALLOC_PROBE_H("__alloc_skb", skb_alloc_entry, skb_alloc_return),
	{
		.kp.symbol_name = "device_remove", .entry_handler = device_remove_entry,
		.handler = device_remove_return, .data_size = sizeof(struct device *),
		.maxactive = ALLOC_PROBE_MAXACTIVE,
	},
};
static bool alloc_probe_registered[ARRAY_SIZE(alloc_probes)];

/* kfree and kmem_cache_free are required (the first two); the rest are skipped when absent. */
static struct kprobe free_probes[] = {
	{ .symbol_name = "kfree", .pre_handler = free_rdi_pre },
	{ .symbol_name = "kmem_cache_free", .pre_handler = free_rsi_pre },
	{ .symbol_name = "vfree", .pre_handler = free_rdi_pre },
	{ .symbol_name = "iounmap", .pre_handler = free_rdi_pre },
	{ .symbol_name = "dma_free_attrs", .pre_handler = free_rdx_pre },
	{ .symbol_name = "dev_hard_start_xmit", .pre_handler = xmit_pre },
	{ .symbol_name = "napi_gro_receive", .pre_handler = skb_handoff_rsi_pre },
	{ .symbol_name = "netif_receive_skb", .pre_handler = skb_handoff_rdi_pre },
	{ .symbol_name = "netif_rx", .pre_handler = skb_handoff_rdi_pre },
	{ .symbol_name = "skb_release_all", .pre_handler = skb_handoff_rdi_pre },
	{ .symbol_name = "really_probe", .pre_handler = device_probe_pre },
};
static bool free_probe_registered[ARRAY_SIZE(free_probes)];

struct probe_set heap_probes = {
	.what = "heap",
	.krps = alloc_probes, .krp_registered = alloc_probe_registered, .nr_krps = ARRAY_SIZE(alloc_probes),
	.kps = free_probes, .kp_registered = free_probe_registered, .nr_kps = ARRAY_SIZE(free_probes),
	.required_kps = 2,
};

void heap_init(void)
{
	int i;

	find_should_wakeup();
	for (i = 0; i < TRACKED_OBJECTS_MAX; i++)
		hlist_add_head(&object_pool[i].node, &free_objects);
}

/*
 * A module isolated after it loaded: what it obtained before is unknown to the probes, but its net_devices can be
 * found (those whose ndo_start_xmit is its code): each kmalloc'd net_device allocation as a whole (its private
 * area's size is not known any more: ksize of the allocation), its transmit queues, and the driver data and wakeup
 * flag of the device it is bound to. Its I/O mappings, DMA rings and other heap objects stay unknown.
 */
void heap_adopt_netdevs(struct domain *d)
{
	struct net_device *dev;
	unsigned long flags, p;
	int n = 0;

	rcu_read_lock();
	for_each_netdev_rcu(&init_net, dev) {
		if (!dev->netdev_ops || !dev->netdev_ops->ndo_start_xmit)
			continue;
		spin_lock_irqsave(&state_lock, flags);
		if (domain_by_text((unsigned long)dev->netdev_ops->ndo_start_xmit) == d) {
			p = (unsigned long)dev - dev->padded;
			if (!is_vmalloc_addr((void *)p))
				track_range(d, p, p, ksize((void *)p));
			if (dev->_tx && !is_vmalloc_addr(dev->_tx))
				track_range(d, (unsigned long)dev->_tx, (unsigned long)dev->_tx,
					    dev->num_tx_queues * sizeof(struct netdev_queue));
			if (dev->dev.parent) {
				struct device *parent = dev->dev.parent;

				track_range(d, (unsigned long)&parent->driver_data, (unsigned long)&parent->driver_data,
					    sizeof(parent->driver_data));
				if (should_wakeup_offset >= 0)
					track_range(d, (unsigned long)&parent->power + should_wakeup_offset,
						    (unsigned long)&parent->power + should_wakeup_offset, 1);
			}
			n++;
		}
		spin_unlock_irqrestore(&state_lock, flags);
	}
	rcu_read_unlock();
	if (n)
		pr_info("%s: %d net_device(s) it registered before it was isolated authorized\n", d->name, n);
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
