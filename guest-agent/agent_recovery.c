// SPDX-License-Identifier: GPL-2.0
/*
 * chariot_agent's violation notification and recovery of a faulty module.
 *
 * Notification: the agent asks the hypervisor (SET_NOTIFY) to inject vector 0xf7 after a violation. That is
 * X86_PLATFORM_IPI_VECTOR, which every x86-64 Linux has in its IDT: sysvec_x86_platform_ipi acknowledges the local
 * APIC and calls x86_platform_ipi_callback if set. The agent sets that pointer (and refuses to load when someone
 * else has); its handler only queues the drain work. The drain asks VIOLATION_NEXT until no domain is left with
 * unreported violations, counts them on the module's watch, and queues the recovery of every enforce-mode module
 * whose recovery is on; the others' violations are only counted and logged. The driver failures the kernel
 * reports (agent_failures.c: a failed probe) are taken by the same drain, as faults of the same kind.
 *
 * Recovery, in process context on an ordered workqueue, every step logged as
 *   CHARIOT: recovery module=<m> step=<detect|locks|unload|release|isolate|reload|end> result=<...> ...
 * detect: the watch is marked recovering (its domain stays and keeps skipping illegal writes).
 * locks: the sleeping locks the driver took in earlier calls and still holds are released (agent_unwind.c); then
 *   the devices of its own class an aborted probe left (agent_resources.c), each logged as step=resource.
 * unload: refused while the module is in use (refcount, modules using it) or not live; else `/sbin/rmmod <m>` as a
 *   usermode helper runs its own exit function (`rmmod -f` when it has none). The GOING notification releases its
 *   domain (DOMAIN_DESTROY) after the exit function ran, still isolated. A module already gone is skipped: its
 *   load failed (the fault was in its init or a probe it ran), or it faulted in its exit function while someone
 *   else unloaded it (the GOING notification counts that fault first); the latter is not reloaded (state
 *   unloaded, reason=fault-at-unload): it was going away.
 * release: checks the domain is gone (releases it if the unload left it).
 * reload (reload=1, first fault only): the watch is armed for isolation at load and `/sbin/insmod
 *   /lib/chariot/<m>.ko` (or `/sbin/modprobe <m>` when there is no such file) loads it again; the COMING
 *   notification isolates it before its init runs (step=isolate). A fault after a reload is persistent: unloaded,
 *   not reloaded.
 * end: the watch's state (recovered, unloaded, persistent, failed + reason) and its counters.
 * agent_lock is dropped around the usermode helpers: the load and unload notifications they cause take it.
 */
#define pr_fmt(fmt) "chariot_agent: " fmt

#include <asm/msr.h>
#include <asm/tsc.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/extable.h>
#include <linux/namei.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/umh.h>
#include <linux/workqueue.h>

#include "agent.h"

#define NOTIFY_VECTOR 0xf7 /* X86_PLATFORM_IPI_VECTOR */
#define RELOAD_DIR "/lib/chariot"
#define UNLOAD_WAIT_LOADING (10 * HZ)
#define UNLOAD_WAIT_USERS (5 * HZ)
#define UNLOAD_GONE 1 /* unload(): the module was not loaded */
/* VIOLATION_NEXT answers each domain at most once per call sequence unless it faults again meanwhile: past this
 * many answers in one drain the hypervisor misbehaves (or a driver faults in a loop); the rest waits a round. */
#define DRAIN_MAX (4 * CHARIOT_MAX_DOMAINS)

static void (**platform_ipi_callback)(void);
static struct workqueue_struct *recovery_wq;
static bool notifying; /* agent_lock: between notify_start and notify_stop, recovery_wq takes work */
static void violation_work_fn(struct work_struct *work);
static DECLARE_WORK(violation_work, violation_work_fn);

/* Hard-interrupt context (sysvec_x86_platform_ipi, after the APIC EOI): only queue the work. */
static void violation_interrupt(void)
{
	queue_work(recovery_wq, &violation_work);
}

/* ---- drain (agent_lock held) ---- */

/* A fault of w's driver to recover from, unless its recovery is off or already under way (then only counted). */
static bool begin_recovery(struct watch *w)
{
	if (!w->recover || w->state == WATCH_RECOVERING)
		return false;
	w->state = WATCH_RECOVERING;
	w->faults++;
	w->recovery_queued = true;
	return true;
}

