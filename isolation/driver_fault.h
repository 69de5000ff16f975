/* Faults of isolated drivers: recovery points at each call into a driver, and the call aborted when the driver
 * faults (isolation/driver_fault.c). */
#ifndef ISOLATION_DRIVER_FAULT_H
#define ISOLATION_DRIVER_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/hypercall.h"

struct domain;

/* Control enters the domain's code from the kernel view: records a recovery point if this is a call. True when it
 * returned into a call that hung instead, and aborted that call (the kernel view stays). */
bool driver_fault_note_entry(struct vcpu *v, struct domain *d);
/* Control leaves driver `d` (NULL: none) for the kernel view: calls the stack has unwound past are finished, and
 * the driver's call was active until now. */
void driver_fault_note_leave(struct vcpu *v, const struct domain *d);
/* An event is being delivered over driver `d`'s code from its view (the kernel view takes over): it continues at
 * the current RIP and RSP. */
void driver_fault_note_interrupted(const struct domain *d);
void driver_fault_forget_domain(const struct domain *d);
/* The exceptions (besides #PF) to intercept while drivers are isolated. */
uint32_t driver_fault_exception_bitmap(void);

/* An exception the guest raised, before it is delivered: true when it was a driver's and its call was aborted
 * instead (nothing to deliver); false to deliver it as usual. `address` is the #PF's linear address. */
bool isolation_guest_exception(struct vcpu *v, unsigned vector, uint32_t error_code, uint64_t address);

long hc_recovery_setup(struct vcpu *v, struct hypercall_args *a);
long hc_lock_function(struct vcpu *v, struct hypercall_args *a);
long hc_abort_lock_next(struct vcpu *v, struct hypercall_args *a);
long hc_exception_table(struct vcpu *v, struct hypercall_args *a);
long hc_bug_table(struct vcpu *v, struct hypercall_args *a);
long hc_domain_lock_next(struct vcpu *v, struct hypercall_args *a);
/* The watchdog's period ended (VM exit): a driver call hogging the CPU is aborted. */
void driver_fault_watchdog(struct vcpu *v);

#endif
