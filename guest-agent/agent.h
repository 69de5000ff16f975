/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the parts of chariot_agent share. agent_main.c: load/unload, /proc/chariot, the module records ("watches")
 * and their domains, the module notifier; agent_heap.c: the heap probes; agent_recovery.c: the violation
 * notification and the recovery of a faulty module; agent_unwind.c: the locks an aborted driver call held;
 * agent_resources.c: the ledger of the IRQs, timers, works and registrations a driver holds, released when its
 * module goes; agent_failures.c: the driver failures the kernel reports (a failed probe or open, a device that
 * stopped interrupting).
 */
#ifndef CHARIOT_AGENT_H
#define CHARIOT_AGENT_H

#include <linux/bug.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/printk.h>
#include <linux/spinlock.h>

#include "chariot_hypercall.h"

#define WATCHES_MAX 16 /* modules the agent knows at once: isolated, armed, or remembered for their faults */
#define WATCH_REASON_MAX 48

struct watch;

/* A protection domain: one isolated instance of a module, as the hypervisor knows it. */
struct domain {
	bool in_use;
	unsigned int generation; /* bumped at each create: a slot reused while an allocation slept is noticed */
	unsigned long hv_id;
	char name[CHARIOT_DOMAIN_NAME_MAX]; /* the hypervisor reads the name from here at DOMAIN_CREATE */
	const struct module *mod;
	unsigned long text_start, text_end;
	/* Its init text while its init runs (isolated from load): allocations made there are the driver's. The
	 * hypervisor knows only the core text: init code runs as trusted kernel code. */
	unsigned long init_start, init_end;
	bool loading; /* isolated at load and its init has not finished: if it goes now, its load failed */
	bool audit;
	unsigned int intervals; /* authorization intervals the agent added and has not removed */
	struct watch *watch;
};

enum watch_state {
	WATCH_ARMED,      /* isolate-on-load: waiting for the module to load */
	WATCH_RUNNING,    /* isolated, no fault handled yet */
	WATCH_RECOVERING, /* a violation was reported: recovery is unloading (and maybe reloading) it */
	WATCH_RECOVERED,  /* reloaded after a fault, isolated again */
	WATCH_UNLOADED,   /* unloaded after a fault, not reloaded (reload=0) */
	WATCH_PERSISTENT, /* faulted again after a reload: unloaded for good */
	WATCH_FAILED,     /* recovery could not unload or reload it (see reason) */
};

/* What the agent knows about one module across its loads: how to isolate it, its domain, its faults. */
struct watch {
	bool in_use;
	char name[CHARIOT_DOMAIN_NAME_MAX];
	bool audit;   /* the policy of its domains */
	bool recover; /* a reported violation unloads it (enforce only) */
	bool reload;  /* and loads it again, once: a fault after that is persistent */
	bool on_load; /* isolate it when it loads (MODULE_STATE_COMING), before its init runs */
	unsigned int open_pages; /* pages its legal writes leave writable in its view (0: every write checked) */
	enum watch_state state;
	struct domain *domain;   /* NULL while not isolated */
	unsigned long notified;  /* violations the hypervisor reported to the agent (VIOLATION_NEXT) */
	unsigned int faults;     /* faults recovery handled */
	unsigned int failures;   /* failures the kernel reported of its driver (agent_failures.c) */
	unsigned int recoveries; /* reloads after a fault that brought it back isolated */
	bool recovery_queued;
	bool went_loaded; /* its last domain went with a module that had finished loading (an unload, not a failed load) */
	char reason[WATCH_REASON_MAX]; /* why recovery failed, or how it ended without a reload */
};

/* agent_lock serializes commands, domain and watch changes, the notifier and recovery decisions (process context,
 * may sleep; recovery drops it around the usermode helpers, whose module load/unload notifications take it).
 * state_lock guards what the probes touch: domains[].in_use, .init_*, counters, and the heap table (any context). */
extern struct mutex agent_lock;
extern spinlock_t state_lock;
extern struct domain domains[CHARIOT_MAX_DOMAINS];
extern int nr_domains; /* read without the lock by the probes' fast path */
extern struct watch watches[WATCHES_MAX];
/* Not exported by 6.1: found through kallsyms_lookup_name(). */
extern struct mutex *module_mutex_p;
extern struct module *(*find_module_p)(const char *name);
/* NULL if this kernel has no kallsyms_lookup_size_offset: what needs a function's extent then does without. */
extern int (*lookup_size_offset_p)(unsigned long addr, unsigned long *size, unsigned long *offset);
/* The code of kernel function `name`: [*start, *end); false, both 0, if it is not found. */
bool kernel_function(unsigned long (*lookup)(const char *name), const char *name, unsigned long *start,
		     unsigned long *end);