static void note_violations(unsigned long hv_id, unsigned long count)
{
	struct domain *d = domain_by_hv_id(hv_id);
	struct watch *w = d ? d->watch : NULL;

	if (!w) {
		pr_info("%lu violations of domain %lu, released since\n", count, hv_id);
		return;
	}
	w->notified += count;
	if (!begin_recovery(w)) {
		/* rate-limited: a driver isolated late may fault on every write (audit) */
		printk_ratelimited(KERN_NOTICE "CHARIOT: violations module=%s domain=%lu count=%lu notified=%lu "
				   "policy=%s action=%s\n", w->name, hv_id, count, w->notified,
				   w->audit ? "audit" : "enforce", w->state == WATCH_RECOVERING ? "recovering" : "none");
		return;
	}
	recovery_log(w->name, "detect", "ok", " domain=%lu violations=%lu fault=%u", hv_id, count, w->faults);
}

/* The failures the kernel reported of isolated drivers (agent_failures.c), as faults of the domain they hit. */
static void note_failures(void)
{
	struct failure f;

	while (failures_take(&f)) {
		struct domain *d = domain_by_hv_id(f.hv_id);
		struct watch *w = d ? d->watch : NULL;

		if (!w) {
			pr_info("%s failure (%ld) of domain %lu, released since\n", failure_kind(&f), f.error, f.hv_id);
			continue;
		}
		if (!failure_counts(&f)) {
			pr_info("%s %s of %s (%ld) is not a failure: %s\n", w->name, failure_kind(&f), f.device, f.error,
				f.type == FAILURE_PROBE_EMPTY ? "the device has an interface now, or another driver"
							      : "the driver serves other devices");
			continue;
		}
		w->failures++;
		if (!begin_recovery(w)) {
			printk(KERN_NOTICE "CHARIOT: failure module=%s domain=%lu kind=%s error=%ld device=%s action=%s\n",
			       w->name, f.hv_id, failure_kind(&f), f.error, f.device,
			       w->state == WATCH_RECOVERING ? "recovering" : "none");
			continue;
		}
		recovery_log(w->name, "detect", "ok", " domain=%lu failure=%s error=%ld device=%s fault=%u", f.hv_id,
			     failure_kind(&f), f.error, f.device, w->faults);
	}
}

static struct watch *next_queued_recovery(void)
{
	struct watch *w;

	mutex_lock(&agent_lock);
	for (w = watches; w < watches + WATCHES_MAX; w++)
		if (w->in_use && w->recovery_queued) {
			w->recovery_queued = false;
			break;
		}
	mutex_unlock(&agent_lock);
	return w < watches + WATCHES_MAX ? w : NULL;
}

/* ---- recovery steps (agent_lock not held; a recovering watch is never dropped) ---- */

static int run_helper(char **argv)
{
	static char *envp[] = { "HOME=/", "PATH=/sbin:/bin:/usr/sbin:/usr/bin", NULL };

	return call_usermodehelper(argv[0], argv, envp, UMH_WAIT_PROC);
}

/* A helper's result for the log: its exit code, or the negative errno of the failure to run it. */
static int helper_exit(int status)
{
	return status > 0 ? status >> 8 : status;
}

static bool module_loaded(const char *name)
{
	bool loaded;

	mutex_lock(module_mutex_p);
	loaded = find_module_p(name) != NULL;
	mutex_unlock(module_mutex_p);
	return loaded;
}

/* A driver whose call was aborted while it loads (its init or the probes it starts) makes its load fail: the
 * kernel then unloads it itself. */
static bool live_or_gone(struct module *mod)
{
	return !mod || mod->state == MODULE_STATE_LIVE;
}

/* The module's users whose call into it failed (an aborted call returns an error) usually let go of it soon. */
static bool unused_or_gone(struct module *mod)
{
	return !mod || module_refcount(mod) == 0;
}

/* Polls the module (NULL once unloaded) every `interval_ms` until `settled` or `timeout` jiffies pass, so that
 * unload() decides on a module that is done loading and has lost its users. */
