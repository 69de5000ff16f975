/* Faults of isolated drivers: recovery points at each call into a driver, and the call aborted when the driver
 * faults (isolation/driver_fault.c). */
#ifndef ISOLATION_DRIVER_FAULT_H
#define ISOLATION_DRIVER_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/hypercall.h"

struct domain;

/* Control entered the domain's code from the kernel view: record a recovery point if this is a call. */
void driver_fault_note_entry(struct vcpu *v, const struct domain *d);
/* Control left a driver for the kernel view: calls the stack has unwound past are finished. */
void driver_fault_note_leave(void);
void driver_fault_forget_domain(const struct domain *d);
/* The exceptions (besides #PF) to intercept while drivers are isolated. */
uint32_t driver_fault_exception_bitmap(void);

/* An exception the guest raised, before it is delivered: true when it was a driver's and its call was aborted
 * instead (nothing to deliver); false to deliver it as usual. `address` is the #PF's linear address. */
bool isolation_guest_exception(struct vcpu *v, unsigned vector, uint32_t error_code, uint64_t address);

long hc_set_preempt_counter(struct vcpu *v, struct hypercall_args *a);

#endif
