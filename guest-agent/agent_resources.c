// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent's resource ledger: the kernel resources an isolated driver holds besides memory, in the order it
 * acquired them, so that the unload of a faulty driver can release what its exit function left before the module's
 * memory is freed. A call the hypervisor aborted (it returned -EIO from the middle of the driver) never ran the
 * code that would have recorded, or undone, what it had acquired so far: a timer, work item or IRQ handler left
 * pointing into freed module memory crashes the kernel later; a driver or net_device left registered, at its next
 * use.
 *
 * Recorded (kprobes and kretprobes, attributed by the call site in the module's text, a function pointer in its
 * text, or the owner module the call names):
 *   irq           request_threaded_irq (request_irq, request_any_context_irq and devm_request_threaded_irq pass
 *                 there) that succeeded, by its handler or thread function or call site; gone at free_irq
 *   timer         init_timer_key of a timer whose function is in the module's text (timer_setup is inline)
 *   delayed_work  init_timer_key with delayed_work_timer_fn, which is how INIT_DELAYED_WORK shows up (INIT_WORK has
 *                 set the work's function just before), and queue_delayed_work_on / mod_delayed_work_on (a
 *                 DECLARE_DELAYED_WORK has no init call); by the work's function
 *   work          queue_work_on of a work whose function is in the module's text (INIT_WORK is inline)
 *   pci_driver, usb_driver, device_driver (scsi_register_driver: sd_mod); gone at driver_unregister
 *   netdev        register_netdevice (register_netdev passes there) of a net_device whose ops are the module's or
 *                 that the module registers; gone at free_netdev
 *   device        device_add called from the module's text (a class device of its own: sd's scsi_disk); gone at
 *                 device_del
 *   scsi_host     scsi_host_alloc of a host whose template is the module's (usb-storage's, or ata_piix's through
 *                 libata); gone at its last reference (scsi_host_dev_release). Held at release only while never
 *                 added (SHOST_CREATED: a probe aborted after allocating it) or still running: a host its driver
 *                 removed may wait for others' references, which are not the module's to drop
 *   snd_card      snd_card_register of a card the module created; gone at snd_card_free_when_closed (snd_card_free
 *                 and devres pass there)
 * Timers and works are forgotten only with their domain (nobody tells when their memory goes), so whether one is
 * still held is judged at release from a copy read without faulting: still the same function, and pending.
 *
 * The probes on the hot paths (init_timer_key, queue_work_on, queue_delayed_work_on, mod_delayed_work_on) are int3
 * probes (optimization is off while the agent is loaded: agent_probes.c); their handlers look at the function
 * pointer first and take no lock for a function outside every domain's text. mod_timer and add_timer are not
 * probed: a timer is known from its initialization and found pending at release.
 *
 * Release (resources_release, at the module's GOING notification: after its exit function ran, before its memory
 * is freed): newest first, what is still held is released (free_irq, del_timer_sync, cancel_delayed_work_sync,
 * cancel_work_sync, pci_unregister_driver, usb_deregister, driver_unregister, unregister_netdev, snd_card_free,
 * device_unregister). Found at release, not recorded: the kernel threads running a function of the module's text
 * (stopped first: they use the rest) and the I/O port and memory regions named from its memory (released last).
 * IRQs requested through devres belong to their device, whose unbinding (a driver unregistered) frees them: they
 * wait for a second pass, which also catches what a released item re-armed meanwhile (a work queued by a timer's
 * function before the timer went).
 *
 * Orphans (resources_release_orphans, before recovery unloads the module): a device of a class the module defines,
 * added under a parent the module's driver is not bound to, was added by a probe that never reached its error path
 * (aborted): no remove will delete it, and after the exit function unregistered its class it cannot be deleted
 * (device_del needs the class). Left, its class directory under the parent makes the reload's probe of that parent
 * fail (-EEXIST: sd's scsi_disk). It is unregistered first, while its class exists.
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/interrupt.h>
#include <linux/ioport.h>
#include <linux/kthread.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/usb.h>
#include <scsi/scsi_host.h>
#include <linux/workqueue.h>
#include <sound/core.h>

#include "agent.h"

#define RESOURCES_MAX 256 /* ledger entries of all domains */
#define RELEASE_PASSES 2
#define RESOURCE_PROBE_MAXACTIVE 8

enum resource_kind {
	RES_IRQ,
	RES_TIMER,
	RES_DELAYED_WORK,
	RES_WORK,
	RES_PCI_DRIVER,
	RES_USB_DRIVER,
	RES_DEVICE_DRIVER,
	RES_NETDEV,
	RES_SND_CARD,
	RES_DEVICE,
	RES_SCSI_HOST,
	RES_KINDS,
};

static const char *const kind_names[RES_KINDS] = {
	[RES_IRQ] = "irq",		 [RES_TIMER] = "timer",		  [RES_DELAYED_WORK] = "delayed_work",
	[RES_WORK] = "work",		 [RES_PCI_DRIVER] = "pci_driver", [RES_USB_DRIVER] = "usb_driver",
	[RES_DEVICE_DRIVER] = "device_driver", [RES_NETDEV] = "netdev", [RES_SND_CARD] = "snd_card",
	[RES_DEVICE] = "device",	 [RES_SCSI_HOST] = "scsi_host",
};

/* One resource a domain holds. `key` is what its release event names: the IRQ number (with the dev_id as object),
 * the struct device_driver of a driver, else the object itself. */
struct held_resource {
	bool in_use;
	bool managed; /* an IRQ requested through devres */
	enum resource_kind kind;
	struct domain *domain;
	unsigned long seq;
	void *object;
	unsigned long key;
	unsigned long function; /* a timer's, work's or IRQ handler's, in the module's text; 0 for the others */
};

static struct held_resource ledger[RESOURCES_MAX]; /* state_lock */
static unsigned long next_seq;                      /* state_lock */
/* Per domain slot: acquisitions recorded (a renewal of an entry not counted) and lost to a full ledger. */
static unsigned int acquired[CHARIOT_MAX_DOMAINS], unrecorded[CHARIOT_MAX_DOMAINS];
static unsigned long devm_irq_start, devm_irq_end;  /* devm_request_threaded_irq's code */
static rwlock_t *resource_lock_p; /* NULL on a uniprocessor kernel: the lock has no storage, only preemption off */

/* ---- the ledger (state_lock held) ---- */

static struct held_resource *find_resource(enum resource_kind kind, unsigned long key, const void *object)
{
	struct held_resource *r;

	for (r = ledger; r < ledger + RESOURCES_MAX; r++)
		if (r->in_use && r->kind == kind && r->key == key && (!object || r->object == object))
			return r;
	return NULL;
}

/* A new acquisition, or the same object acquired again (a timer re-initialized, a work queued again): newest. */
static void record(struct domain *d, enum resource_kind kind, void *object, unsigned long key,
		   unsigned long function, bool managed)
{
	struct held_resource *r = find_resource(kind, key, object);
	bool fresh = !r;

	if (fresh)
		for (r = ledger; r < ledger + RESOURCES_MAX && r->in_use; r++)
			;
	if (r == ledger + RESOURCES_MAX) {
		unrecorded[d - domains]++;
		pr_warn_ratelimited("resource ledger full (%d): %s's %s 0x%lx is not recorded\n", RESOURCES_MAX,
				    d->name, kind_names[kind], (unsigned long)object);
		return;
	}
	acquired[d - domains] += fresh;
	*r = (struct held_resource){ .in_use = true, .managed = managed, .kind = kind, .domain = d,
				     .seq = ++next_seq, .object = object, .key = key, .function = function };
}

/* Released by whoever: every domain's record of it goes. */
static void forget(enum resource_kind kind, unsigned long key, const void *object)
{
	struct held_resource *r;
	unsigned long flags;

	if (!READ_ONCE(nr_domains))
		return;
	spin_lock_irqsave(&state_lock, flags);
	while ((r = find_resource(kind, key, object)))
		r->in_use = false;
	spin_unlock_irqrestore(&state_lock, flags);
}

void resources_forget_domain(struct domain *d)
{
	struct held_resource *r;

	for (r = ledger; r < ledger + RESOURCES_MAX; r++)
		if (r->in_use && r->domain == d)
			r->in_use = false;
	acquired[d - domains] = unrecorded[d - domains] = 0;
}

/* ---- timers and works: recorded by the function they will call ---- */

/* Records `object` for the domain whose text `function` is. The kernel's own timers and works are most of the calls:
 * a first look without the lock (a domain being created or released meanwhile at worst makes it look twice) keeps
 * them from taking it. */
static void record_by_function(enum resource_kind kind, void *object, unsigned long function)
{
	struct domain *d;
	unsigned long flags;

	if (!READ_ONCE(nr_domains) || !domain_by_text(function))
		return;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_by_text(function);
	if (d)
		record(d, kind, object, (unsigned long)object, function, false);
	spin_unlock_irqrestore(&state_lock, flags);
}

/* init_timer_key(timer, func, flags, name, key) */
static int init_timer_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct timer_list *timer = (struct timer_list *)regs->di;
	unsigned long func = regs->si;

	if (func == (unsigned long)delayed_work_timer_fn) {
		struct delayed_work *dwork = container_of(timer, struct delayed_work, timer);

		record_by_function(RES_DELAYED_WORK, dwork, (unsigned long)READ_ONCE(dwork->work.func));
	} else {
		record_by_function(RES_TIMER, timer, func);
	}
	return 0;
}

