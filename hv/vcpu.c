#include "hv/vcpu.h"

#include "hv/log.h"
#include "hv/vmcs.h"
#include "hv/x86.h"

#define INTERRUPTIBILITY_STI (1u << 0)
#define INTERRUPTIBILITY_MOV_SS (1u << 1)

struct vcpu vcpu0;

uint64_t vcpu_gpr_read(struct vcpu *v, unsigned reg)
{
    return reg == GPR_RSP ? vmread(VMCS_GUEST_RSP) : v->regs->gpr[reg];
}

void vcpu_gpr_write(struct vcpu *v, unsigned reg, uint64_t value)
{
    if (reg == GPR_RSP)
        vmwrite(VMCS_GUEST_RSP, value);
    else
        v->regs->gpr[reg] = value;
}

unsigned vcpu_cpl(void) { return (vmread(VMCS_GUEST_SS_AR) >> 5) & 3; }

void vcpu_clear_interrupt_shadow(void)
{
    uint64_t intr = vmread(VMCS_GUEST_INTERRUPTIBILITY);
    if (intr & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS))
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY, intr & ~(uint64_t)(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
}

void vcpu_skip_instruction(struct vcpu *v)
{
    vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + v->exit_instruction_len);
    vcpu_clear_interrupt_shadow();
}

static bool exception_is_contributory(unsigned vector)
{
    return vector == X86_EXC_DE || (vector >= X86_EXC_TS && vector <= X86_EXC_GP);
}

void vcpu_inject_exception(struct vcpu *v, unsigned vector, bool has_error, uint32_t error_code)
{
    if (v->event_injected) {
        /* An exception raised while delivering another one: the SDM's double-fault rules (table 6-5). */
        uint32_t prior = (uint32_t)vmread(VMCS_ENTRY_INTR_INFO);
        unsigned prior_vector = prior & INTR_VECTOR_MASK;
        bool prior_is_exception = (prior & INTR_TYPE_MASK) == INTR_TYPE_HW_EXCEPTION;
        if (prior_is_exception && prior_vector == X86_EXC_DF) {
            LOG_ERROR("vcpu.triple_fault", "cause=\"exception 0x%x while delivering #DF\" rip=0x%lx", vector,
                      vmread(VMCS_GUEST_RIP));
            vector = X86_EXC_DF; /* the guest is beyond saving; keep delivering #DF, its handler decides */
        } else if (prior_is_exception &&
                   ((exception_is_contributory(prior_vector) && exception_is_contributory(vector)) ||
                    (prior_vector == X86_EXC_PF && (exception_is_contributory(vector) || vector == X86_EXC_PF)))) {
            vector = X86_EXC_DF;
            has_error = true;
            error_code = 0;
        }
    }
    vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_HW_EXCEPTION | (has_error ? INTR_INFO_ERROR_CODE : 0) |
                                      (vector & INTR_VECTOR_MASK));
    if (has_error)
        vmwrite(VMCS_ENTRY_EXCEPTION_ERROR, error_code);
    v->event_injected = true;
}

void vcpu_inject_ud(struct vcpu *v) { vcpu_inject_exception(v, X86_EXC_UD, false, 0); }
void vcpu_inject_gp0(struct vcpu *v) { vcpu_inject_exception(v, X86_EXC_GP, true, 0); }

void vcpu_request_interrupt(struct vcpu *v, uint8_t vector)
{
    v->pending_interrupt = vector;
}

/* Allowed on every VMX CPU the SDM describes; checked anyway, since a control the CPU refuses fails VM entry (the
 * interrupt then waits for the next exit instead). */
static void set_interrupt_window_exiting(struct vcpu *v, bool on)
{
    if (!(v->caps.proc.may_be_one & PROC_INTERRUPT_WINDOW_EXITING))
        return;
    uint32_t controls = on ? v->proc_controls | PROC_INTERRUPT_WINDOW_EXITING
                           : v->proc_controls & ~PROC_INTERRUPT_WINDOW_EXITING;
    if (controls != v->proc_controls) {
        v->proc_controls = controls;
        vmwrite(VMCS_PROC_CONTROLS, controls);
    }
}

void vcpu_deliver_pending_interrupt(struct vcpu *v)
{
    if (!v->pending_interrupt)
        return;
    bool blocked = !(vmread(VMCS_GUEST_RFLAGS) & RFLAGS_IF) ||
                   (vmread(VMCS_GUEST_INTERRUPTIBILITY) & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOV_SS));
    if (v->event_injected || blocked) {
        set_interrupt_window_exiting(v, true); /* an exit as soon as it can be taken */
        return;
    }
    vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_EXT_INTR | v->pending_interrupt);
    v->event_injected = true;
    v->pending_interrupt = 0;
    set_interrupt_window_exiting(v, false);
}

void vcpu_requeue_interrupted_event(struct vcpu *v)
{
    uint32_t info = (uint32_t)vmread(VMCS_IDT_VECTORING_INFO);
    v->event_injected = false;
    if (!(info & INTR_INFO_VALID))
        return;
    /* Bit 12 is undefined in IDT-vectoring information and reserved in the entry field. */
    vmwrite(VMCS_ENTRY_INTR_INFO, info & ~INTR_INFO_NMI_UNBLOCKED_IRET);
    if (info & INTR_INFO_ERROR_CODE)
        vmwrite(VMCS_ENTRY_EXCEPTION_ERROR, vmread(VMCS_IDT_VECTORING_ERROR));
    uint32_t type = info & INTR_TYPE_MASK;
    if (type == INTR_TYPE_SW_INTR || type == INTR_TYPE_SW_EXCEPTION || type == INTR_TYPE_PRIV_SW_EXCEPTION)
        vmwrite(VMCS_ENTRY_INSTRUCTION_LEN, v->exit_instruction_len);
    v->event_injected = true;
}
