// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_demo: a "faulty driver" that makes one legal or illegal kind of write per command written to
 * /proc/chariot_demo, for the guest agent and the hypervisor to catch when it is isolated.
 *
 * Every write is a single store instruction of THIS module's code (WRITE_ONCE; never memcpy/memset, which are
 * kernel code and therefore trusted), preceded and followed by a read of the target. Each write prints
 *   DEMO: <cmd> target=0x<addr> before=0x<old> after=0x<read back> what=<target>
 * (KERN_WARNING, shown at the workload's console level 5), and reading /proc/chariot_demo gives the last
 * command's outcome: `cmd=<cmd> changed=<yes|no>`, changed meaning every write of the command took effect.
 * Each write stores the old value XOR a mask, so it always changes the target when it is let through.
 *
 * Commands (except load_state, all objects are allocated by the command itself, i.e. after the demo was isolated:
 * the agent only authorizes allocations it sees):
 *   legal         its own objects, one through each way the agent learns about heap memory: kmalloc(64)
 *                 (kmalloc_trace), kstrdup (__kmalloc_node_track_caller, attributed to kstrdup's caller) and
 *                 kmem_cache_alloc from its own cache; and its own static variable. Allowed in every policy.
 *   load_state    its own objects allocated at load, as a real driver's device state: one kmalloc'd by its init
 *                 function (init text) and one by demo_probe (core text, called by init the way a bus calls a
 *                 probe; it also initializes it). Legal when it is isolated from load (the agent's
 *                 isolate-on-load); isolated only after its init, they are memory it obtained unseen: violations.
 *   oob           8 bytes just past its own kmalloc(64) object: the first 8 bytes of whatever follows in the
 *                 kmalloc-64 slab (someone else's object or a free one, whose free pointer SLUB keeps at offset
 *                 32, not 0) or of the next page. Never the demo's: it holds no other object then. The old value
 *                 is written back right after the read-back (interrupts off throughout), so an unprotected
 *                 kernel survives; under isolation that restore is a second illegal write.
 *   legal_oob     writes its own kmalloc(64) object, then, as oob, 8 bytes just past it on the same page: with an
 *                 open-page cache (the agent's open=N) the first write leaves that page writable, and the second
 *                 goes unchecked (the cache's price); without one it is refused like oob's
 *   legal_use_after_free  writes its own kmalloc(64) object, frees it and writes it again: with an open-page cache
 *                 the first write left the page writable, and the free does not close it (the second write goes
 *                 unchecked: the cache's price again); without one it is refused like use_after_free's
 *   kernel_data   the first byte of init_uts_ns.name.nodename (`uname -n`: "(none)" becomes "Xnone)")
 *   other_module  chariot_victim_value, the static variable of the chariot_victim module
 *   use_after_free  kfree its own kmalloc(64) object, then write its first 8 bytes (not SLUB's free pointer)
 *   use_after_free_page  the same with a kmalloc(PAGE_SIZE) object written first: a page wholly its own, which its
 *                 view lets it write without a trap until the kfree takes the page back
 *   wild          a stray pointer into a page it never allocated: chariot_victim_page + 0x5a8 (the victim's own
 *                 direct-map page, so an unprotected kernel survives; /proc/chariot_victim shows the damage)
 *   stale_page    chariot_victim's code kstrdup()s a string (the kernel has just written that object's page),
 *                 then the demo immediately writes into that object, which is not its own
 * one whose write is kernel code's, on its behalf (trusted, like memcpy's):
 *   shared_write  strscpy()s "Ashared" or "Bshared" (the other one than is there) to chariot_victim_page + 0x800:
 *                 the write takes effect in every policy. When strscpy's page is shared with the demo's view
 *                 (`share strscpy`), that view runs strscpy, and the hypervisor leaves it at the write.
 * three that write nothing themselves:
 *   lock_hold     takes demo_hold_lock and keeps it after the command (a lock held across calls, as a driver's
 *                 open holds it until its release); the exit function takes it too
 *   pin / unpin   take / drop a reference on the module itself, as an open device would: pinned, it is in use
 *                 and cannot be unloaded (the agent's recovery must then report that it failed)
 * and those that crash or hang an unprotected kernel:
 *   null_read     reads through a NULL-based pointer (address 0x40), interrupts off and preemption disabled, as a
 *                 driver holding a spinlock would be (an oops in the writing task)
 *   wild_call     calls through a corrupted function pointer (0x700000000, a user address), the same way, holding
 *                 rtnl_lock as a driver changing its net_device does (the oops leaves it held: `ip link` hangs)
 *   user_write    writes through a pointer into unmapped user memory (0x1000000000), at an instruction that, unlike
 *                 copy_to_user's, no exception table lists (the kernel oopses: "unable to handle page fault")
 *   thread_null   starts a kernel thread whose function reads through the NULL-based pointer; the exit function
 *                 stops it (kthread_stop), as usb-storage stops its control thread
 *   spin          loops forever in its own code, interrupts on (one CPU, no preemption: user space never runs)
 *   null_strscpy  passes the NULL-based pointer to strscpy as its destination (the fault is in kernel code, on
 *                 the demo's behalf; gcc would inline a memset)
 *   leak_timer    arms a timer and a delayed work (both due in 2 s, their functions in the demo's text, each
 *                 printing `DEMO: leak_timer <what> ran`), queues a work that queues itself again whenever it
 *                 runs (so it is pending whenever another task runs) and requests a shared legacy IRQ (the first
 *                 of 7, 5, 10, 3 that it gets; the handler claims nothing), then faults as null_read does, before
 *                 it records them where its exit function would release them. Unprotected, the work runs in freed
 *                 module memory at once after an unload and the timer 2 s later; isolated, the agent's recovery
 *                 releases all four at the unload.
 *   bug_call      calls dql_completed with more completed than it ever queued on a fresh dql of its own: the
 *                 kernel's BUG_ON (a UD2 in kernel code, on the driver's behalf; unprotected, the oops kills the
 *                 task holding demo_lock, or the guest with oops=panic)
 *   napi_null     adds a NAPI instance to a net_device of its own and schedules it: its poll (softirq) reads
 *                 through the NULL-based pointer. Isolated, that poll is aborted and must still be completed, or
 *                 the exit function's napi_disable() waits forever
 *   leak_driver   registers a PCI driver (`chariot_demo`, matching no device) and a net_device (`demo%d`, its
 *                 transmit function the demo's), requests I/O ports 0x2a0-0x2a7, adds a device of its own
 *                 (`chariot_demo_leak`, its release function the demo's) and starts a kernel thread running the
 *                 demo's code until stopped, then faults as null_read does. Unprotected, all stay with their
 *                 structs, ops and code in freed module memory; isolated, the unload releases them.
 * Isolated, the hypervisor aborts the /proc write instead: it fails with EIO and the caller's state is restored.
 * And five whose probe fails, as a driver's does when it finds its device broken (nothing to see but the error), or
 * succeeds without giving the kernel its interface: they register (once) a platform driver `chariot_demo_probe`,
 * whose probe binds device 0, declines device 1 with -ENODEV, fails device 2 with -EIO and binds device 3 giving it
 * an interface (a child platform device `chariot_demo_iface`, as a NIC driver's net_device hangs under its PCI
 * device), then add devices of that name (their ids; the exit function removes them):
 *   probe_decline_one  devices 0 and 1: one bound, one declined (a driver serving some of its devices)
 *   probe_fail         device 2: the probe fails
 *   probe_decline      device 1 alone: declined, and the driver serves no device
 *   probe_interface    device 3, given its interface
 *   probe_empty        device 3, its probe returning 0 before it gives the interface (an inverted error check)
 * Every command runs holding demo_lock, a mutex the exit function takes too (as a driver's remove takes its
 * device's lock): an aborted call that kept it would make the unload sleep forever.
 */
#include <linux/etherdevice.h>
#include <linux/interrupt.h>
#include <linux/irqflags.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/platform_device.h>
#include <linux/proc_fs.h>
#include <linux/rtnetlink.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/timer.h>
#include <linux/utsname.h>
#include <linux/workqueue.h>

#include "chariot_victim.h"

#define DEMO_OBJECT_SIZE 64
#define DEMO_CACHE_OBJECT_SIZE 48
#define DEMO_FLIP_U64 0xa5a5a5a5a5a5a5a5ULL
#define DEMO_FLIP_U8 0x70 /* '(' ^ 0x70 = 'X' */
#define DEMO_WILD_OFFSET 0x5a8
#define DEMO_SHARED_OFFSET 0x800
#define DEMO_COMMAND_MAX 32
#define DEMO_LEAK_DELAY (2 * HZ)

static u64 demo_static = 0x0123456789abcdefULL;
/* volatile: the compiler must not see the NULL-based pointer and the bad function pointer coming */
static u64 *volatile demo_null_pointer = (u64 *)0x40;
static void (*volatile demo_wild_function)(void) = (void (*)(void))0x700000000ULL;
static u64 *volatile demo_user_pointer = (u64 *)0x1000000000ULL;
static struct kmem_cache *demo_cache;
static u64 *init_object, *probe_object; /* allocated at load: by demo_init, by demo_probe */
static bool pinned;
/* leak_timer's: armed and never recorded for the exit function (the fault comes first) */
static struct timer_list leak_timer;
static struct delayed_work leak_dwork;
static struct work_struct leak_work;
static const unsigned int leak_irq_lines[] = { 7, 5, 10, 3 };
/* leak_driver's */
static const struct pci_device_id leak_pci_ids[] = { {} }; /* matches no device */
static struct pci_driver leak_pci_driver = { .name = "chariot_demo", .id_table = leak_pci_ids };
#define DEMO_LEAK_PORTS 0x2a0 /* 8 ISA ports nothing in Bochs uses */
#define DEMO_LEAK_PORTS_LEN 8
static struct device leak_device;
/* the probe commands' */
#define DEMO_PROBE_DEVICES 4
#define DEMO_PROBE_INTERFACE 3 /* the device whose probe gives an interface */
static struct platform_device *probe_devices[DEMO_PROBE_DEVICES];
static struct platform_device *probe_interface; /* device 3's child */
static bool probe_returns_early;
static bool probe_driver_registered;
static DEFINE_MUTEX(demo_lock);
static DEFINE_MUTEX(demo_hold_lock); /* lock_hold's: taken by one command, kept after it; the exit function takes it */
static bool hold_taken;
/* thread_null's: like usb-storage's control thread, it must live until kthread_stop() (no reference is held) */
static struct task_struct *demo_thread;
static char last_result[64] = "cmd=none\n";

static void report(const char *cmd, const char *what, const void *target, u64 before, u64 after)
{
	printk(KERN_WARNING "DEMO: %s target=0x%lx before=0x%llx after=0x%llx what=%s\n", cmd,
	       (unsigned long)target, before, after, what);
}

/* One 8-byte store by this module; true if it took effect. */
static bool poke_u64(const char *cmd, const char *what, u64 *target)
{
	u64 before = READ_ONCE(*target), after;

	WRITE_ONCE(*target, before ^ DEMO_FLIP_U64);
	after = READ_ONCE(*target);
	report(cmd, what, target, before, after);
	return after != before;
}

static bool poke_u8(const char *cmd, const char *what, u8 *target)
{
	u8 before = READ_ONCE(*target), after;

	WRITE_ONCE(*target, before ^ DEMO_FLIP_U8);
	after = READ_ONCE(*target);
	report(cmd, what, target, before, after);
	return after != before;
}

static int do_legal(const char *cmd, bool *changed)
{
	u64 *obj = kmalloc(DEMO_OBJECT_SIZE, GFP_KERNEL);
	char *str = kstrdup("chariot-demo-own", GFP_KERNEL);
	u64 *cache_obj = kmem_cache_alloc(demo_cache, GFP_KERNEL);
	int err = -ENOMEM;

	if (obj && str && cache_obj) {
		*changed = poke_u64(cmd, "own-kmalloc-object", obj);
		*changed &= poke_u64(cmd, "own-kstrdup-object", (u64 *)str);
		*changed &= poke_u64(cmd, "own-kmem_cache-object", cache_obj);
		*changed &= poke_u64(cmd, "own-static-data", &demo_static);
		err = 0;
	}
	kfree(obj);
	kfree(str);
	if (cache_obj)
		kmem_cache_free(demo_cache, cache_obj);
	return err;
}

static int do_load_state(const char *cmd, bool *changed)
{
	*changed = poke_u64(cmd, "own-object-from-init", init_object);
	*changed &= poke_u64(cmd, "own-object-from-probe", probe_object);
	return 0;
}

static int do_oob(const char *cmd, bool *changed)
{
	u8 *obj = kmalloc(DEMO_OBJECT_SIZE, GFP_KERNEL);
	u64 *past_end, before;
	unsigned long flags;

	if (!obj)
		return -ENOMEM;
	past_end = (u64 *)(obj + DEMO_OBJECT_SIZE);
	local_irq_save(flags);
	before = READ_ONCE(*past_end);
	*changed = poke_u64(cmd, "8-bytes-past-own-kmalloc-64", past_end);
	WRITE_ONCE(*past_end, before); /* the neighbour is not ours: undo (an illegal write too) */
	local_irq_restore(flags);
	kfree(obj);
	return 0;
}

static int do_legal_oob(const char *cmd, bool *changed)
{
	u8 *obj = kmalloc(DEMO_OBJECT_SIZE, GFP_KERNEL), *spare = NULL;
	u64 *past_end, before;
	unsigned long flags;

	if (obj && !offset_in_page(obj + DEMO_OBJECT_SIZE)) { /* its neighbour must be on the same page */
		spare = obj;
		obj = kmalloc(DEMO_OBJECT_SIZE, GFP_KERNEL);
	}
	if (!obj) {
		kfree(spare);
		return -ENOMEM;
	}
	past_end = (u64 *)(obj + DEMO_OBJECT_SIZE);
	local_irq_save(flags);
	poke_u64(cmd, "own-kmalloc-object", (u64 *)obj);
	before = READ_ONCE(*past_end);
	*changed = poke_u64(cmd, "8-bytes-past-own-kmalloc-64", past_end);
	WRITE_ONCE(*past_end, before);
	local_irq_restore(flags);
	kfree(obj);
	kfree(spare);
	return 0;
}

static int do_legal_use_after_free(const char *cmd, bool *changed)
{
	u64 *obj = kmalloc(DEMO_OBJECT_SIZE, GFP_KERNEL);
	unsigned long flags;

	if (!obj)
		return -ENOMEM;
	poke_u64(cmd, "own-kmalloc-object", obj);
	local_irq_save(flags);
	kfree(obj);
	*changed = poke_u64(cmd, "freed-own-kmalloc-object", obj);
	local_irq_restore(flags);
	return 0;
}

static int do_kernel_data(const char *cmd, bool *changed)
{
	*changed = poke_u8(cmd, "init_uts_ns.nodename[0]", (u8 *)&init_uts_ns.name.nodename[0]);
	return 0;
}

static int do_other_module(const char *cmd, bool *changed)
{
	*changed = poke_u64(cmd, "chariot_victim_value", &chariot_victim_value);
	return 0;
}

static int do_use_after_free(const char *cmd, bool *changed)
{
	u64 *obj = kmalloc(DEMO_OBJECT_SIZE, GFP_KERNEL);
	unsigned long flags;

	if (!obj)
		return -ENOMEM;
	/* interrupts off: nobody can get the object back from the slab before the stray write */
	local_irq_save(flags);
	kfree(obj);
	*changed = poke_u64(cmd, "freed-own-kmalloc-object", obj);
	local_irq_restore(flags);
	return 0;
}

static int do_use_after_free_page(const char *cmd, bool *changed)
{
	u64 *obj = kmalloc(PAGE_SIZE, GFP_KERNEL);
	unsigned long flags;

	if (!obj)
		return -ENOMEM;
	WRITE_ONCE(*obj, DEMO_FLIP_U64); /* its own, so far */
	local_irq_save(flags);
	kfree(obj);
	*changed = poke_u64(cmd, "freed-own-page-object", obj);
	local_irq_restore(flags);
	return 0;
}

static int do_wild(const char *cmd, bool *changed)
{
	*changed = poke_u64(cmd, "chariot_victim_page+0x5a8", (u64 *)((u8 *)chariot_victim_page + DEMO_WILD_OFFSET));
	return 0;
}

static int do_shared_write(const char *cmd, bool *changed)
{
	char *target = (char *)chariot_victim_page + DEMO_SHARED_OFFSET;
	u64 before = READ_ONCE(*(u64 *)target), after;

	strscpy(target, READ_ONCE(target[0]) == 'A' ? "Bshared" : "Ashared", sizeof(u64));
	after = READ_ONCE(*(u64 *)target);
	report(cmd, "chariot_victim_page+0x800", target, before, after);
	*changed = after != before;
	return 0;
}

static int do_stale_page(const char *cmd, bool *changed)
{
	char *victim = chariot_victim_kstrdup("victim-string");

	if (!victim)
		return -ENOMEM;
	*changed = poke_u64(cmd, "chariot_victim-kstrdup-object", (u64 *)victim);
	kfree(victim);
	return 0;
}

static int do_null_read(const char *cmd, bool *changed)
{
	unsigned long flags;
	u64 value;

	printk(KERN_WARNING "DEMO: %s address=0x%lx\n", cmd, (unsigned long)demo_null_pointer);
	local_irq_save(flags);
	preempt_disable();
	value = READ_ONCE(*demo_null_pointer);
	preempt_enable();
	local_irq_restore(flags);
	*changed = value != 0;
	return 0;
}

static int do_wild_call(const char *cmd, bool *changed)
{
	unsigned long flags;

	printk(KERN_WARNING "DEMO: %s target=0x%lx\n", cmd, (unsigned long)demo_wild_function);
	rtnl_lock();
	local_irq_save(flags);
	preempt_disable();
	demo_wild_function();
	preempt_enable();
	local_irq_restore(flags);
	rtnl_unlock();
	*changed = true;
	return 0;
}

static int do_user_write(const char *cmd, bool *changed)
{
	printk(KERN_WARNING "DEMO: %s address=0x%lx\n", cmd, (unsigned long)demo_user_pointer);
	WRITE_ONCE(*demo_user_pointer, DEMO_FLIP_U64);
	*changed = true;
	return 0;
}

static int demo_thread_fn(void *unused)
{
	u64 value;

	printk(KERN_WARNING "DEMO: thread_null address=0x%lx\n", (unsigned long)demo_null_pointer);
	value = READ_ONCE(*demo_null_pointer);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ);
	return (int)value;
}

static int do_thread_null(const char *cmd, bool *changed)
{
	struct task_struct *thread;

	if (demo_thread)
		return -EBUSY;
	thread = kthread_run(demo_thread_fn, NULL, "chariot_demo");
	if (IS_ERR(thread))
		return PTR_ERR(thread);
	demo_thread = thread;
	*changed = true;
	return 0;
}

static int do_null_strscpy(const char *cmd, bool *changed)
{
	printk(KERN_WARNING "DEMO: %s address=0x%lx\n", cmd, (unsigned long)demo_null_pointer);
	strscpy((char *)demo_null_pointer, "demo", sizeof(u64));
	*changed = true;
	return 0;
}

static void leak_timer_fn(struct timer_list *timer)
{
	printk(KERN_WARNING "DEMO: leak_timer timer ran\n");
}

static void leak_work_fn(struct work_struct *work)
{
	printk(KERN_WARNING "DEMO: leak_timer delayed_work ran\n");
}

static void leak_requeue_fn(struct work_struct *work)
{
	queue_work(system_wq, work);
}

static irqreturn_t leak_irq_handler(int irq, void *dev_id)
{
	return IRQ_NONE;
}

static int do_leak_timer(const char *cmd, bool *changed)
{
	int irq = -1;
	size_t i;

	timer_setup(&leak_timer, leak_timer_fn, 0);
	mod_timer(&leak_timer, jiffies + DEMO_LEAK_DELAY);
	INIT_DELAYED_WORK(&leak_dwork, leak_work_fn);
	schedule_delayed_work(&leak_dwork, DEMO_LEAK_DELAY);
	INIT_WORK(&leak_work, leak_requeue_fn);
	queue_work(system_wq, &leak_work);
	for (i = 0; i < ARRAY_SIZE(leak_irq_lines) && irq < 0; i++)
		if (!request_irq(leak_irq_lines[i], leak_irq_handler, IRQF_SHARED, "chariot_demo", &leak_timer))
			irq = leak_irq_lines[i];
	printk(KERN_WARNING "DEMO: %s timer=armed delayed_work=queued work=requeuing irq=%d due_ms=%u\n", cmd, irq,
	       jiffies_to_msecs(DEMO_LEAK_DELAY));
	return do_null_read(cmd, changed);
}

static netdev_tx_t leak_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops leak_netdev_ops = { .ndo_start_xmit = leak_xmit };

static void leak_device_release(struct device *dev)
{
}

static int leak_thread_fn(void *unused)
{
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ / 10);
	return 0;
}

static int do_leak_driver(const char *cmd, bool *changed)
{
	struct net_device *dev = alloc_netdev(0, "demo%d", NET_NAME_UNKNOWN, ether_setup);
	int pci_err = pci_register_driver(&leak_pci_driver), net_err = -ENOMEM, device_err;
	bool ports = request_region(DEMO_LEAK_PORTS, DEMO_LEAK_PORTS_LEN, "chariot_demo") != NULL;
	struct task_struct *thread;

	if (dev) {
		dev->netdev_ops = &leak_netdev_ops;
		eth_hw_addr_random(dev);
		net_err = register_netdev(dev);
	}
	device_initialize(&leak_device);
	leak_device.release = leak_device_release;
	dev_set_name(&leak_device, "chariot_demo_leak");
	device_err = device_add(&leak_device);
	thread = kthread_run(leak_thread_fn, NULL, "chariot_demo_leak");
	printk(KERN_WARNING "DEMO: %s pci_driver=%d netdev=%s err=%d ports=%s device=%d thread=%s\n", cmd, pci_err,
	       dev ? dev->name : "none", net_err, ports ? "requested" : "busy", device_err,
	       IS_ERR(thread) ? "failed" : "running");
	return do_null_read(cmd, changed);
}

static int do_bug_call(const char *cmd, bool *changed)
{
	static struct dql demo_dql;

	dql_init(&demo_dql, HZ);
	printk(KERN_WARNING "DEMO: %s\n", cmd);
	dql_completed(&demo_dql, 1);
	return 0;
}

static struct net_device *napi_dev;
static struct napi_struct demo_napi;

static int demo_napi_poll(struct napi_struct *napi, int budget)
{
	return (int)READ_ONCE(*demo_null_pointer);
}

static int do_napi_null(const char *cmd, bool *changed)
{
	if (napi_dev)
		return -EBUSY;
	napi_dev = alloc_netdev(0, "demonapi%d", NET_NAME_UNKNOWN, ether_setup);
	if (!napi_dev)
		return -ENOMEM;
	netif_napi_add(napi_dev, &demo_napi, demo_napi_poll);
	napi_enable(&demo_napi);
	printk(KERN_WARNING "DEMO: %s\n", cmd);
	local_bh_disable();
	napi_schedule(&demo_napi); /* polled when bottom halves are enabled again */
	local_bh_enable();
	return 0;
}

static void remove_napi(void)
{
	if (!napi_dev)
		return;
	napi_disable(&demo_napi);
	netif_napi_del(&demo_napi);
	free_netdev(napi_dev);
}

static int do_spin(const char *cmd, bool *changed)
{
	printk(KERN_WARNING "DEMO: %s\n", cmd);
	for (;;)
		cpu_relax();
	return 0;
}

static int do_lock_hold(const char *cmd, bool *changed)
{
	if (hold_taken)
		return -EBUSY;
	mutex_lock(&demo_hold_lock);
	hold_taken = true;
	*changed = true;
	return 0;
}

static int do_pin(const char *cmd, bool *changed)
{
	if (pinned || !try_module_get(THIS_MODULE))
		return -EBUSY;
	pinned = true;
	*changed = true;
	return 0;
}

static int do_unpin(const char *cmd, bool *changed)
{
	if (!pinned)
		return -EINVAL;
	module_put(THIS_MODULE);
	pinned = false;
	*changed = true;
	return 0;
}

static int demo_platform_probe(struct platform_device *pdev)
{
	static const int results[DEMO_PROBE_DEVICES] = { 0, -ENODEV, -EIO, 0 };

	if (pdev->id < 0 || pdev->id >= DEMO_PROBE_DEVICES)
		return -EINVAL;
	if (pdev->id != DEMO_PROBE_INTERFACE || probe_returns_early)
		return results[pdev->id];
	probe_interface = platform_device_register_data(&pdev->dev, "chariot_demo_iface", PLATFORM_DEVID_NONE, NULL, 0);
	return PTR_ERR_OR_ZERO(probe_interface);
}

static int demo_platform_remove(struct platform_device *pdev)
{
	if (pdev->id == DEMO_PROBE_INTERFACE && !IS_ERR_OR_NULL(probe_interface)) {
		platform_device_unregister(probe_interface);
		probe_interface = NULL;
	}
	return 0;
}

static struct platform_driver probe_driver = {
	.probe = demo_platform_probe,
	.remove = demo_platform_remove,
	.driver.name = "chariot_demo_probe",
};

/* Adds the devices whose bit is set in `ids` (the driver first, once); the probes run before it returns. */
static int add_probe_devices(const char *cmd, unsigned int ids)
{
	int i, err = probe_driver_registered ? 0 : platform_driver_register(&probe_driver);

	if (err)
		return err;
	probe_driver_registered = true;
	for (i = 0; i < DEMO_PROBE_DEVICES; i++) {
		struct platform_device *pdev;

		if (!(ids & (1u << i)) || probe_devices[i])
			continue;
		pdev = platform_device_register_simple("chariot_demo_probe", i, NULL, 0);
		if (IS_ERR(pdev))
			return PTR_ERR(pdev);
		probe_devices[i] = pdev;
		printk(KERN_WARNING "DEMO: %s device=%d bound=%s\n", cmd, i, pdev->dev.driver ? "yes" : "no");
	}
	return 0;
}

static int do_probe_decline_one(const char *cmd, bool *changed)
{
	return add_probe_devices(cmd, 1u << 0 | 1u << 1);
}

static int do_probe_fail(const char *cmd, bool *changed)
{
	return add_probe_devices(cmd, 1u << 2);
}

static int do_probe_decline(const char *cmd, bool *changed)
{
	return add_probe_devices(cmd, 1u << 1);
}

static int do_probe_interface(const char *cmd, bool *changed)
{
	int err = add_probe_devices(cmd, 1u << DEMO_PROBE_INTERFACE);

	*changed = !err && !IS_ERR_OR_NULL(probe_interface);
	return err;
}

static int do_probe_empty(const char *cmd, bool *changed)
{
	probe_returns_early = true;
	return add_probe_devices(cmd, 1u << DEMO_PROBE_INTERFACE);
}

static void remove_probe_devices(void)
{
	int i;

	for (i = 0; i < DEMO_PROBE_DEVICES; i++)
		if (probe_devices[i])
			platform_device_unregister(probe_devices[i]);
	if (probe_driver_registered)
		platform_driver_unregister(&probe_driver);
}

static const struct demo_command {
	const char *name;
	int (*run)(const char *cmd, bool *changed);
} demo_commands[] = {
	{ "legal", do_legal },
	{ "load_state", do_load_state },
	{ "oob", do_oob },
	{ "legal_oob", do_legal_oob },
	{ "legal_use_after_free", do_legal_use_after_free },
	{ "kernel_data", do_kernel_data },
	{ "other_module", do_other_module },
	{ "use_after_free", do_use_after_free },
	{ "use_after_free_page", do_use_after_free_page },
	{ "wild", do_wild },
	{ "stale_page", do_stale_page },
	{ "shared_write", do_shared_write },
	{ "null_read", do_null_read },
	{ "wild_call", do_wild_call },
	{ "spin", do_spin },
	{ "null_strscpy", do_null_strscpy },
	{ "user_write", do_user_write },
	{ "thread_null", do_thread_null },
	{ "leak_timer", do_leak_timer },
	{ "leak_driver", do_leak_driver },
	{ "bug_call", do_bug_call },
	{ "napi_null", do_napi_null },
	{ "lock_hold", do_lock_hold },
	{ "pin", do_pin },
	{ "unpin", do_unpin },
	{ "probe_decline_one", do_probe_decline_one },
	{ "probe_fail", do_probe_fail },
	{ "probe_decline", do_probe_decline },
	{ "probe_interface", do_probe_interface },
	{ "probe_empty", do_probe_empty },
};

static ssize_t demo_write(struct file *file, const char __user *ubuf, size_t len, loff_t *off)
{
	char line[DEMO_COMMAND_MAX], *word;
	bool changed = false;
	size_t i;
	int err;

	if (len >= sizeof(line))
		return -EINVAL;
	if (copy_from_user(line, ubuf, len))
		return -EFAULT;
	line[len] = '\0';
	word = strim(line);
	for (i = 0; i < ARRAY_SIZE(demo_commands); i++) {
		if (strcmp(word, demo_commands[i].name))
			continue;
		mutex_lock(&demo_lock);
		err = demo_commands[i].run(demo_commands[i].name, &changed);
		mutex_unlock(&demo_lock);
		if (err)
			return err;
		snprintf(last_result, sizeof(last_result), "cmd=%s changed=%s\n", demo_commands[i].name,
			 changed ? "yes" : "no");
		return len;
	}
	printk(KERN_WARNING "DEMO: unknown command '%s'\n", word);
	return -EINVAL;
}

static int demo_show(struct seq_file *m, void *v)
{
	seq_puts(m, last_result);
	return 0;
}

static int demo_open(struct inode *inode, struct file *file)
{
	return single_open(file, demo_show, NULL);
}

static const struct proc_ops demo_proc_ops = {
	.proc_open = demo_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = demo_write,
};

/* Core text, not __init: what a PCI or USB probe is. Its store into the new object is the driver's own write. */
static noinline int demo_probe(void)
{
	probe_object = kmalloc(DEMO_OBJECT_SIZE, GFP_KERNEL);
	if (!probe_object)
		return -ENOMEM;
	WRITE_ONCE(*probe_object, DEMO_FLIP_U64);
	return 0;
}

static void demo_free_load_state(void)
{
	kfree(probe_object);
	kfree(init_object);
}

static int __init demo_init(void)
{
	init_object = kzalloc(DEMO_OBJECT_SIZE, GFP_KERNEL);
	if (!init_object || demo_probe())
		goto fail;
	demo_cache = kmem_cache_create("chariot_demo", DEMO_CACHE_OBJECT_SIZE, 0, 0, NULL);
	if (!demo_cache)
		goto fail;
	if (!proc_create("chariot_demo", 0600, NULL, &demo_proc_ops)) {
		kmem_cache_destroy(demo_cache);
		goto fail;
	}
	return 0;
fail:
	demo_free_load_state();
	return -ENOMEM;
}

static void __exit demo_exit(void)
{
	remove_proc_entry("chariot_demo", NULL); /* waits for the writes under way */
	mutex_lock(&demo_lock);
	if (demo_thread)
		printk(KERN_WARNING "DEMO: thread stopped result=%d\n", kthread_stop(demo_thread));
	mutex_unlock(&demo_lock);
	mutex_lock(&demo_hold_lock); /* what lock_hold kept: a driver waiting for its device to be closed */
	mutex_unlock(&demo_hold_lock);
	remove_probe_devices();
	remove_napi();
	kmem_cache_destroy(demo_cache);
	demo_free_load_state();
}

module_init(demo_init);
module_exit(demo_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Chariot demo: a driver that makes legal and illegal writes on command");