/* queue_work_on(cpu, wq, work) */
static int queue_work_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct work_struct *work = (struct work_struct *)regs->dx;

	record_by_function(RES_WORK, work, (unsigned long)READ_ONCE(work->func));
	return 0;
}

/* queue_delayed_work_on(cpu, wq, dwork, delay), mod_delayed_work_on(cpu, wq, dwork, delay) */
static int queue_delayed_work_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct delayed_work *dwork = (struct delayed_work *)regs->dx;

	record_by_function(RES_DELAYED_WORK, dwork, (unsigned long)READ_ONCE(dwork->work.func));
	return 0;
}

/* ---- IRQs and interfaces: recorded when the call succeeds ---- */

struct resource_call {
	struct domain *domain;
	unsigned int generation;
	enum resource_kind kind;
	void *object;
	unsigned long key, function;
	bool managed;
};

/* Fills the call for the first domain found (state_lock taken here); 0 (keep the return probe) if there is one. */
static int start_resource_call(struct kretprobe_instance *ri, struct domain *d, enum resource_kind kind,
			       void *object, unsigned long key, unsigned long function, bool managed)
{
	struct resource_call *call = (struct resource_call *)ri->data;

	if (!d)
		return 1;
	*call = (struct resource_call){ .domain = d, .generation = d->generation, .kind = kind, .object = object,
					.key = key, .function = function, .managed = managed };
	return 0;
}

