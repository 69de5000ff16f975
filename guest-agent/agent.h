/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the parts of chariot_agent share: the domains (one per isolated module, as the hypervisor knows them), the
 * locks, and each part's entry points. agent_main.c: load/unload, /proc/chariot, isolate/release;
 * agent_heap.c: the heap probes.
 */
#ifndef CHARIOT_AGENT_H
#define CHARIOT_AGENT_H

#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>

#include "chariot_hypercall.h"

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

/* agent_lock serializes commands, releases and unload (process context, may sleep). state_lock guards what the
 * probes touch: domains[].in_use and counters, the hash table and the object pool (any context). */
extern struct mutex agent_lock;
extern spinlock_t state_lock;
extern struct domain domains[CHARIOT_MAX_DOMAINS];
extern int nr_domains; /* read without the lock by the probes' fast path */

/* agent_main.c */
long hypercall(unsigned long nr, unsigned long a0, unsigned long a1, unsigned long a2, unsigned long a3,
	       unsigned long *out0, unsigned long *out1);

/* agent_heap.c */
void heap_init(void);
int register_heap_probes(void);
void unregister_heap_probes(void);
/* Drops the tracked objects of a domain going away (state_lock held); the hypervisor drops its intervals. */
void heap_forget_domain(struct domain *d);

#endif
