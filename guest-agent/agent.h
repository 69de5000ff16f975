/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the parts of chariot_agent share. agent_main.c: load/unload, /proc/chariot, the module records ("watches")
 * and their domains, the module notifier; agent_heap.c: the heap probes; agent_recovery.c: the violation
 * notification and the recovery of a faulty module.
 */
#ifndef CHARIOT_AGENT_H
#define CHARIOT_AGENT_H

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
	enum watch_state state;
	struct domain *domain;   /* NULL while not isolated */
	unsigned long notified;  /* violations the hypervisor reported to the agent (VIOLATION_NEXT) */
	unsigned int faults;     /* faults recovery handled */
	unsigned int recoveries; /* reloads after a fault that brought it back isolated */
	bool recovery_queued;
	char reason[WATCH_REASON_MAX]; /* why recovery failed */
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

/* Every recovery step, on the console (KERN_WARNING) with a fixed prefix. `fmt` adds " key=value" fields. */
#define recovery_log(module, step, result, fmt, ...)                                                      \
	printk(KERN_WARNING "CHARIOT: recovery module=%s step=%s result=%s" fmt "\n", module, step, result, \
	       ##__VA_ARGS__)

/* agent_main.c */
long hypercall(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3,
	       unsigned long *out0, unsigned long *out1);
const char *watch_state_name(enum watch_state state);
struct domain *domain_by_hv_id(unsigned long hv_id); /* agent_lock held */
int release_domain(struct domain *d);                /* agent_lock held */

/* agent_heap.c */
void heap_init(void);
int register_heap_probes(void);
void unregister_heap_probes(void);
/* Drops the tracked objects of a domain going away (state_lock held); the hypervisor drops its intervals. */
void heap_forget_domain(struct domain *d);
/* A module isolated late: authorizes the net_devices it registered before (agent_lock held, not state_lock). */
void heap_adopt_netdevs(struct domain *d);

/* agent_recovery.c */
int notify_start(unsigned long (*lookup)(const char *name));
/* Stops the notifications and waits for the drain and recoveries under way (agent_lock not held). */
void notify_stop(void);

#endif
