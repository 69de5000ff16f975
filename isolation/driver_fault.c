/*
 * A driver's own exceptions: an enforce-mode driver that faults while its view runs (a bad pointer, a jump out of
 * its code, a non-canonical address, an invalid opcode, a divide error) does not get to oops the kernel. The call
 * from the kernel that led into it returns -EIO instead, with the registers, RFLAGS and preempt counter the caller
 * had at the call (isolation/call_frames.h), and the fault counts as a violation, so the agent recovers the driver.
 * A fault with no recovery point (none recorded, or a deeper call into another domain) reaches the guest unchanged.
 */
#include "isolation/driver_fault.h"

#include "hv/errno.h"
#include "hv/fmt.h"
#include "hv/guest_paging.h"
#include "hv/log.h"
#include "hv/vmcs.h"
#include "hv/x86.h"
#include "isolation/call_frames.h"
#include "isolation/domain_internal.h"

#define ABORTED_CALL_RESULT ((uint64_t)-5) /* -EIO */
#define USER_NULL_PAGES_END 0x10000ull     /* below Linux's mmap_min_addr: never mapped, a NULL-based pointer */
#define DRIVER_EXCEPTIONS ((1u << X86_EXC_DE) | (1u << X86_EXC_UD) | (1u << X86_EXC_SS) | (1u << X86_EXC_GP))

static const unsigned frame_gprs[FRAME_REGS] = {
    [FRAME_RBX] = GPR_RBX, [FRAME_RBP] = GPR_RBP, [FRAME_R12] = GPR_R12,
    [FRAME_R13] = GPR_R13, [FRAME_R14] = GPR_R14, [FRAME_R15] = GPR_R15,
};

static uint64_t preempt_counter_offset; /* from the GS base (the guest's per-CPU area); 0: not known */

static bool read_preempt_counter(struct vcpu *v, uint32_t *value)
{
    uint32_t error_code;
    return preempt_counter_offset &&
           guest_linear_read(v, vmread(VMCS_GUEST_GS_BASE) + preempt_counter_offset, value, sizeof(*value), 0,
                             &error_code) == HV_OK;
}

void driver_fault_note_entry(struct vcpu *v, const struct domain *d)
{
    uint64_t rsp = vmread(VMCS_GUEST_RSP), return_rip;
    uint8_t site[CALL_SITE_BYTES];
    uint32_t error_code;
    if (d->flags & CHARIOT_DOMAIN_AUDIT)
        return; /* audit domains are only observed */
    /* A call into the driver has the caller's return address on top of the stack, in code outside every domain,
     * right after a CALL; a return into the driver (from its own call out, or an interrupt) has not. */
    if (guest_linear_read(v, rsp, &return_rip, sizeof(return_rip), 0, &error_code) != HV_OK ||
        return_rip < KERNEL_HALF_START || domain_of_code(return_rip) ||
        guest_linear_read(v, return_rip - CALL_SITE_BYTES, site, sizeof(site), PT_ACCESS_FETCH, &error_code) !=
            HV_OK ||
        !call_site_precedes(site))
        return;
    struct call_frame frame = {
        .domain_id = d->id,
        .rsp = rsp,
        .return_rip = return_rip,
        .rflags = vmread(VMCS_GUEST_RFLAGS),
    };
    for (unsigned i = 0; i < FRAME_REGS; i++)
        frame.regs[i] = vcpu_gpr_read(v, frame_gprs[i]);
    frame.has_preempt_count = read_preempt_counter(v, &frame.preempt_count);
    call_frames_push(&frame);
}

void driver_fault_note_leave(void) { call_frames_unwound(vmread(VMCS_GUEST_RSP)); }

void driver_fault_forget_domain(const struct domain *d) { call_frames_forget_domain(d->id); }

uint32_t driver_fault_exception_bitmap(void) { return DRIVER_EXCEPTIONS; }

/* Which exceptions in driver code are the driver's fault. User addresses above the NULL pages may be legitimate
 * (inline user accesses with exception-table fixups): the guest decides those. UD2 is WARN()/BUG(): the guest
 * reports those itself. */