static void wait_for_module(const char *name, bool (*settled)(struct module *mod), unsigned long timeout,
			    unsigned int interval_ms)
{
	unsigned long deadline = jiffies + timeout;
	bool done;

	do {
		mutex_lock(module_mutex_p);
		done = settled(find_module_p(name));
		mutex_unlock(module_mutex_p);
		if (done)
			return;
		msleep(interval_ms);
	} while (time_before(jiffies, deadline));
}

static int unload(const char *name, char *reason)
{
	char *argv[] = { "/sbin/rmmod", NULL, NULL, NULL };
	bool live = false, used_by_modules = false, has_exit = false;
	int refcount = 0, status;
	struct module *mod;

	wait_for_module(name, live_or_gone, UNLOAD_WAIT_LOADING, 50);
	wait_for_module(name, unused_or_gone, UNLOAD_WAIT_USERS, 100);
	mutex_lock(module_mutex_p);
	mod = find_module_p(name);
	if (mod) {
		live = mod->state == MODULE_STATE_LIVE;
		refcount = module_refcount(mod);
		used_by_modules = !list_empty(&mod->source_list);
		has_exit = mod->exit != NULL;
	}
	mutex_unlock(module_mutex_p);

	if (!mod) {
		recovery_log(name, "unload", "skipped", " reason=not-loaded");
		return UNLOAD_GONE;
	}
	if (!live)
		snprintf(reason, WATCH_REASON_MAX, "not-live");
	else if (refcount > 0)
		snprintf(reason, WATCH_REASON_MAX, "in-use,refcount=%d", refcount);
	else if (used_by_modules)
		snprintf(reason, WATCH_REASON_MAX, "used-by-other-modules");
	if (reason[0]) {
		recovery_log(name, "unload", "failed", " reason=%s", reason);
		return -EBUSY;
	}
	/* Without -f the kernel checks the refcount again itself, so a user that appeared since is not unloaded
	 * under. A module without an exit function can only go forced (nothing of it then runs). */
	argv[1] = has_exit ? (char *)name : "-f";
	argv[2] = has_exit ? NULL : (char *)name;
	status = run_helper(argv);
	if (module_loaded(name)) {
		snprintf(reason, WATCH_REASON_MAX, "rmmod-failed,exit=%d", helper_exit(status));
		recovery_log(name, "unload", "failed", " reason=%s", reason);
		return -EBUSY;
	}
	recovery_log(name, "unload", "ok", " exit_function=%s", has_exit ? "own" : "none,forced");
	return 0;
}

static int reload(struct watch *w, const char *name, char *reason)
{
	char *path = kasprintf(GFP_KERNEL, RELOAD_DIR "/%s.ko", name);
	char *argv[] = { "/sbin/insmod", path, NULL };
	unsigned long hv_id = 0;
	struct path found;
	int status;

	if (!path)
		return -ENOMEM;
	if (kern_path(path, LOOKUP_FOLLOW, &found)) {
		argv[0] = "/sbin/modprobe";
		argv[1] = (char *)name;
	} else {
		path_put(&found);
	}
	mutex_lock(&agent_lock);
	w->on_load = true; /* the reload goes through isolation at load */
	mutex_unlock(&agent_lock);
	status = run_helper(argv);

	mutex_lock(&agent_lock);
	if (w->domain)
		hv_id = w->domain->hv_id;
	mutex_unlock(&agent_lock);
	if (status || !hv_id || !module_loaded(name)) {
		snprintf(reason, WATCH_REASON_MAX, "reload-failed,exit=%d", helper_exit(status));
		recovery_log(name, "reload", "failed", " helper=%s exit=%d isolated=%s", argv[0], helper_exit(status),
			     hv_id ? "yes" : "no");
		kfree(path);
		return -EIO;
	}
	recovery_log(name, "reload", "ok", " helper=%s domain=%lu", argv[0], hv_id);
	kfree(path);
	return 0;
}

static void finish(struct watch *w, const char *name, enum watch_state state, const char *reason)
{
	mutex_lock(&agent_lock);
	if (state == WATCH_RECOVERED)
		w->recoveries++;
	strscpy(w->reason, reason, sizeof(w->reason));
	recovery_log(name, "end", state == WATCH_FAILED ? "failed" : "ok", " recovery=%s faults=%u recoveries=%u%s%s",
		     watch_state_name(state), w->faults, w->recoveries, w->reason[0] ? " reason=" : "", w->reason);
	w->state = state;
	mutex_unlock(&agent_lock);
}

