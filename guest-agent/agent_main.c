// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent: the in-guest half of Chariot driver isolation (first slice: heap and module data).
 *
 * /proc/chariot takes one command per write:
 *   isolate <module> [enforce|audit]   create a protection domain for a loaded module: its core text is the
 *                                      driver code, its writable data+bss its first authorization interval
 *   release <module>                   destroy the domain and forget its heap
 * and reads back one line per domain:
 *   domain=<id> module=<name> policy=<enforce|audit> intervals=<n> violations=<v> allowed=<a>
 *
 * Heap tracking: kretprobes on the kmalloc/kmem_cache_alloc family attribute an allocation to a domain when the
 * allocation call returns into that domain's text (for the *_track_caller variants: when their `caller` argument
 * does, so kstrdup/kmemdup/krealloc called by the driver count as the driver's); the object, of its real size
 * (ksize, or the cache's object size), becomes an interval. kprobes on kfree and kmem_cache_free remove it again.
 * Live objects sit in one hash table keyed by address (with their domain), so a free of any other object costs
 * one lookup, and nothing at all while no domain exists.
 *
 * Not covered yet (see the report / docs): stacks, per-CPU data, ioremap'ed memory, memory granted by the kernel
 * through driver entry points, objects the driver allocated before it was isolated, frees through kfree_bulk /
 * kmem_cache_free_bulk / batched kfree_rcu, allocations whose call is a tail call out of the driver.
 *
 * find_module() and module_mutex are not exported in 6.1: both are found through kallsyms_lookup_name(), whose
 * address a kprobe on it reveals.
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/ctype.h>
#include <linux/hashtable.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "chariot_hypercall.h"

#define TRACKED_OBJECTS_MAX 4096 /* live heap objects of all domains */
#define TRACKED_HASH_BITS 10
#define ALLOC_PROBE_MAXACTIVE 32 /* isolated-driver allocations in flight at once (sleeping ones included) */
#define COMMAND_MAX 128

struct domain {
	bool in_use;
	unsigned int generation; /* bumped at each create: a slot reused while an allocation slept is noticed */
	unsigned long hv_id;
	char name[CHARIOT_DOMAIN_NAME_MAX]; /* the hypervisor reads the name from here at DOMAIN_CREATE */
	const struct module *mod;
	unsigned long text_start, text_end;
	bool audit;
	unsigned int intervals; /* authorization intervals the agent added and has not removed */
};

struct tracked_object {
	struct hlist_node node; /* in `tracked` while live, in `free_objects` otherwise */
	unsigned long start, len;
	struct domain *domain;
};

/* agent_lock serializes commands, releases and unload (process context, may sleep). state_lock guards what the
 * probes touch: domains[].in_use and counters, the hash table and the object pool (any context). */
static DEFINE_MUTEX(agent_lock);
static DEFINE_SPINLOCK(state_lock);
static struct domain domains[CHARIOT_MAX_DOMAINS];
static int nr_domains; /* read without the lock by the probes' fast path */
static DEFINE_HASHTABLE(tracked, TRACKED_HASH_BITS);
static struct tracked_object object_pool[TRACKED_OBJECTS_MAX];
static HLIST_HEAD(free_objects);

static struct mutex *module_mutex_p;
static struct module *(*find_module_p)(const char *name);
static struct proc_dir_entry *proc_entry;

/* ---- hypercalls ---- */

static long hypercall(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3,
		      unsigned long *out0, unsigned long *out1)
{
	long status = chariot_vmcall(nr, a0, a1, a2, a3, out0, out1);

	if (status)
		pr_warn("hypercall %s(0x%lx, 0x%lx, 0x%lx, 0x%lx) failed: status=%ld (%s)\n", chariot_hc_name(nr),
			a0, a1, a2, a3, status, chariot_status_name(status));
	return status;
}

/* The same from a probe handler: a misbehaving hypervisor must not turn every allocation into a console line. */
static long hypercall_in_probe(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2)
{
	long status = chariot_vmcall(nr, a0, a1, a2, 0, NULL, NULL);

	if (status)
		pr_warn_ratelimited("hypercall %s(0x%lx, 0x%lx, 0x%lx) failed: status=%ld (%s)\n",
				    chariot_hc_name(nr), a0, a1, a2, status, chariot_status_name(status));
	return status;
}

/* ---- domains and tracked objects (state_lock held unless noted) ---- */

static struct domain *domain_by_text(unsigned long addr)
{
	int i;

	for (i = 0; i < CHARIOT_MAX_DOMAINS; i++)
		if (domains[i].in_use && addr >= domains[i].text_start && addr < domains[i].text_end)
			return &domains[i];
	return NULL;
}

/* agent_lock held (in_use only changes under it) */
static struct domain *domain_by_name(const char *name)
{
	int i;

	for (i = 0; i < CHARIOT_MAX_DOMAINS; i++)
		if (domains[i].in_use && !strcmp(domains[i].name, name))
			return &domains[i];
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

static void unregister_heap_probes(void)
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

static int register_heap_probes(void)
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

/* ---- isolate / release (agent_lock held) ---- */

static int isolate(const char *name, bool audit)
{
	unsigned long text_start, text_end, data_start, data_end, id, flags;
	struct domain *d = NULL;
	struct module *mod;
	long status;
	int i, err = 0;

	if (strlen(name) >= CHARIOT_DOMAIN_NAME_MAX) {
		pr_warn("isolate %s: name longer than %d bytes\n", name, CHARIOT_DOMAIN_NAME_MAX - 1);
		return -ENAMETOOLONG;
	}
	if (domain_by_name(name)) {
		pr_warn("isolate %s: already isolated\n", name);
		return -EEXIST;
	}
	for (i = 0; i < CHARIOT_MAX_DOMAINS && !d; i++)
		if (!domains[i].in_use)
			d = &domains[i];
	if (!d) {
		pr_warn("isolate %s: all %d domains in use\n", name, CHARIOT_MAX_DOMAINS);
		return -ENOSPC;
	}

	/* module_mutex stays held until the domain is live: the module cannot start unloading in between, and an
	 * unload that starts later finds the domain (module_event releases it). */
	mutex_lock(module_mutex_p);
	mod = find_module_p(name);
	if (!mod || mod == THIS_MODULE || mod->state != MODULE_STATE_LIVE) {
		pr_warn("isolate %s: %s\n", name, !mod ? "no such module" : mod == THIS_MODULE ? "that is the agent" :
			"module is not live");
		err = !mod ? -ENOENT : mod == THIS_MODULE ? -EINVAL : -EBUSY;
		goto out;
	}
	/* core layout: text | rodata | ro_after_init | data + bss */
	text_start = (unsigned long)mod->core_layout.base;
	text_end = text_start + mod->core_layout.text_size;
	data_start = text_start + mod->core_layout.ro_after_init_size;
	data_end = text_start + mod->core_layout.size;

	strscpy(d->name, name, sizeof(d->name));
	status = hypercall(CHARIOT_HC_DOMAIN_CREATE, text_start, text_end, audit ? CHARIOT_DOMAIN_AUDIT : 0,
			   (unsigned long)d->name, &id, NULL);
	if (status) {
		err = chariot_status_errno(status);
		goto out;
	}
	if (data_end > data_start) {
		status = hypercall(CHARIOT_HC_INTERVAL_ADD, id, data_start, data_end - data_start, 0, NULL, NULL);
		if (status) {
			hypercall(CHARIOT_HC_DOMAIN_DESTROY, id, 0, 0, 0, NULL, NULL);
			err = chariot_status_errno(status);
			goto out;
		}
	}

	spin_lock_irqsave(&state_lock, flags);
	d->hv_id = id;
	d->mod = mod;
	d->text_start = text_start;
	d->text_end = text_end;
	d->audit = audit;
	d->intervals = data_end > data_start;
	d->generation++;
	d->in_use = true;
	WRITE_ONCE(nr_domains, nr_domains + 1);
	spin_unlock_irqrestore(&state_lock, flags);
	pr_info("isolated %s: domain=%lu policy=%s text=[0x%lx,0x%lx) data=[0x%lx,0x%lx)\n", name, id,
		audit ? "audit" : "enforce", text_start, text_end, data_start, data_end);
out:
	mutex_unlock(module_mutex_p);
	return err;
}

static int release(struct domain *d)
{
	struct tracked_object *t;
	struct hlist_node *tmp;
	unsigned long flags;
	long status;
	int bkt;

	/* Out of the probes' sight first, so no interval is added for it after the hypervisor dropped it. */
	spin_lock_irqsave(&state_lock, flags);
	d->in_use = false;
	WRITE_ONCE(nr_domains, nr_domains - 1);
	hash_for_each_safe(tracked, bkt, tmp, t, node)
		if (t->domain == d) {
			hash_del(&t->node);
			hlist_add_head(&t->node, &free_objects);
		}
	spin_unlock_irqrestore(&state_lock, flags);

	status = hypercall(CHARIOT_HC_DOMAIN_DESTROY, d->hv_id, 0, 0, 0, NULL, NULL);
	pr_info("released %s: domain=%lu%s\n", d->name, d->hv_id, status ? " (hypervisor refused)" : "");
	return chariot_status_errno(status);
}

/* An isolated module is unloading (its exit function has run, still isolated): its domain goes with it. */
static int module_event(struct notifier_block *nb, unsigned long state, void *data)
{
	struct module *mod = data;
	int i;

	if (state != MODULE_STATE_GOING)
		return NOTIFY_DONE;
	mutex_lock(&agent_lock);
	for (i = 0; i < CHARIOT_MAX_DOMAINS; i++)
		if (domains[i].in_use && domains[i].mod == mod)
			release(&domains[i]);
	mutex_unlock(&agent_lock);
	return NOTIFY_OK;
}

static struct notifier_block module_notifier = { .notifier_call = module_event };

/* ---- /proc/chariot ---- */

/* The next blank-separated word of *cursor, NUL-terminated in place; NULL at the end. */
static char *next_word(char **cursor)
{
	char *word;

	*cursor = skip_spaces(*cursor);
	if (!**cursor)
		return NULL;
	word = *cursor;
	while (**cursor && !isspace(**cursor))
		(*cursor)++;
	if (**cursor)
		*(*cursor)++ = '\0';
	return word;
}

static int run_command(char *line)
{
	char *verb = next_word(&line), *name = next_word(&line), *policy = next_word(&line);
	bool audit = false;
	struct domain *d;
	int err;

	if (!verb || !name || next_word(&line))
		goto usage;
	if (!strcmp(verb, "isolate")) {
		if (policy && !strcmp(policy, "audit"))
			audit = true;
		else if (policy && strcmp(policy, "enforce"))
			goto usage;
		mutex_lock(&agent_lock);
		err = isolate(name, audit);
		mutex_unlock(&agent_lock);
		return err;
	}
	if (!strcmp(verb, "release") && !policy) {
		mutex_lock(&agent_lock);
		d = domain_by_name(name);
		err = d ? release(d) : -ENOENT;
		mutex_unlock(&agent_lock);
		if (!d)
			pr_warn("release %s: not isolated\n", name);
		return err;
	}
usage:
	pr_warn("usage: isolate <module> [enforce|audit] | release <module>\n");
	return -EINVAL;
}

static ssize_t proc_write(struct file *file, const char __user *ubuf, size_t len, loff_t *off)
{
	char line[COMMAND_MAX];
	int err;

	if (len >= sizeof(line))
		return -EINVAL;
	if (copy_from_user(line, ubuf, len))
		return -EFAULT;
	line[len] = '\0';
	err = run_command(line);
	return err ? err : len;
}

static int proc_show(struct seq_file *m, void *v)
{
	unsigned long violations, allowed;
	long status;
	int i;

	mutex_lock(&agent_lock);
	for (i = 0; i < CHARIOT_MAX_DOMAINS; i++) {
		struct domain *d = &domains[i];

		if (!d->in_use)
			continue;
		seq_printf(m, "domain=%lu module=%s policy=%s intervals=%u", d->hv_id, d->name,
			   d->audit ? "audit" : "enforce", READ_ONCE(d->intervals));
		status = hypercall(CHARIOT_HC_DOMAIN_STATS, d->hv_id, 0, 0, 0, &violations, &allowed);
		if (status)
			seq_printf(m, " violations=? allowed=? stats_status=%ld\n", status);
		else
			seq_printf(m, " violations=%lu allowed=%lu\n", violations, allowed);
	}
	mutex_unlock(&agent_lock);
	return 0;
}

static int proc_open(struct inode *inode, struct file *file)
{
	return single_open(file, proc_show, NULL);
}

static const struct proc_ops chariot_proc_ops = {
	.proc_open = proc_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = proc_write,
};

/* ---- load / unload ---- */

static int resolve_kernel_symbols(void)
{
	unsigned long (*lookup)(const char *name);
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	int err = register_kprobe(&kp);

	if (err) {
		pr_err("cannot locate kallsyms_lookup_name (kprobe: %d)\n", err);
		return err;
	}
	lookup = (void *)kp.addr;
	unregister_kprobe(&kp);
	module_mutex_p = (struct mutex *)lookup("module_mutex");
	find_module_p = (void *)lookup("find_module");
	if (!module_mutex_p || !find_module_p) {
		pr_err("kernel symbols missing:%s%s\n", module_mutex_p ? "" : " module_mutex",
		       find_module_p ? "" : " find_module");
		return -ENOENT;
	}
	return 0;
}

static int __init chariot_agent_init(void)
{
	unsigned long version;
	long status;
	int i, err;

	if (!chariot_hv_present()) {
		pr_err("no ChariotHV hypervisor (CPUID 0x40000000): not loading\n");
		return -ENODEV;
	}
	status = hypercall(CHARIOT_HC_VERSION, 0, 0, 0, 0, &version, NULL);
	if (status) {
		pr_err("ChariotHV did not answer the version hypercall: not loading\n");
		return -ENODEV;
	}
	if (version != CHARIOT_ABI_VERSION) {
		pr_err("ChariotHV speaks ABI %lu, this agent %d: not loading\n", version, CHARIOT_ABI_VERSION);
		return -ENODEV;
	}
	err = resolve_kernel_symbols();
	if (err)
		return err;

	for (i = 0; i < TRACKED_OBJECTS_MAX; i++)
		hlist_add_head(&object_pool[i].node, &free_objects);
	err = register_heap_probes();
	if (err)
		return err;
	err = register_module_notifier(&module_notifier);
	if (err)
		goto fail_probes;
	proc_entry = proc_create("chariot", 0600, NULL, &chariot_proc_ops);
	if (!proc_entry) {
		err = -ENOMEM;
		goto fail_notifier;
	}
	pr_info("ChariotHV ABI %lu: ready, commands in /proc/chariot\n", version);
	return 0;

fail_notifier:
	unregister_module_notifier(&module_notifier);
fail_probes:
	unregister_heap_probes();
	return err;
}

static void __exit chariot_agent_exit(void)
{
	int i;

	proc_remove(proc_entry);
	unregister_module_notifier(&module_notifier);
	mutex_lock(&agent_lock);
	for (i = 0; i < CHARIOT_MAX_DOMAINS; i++)
		if (domains[i].in_use)
			release(&domains[i]);
	mutex_unlock(&agent_lock);
	unregister_heap_probes();
	pr_info("unloaded\n");
}

module_init(chariot_agent_init);
module_exit(chariot_agent_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Chariot guest agent: isolates a driver's writes through the ChariotHV hypervisor");
