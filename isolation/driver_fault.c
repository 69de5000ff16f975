/*
 * A driver's own exceptions: an enforce-mode driver that faults while its view runs (a bad pointer, a jump out of
 * its code, a non-canonical address, an invalid opcode, a divide error) does not get to oops the kernel. The call
 * from the kernel that led into it returns -EIO instead, with the registers, RFLAGS and preempt counter the caller
 * had at the call (isolation/call_frames.h), and the fault counts as a violation, so the agent recovers the driver.
 * The same holds for kernel code the driver called (a bad pointer it passed to memset, kfree, ...): a fault in the
 * kernel view while the innermost call running on that stack is into a driver is that driver's.
 * A fault with no recovery point (none recorded, or a deeper call into another domain) reaches the guest unchanged.
 *
 * A driver looping forever hangs this kernel (one CPU, no preemption) without any fault. Each call's activity is
 * seen at every transfer between its code and the kernel's (calls out and back, interrupts over driver code, which
 * the timer brings at least every tick); a call busy for HANG_BUSY_MS without a pause of PAUSE_MS (a sleep) is
 * aborted the same way when control next returns into it.
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
#define HANG_BUSY_MS 2000
#define PAUSE_MS 50
#define GUEST_KERNEL_CS 0x10 /* Linux x86-64 __KERNEL_CS */
#define VECTOR_HANG 256      /* in the log: not an exception */

static const unsigned frame_gprs[FRAME_REGS] = {
    [FRAME_RBX] = GPR_RBX, [FRAME_RBP] = GPR_RBP, [FRAME_R12] = GPR_R12,
    [FRAME_R13] = GPR_R13, [FRAME_R14] = GPR_R14, [FRAME_R15] = GPR_R15,
};

static uint64_t preempt_counter_offset; /* from the GS base (the guest's per-CPU area); 0: not known */
static uint64_t guest_tsc_khz;          /* 0: not known, no hang detection */

/* The call was active now: is it busy past the limit? (A pause longer than PAUSE_MS starts a new busy stretch.) */
static bool busy_too_long(struct call_frame *frame)
{
    uint64_t now = rdtsc();
    if (!guest_tsc_khz)
        return false;
    if (frame->last_activity && now - frame->last_activity < PAUSE_MS * guest_tsc_khz)
        frame->busy += now - frame->last_activity;
    else
        frame->busy = 0;
    frame->last_activity = now;
    return frame->busy >= HANG_BUSY_MS * guest_tsc_khz;
}

static const char *vector_name(unsigned vector)
{
    switch (vector) {
    case X86_EXC_DE: return "DE";
    case X86_EXC_UD: return "UD";
    case X86_EXC_SS: return "SS";
    case X86_EXC_GP: return "GP";
    case X86_EXC_PF: return "PF";
    case VECTOR_HANG: return "hang";
    default: return "other";
    }
}

static bool read_preempt_counter(struct vcpu *v, uint32_t *value)
{
    uint32_t error_code;
    return preempt_counter_offset &&
           guest_linear_read(v, vmread(VMCS_GUEST_GS_BASE) + preempt_counter_offset, value, sizeof(*value), 0,
                             &error_code) == HV_OK;
}

static void abort_call(struct vcpu *v, struct domain *d, const struct call_frame *frame, bool kernel_code,
                       unsigned vector, uint32_t error_code, uint64_t address);