/* The call's resource, recorded unless the domain the call started in has gone meanwhile. */
static void record_call(const struct resource_call *call, void *object, unsigned long key)
{
	unsigned long flags;

	spin_lock_irqsave(&state_lock, flags);
	if (call->domain->in_use && call->domain->generation == call->generation)
		record(call->domain, call->kind, object, key, call->function, call->managed);
	spin_unlock_irqrestore(&state_lock, flags);
}

static int resource_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct resource_call *call = (struct resource_call *)ri->data;

	if (!regs_return_value(regs))
		record_call(call, call->object, call->key);
	return 0;
}

/* request_threaded_irq(irq, handler, thread_fn, flags, name, dev_id) */
static int request_irq_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	unsigned long handler = regs->si, thread_fn = regs->dx, caller = entry_return_address(regs), function = 0;
	unsigned long flags;
	struct domain *d;
	int skip;

	if (!READ_ONCE(nr_domains))
		return 1;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_by_text(handler);
	if (d)
		function = handler;
	else if ((d = domain_by_text(thread_fn)))
		function = thread_fn;
	else
		d = domain_by_text(caller);
	skip = start_resource_call(ri, d, RES_IRQ, (void *)regs->r9, regs->di, function,
				  caller >= devm_irq_start && caller < devm_irq_end);
	spin_unlock_irqrestore(&state_lock, flags);
	return skip;
}