static bool drivers_fault(struct vcpu *v, unsigned vector, uint32_t error_code, uint64_t address)
{
    if (vector == X86_EXC_PF)
        return (error_code & PF_ERR_FETCH) || address >= KERNEL_HALF_START || address < USER_NULL_PAGES_END;
    if (vector == X86_EXC_UD) {
        uint8_t opcode[2];
        uint32_t fetch_error;
        return guest_linear_read(v, vmread(VMCS_GUEST_RIP), opcode, sizeof(opcode), PT_ACCESS_FETCH, &fetch_error) !=
                   HV_OK ||
               !(opcode[0] == 0x0f && opcode[1] == 0x0b);
    }
    return DRIVER_EXCEPTIONS & (1u << vector);
}

static void abort_call(struct vcpu *v, const struct call_frame *frame)
{
    for (unsigned i = 0; i < FRAME_REGS; i++)
        vcpu_gpr_write(v, frame_gprs[i], frame->regs[i]);
    vcpu_gpr_write(v, GPR_RAX, ABORTED_CALL_RESULT);
    vmwrite(VMCS_GUEST_RSP, frame->rsp + 8);
    vmwrite(VMCS_GUEST_RIP, frame->return_rip);
    vmwrite(VMCS_GUEST_RFLAGS, frame->rflags);
    vcpu_clear_interrupt_shadow();
    if (frame->has_preempt_count) {
        uint32_t error_code;
        guest_linear_write(v, vmread(VMCS_GUEST_GS_BASE) + preempt_counter_offset, &frame->preempt_count,
                           sizeof(frame->preempt_count), &error_code);
    }
    guest_paging_activate(guest_paging_kernel_view());
    call_frames_unwound(frame->rsp + 8);
}

bool isolation_guest_exception(struct vcpu *v, unsigned vector, uint32_t error_code, uint64_t address)
{
    struct domain *d = domain_of_view(guest_paging_active_view());
    if (!d || (d->flags & CHARIOT_DOMAIN_AUDIT) || (vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID) ||
        !drivers_fault(v, vector, error_code, address))
        return false;
    uint64_t rip = vmread(VMCS_GUEST_RIP), rsp = vmread(VMCS_GUEST_RSP);
    const struct call_frame *frame = call_frames_innermost(d->id, rsp);
    if (!frame) {
        LOG_WARN("isolation.fault", "domain=%lu module=%s rip=0x%lx vector=%u error=0x%x address=0x%lx "
                 "action=reflect reason=no_recovery_point",
                 d->id, d->name, rip, vector, error_code, address);
        return false;
    }
    d->aborted_calls++;
    domain_report_violation(v, d);
    char where[CHARIOT_DOMAIN_NAME_MAX + 24]; /* module+offset inside its code; a jump out of it shows as is */
    if (domain_of_code(rip) == d)
        hv_snprintf(where, sizeof(where), "%s+0x%lx", d->name, rip - d->code_start);
    else
        hv_snprintf(where, sizeof(where), "0x%lx", rip);
    LOG_WARN("isolation.fault", "domain=%lu module=%s rip=%s vector=%u error=0x%x address=0x%lx "
             "action=abort_call return=0x%lx rsp=0x%lx preempt_count=%s",
             d->id, d->name, where, vector, error_code, address, frame->return_rip, frame->rsp,
             frame->has_preempt_count ? "restored" : "unknown");
    abort_call(v, frame);
    return true;
}

long hc_set_preempt_counter(struct vcpu *v, struct hypercall_args *a)
{
    uint64_t offset = a->arg[0];
    uint32_t value;
    preempt_counter_offset = offset;
    if (offset && !read_preempt_counter(v, &value)) {
        preempt_counter_offset = 0;
        return -HV_EFAULT;
    }
    LOG_INFO("isolation.preempt_counter", "gs_offset=0x%lx", offset);
    return HV_OK;
}
