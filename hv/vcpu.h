/* The one virtual CPU: guest registers the VMCS does not hold, per-exit state, and event injection. */
#ifndef HV_VCPU_H
#define HV_VCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/vmx_caps.h"

enum gpr {
    GPR_RAX, GPR_RCX, GPR_RDX, GPR_RBX, GPR_RSP, GPR_RBP, GPR_RSI, GPR_RDI,
    GPR_R8, GPR_R9, GPR_R10, GPR_R11, GPR_R12, GPR_R13, GPR_R14, GPR_R15,
    GPR_COUNT
};

/* Pushed by hv/vmx_entry.S on every exit, indexed by the x86 register number. gpr[GPR_RSP] is a placeholder: the
 * guest's RSP lives in the VMCS (use vcpu_gpr_read/vcpu_gpr_write, which handle it). */
struct guest_regs {
    uint64_t gpr[GPR_COUNT];
};

#define VMX_EXIT_REASON_COUNT 80

struct vcpu {
    struct guest_regs *regs;
    struct vmx_caps caps;
    uint32_t pin_controls, proc_controls, proc2_controls, exit_controls, entry_controls;

    /* The exit being handled */
    uint32_t exit_reason;
    uint64_t exit_qualification;
    uint32_t exit_instruction_len;
    bool event_injected; /* an event is already queued for the next entry */

    /* Guest-visible control registers where the VMCS holds a modified real value (the VMCS guest CR3 is the
     * shadow page tables' root) */
    uint64_t cr0_shadow, cr4_shadow, guest_cr3;

    uint8_t pending_interrupt; /* vector to inject once the guest can take it, 0: none */

    uint64_t exits_total;
    uint64_t exit_counts[VMX_EXIT_REASON_COUNT];
    uint64_t exit_cycles[VMX_EXIT_REASON_COUNT]; /* TSC spent in the handler (VM exit/entry themselves excluded) */
    uint64_t hypercalls_total;
};

extern struct vcpu vcpu0;

uint64_t vcpu_gpr_read(struct vcpu *v, unsigned reg);
void vcpu_gpr_write(struct vcpu *v, unsigned reg, uint64_t value);
unsigned vcpu_cpl(void);
/* Completes an emulated instruction: RIP past it, and the STI/MOV-SS blocking it ended. */
void vcpu_skip_instruction(struct vcpu *v);
/* The STI/MOV-SS blocking ends with the instruction the hypervisor completed for the guest. */
void vcpu_clear_interrupt_shadow(void);
void vcpu_inject_exception(struct vcpu *v, unsigned vector, bool has_error, uint32_t error_code);
void vcpu_inject_ud(struct vcpu *v);
void vcpu_inject_gp0(struct vcpu *v);
/* Asks for an external interrupt with `vector`, delivered as soon as the guest accepts interrupts. */
void vcpu_request_interrupt(struct vcpu *v, uint8_t vector);
/* Before every VM entry: injects the pending interrupt, or asks for an exit when the guest can take it. */
void vcpu_deliver_pending_interrupt(struct vcpu *v);
/* Re-queues an event whose delivery the exit interrupted (IDT-vectoring information). */
void vcpu_requeue_interrupted_event(struct vcpu *v);

#endif