/* A registration for the module `owner` names, or called from a module's code. */
static int start_owned_call(struct kretprobe_instance *ri, struct pt_regs *regs, const struct module *owner,
			    enum resource_kind kind, void *object, unsigned long key)
{
	unsigned long flags;
	struct domain *d;
	int skip;

	if (!READ_ONCE(nr_domains))
		return 1;
	spin_lock_irqsave(&state_lock, flags);
	d = domain_of_module(owner);
	if (!d)
		d = domain_by_text(entry_return_address(regs));
	skip = start_resource_call(ri, d, kind, object, key, 0, false);
	spin_unlock_irqrestore(&state_lock, flags);
	return skip;
}

/* __pci_register_driver(drv, owner, mod_name) */
static int pci_register_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct pci_driver *drv = (struct pci_driver *)regs->di;

	return start_owned_call(ri, regs, (struct module *)regs->si, RES_PCI_DRIVER, drv,
				(unsigned long)&drv->driver);
}

/* usb_register_driver(drv, owner, mod_name) */
static int usb_register_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct usb_driver *drv = (struct usb_driver *)regs->di;

	return start_owned_call(ri, regs, (struct module *)regs->si, RES_USB_DRIVER, drv,
				(unsigned long)&drv->driver);
}

/* scsi_register_driver(drv) */
static int device_driver_register_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct device_driver *drv = (struct device_driver *)regs->di;

	return start_owned_call(ri, regs, drv->owner, RES_DEVICE_DRIVER, drv, (unsigned long)drv);
}

/* snd_card_register(card) */
static int snd_card_register_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct snd_card *card = (struct snd_card *)regs->di;

	return start_owned_call(ri, regs, card->module, RES_SND_CARD, card, (unsigned long)card);
}

/* register_netdevice(dev): its ops are the module's (register_netdev, the usual call, is kernel code), or the
 * module called it. */
static int register_netdevice_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct net_device *dev = (struct net_device *)regs->di;
	unsigned long flags;
	struct domain *d;
	int skip;

	if (!READ_ONCE(nr_domains))
		return 1;
	spin_lock_irqsave(&state_lock, flags);
	d = dev->netdev_ops ? domain_by_address((unsigned long)dev->netdev_ops) : NULL;
	if (!d)
		d = domain_by_text(entry_return_address(regs));
	skip = start_resource_call(ri, d, RES_NETDEV, dev, (unsigned long)dev, 0, false);
	spin_unlock_irqrestore(&state_lock, flags);
	return skip;
}

/* device_add(dev), from the module's code */
static int device_add_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	return start_owned_call(ri, regs, NULL, RES_DEVICE, (void *)regs->di, regs->di);
}

/* ---- released by someone: forgotten ---- */

/* free_irq(irq, dev_id) */
static int free_irq_pre(struct kprobe *p, struct pt_regs *regs)
{
	forget(RES_IRQ, regs->di, (void *)regs->si);
	return 0;
}

/* driver_unregister(drv): pci_unregister_driver, usb_deregister and scsi_unregister_driver pass there */
static int driver_unregister_pre(struct kprobe *p, struct pt_regs *regs)
{
	forget(RES_PCI_DRIVER, regs->di, NULL);
	forget(RES_USB_DRIVER, regs->di, NULL);
	forget(RES_DEVICE_DRIVER, regs->di, NULL);
	return 0;
}

/* scsi_host_alloc(sht, privsize): recorded at its return, which is the host */
static int scsi_host_alloc_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct scsi_host_template *sht = (struct scsi_host_template *)regs->di;

	return start_owned_call(ri, regs, sht->module, RES_SCSI_HOST, NULL, 0);
}

static int scsi_host_alloc_return(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	unsigned long host = regs_return_value(regs);

	if (host)
		record_call((struct resource_call *)ri->data, (void *)host, host);
	return 0;
}

/* scsi_host_dev_release(dev): the host's last reference is gone */
static int scsi_host_released_pre(struct kprobe *p, struct pt_regs *regs)
{
	forget(RES_SCSI_HOST, (unsigned long)dev_to_shost((struct device *)regs->di), NULL);
	return 0;
}