static void recover(struct watch *w)
{
	char name[CHARIOT_DOMAIN_NAME_MAX], reason[WATCH_REASON_MAX] = "";
	unsigned long hv_id = 0;
	struct domain *d;
	int unloaded;

	mutex_lock(&agent_lock);
	strscpy(name, w->name, sizeof(name));
	if (w->domain)
		hv_id = w->domain->hv_id;
	mutex_unlock(&agent_lock);

	if (hv_id) { /* locks first: the exit function may take them */
		recovery_log(name, "locks", "ok", " domain=%lu released=%u", hv_id, release_domain_locks(name, hv_id));
		mutex_lock(&agent_lock);
		d = domain_by_hv_id(hv_id);
		if (d) /* before the exit function unregisters their class */
			resources_release_orphans(d);
		mutex_unlock(&agent_lock);
	}
	unloaded = unload(name, reason);
	if (unloaded < 0) {
		finish(w, name, WATCH_FAILED, reason);
		return;
	}
	mutex_lock(&agent_lock);
	d = hv_id ? domain_by_hv_id(hv_id) : NULL;
	if (d)
		release_domain(d); /* still there: the module left without its GOING notification reaching us */
	mutex_unlock(&agent_lock);
	recovery_log(name, "release", "ok", " domain=%lu by=%s", hv_id, d ? "recovery" : "unload-notifier");

	if (unloaded == UNLOAD_GONE && w->went_loaded) {
		finish(w, name, WATCH_UNLOADED, "fault-at-unload");
		return;
	}
	if (!w->reload) {
		finish(w, name, WATCH_UNLOADED, reason);
		return;
	}
	if (w->recoveries) {
		recovery_log(name, "reload", "skipped", " reason=persistent faults=%u recoveries=%u", w->faults,
			     w->recoveries);
		finish(w, name, WATCH_PERSISTENT, reason);
		return;
	}
	finish(w, name, reload(w, name, reason) ? WATCH_FAILED : WATCH_RECOVERED, reason);
}

/* agent_lock held; false when cut short (the rest waits for the next round). Failure reports are taken after the
 * violations: a probe the hypervisor aborted also fails, and its violation says more. */
static bool drain_violations(void)
{
	unsigned long hv_id, count;
	int answers;

	for (answers = 0; answers < DRAIN_MAX; answers++) {
		if (hypercall(CHARIOT_HC_VIOLATION_NEXT, 0, 0, 0, 0, &hv_id, &count) || !hv_id)
			break;
		note_violations(hv_id, count);
	}
	note_failures();
	if (answers < DRAIN_MAX)
		return true;
	pr_warn_ratelimited("violation drain: %d answers in a row, the rest in the next round\n", DRAIN_MAX);
	return false;
}

void drain_violations_now(void)
{
	bool complete, queued = false;
	struct watch *w;

	if (!notifying)
		return;
	complete = drain_violations();
	for (w = watches; w < watches + WATCHES_MAX; w++)
		queued |= w->in_use && w->recovery_queued;
	if (!complete || queued)
		queue_work(recovery_wq, &violation_work);
}

void failure_reported(void)
{
	queue_work(recovery_wq, &violation_work);
}

static void violation_work_fn(struct work_struct *work)
{
	struct watch *w;
	bool complete;

	/* A declined device is judged once the probes under way (asynchronous ones too) have ended; not under
	 * agent_lock, which a module loading meanwhile takes. */
	if (failures_pending())
		wait_for_device_probe();
	mutex_lock(&agent_lock);
	complete = drain_violations();
	mutex_unlock(&agent_lock);
	while ((w = next_queued_recovery()))
		recover(w);
	if (!complete)
		queue_work(recovery_wq, &violation_work);
}

/* ---- start / stop ---- */

/* The kernel's own exception and bug tables: a user-address fault in kernel code a driver called (copy_to_user, ...)
 * at an instruction the exception table does not list is the driver's, and so is a BUG() (not a WARN()) that its
 * arguments run into. */
