/* Turning VMX on, building the VMCS's control and host-state areas, and entering the guest. */
#ifndef HV_VMX_H
#define HV_VMX_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/vcpu.h"

/* Ports and MSRs the hypervisor intercepts; everything else is passed through. */
void vmx_intercept_io(uint16_t port, unsigned count);
/* Whether any of the ports exits to the hypervisor (which emulates it) rather than reaching the device. */
bool vmx_io_intercepted(uint16_t port, unsigned count);
void vmx_intercept_msr(uint32_t msr, bool reads, bool writes);

/* Reads capabilities, computes controls, runs VMXON and loads a fresh VMCS. False (logged) when VMX is unusable. */
bool vmx_init(struct vcpu *v);
/* Enters the guest with the registers in v->regs; returns only through VM exits. */
void vmx_launch(struct vcpu *v) __attribute__((noreturn));

uint64_t vmx_cr0_real(const struct vcpu *v, uint64_t guest_value);
uint64_t vmx_cr4_real(const struct vcpu *v, uint64_t guest_value);

#endif