/* free_netdev(dev), snd_card_free_when_closed(card) */
static int netdev_freed_pre(struct kprobe *p, struct pt_regs *regs)
{
	forget(RES_NETDEV, regs->di, NULL);
	return 0;
}

static int snd_card_freed_pre(struct kprobe *p, struct pt_regs *regs)
{
	forget(RES_SND_CARD, regs->di, NULL);
	return 0;
}

/* device_del(dev) */
static int device_del_pre(struct kprobe *p, struct pt_regs *regs)
{
	forget(RES_DEVICE, regs->di, NULL);
	return 0;
}

#define RESOURCE_KRETPROBE(sym, entry)                                                                   \
	{                                                                                                \
		.kp.symbol_name = sym, .entry_handler = entry, .handler = resource_return,               \
		.data_size = sizeof(struct resource_call), .maxactive = RESOURCE_PROBE_MAXACTIVE,         \
	}

static struct kretprobe acquire_probes[] = {
	RESOURCE_KRETPROBE("request_threaded_irq", request_irq_entry),
	RESOURCE_KRETPROBE("__pci_register_driver", pci_register_entry),
	RESOURCE_KRETPROBE("usb_register_driver", usb_register_entry),
	RESOURCE_KRETPROBE("scsi_register_driver", device_driver_register_entry),
	RESOURCE_KRETPROBE("register_netdevice", register_netdevice_entry),
	RESOURCE_KRETPROBE("snd_card_register", snd_card_register_entry),
	RESOURCE_KRETPROBE("device_add", device_add_entry),
	{
		.kp.symbol_name = "scsi_host_alloc", .entry_handler = scsi_host_alloc_entry,
		.handler = scsi_host_alloc_return, .data_size = sizeof(struct resource_call),
		.maxactive = RESOURCE_PROBE_MAXACTIVE,
	},
};
static bool acquire_probe_registered[ARRAY_SIZE(acquire_probes)];

static struct kprobe event_probes[] = {
	{ .symbol_name = "init_timer_key", .pre_handler = init_timer_pre },
	{ .symbol_name = "queue_work_on", .pre_handler = queue_work_pre },
	{ .symbol_name = "queue_delayed_work_on", .pre_handler = queue_delayed_work_pre },
	{ .symbol_name = "mod_delayed_work_on", .pre_handler = queue_delayed_work_pre },
	{ .symbol_name = "free_irq", .pre_handler = free_irq_pre },
	{ .symbol_name = "driver_unregister", .pre_handler = driver_unregister_pre },
	{ .symbol_name = "free_netdev", .pre_handler = netdev_freed_pre },
	{ .symbol_name = "snd_card_free_when_closed", .pre_handler = snd_card_freed_pre },
	{ .symbol_name = "device_del", .pre_handler = device_del_pre },
	{ .symbol_name = "scsi_host_dev_release", .pre_handler = scsi_host_released_pre },
};
static bool event_probe_registered[ARRAY_SIZE(event_probes)];

struct probe_set resource_probes = {
	.what = "resources",
	.krps = acquire_probes, .krp_registered = acquire_probe_registered, .nr_krps = ARRAY_SIZE(acquire_probes),
	.kps = event_probes, .kp_registered = event_probe_registered, .nr_kps = ARRAY_SIZE(event_probes),
};

void resources_init(unsigned long (*lookup)(const char *name))
{
	kernel_function(lookup, "devm_request_threaded_irq", &devm_irq_start, &devm_irq_end);
	resource_lock_p = (rwlock_t *)lookup("resource_lock");
}

/* ---- kernel threads: found in the task list ---- */

/* A kernel thread running the module's code (usb-storage's control thread) that its exit function did not stop
 * would run freed code. kthread_func() names each kthread's function: no probe needed (kthread_create_on_node's
 * callers are probed for grants already; a second return probe there would hide their return address). */
#define LEFTOVER_KTHREADS_MAX 16