bool driver_fault_note_entry(struct vcpu *v, struct domain *d)
{
    uint64_t rsp = vmread(VMCS_GUEST_RSP), return_rip;
    uint8_t site[CALL_SITE_BYTES];
    uint32_t error_code;
    if (d->flags & CHARIOT_DOMAIN_AUDIT)
        return false; /* audit domains are only observed */
    /* Control coming back to the driver where it left (a call out returning, an interrupt's IRET) is no call; a
     * call has the caller's return address on top of the stack, in code outside every domain, right after a CALL. */
    if (call_frames_take_resume(vmread(VMCS_GUEST_RIP), rsp) ||
        guest_linear_read(v, rsp, &return_rip, sizeof(return_rip), 0, &error_code) != HV_OK ||
        return_rip < KERNEL_HALF_START || domain_of_code(return_rip) ||
        guest_linear_read(v, return_rip - CALL_SITE_BYTES, site, sizeof(site), PT_ACCESS_FETCH, &error_code) !=
            HV_OK ||
        !call_site_precedes(site)) {
        struct call_frame *running = call_frames_innermost(d->id, rsp);
        if (running && busy_too_long(running)) {
            LOG_WARN("isolation.hang", "domain=%lu module=%s busy_ms=%lu return=0x%lx", d->id, d->name,
                     running->busy / guest_tsc_khz, running->return_rip);
            abort_call(v, d, running, false, VECTOR_HANG, 0, 0);
            return true;
        }
        return false;
    }
    struct call_frame frame = {
        .domain_id = d->id,
        .rsp = rsp,
        .return_rip = return_rip,
        .rflags = vmread(VMCS_GUEST_RFLAGS),
    };
    for (unsigned i = 0; i < FRAME_REGS; i++)
        frame.regs[i] = vcpu_gpr_read(v, frame_gprs[i]);
    frame.has_preempt_count = read_preempt_counter(v, &frame.preempt_count);
    frame.last_activity = rdtsc();
    call_frames_push(&frame);
    return false;
}

/* Where driver `d` continues after the control transfer the CPU just made out of it, if it will: a call out (the
 * return address on top of the stack) or an interrupt or exception over its code (the CPU's frame: RIP, the
 * kernel's CS, RFLAGS, then the interrupted RSP, which it aligned down to 16 bytes before pushing). */
static void note_resume_point(struct vcpu *v, const struct domain *d, uint64_t rsp)
{
    enum { FRAME_RIP, FRAME_CS, FRAME_RFLAGS, FRAME_RSP, FRAME_SS, FRAME_WORDS };
    uint64_t top[FRAME_WORDS];
    uint32_t error_code;
    if (guest_linear_read(v, rsp, top, sizeof(top), 0, &error_code) != HV_OK ||
        domain_of_code(top[FRAME_RIP]) != d)
        return;
    if (top[FRAME_CS] == GUEST_KERNEL_CS && top[FRAME_RSP] >= rsp + sizeof(top) &&
        top[FRAME_RSP] < rsp + sizeof(top) + 16)
        call_frames_note_resume(top[FRAME_RIP], top[FRAME_RSP]);
    else
        call_frames_note_resume(top[FRAME_RIP], rsp + 8);
}

void driver_fault_note_leave(struct vcpu *v, const struct domain *d)
{
    uint64_t rsp = vmread(VMCS_GUEST_RSP);
    call_frames_unwound(rsp);
    if (!d || (d->flags & CHARIOT_DOMAIN_AUDIT))
        return;
    note_resume_point(v, d, rsp);
    struct call_frame *running = call_frames_innermost(d->id, rsp);
    if (running)
        busy_too_long(running); /* counted here, judged when control comes back into the driver */
}

void driver_fault_note_interrupted(const struct domain *d)
{
    if (!(d->flags & CHARIOT_DOMAIN_AUDIT))
        call_frames_note_resume(vmread(VMCS_GUEST_RIP), vmread(VMCS_GUEST_RSP));
}

void driver_fault_forget_domain(const struct domain *d) { call_frames_forget_domain(d->id); }

uint32_t driver_fault_exception_bitmap(void) { return DRIVER_EXCEPTIONS; }

/* Which exceptions in code running for a driver are the driver's fault. User addresses above the NULL pages may be
 * legitimate (user accesses with exception-table fixups): the guest decides those. UD2 is WARN()/BUG(): the guest
 * reports those itself; an invalid opcode in kernel code is not the driver's. */
static bool drivers_fault(struct vcpu *v, unsigned vector, uint32_t error_code, uint64_t address, bool kernel_code)
{
    if (vector == X86_EXC_PF)
        return (error_code & PF_ERR_FETCH) || address >= KERNEL_HALF_START || address < USER_NULL_PAGES_END;
    if (vector == X86_EXC_UD) {
        if (kernel_code)
            return false;
        uint8_t opcode[2];
        uint32_t fetch_error;
        return guest_linear_read(v, vmread(VMCS_GUEST_RIP), opcode, sizeof(opcode), PT_ACCESS_FETCH, &fetch_error) !=
                   HV_OK ||
               !(opcode[0] == 0x0f && opcode[1] == 0x0b);
    }
    return DRIVER_EXCEPTIONS & (1u << vector);
}