static void kernel_tables(unsigned long (*lookup)(const char *name))
{
	unsigned long text = lookup("_stext"), text_end = lookup("_etext");
	unsigned long table = lookup("__start___ex_table"), table_end = lookup("__stop___ex_table");
	unsigned long bugs = lookup("__start___bug_table"), bugs_end = lookup("__stop___bug_table");

	if (!text || text_end <= text || !table || table_end <= table ||
	    hypercall(CHARIOT_HC_EXCEPTION_TABLE, text, text_end, table,
		      (table_end - table) / sizeof(struct exception_table_entry), NULL, NULL))
		pr_warn("the kernel's exception table is unknown to the hypervisor: user-address faults in kernel "
			"code stay the guest's\n");
	if (!text || text_end <= text || !bugs || bugs_end < bugs ||
	    hypercall(CHARIOT_HC_BUG_TABLE, text, text_end, bugs,
		      bug_table_layout((bugs_end - bugs) / sizeof(struct bug_entry)), NULL, NULL))
		pr_warn("the kernel's bug table is unknown to the hypervisor: a BUG() in kernel code a driver called "
			"stays the guest's\n");
}

/* The hypervisor aborts the call of a driver that faults or hangs and restores the caller's preempt counter: tell
 * it where that per-CPU counter is, relative to the GS base every CPU's per-CPU area starts at, how fast the TSC
 * runs, and the landing aborted calls return through (0: none). */
static long recovery_setup(unsigned long landing)
{
	unsigned long gs_base, offset;

	preempt_disable();
	rdmsrl(MSR_GS_BASE, gs_base);
	offset = (unsigned long)this_cpu_ptr(&__preempt_count) - gs_base;
	preempt_enable();
	return hypercall(CHARIOT_HC_RECOVERY_SETUP, offset, tsc_khz, landing, 0, NULL, NULL);
}

int notify_start(unsigned long (*lookup)(const char *name))
{
	void (*taken)(void);
	long status;

	platform_ipi_callback = (void *)lookup("x86_platform_ipi_callback");
	if (!platform_ipi_callback) {
		pr_err("kernel symbol x86_platform_ipi_callback missing: no violation notifications\n");
		return -ENOENT;
	}
	recovery_wq = alloc_ordered_workqueue("chariot_recovery", 0);
	if (!recovery_wq)
		return -ENOMEM;
	taken = cmpxchg(platform_ipi_callback, NULL, violation_interrupt);
	if (taken) {
		pr_err("x86_platform_ipi_callback is in use (%ps): cannot take violation notifications\n", taken);
		destroy_workqueue(recovery_wq);
		return -EBUSY;
	}
	status = hypercall(CHARIOT_HC_SET_NOTIFY, NOTIFY_VECTOR, 0, 0, 0, NULL, NULL);
	if (status) {
		cmpxchg(platform_ipi_callback, violation_interrupt, NULL);
		destroy_workqueue(recovery_wq);
		return chariot_status_errno(status);
	}
	pr_info("violation notifications on vector 0x%x\n", NOTIFY_VECTOR);
	mutex_lock(&agent_lock);
	notifying = true;
	mutex_unlock(&agent_lock);
	status = recovery_setup(unwind_start(lookup));
	if (status)
		pr_warn("recovery setup refused (%s): aborted driver calls keep the preempt counter and their locks, "
			"hangs are not detected\n", chariot_status_name(status));
	kernel_tables(lookup);
	return 0;
}

void notify_stop(void)
{
	mutex_lock(&agent_lock);
	notifying = false;
	mutex_unlock(&agent_lock);
	hypercall(CHARIOT_HC_SET_NOTIFY, 0, 0, 0, 0, NULL, NULL);
	recovery_setup(0); /* the landing goes with the agent's code: aborted calls return directly */
	if (cmpxchg(platform_ipi_callback, violation_interrupt, NULL) != violation_interrupt)
		pr_warn("x86_platform_ipi_callback was changed by someone else: left as it is\n");
	synchronize_rcu(); /* a notification interrupt that read the pointer has returned */
	destroy_workqueue(recovery_wq); /* runs the drain and recoveries already queued to their end */
}