static unsigned int stop_kthreads(const struct domain *d)
{
	unsigned long lo = (unsigned long)d->mod->core_layout.base, hi = lo + d->mod->core_layout.size, function;
	struct task_struct *threads[LEFTOVER_KTHREADS_MAX], *task;
	unsigned int n = 0, i;
	int result;

	rcu_read_lock();
	for_each_process(task) {
		if (!(task->flags & PF_KTHREAD) || (task->flags & PF_EXITING))
			continue;
		function = (unsigned long)kthread_func(task);
		if (function >= lo && function < hi && n < LEFTOVER_KTHREADS_MAX) {
			get_task_struct(task);
			threads[n++] = task;
		}
	}
	rcu_read_unlock();
	for (i = 0; i < n; i++) {
		function = (unsigned long)kthread_func(threads[i]);
		result = kthread_stop(threads[i]);
		recovery_log(d->name, "resource", "released", " kind=kthread pid=%d comm=%s function=%s+0x%lx exit=%d",
			     threads[i]->pid, threads[i]->comm, d->name, function - d->text_start, result);
		put_task_struct(threads[i]);
	}
	return n;
}

/* ---- I/O port and memory regions: found in the resource trees ---- */

/* Regions a module requested carry a name in its memory (its driver name): one still requested when it goes was
 * left by a call that never reached its error path (an aborted probe), and the reloaded driver's probe would find
 * it busy. No probe needed: the trees say who holds what. */
#define LEFTOVER_REGIONS_MAX 16

struct leftover_region {
	struct resource *root;
	resource_size_t start, end;
};

static void resource_tree_lock(void)
{
	if (resource_lock_p)
		read_lock(resource_lock_p);
	else
		preempt_disable();
}

static void resource_tree_unlock(void)
{
	if (resource_lock_p)
		read_unlock(resource_lock_p);
	else
		preempt_enable();
}

static unsigned int collect_regions(struct resource *root, struct resource *parent, unsigned long lo,
				    unsigned long hi, struct leftover_region *out, unsigned int n)
{
	struct resource *r;

	for (r = parent->child; r; r = r->sibling) {
		if ((unsigned long)r->name >= lo && (unsigned long)r->name < hi && n < LEFTOVER_REGIONS_MAX)
			out[n++] = (struct leftover_region){ root, r->start, r->end };
		n = collect_regions(root, r, lo, hi, out, n);
	}
	return n;
}

/* The regions named from d's module memory, children before their parents (the reverse of the tree walk). */
static unsigned int release_regions(const struct domain *d)
{
	unsigned long lo = (unsigned long)d->mod->core_layout.base, hi = lo + d->mod->core_layout.size;
	struct leftover_region regions[LEFTOVER_REGIONS_MAX];
	unsigned int n = 0, i;

	resource_tree_lock();
	n = collect_regions(&ioport_resource, &ioport_resource, lo, hi, regions, n);
	n = collect_regions(&iomem_resource, &iomem_resource, lo, hi, regions, n);
	resource_tree_unlock();
	for (i = n; i--;) {
		__release_region(regions[i].root, regions[i].start, regions[i].end - regions[i].start + 1);
		recovery_log(d->name, "resource", "released", " kind=region %s=0x%llx-0x%llx",
			     regions[i].root == &ioport_resource ? "ports" : "memory",
			     (unsigned long long)regions[i].start, (unsigned long long)regions[i].end);
	}
	return n;
}

/* ---- release at GOING ---- */

/* device_del needs the device's class still registered: a module's exit function unregisters the class it defines
 * (sd's scsi_disk) before GOING, and a device of that class is then left as it is. */
static bool device_class_outlives_module(struct device *dev, const struct domain *d)
{
	unsigned long base = (unsigned long)d->mod->core_layout.base;
	const struct class *class;

	return !copy_from_kernel_nofault(&class, &dev->class, sizeof(class)) &&
	       ((unsigned long)class < base || (unsigned long)class >= base + d->mod->core_layout.size);
}

/* Its release event has not come. */
static bool recorded(const struct held_resource *r)
{
	unsigned long flags;
	bool found;

	spin_lock_irqsave(&state_lock, flags);
	found = find_resource(r->kind, r->key, r->object) != NULL;
	spin_unlock_irqrestore(&state_lock, flags);
	return found;
}

/* Still held: recorded, and for the items that say so themselves, still the same function and pending, or still
 * registered. Their memory may be gone: read without faulting. */