static void abort_call(struct vcpu *v, struct domain *d, const struct call_frame *frame, bool kernel_code,
                       unsigned vector, uint32_t error_code, uint64_t address)
{
    uint64_t rip = vmread(VMCS_GUEST_RIP);
    char where[CHARIOT_DOMAIN_NAME_MAX + 24]; /* module+offset inside its code; a jump out of it shows as is */
    if (domain_of_code(rip) == d)
        hv_snprintf(where, sizeof(where), "%s+0x%lx", d->name, rip - d->code_start);
    else
        hv_snprintf(where, sizeof(where), "0x%lx", rip);
    d->aborted_calls++;
    domain_report_violation(v, d);
    LOG_WARN("isolation.fault", "domain=%lu module=%s rip=%s in=%s vector=%s error=0x%x address=0x%lx "
             "action=abort_call return=0x%lx rsp=0x%lx preempt_count=%s",
             d->id, d->name, where, kernel_code ? "kernel" : "driver",
             vector_name(vector), error_code, address, frame->return_rip, frame->rsp,
             frame->has_preempt_count ? "restored" : "unknown");
    for (unsigned i = 0; i < FRAME_REGS; i++)
        vcpu_gpr_write(v, frame_gprs[i], frame->regs[i]);
    vcpu_gpr_write(v, GPR_RAX, ABORTED_CALL_RESULT);
    vmwrite(VMCS_GUEST_RSP, frame->rsp + 8);
    vmwrite(VMCS_GUEST_RIP, frame->return_rip);
    vmwrite(VMCS_GUEST_RFLAGS, frame->rflags);
    vcpu_clear_interrupt_shadow();
    if (frame->has_preempt_count) {
        uint32_t write_error;
        guest_linear_write(v, vmread(VMCS_GUEST_GS_BASE) + preempt_counter_offset, &frame->preempt_count,
                           sizeof(frame->preempt_count), &write_error);
    }
    guest_paging_activate(guest_paging_kernel_view());
    call_frames_unwound(frame->rsp + 8);
}

bool isolation_guest_exception(struct vcpu *v, unsigned vector, uint32_t error_code, uint64_t address)
{
    uint64_t rsp = vmread(VMCS_GUEST_RSP);
    struct domain *d = domain_of_view(guest_paging_active_view());
    bool kernel_code = !d;
    if (kernel_code) {
        const struct call_frame *running = call_frames_innermost(CALL_FRAMES_ANY_DOMAIN, rsp);
        d = running ? domain_by_id(running->domain_id) : NULL;
    }
    if (!d || (d->flags & CHARIOT_DOMAIN_AUDIT) || (vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID) ||
        !drivers_fault(v, vector, error_code, address, kernel_code))
        return false;
    const struct call_frame *frame = call_frames_innermost(d->id, rsp);
    if (!frame) {
        LOG_WARN("isolation.fault", "domain=%lu module=%s rip=0x%lx vector=%s error=0x%x address=0x%lx "
                 "action=reflect reason=no_recovery_point",
                 d->id, d->name, vmread(VMCS_GUEST_RIP), vector_name(vector), error_code, address);
        return false;
    }
    abort_call(v, d, frame, kernel_code, vector, error_code, address);
    return true;
}

long hc_recovery_setup(struct vcpu *v, struct hypercall_args *a)
{
    uint64_t offset = a->arg[0], tsc_khz = a->arg[1];
    uint32_t value;
    if (tsc_khz > 100000000) /* 100 GHz: not a TSC */
        return -HV_EINVAL;
    preempt_counter_offset = offset;
    if (offset && !read_preempt_counter(v, &value)) {
        preempt_counter_offset = 0;
        return -HV_EFAULT;
    }
    guest_tsc_khz = tsc_khz;
    LOG_INFO("isolation.recovery_setup", "preempt_counter_gs_offset=0x%lx tsc_khz=%lu", offset, tsc_khz);
    return HV_OK;
}
