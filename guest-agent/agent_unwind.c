// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent's landing for aborted driver calls: the locks first.
 *
 * The hypervisor aborts an isolated driver's call that faults or hangs (isolation/driver_fault.c). It restores the
 * caller's registers, RFLAGS and preempt counter and, instead of returning to the caller directly, enters
 * abort_landing() as if the driver function had tail-called it: abort_landing(abort id, -EIO) with the caller's
 * return address on top of the stack. The landing asks the hypervisor (ABORT_LOCK_NEXT) for the sleeping locks the
 * call took and has not released, newest first, releases each, and returns the result to the caller. The
 * hypervisor knows them because every call a driver makes into the kernel leaves its view: it watches the calls to
 * the lock functions registered here (LOCK_FUNCTION) and their results. Spinlocks need nothing: on this
 * uniprocessor kernel they are the interrupt flag and the preempt counter, both restored.
 *
 * A kernel thread whose thread function was the aborted call would otherwise return into kthread() and exit while
 * its driver still expects it to run until kthread_stop() (usb-storage's control thread): it parks here instead,
 * holding a reference on the agent, and exits when stopped.
 *
 * A NAPI poll (the caller is __napi_poll) that was aborted never completed its NAPI instance, which stays
 * scheduled and off every poll list: the driver's close would wait in napi_disable() forever. The landing completes
 * it (its first argument is the instance), with no work done.
 *
 * Recovery, before it unloads a faulty driver, releases the locks the driver took in earlier calls and still holds
 * (DOMAIN_LOCK_NEXT), whichever task took them: its exit function would wait for them forever.
 *
 * Every step is a console line:
 *   CHARIOT: unwind abort=<id> lock=<class> address=<lock> action=<released|skipped> [reason=...]
 *   CHARIOT: unwind abort=<id> thread=<comm> action=<parked|stopped>
 *   CHARIOT: unwind abort=<id> napi=<device> action=<completed|skipped>
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <linux/kallsyms.h>
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/semaphore.h>
#include <linux/wait.h>

#include "agent.h"

#define OWNER_FLAGS 0x07ul /* mutex and rw_semaphore owner words keep flags in their low bits */

enum lock_class { LOCK_MUTEX, LOCK_RWSEM_READ, LOCK_RWSEM_WRITE, LOCK_SEMAPHORE, LOCK_RTNL, LOCK_CLASSES };

static const char *const lock_class_names[LOCK_CLASSES] = {
	[LOCK_MUTEX] = "mutex", [LOCK_RWSEM_READ] = "rwsem_read", [LOCK_RWSEM_WRITE] = "rwsem_write",
	[LOCK_SEMAPHORE] = "semaphore", [LOCK_RTNL] = "rtnl",
};

#define TAKES CHARIOT_LOCK_ACQUIRE
#define TAKES_ON_ZERO (CHARIOT_LOCK_ACQUIRE | CHARIOT_LOCK_OK_ZERO)
#define TAKES_ON_NONZERO (CHARIOT_LOCK_ACQUIRE | CHARIOT_LOCK_OK_NONZERO)
#define RELEASES 0

static const struct lock_function {
	const char *symbol;
	enum lock_class lock_class;
	unsigned int flags;
} lock_functions[] = {
	{ "mutex_lock", LOCK_MUTEX, TAKES },
	{ "mutex_lock_io", LOCK_MUTEX, TAKES },
	{ "mutex_lock_interruptible", LOCK_MUTEX, TAKES_ON_ZERO },
	{ "mutex_lock_killable", LOCK_MUTEX, TAKES_ON_ZERO },
	{ "mutex_trylock", LOCK_MUTEX, TAKES_ON_NONZERO },
	{ "mutex_unlock", LOCK_MUTEX, RELEASES },
	{ "down_read", LOCK_RWSEM_READ, TAKES },
	{ "down_read_interruptible", LOCK_RWSEM_READ, TAKES_ON_ZERO },
	{ "down_read_killable", LOCK_RWSEM_READ, TAKES_ON_ZERO },
	{ "down_read_trylock", LOCK_RWSEM_READ, TAKES_ON_NONZERO },
	{ "up_read", LOCK_RWSEM_READ, RELEASES },
	{ "down_write", LOCK_RWSEM_WRITE, TAKES },
	{ "down_write_killable", LOCK_RWSEM_WRITE, TAKES_ON_ZERO },
	{ "down_write_trylock", LOCK_RWSEM_WRITE, TAKES_ON_NONZERO },
	{ "up_write", LOCK_RWSEM_WRITE, RELEASES },
	{ "down", LOCK_SEMAPHORE, TAKES },
	{ "down_interruptible", LOCK_SEMAPHORE, TAKES_ON_ZERO },
	{ "down_killable", LOCK_SEMAPHORE, TAKES_ON_ZERO },
	{ "down_timeout", LOCK_SEMAPHORE, TAKES_ON_ZERO },
	{ "down_trylock", LOCK_SEMAPHORE, TAKES_ON_ZERO }, /* 0: taken */
	{ "up", LOCK_SEMAPHORE, RELEASES },
	{ "rtnl_lock", LOCK_RTNL, TAKES | CHARIOT_LOCK_NO_ARGUMENT },
	{ "rtnl_lock_killable", LOCK_RTNL, TAKES_ON_ZERO | CHARIOT_LOCK_NO_ARGUMENT },
	{ "rtnl_trylock", LOCK_RTNL, TAKES_ON_NONZERO | CHARIOT_LOCK_NO_ARGUMENT },
	{ "rtnl_unlock", LOCK_RTNL, RELEASES | CHARIOT_LOCK_NO_ARGUMENT },
};

static unsigned long kthread_start, kthread_end; /* kthread(), which calls a kernel thread's function */
static unsigned long napi_poll_start, napi_poll_end; /* __napi_poll(), which calls a NAPI instance's poll */
static DECLARE_WAIT_QUEUE_HEAD(parked_threads);

static bool owned_by_current(atomic_long_t *owner)
{
	return (atomic_long_read(owner) & ~OWNER_FLAGS) == (unsigned long)current;
}

static const char *lock_class_name(unsigned long lock_class)
{
	return lock_class < LOCK_CLASSES ? lock_class_names[lock_class] : "unknown";
}

/* A lock the hypervisor saw a driver call take and not release: released unless it visibly is not held any more,
 * or not by this task (the owner recorded in mutexes and write-held rw-semaphores) unless `any_owner` (recovery
 * releases what the driver kept across calls, whichever task took it). NULL, or why it was skipped. */
static const char *release_lock(unsigned long lock_class, void *lock, bool any_owner)
{
	const char *skipped = NULL;

	switch (lock_class) {
	case LOCK_MUTEX:
		if (any_owner ? mutex_is_locked(lock) : owned_by_current(&((struct mutex *)lock)->owner))
			mutex_unlock(lock);
		else
			skipped = any_owner ? "not-locked" : "not-owner";
		break;
	case LOCK_RWSEM_READ:
		if (rwsem_is_locked(lock))
			up_read(lock);
		else
			skipped = "not-locked";
		break;
	case LOCK_RWSEM_WRITE:
		if (any_owner ? rwsem_is_locked(lock) : owned_by_current(&((struct rw_semaphore *)lock)->owner))
			up_write(lock);
		else
			skipped = any_owner ? "not-locked" : "not-owner";
		break;
	case LOCK_SEMAPHORE:
		up(lock);
		break;
	case LOCK_RTNL:
		if (rtnl_is_locked())
			rtnl_unlock();
		else
			skipped = "not-locked";
		break;
	default:
		skipped = "unknown-class";
	}
	return skipped;
}

/* The thread function of a kernel thread was aborted: the driver stops the thread when it goes. Never returns. */
static void park_aborted_thread(unsigned long abort_id, long result)
{
	__module_get(THIS_MODULE); /* the agent cannot go while a thread waits in its code */
	printk(KERN_WARNING "CHARIOT: unwind abort=%lu thread=%s action=parked\n", abort_id, current->comm);
	wait_event_idle(parked_threads, kthread_should_stop());
	printk(KERN_WARNING "CHARIOT: unwind abort=%lu thread=%s action=stopped\n", abort_id, current->comm);
	__module_put_and_kthread_exit(THIS_MODULE, result); /* what kthread() does when its function returns */
}

/* An aborted poll of `napi` (still scheduled: nothing else completes it) is completed, having done no work. */
static void complete_aborted_poll(unsigned long abort_id, struct napi_struct *napi)
{
	bool scheduled = (unsigned long)napi >= PAGE_OFFSET && test_bit(NAPI_STATE_SCHED, &napi->state);

	if (scheduled)
		napi_complete_done(napi, 0);
	printk(KERN_WARNING "CHARIOT: unwind abort=%lu napi=%s action=%s\n", abort_id,
	       scheduled && napi->dev ? napi->dev->name : "?", scheduled ? "completed" : "skipped");
}

/* Entered by the hypervisor, never called from C: the aborted call's caller is its return address. */
static noinline long abort_landing(unsigned long abort_id, long result, unsigned long first_arg)
{
	unsigned long caller = (unsigned long)__builtin_return_address(0), lock_class, lock;
	const char *skipped;

	/* chariot_vmcall: its -HV_ENOENT, the end of the list, is no failure to log */
	while (!chariot_vmcall(CHARIOT_HC_ABORT_LOCK_NEXT, abort_id, 0, 0, 0, &lock_class, &lock)) {
		skipped = release_lock(lock_class, (void *)lock, false);
		printk(KERN_WARNING "CHARIOT: unwind abort=%lu lock=%s address=%px action=%s%s%s\n", abort_id,
		       lock_class_name(lock_class), (void *)lock, skipped ? "skipped" : "released",
		       skipped ? " reason=" : "", skipped ? skipped : "");
	}
	if (caller >= napi_poll_start && caller < napi_poll_end)
		complete_aborted_poll(abort_id, (struct napi_struct *)first_arg);
	if (in_task() && (current->flags & PF_KTHREAD) && caller >= kthread_start && caller < kthread_end)
		park_aborted_thread(abort_id, result);
	return result;
}

unsigned int release_domain_locks(const char *module, unsigned long hv_id)
{
	unsigned long lock_class, lock;
	unsigned int released = 0;
	const char *skipped;

	while (!chariot_vmcall(CHARIOT_HC_DOMAIN_LOCK_NEXT, hv_id, 0, 0, 0, &lock_class, &lock)) {
		skipped = release_lock(lock_class, (void *)lock, true);
		recovery_log(module, "lock", skipped ? "skipped" : "released", " lock=%s address=%px%s%s",
			     lock_class_name(lock_class), (void *)lock, skipped ? " reason=" : "", skipped ? skipped : "");
		released += !skipped;
	}
	return released;
}

unsigned long unwind_start(unsigned long (*lookup)(const char *name))
{
	unsigned long address;
	unsigned int i, registered = 0;
	long status;

	for (i = 0; i < ARRAY_SIZE(lock_functions); i++) {
		address = lookup(lock_functions[i].symbol);
		if (!address)
			continue; /* not in this kernel: its callers are not watched */
		status = hypercall(CHARIOT_HC_LOCK_FUNCTION, address, lock_functions[i].lock_class,
				   lock_functions[i].flags, 0, NULL, NULL);
		if (status)
			pr_warn("lock function %s refused (%s)\n", lock_functions[i].symbol,
				chariot_status_name(status));
		else
			registered++;
	}
	kernel_function(lookup, "kthread", &kthread_start, &kthread_end);
	/* gcc may have specialized it (a clone named with a suffix, as in this guest's 6.1) */
	if (!kernel_function(lookup, "__napi_poll", &napi_poll_start, &napi_poll_end))
		kernel_function(lookup, "__napi_poll.constprop.0", &napi_poll_start, &napi_poll_end);
	pr_info("aborted calls land in %ps: %u lock functions watched, aborted kernel threads %s\n", abort_landing,
		registered, kthread_end ? "park" : "exit (kthread() not found)");
	return (unsigned long)abort_landing;
}