static bool still_held(const struct held_resource *r)
{
	union {
		struct timer_list timer;
		struct delayed_work dwork;
		struct work_struct work;
		u8 reg_state;
		bool registered;
		struct kobject kobj;
		enum scsi_host_state shost_state;
	} copy;

	if (!recorded(r))
		return false;
	switch (r->kind) {
	case RES_TIMER:
		return !copy_from_kernel_nofault(&copy.timer, r->object, sizeof(copy.timer)) &&
		       (unsigned long)copy.timer.function == r->function && timer_pending(&copy.timer);
	case RES_DELAYED_WORK:
		return !copy_from_kernel_nofault(&copy.dwork, r->object, sizeof(copy.dwork)) &&
		       (unsigned long)copy.dwork.work.func == r->function &&
		       (timer_pending(&copy.dwork.timer) || work_pending(&copy.dwork.work));
	case RES_WORK:
		return !copy_from_kernel_nofault(&copy.work, r->object, sizeof(copy.work)) &&
		       (unsigned long)copy.work.func == r->function && work_pending(&copy.work);
	case RES_NETDEV:
		return !copy_from_kernel_nofault(&copy.reg_state, &((struct net_device *)r->object)->reg_state, 1) &&
		       copy.reg_state == NETREG_REGISTERED;
	case RES_SND_CARD:
		return !copy_from_kernel_nofault(&copy.registered, &((struct snd_card *)r->object)->registered,
						 sizeof(bool)) && copy.registered;
	case RES_DEVICE:
		return !copy_from_kernel_nofault(&copy.kobj, &((struct device *)r->object)->kobj, sizeof(copy.kobj)) &&
		       copy.kobj.state_in_sysfs && device_class_outlives_module(r->object, r->domain);
	case RES_SCSI_HOST:
		return !copy_from_kernel_nofault(&copy.shost_state, &((struct Scsi_Host *)r->object)->shost_state,
						 sizeof(copy.shost_state)) &&
		       (copy.shost_state == SHOST_CREATED || copy.shost_state == SHOST_RUNNING);
	default:
		return true;
	}
}

static void release_one(const struct held_resource *r)
{
	switch (r->kind) {
	case RES_IRQ:
		free_irq(r->key, r->object);
		break;
	case RES_TIMER:
		del_timer_sync(r->object);
		break;
	case RES_DELAYED_WORK:
		cancel_delayed_work_sync(r->object);
		break;
	case RES_WORK:
		cancel_work_sync(r->object);
		break;
	case RES_PCI_DRIVER:
		pci_unregister_driver(r->object);
		break;
	case RES_USB_DRIVER:
		usb_deregister(r->object);
		break;
	case RES_DEVICE_DRIVER:
		driver_unregister(r->object);
		break;
	case RES_NETDEV:
		unregister_netdev(r->object);
		break;
	case RES_SND_CARD:
		snd_card_free(r->object);
		break;
	case RES_DEVICE:
		device_unregister(r->object); /* its release, the module's, still exists */
		break;
	case RES_SCSI_HOST:
		if (((struct Scsi_Host *)r->object)->shost_state != SHOST_CREATED)
			scsi_remove_host(r->object);
		scsi_host_put(r->object); /* the module's reference, from scsi_host_alloc */
		break;
	default:
		break;
	}
	forget(r->kind, r->key, r->object);
}