/* Every recovery step, on the console (KERN_WARNING) with a fixed prefix. `fmt` adds " key=value" fields. */
#define recovery_log(module, step, result, fmt, ...)                                                      \
	printk(KERN_WARNING "CHARIOT: recovery module=%s step=%s result=%s" fmt "\n", module, step, result, \
	       ##__VA_ARGS__)

/* CHARIOT_HC_BUG_TABLE's RSI for `entries` of this kernel's struct bug_entry. */
static inline unsigned long bug_table_layout(unsigned long entries)
{
	return entries | (unsigned long)sizeof(struct bug_entry) << 32 |
	       (unsigned long)offsetof(struct bug_entry, flags) << 40;
}

/* agent_main.c */
long hypercall(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3,
	       unsigned long *out0, unsigned long *out1);
const char *watch_state_name(enum watch_state state);
struct domain *domain_by_hv_id(unsigned long hv_id); /* agent_lock held */
int release_domain(struct domain *d);                /* agent_lock held */

/* agent_heap.c: the table of objects authorized to domains (their intervals in the hypervisor) and the allocator
 * probes. Called with state_lock held unless said otherwise. */
void heap_init(void);
extern struct probe_set heap_probes;
struct domain *domain_by_text(unsigned long addr); /* the domain whose code addr is */
struct domain *domain_of_module(const struct module *mod);
struct domain *domain_by_address(unsigned long addr); /* the domain whose module (code or data) holds addr */
/* Authorizes [start, start + len) to d until the object `key` is freed or ungranted. */
void track_range(struct domain *d, unsigned long key, unsigned long start, unsigned long len);
void ungrant(struct domain *d, unsigned long key); /* d's grant on key only */
void object_freed(unsigned long key);              /* every domain's grant on key (takes state_lock) */
int free_rdi_pre(struct kprobe *p, struct pt_regs *regs); /* object_freed(first argument) */
int free_rsi_pre(struct kprobe *p, struct pt_regs *regs); /* object_freed(second argument) */
int free_rdx_pre(struct kprobe *p, struct pt_regs *regs); /* object_freed(third argument) */

/* What a return handler needs from the entry: who called, and what the call's arguments said about the extent. */
struct alloc_call {
	struct domain *domain;
	unsigned int generation;
	struct kmem_cache *cache; /* kmem_cache_alloc*: the cache, whose object size bounds the interval */
	unsigned long size;       /* the size argument (vmalloc, ioremap, DMA, net_device private area, ...) */
	unsigned long offset;     /* ioremap: the physical address's offset in its page; else what the entry saved */
};
/* A kretprobe entry for an allocation called from `caller`: 0 (keep the return probe) if it is a domain's code. */
int alloc_entry(struct kretprobe_instance *ri, unsigned long caller, struct kmem_cache *cache, unsigned long size,
		unsigned long offset);
/* The same for an object attributed to the domain of module `mod`, or of the module whose memory holds `addr`. */
int alloc_entry_for_module(struct kretprobe_instance *ri, const struct module *mod, unsigned long size,
			   unsigned long offset);
int alloc_entry_for_data(struct kretprobe_instance *ri, unsigned long addr, unsigned long size, unsigned long offset);
/* Adds the interval if the allocating domain is still the one the entry saw (takes state_lock). */
void track_for_call(struct alloc_call *call, unsigned long key, unsigned long start, unsigned long len);

#define ALLOC_PROBE_MAXACTIVE 32 /* isolated-driver allocations in flight at once (sleeping ones included) */
/* A kretprobe whose entry fills a struct alloc_call for its return handler. */
#define ALLOC_KRETPROBE(sym, entry, ret)                                                                   \
	{                                                                                                  \
		.kp.symbol_name = sym, .entry_handler = entry, .handler = ret,                             \
		.data_size = sizeof(struct alloc_call), .maxactive = ALLOC_PROBE_MAXACTIVE,                 \
	}

/* At function entry the return address is on top of the stack: the call site. */
static inline unsigned long entry_return_address(struct pt_regs *regs)
{
	return *(unsigned long *)regs->sp;
}

/* The n-th (from 7) stack argument at function entry. */
static inline unsigned long entry_stack_arg(struct pt_regs *regs, int n)
{
	return ((unsigned long *)regs->sp)[n - 6];
}

/* agent_probes.c: sets of kprobes and kretprobes. A probe on a module's function (snd-pcm, not loaded when the
 * agent is) is registered when that module is live and dropped when it goes. */
struct probe_set {
	const char *what;
	struct kretprobe *krps;
	bool *krp_registered;
	size_t nr_krps;
	struct kprobe *kps;
	bool *kp_registered;
	size_t nr_kps;
	size_t required_kps; /* the first kps must exist */
	bool active;         /* between register and unregister: only then do modules coming live get its probes */
};
int probe_set_register(struct probe_set *set);
void probe_set_unregister(struct probe_set *set);
void probe_set_module_live(struct probe_set *set);            /* retries those not registered, if active */
void probe_set_module_going(struct probe_set *set, struct module *mod); /* drops those in mod */

/* agent_grants.c: kernel objects handed to a driver by its subsystem (DMA pools, USB, SCSI, ATA, sound). */
extern struct probe_set grant_probes;
struct domain *delegated_domain(unsigned long caller); /* state_lock held */
/* What every domain may write from its creation on: kernel variables drivers update inline (state_lock held). */
void grant_domain_globals(struct domain *d);
/* Drops the tracked objects of a domain going away (state_lock held); the hypervisor drops its intervals. */
void heap_forget_domain(struct domain *d);
/* A module isolated late: authorizes the net_devices it registered before (agent_lock held, not state_lock). */
void heap_adopt_netdevs(struct domain *d);

/* agent_unwind.c: registers the lock functions with the hypervisor; returns the landing of aborted calls. */
unsigned long unwind_start(unsigned long (*lookup)(const char *name));
/* The locks domain hv_id's driver still holds, released, each logged as a recovery step of `module`; how many. */
unsigned int release_domain_locks(const char *module, unsigned long hv_id);

/* agent_resources.c: what a domain holds besides memory, in acquisition order. */
extern struct probe_set resource_probes;
void resources_init(unsigned long (*lookup)(const char *name));
void resources_forget_domain(struct domain *d); /* state_lock held */
/* d's module is going, its exit function ran: releases what it still holds, newest first (agent_lock held). */
void resources_release(struct domain *d);
/* Before recovery unloads d's module (agent_lock held): unregisters the devices of its own class that no remove will
 * delete (their probe was aborted), each logged. */
void resources_release_orphans(struct domain *d);

/* agent_failures.c: driver failures the kernel declares (a failed probe or open, a device that stopped
 * interrupting), noted in any context. */
enum failure_type {
	FAILURE_PROBE,          /* its probe failed */
	FAILURE_PROBE_DECLINED, /* -ENODEV or -ENXIO: the driver declined the device */
	FAILURE_PROBE_EMPTY,    /* it took the device and gave the kernel none of the interfaces it gave before */
	FAILURE_SCAN_EMPTY,     /* its SCSI host's scan found none of the devices an earlier scan found */
	FAILURE_OPEN,           /* its network interface failed to open */
	FAILURE_PCM_TIMEOUT,    /* its sound card's PCM stream stopped moving ("DMA or IRQ trouble") */
};
struct failure {
	unsigned long hv_id; /* the domain isolating the driver when it failed */
	enum failure_type type;
	long error;          /* the negative errno the kernel saw (0 for an empty probe or scan) */
	struct device_driver *drv; /* probe failures only */
	char device[32];
};
extern struct probe_set failure_probes;
bool failures_pending(void);
bool failures_take(struct failure *f); /* the oldest noted, if any */
static inline const char *failure_kind(const struct failure *f)
{
	static const char *const kinds[] = {
		[FAILURE_PROBE] = "probe", [FAILURE_PROBE_DECLINED] = "probe-declined",
		[FAILURE_PROBE_EMPTY] = "probe-empty", [FAILURE_SCAN_EMPTY] = "scan-empty", [FAILURE_OPEN] = "open",
		[FAILURE_PCM_TIMEOUT] = "pcm-timeout",
	};

	return kinds[f->type];
}
/* Whether a failure taken is one (a decline only when its driver is bound to no device, an empty probe only when
 * the device still has no interface; the other kinds always); agent_lock held, with the failure's domain still
 * there (so its module and driver are). */
bool failure_counts(const struct failure *f);

/* agent_recovery.c */
int notify_start(unsigned long (*lookup)(const char *name));
/* A failure was noted: the recovery work takes it (any context; between notify_start and notify_stop). */
void failure_reported(void);
/* Stops the notifications and waits for the drain and recoveries under way (agent_lock not held). */
void notify_stop(void);
/* Counts the violations not reported yet, as the notification would, and has the recoveries they start run: for a
 * module going away, whose domain must not go with a violation unnoticed (agent_lock held). */
void drain_violations_now(void);

#endif
