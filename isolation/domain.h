/*
 * Isolation domains: one per isolated driver, with its code range, its authorization intervals, its policy and its
 * protection view. Two kinds of view share the guest's translations (hv/guest_paging.c):
 *   - the kernel view: the guest's own rights, except that every isolated driver's code is not executable;
 *   - a domain's driver view: the kernel half is read-only except the pages wholly inside the domain's intervals
 *     and the current kernel stack, and only the domain's own code and the kernel pages shared with drivers'
 *     views (isolation/shared_code.h) are executable.
 * So the CPU changes views when control passes between a driver and the rest of the guest (a fetch fault), or
 * when shared kernel code running in a driver's view writes what the driver may not (the kernel view runs it on),
 * and every write a driver makes to kernel memory it is not wholly authorized for traps here, including writes to
 * a page the kernel wrote a moment before.
 */
#ifndef ISOLATION_DOMAIN_H
#define ISOLATION_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/hypercall.h"
#include "mmu/shadow.h"

#define KERNEL_HALF_START 0xffff800000000000ull
#define GUEST_THREAD_SIZE (16ull << 10) /* x86-64 Linux kernel stacks: 16 KiB, THREAD_SIZE-aligned */
#define DOMAIN_MAX_INTERVALS 4096
#define DOMAIN_MAX_CODE_SIZE (64ull << 20)

/* A fetch from a present page that only a view switch can explain: the kernel view fetching driver code, or a
 * driver view fetching outside its code. Switches and returns true; false when the fault needs the full walk
 * (then a fetch the guest itself forbids is found and reflected, never bounced between views). */
bool isolation_switch_view_for_fetch(struct vcpu *v, struct shadow_mmu *view, uint64_t linear);
/* A fault the active view's policy caused (the guest's own tables allow the access). */
void isolation_view_denied(struct vcpu *v, struct shadow_mmu *view, uint64_t linear, bool write);

long hc_domain_create(struct vcpu *v, struct hypercall_args *a);
long hc_domain_destroy(struct vcpu *v, struct hypercall_args *a);
long hc_interval_add(struct vcpu *v, struct hypercall_args *a);
long hc_interval_remove(struct vcpu *v, struct hypercall_args *a);
long hc_domain_stats(struct vcpu *v, struct hypercall_args *a);
long hc_set_notify(struct vcpu *v, struct hypercall_args *a);
long hc_violation_next(struct vcpu *v, struct hypercall_args *a);
long hc_domain_init_code(struct vcpu *v, struct hypercall_args *a);
long hc_shared_function(struct vcpu *v, struct hypercall_args *a);

/* The page holding `linear` stops being shared with drivers' views (isolation/shared_code.h), if it was: its code
 * must switch views from now on (`reason` is logged). */
void isolation_unshare(uint64_t linear, const char *reason);

void isolation_log_summary(void);

#endif