static int newest_first(const void *a, const void *b)
{
	const struct held_resource *x = a, *y = b;

	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

/* Where a function is, as the hypervisor's log says it: <module>+0x<offset in its text>. `pass`: the unload's pass
 * (1, 2) or "orphans" (before the unload, see resources_release_orphans). */
static void log_release(const struct domain *d, const struct held_resource *r, const char *pass)
{
	char irq[16] = "", function[CHARIOT_DOMAIN_NAME_MAX + 32] = "";

	if (r->kind == RES_IRQ)
		snprintf(irq, sizeof(irq), " irq=%lu", r->key);
	if (r->function)
		snprintf(function, sizeof(function), " function=%s+0x%lx", d->name, r->function - d->text_start);
	recovery_log(d->name, "resource", "released", " kind=%s seq=%lu object=0x%lx%s%s pass=%s%s", kind_names[r->kind],
		     r->seq, (unsigned long)r->object, irq, function, pass, r->managed ? " managed=devres" : "");
}

/* A device of the module's own class (see above) whose parent no driver of the module serves. A device recorded
 * has not been deleted: its memory is there. */
static bool orphaned_class_device(const struct held_resource *r)
{
	struct device *dev = r->object, *parent;

	if (r->kind != RES_DEVICE || !recorded(r) || device_class_outlives_module(dev, r->domain))
		return false;
	parent = dev->parent; /* the device holds a reference on it */
	return !parent || !parent->driver || parent->driver->owner != r->domain->mod;
}

/* What the ledger holds for d, newest first, copied out (a kmalloc'd array, NULL when it could not be allocated;
 * state_lock not held), and with it (when asked) its acquisition counters: read together, what the summary counts
 * is what it lists. */
static struct held_resource *held_by(struct domain *d, unsigned int *nr, unsigned int *acquisitions,
				     unsigned int *lost)
{
	struct held_resource *held, *r;
	unsigned long flags;

	*nr = 0;
	held = kmalloc_array(RESOURCES_MAX, sizeof(*held), GFP_KERNEL);
	if (!held)
		return NULL;
	spin_lock_irqsave(&state_lock, flags);
	for (r = ledger; r < ledger + RESOURCES_MAX; r++)
		if (r->in_use && r->domain == d)
			held[(*nr)++] = *r;
	if (acquisitions) {
		*acquisitions = acquired[d - domains];
		*lost = unrecorded[d - domains];
	}
	spin_unlock_irqrestore(&state_lock, flags);
	sort(held, *nr, sizeof(*held), newest_first, NULL);
	return held;
}

void resources_release_orphans(struct domain *d)
{
	unsigned int nr, i;
	struct held_resource *held = held_by(d, &nr, NULL, NULL);

	if (!held) {
		recovery_log(d->name, "resources", "failed", " reason=no-memory what=orphans");
		return;
	}
	for (i = 0; i < nr; i++) {
		if (!orphaned_class_device(&held[i]))
			continue;
		release_one(&held[i]);
		log_release(d, &held[i], "orphans");
	}
	kfree(held);
}

/*
 * d's module is going (agent_lock held, state_lock not): its exit function ran, its memory is about to be freed.
 * Releases what it still holds, newest first, and logs a summary (nothing released: result=clean).
 */
void resources_release(struct domain *d)
{
	static const char *const pass_names[RELEASE_PASSES] = { "1", "2" };
	unsigned int released[RES_KINDS] = { 0 }, nr, total = 0, acquisitions, lost, pass, i, regions, kthreads;
	struct held_resource *held = held_by(d, &nr, &acquisitions, &lost);
	struct held_resource *r;

	if (!held) {
		recovery_log(d->name, "resources", "failed", " reason=no-memory");
		return;
	}

	kthreads = stop_kthreads(d); /* they run the module's code with what it holds */
	total += kthreads;
	for (pass = 0; pass < RELEASE_PASSES; pass++) {
		for (i = 0; i < nr; i++) {
			r = &held[i];
			if ((r->managed && pass == 0) || !still_held(r))
				continue;
			release_one(r);
			log_release(d, r, pass_names[pass]);
			released[r->kind]++;
			total++;
		}
	}
	regions = release_regions(d); /* requested first (a probe's start): released last */
	total += regions;
	recovery_log(d->name, "resources", total ? "released" : "clean", " acquired=%u recorded=%u released=%u "
		     "unrecorded=%u irq=%u timer=%u delayed_work=%u work=%u pci_driver=%u usb_driver=%u device_driver=%u "
		     "netdev=%u snd_card=%u device=%u scsi_host=%u kthread=%u region=%u", acquisitions, nr, total, lost,
		     released[RES_IRQ], released[RES_TIMER], released[RES_DELAYED_WORK], released[RES_WORK],
		     released[RES_PCI_DRIVER], released[RES_USB_DRIVER], released[RES_DEVICE_DRIVER],
		     released[RES_NETDEV], released[RES_SND_CARD], released[RES_DEVICE], released[RES_SCSI_HOST], kthreads,
		     regions);
	kfree(held);
}
