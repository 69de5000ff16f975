/*
 * A driver's own exceptions: an enforce-mode driver that faults while its view runs (a bad pointer, a jump out of
 * its code, a non-canonical address, an invalid opcode, a divide error) does not get to oops the kernel. The call
 * from the kernel that led into it returns -EIO instead, with the registers, RFLAGS and preempt counter the caller
 * had at the call (isolation/call_frames.h), and the fault counts as a violation, so the agent recovers the driver.
 * The same holds for kernel code the driver called (a bad pointer it passed to memset, kfree, ...): a fault in the
 * kernel view while the innermost call running on that stack is into a driver is that driver's.
 * A fault with no recovery point (none recorded, or a deeper call into another domain) reaches the guest unchanged.
 *
 * A driver looping forever hangs this kernel (one CPU, no preemption), often with interrupts off, without any
 * fault and without a VM exit. A watchdog (the VMX preemption timer, counting down across exits) samples the guest
 * every WATCHDOG_MS: when HANG_SAMPLES_ON of HANG_SAMPLES samples find the same driver call running on the current
 * stack (its code, or kernel code it called), it hogs the CPU and is aborted the same way, wherever it is.
 */
#include "isolation/driver_fault.h"

#include "hv/errno.h"
#include "hv/fmt.h"
#include "hv/guest_paging.h"
#include "hv/log.h"
#include "hv/vmcs.h"
#include "hv/x86.h"
#include "isolation/call_frames.h"
#include "isolation/call_locks.h"
#include "isolation/domain_internal.h"
#include "isolation/exception_tables.h"

#define ABORTED_CALL_RESULT ((uint64_t)-5) /* -EIO */
#define USER_NULL_PAGES_END 0x10000ull     /* below Linux's mmap_min_addr: never mapped, a NULL-based pointer */
#define DRIVER_EXCEPTIONS ((1u << X86_EXC_DE) | (1u << X86_EXC_UD) | (1u << X86_EXC_SS) | (1u << X86_EXC_GP))
#define WATCHDOG_MS 20
#define HANG_SAMPLES 100 /* 2 s */
#define HANG_SAMPLES_ON 90 /* interrupt handlers run on their own stack meanwhile */
#define GUEST_KERNEL_CS 0x10 /* Linux x86-64 __KERNEL_CS */
#define VECTOR_HANG 256      /* in the log: not an exception */

static const unsigned frame_gprs[FRAME_REGS] = {
    [FRAME_RBX] = GPR_RBX, [FRAME_RBP] = GPR_RBP, [FRAME_R12] = GPR_R12,
    [FRAME_R13] = GPR_R13, [FRAME_R14] = GPR_R14, [FRAME_R15] = GPR_R15,
};

static uint64_t preempt_counter_offset; /* from the GS base (the guest's per-CPU area); 0: not known */
static uint64_t landing;                /* the agent's function an aborted call returns through; 0: none */
static uint32_t watchdog_period;        /* preemption timer units; 0: no watchdog */
/* The call the watchdog suspects of hogging the CPU: samples taken since it was first seen, and those finding it. */
static struct {
    uint64_t seq;
    unsigned samples, on;
} suspect;

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
        return false; /* audit domains are only observed (their calls never end early: no return needs seeing) */
    /* Control coming back to the driver where it left (a call out returning, an interrupt's IRET) is no call; a
     * call has the caller's return address on top of the stack, in code outside every domain, right after a CALL. */
    uint64_t rip = vmread(VMCS_GUEST_RIP);
    if (call_frames_take_resume(rip, rsp)) {
        call_locks_resumed(rip, rsp, vcpu_gpr_read(v, GPR_RAX));
        return false;
    }
    if (guest_linear_read(v, rsp, &return_rip, sizeof(return_rip), 0, &error_code) != HV_OK ||
        return_rip < KERNEL_HALF_START || domain_of_code(return_rip) ||
        guest_linear_read(v, return_rip - CALL_SITE_BYTES, site, sizeof(site), PT_ACCESS_FETCH, &error_code) !=
            HV_OK ||
        !call_site_precedes(return_rip, site))
        return false;
    /* The return ends the driver's call: it must leave the driver's view, so its page cannot stay shared. */
    isolation_unshare(return_rip, "return_site");
    /* Or the same call resumed, where a call out of the driver that its view ran itself (shared code, which left
     * the view to write) left it: every earlier call at this depth returned through an exit, which unwound it. */
    const struct call_frame *innermost = call_frames_innermost(d->id, rsp);
    if (innermost && innermost->rsp == rsp && innermost->return_rip == return_rip)
        return false;
    struct call_frame frame = {
        .domain_id = d->id,
        .rsp = rsp,
        .return_rip = return_rip,
        .rflags = vmread(VMCS_GUEST_RFLAGS),
        .first_arg = vcpu_gpr_read(v, GPR_RDI),
    };
    for (unsigned i = 0; i < FRAME_REGS; i++)
        frame.regs[i] = vcpu_gpr_read(v, frame_gprs[i]);
    frame.has_preempt_count = read_preempt_counter(v, &frame.preempt_count);
    call_frames_push(&frame);
    return false;
}

/* Where driver `d` continues after the control transfer the CPU just made out of it, if it will: a call out (the
 * return address on top of the stack) or an interrupt or exception over its code (the CPU's frame: RIP, the
 * kernel's CS, RFLAGS, then the interrupted RSP, which it aligned down to 16 bytes before pushing). False for a
 * jump or a return out of it. */
static bool note_resume_point(struct vcpu *v, const struct domain *d, uint64_t rsp, uint64_t *resume_rip,
                              uint64_t *resume_rsp)
{
    enum { FRAME_RIP, FRAME_CS, FRAME_RFLAGS, FRAME_RSP, FRAME_SS, FRAME_WORDS };
    uint64_t top[FRAME_WORDS];
    uint32_t error_code;
    if (guest_linear_read(v, rsp, top, sizeof(top), 0, &error_code) != HV_OK ||
        domain_of_code(top[FRAME_RIP]) != d)
        return false;
    *resume_rip = top[FRAME_RIP];
    if (top[FRAME_CS] == GUEST_KERNEL_CS && top[FRAME_RSP] >= rsp + sizeof(top) &&
        top[FRAME_RSP] < rsp + sizeof(top) + 16)
        *resume_rsp = top[FRAME_RSP];
    else
        *resume_rsp = rsp + 8;
    call_frames_note_resume(*resume_rip, *resume_rsp);
    return true;
}

void driver_fault_note_leave(struct vcpu *v, const struct domain *d)
{
    uint64_t rsp = vmread(VMCS_GUEST_RSP), rip = vmread(VMCS_GUEST_RIP), resume_rip = 0, resume_rsp = 0;
    call_frames_unwound(rsp);
    if (!d || (d->flags & CHARIOT_DOMAIN_AUDIT))
        return;
    note_resume_point(v, d, rsp, &resume_rip, &resume_rsp);
    if (call_locks_is_lock_function(rip)) {
        const struct call_frame *frame = call_frames_innermost(d->id, rsp);
        call_locks_call_out(d->id, frame ? frame->seq : 0, rip, vcpu_gpr_read(v, GPR_RDI), resume_rip, resume_rsp);
    }
}

void driver_fault_note_interrupted(const struct domain *d)
{
    if (!(d->flags & CHARIOT_DOMAIN_AUDIT))
        call_frames_note_resume(vmread(VMCS_GUEST_RIP), vmread(VMCS_GUEST_RSP));
}

void driver_fault_forget_domain(const struct domain *d)
{
    call_frames_forget_domain(d->id);
    call_locks_forget_domain(d->id);
    exception_tables_forget(d->code_start); /* its module's table goes with its code */
}

uint32_t driver_fault_exception_bitmap(void) { return DRIVER_EXCEPTIONS; }

static bool read_guest_s32(void *ctx, uint64_t address, int32_t *value)
{
    uint32_t error_code;
    return guest_linear_read(ctx, address, value, sizeof(*value), 0, &error_code) == HV_OK;
}

/* Which exceptions in code running for a driver are the driver's fault. A user address above the NULL pages is
 * legitimate at an instruction an exception table lists (get_user, copy_from_user: the guest handles it), a bad
 * pointer elsewhere; where no table is known the guest decides. UD2 is WARN() or BUG(): a BUG the bug tables list,
 * in the driver's code or in kernel code it called (dql_completed's BUG_ON on a driver's bad count), is the
 * driver's; a WARN, or a UD2 no table knows, the guest reports itself. Another invalid opcode in the driver's code
 * is its fault, in kernel code not. */
static bool drivers_fault(struct vcpu *v, unsigned vector, uint32_t error_code, uint64_t address, bool kernel_code)
{
    uint64_t rip = vmread(VMCS_GUEST_RIP);
    if (vector == X86_EXC_PF)
        return (error_code & PF_ERR_FETCH) || address >= KERNEL_HALF_START || address < USER_NULL_PAGES_END ||
               exception_tables_lookup(rip, read_guest_s32, v) == EXCEPTION_ENTRY_NONE;
    if (vector == X86_EXC_UD) {
        uint8_t opcode[2];
        uint32_t fetch_error;
        if (guest_linear_read(v, rip, opcode, sizeof(opcode), PT_ACCESS_FETCH, &fetch_error) != HV_OK ||
            !(opcode[0] == 0x0f && opcode[1] == 0x0b))
            return !kernel_code;
        return bug_tables_lookup(rip, read_guest_s32, v) == BUG_ENTRY_BUG;
    }
    return DRIVER_EXCEPTIONS & (1u << vector);
}

/* The caller gets -EIO with the state it had at the call. Through the landing when the agent gave one: it
 * releases the locks the call took (call_locks.h), then returns to the caller as the driver function would have. */
static void abort_call(struct vcpu *v, struct domain *d, const struct call_frame *frame, bool kernel_code,
                       unsigned vector, uint32_t error_code, uint64_t address)
{
    uint64_t rip = vmread(VMCS_GUEST_RIP);
    unsigned locks = landing ? call_locks_abort(frame->seq, frame->rsp) : 0;
    char where[CHARIOT_DOMAIN_NAME_MAX + 24]; /* module+offset inside its code; a jump out of it shows as is */
    if (domain_of_code(rip) == d)
        hv_snprintf(where, sizeof(where), "%s+0x%lx", d->name, rip - d->code_start);
    else
        hv_snprintf(where, sizeof(where), "0x%lx", rip);
    d->aborted_calls++;
    domain_report_violation(v, d);
    LOG_WARN("isolation.fault", "domain=%lu module=%s rip=%s in=%s vector=%s error=0x%x address=0x%lx "
             "action=abort_call return=0x%lx rsp=0x%lx preempt_count=%s abort=%lu landing=%s locks=%u",
             d->id, d->name, where, kernel_code ? "kernel" : "driver",
             vector_name(vector), error_code, address, frame->return_rip, frame->rsp,
             frame->has_preempt_count ? "restored" : "unknown", frame->seq, landing ? "agent" : "none", locks);
    for (unsigned i = 0; i < FRAME_REGS; i++)
        vcpu_gpr_write(v, frame_gprs[i], frame->regs[i]);
    if (landing) {
        vcpu_gpr_write(v, GPR_RDI, frame->seq);
        vcpu_gpr_write(v, GPR_RSI, ABORTED_CALL_RESULT);
        vcpu_gpr_write(v, GPR_RDX, frame->first_arg);
        vmwrite(VMCS_GUEST_RSP, frame->rsp); /* the caller's return address stays on top: landing returns there */
        vmwrite(VMCS_GUEST_RIP, landing);
    } else {
        vcpu_gpr_write(v, GPR_RAX, ABORTED_CALL_RESULT);
        vmwrite(VMCS_GUEST_RSP, frame->rsp + 8);
        vmwrite(VMCS_GUEST_RIP, frame->return_rip);
    }
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
    bool kernel_code = runs_kernel_code(d, vmread(VMCS_GUEST_RIP));
    if (!d) {
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

void driver_fault_watchdog(struct vcpu *v)
{
    vmwrite(VMCS_PREEMPTION_TIMER_VALUE, watchdog_period); /* it stopped at 0 */
    if (vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID)
        return;
    struct domain *running_view = domain_of_view(guest_paging_active_view());
    const struct call_frame *running = call_frames_innermost(CALL_FRAMES_ANY_DOMAIN, vmread(VMCS_GUEST_RSP));
    if (!suspect.seq) {
        if (!running)
            return;
        suspect.seq = running->seq;
        suspect.samples = suspect.on = 0;
    }
    bool on_it = running && running->seq == suspect.seq;
    suspect.samples++;
    suspect.on += on_it;
    if (suspect.samples < HANG_SAMPLES)
        return;
    if (suspect.on < HANG_SAMPLES_ON || suspect.samples > 2 * HANG_SAMPLES) {
        suspect.seq = 0; /* not hogging (or gone): start over */
        return;
    }
    if (!on_it)
        return; /* hung: aborted when next found running */
    unsigned on = suspect.on, samples = suspect.samples;
    suspect.seq = 0;
    struct domain *d = domain_by_id(running->domain_id);
    if (!d || (d->flags & CHARIOT_DOMAIN_AUDIT))
        return;
    LOG_WARN("isolation.hang", "domain=%lu module=%s samples=%u of=%u period_ms=%u return=0x%lx", d->id, d->name,
             on, samples, WATCHDOG_MS, running->return_rip);
    abort_call(v, d, running, running_view != d || runs_kernel_code(running_view, vmread(VMCS_GUEST_RIP)), VECTOR_HANG,
               0, 0);
}

/* The VMX preemption timer as the watchdog: it counts down while the guest runs (saved across exits) and exits
 * at 0. It needs the guest's TSC rate. */
static void start_watchdog(struct vcpu *v, uint64_t tsc_khz)
{
    uint64_t period = (WATCHDOG_MS * tsc_khz) >> (v->caps.misc & 0x1f);
    if (watchdog_period || !tsc_khz || !period || period > UINT32_MAX ||
        !(v->caps.pin.may_be_one & PIN_PREEMPTION_TIMER) || !(v->caps.exit.may_be_one & EXIT_SAVE_PREEMPTION_TIMER)) {
        LOG_INFO("isolation.watchdog", "state=%s", watchdog_period ? "running" : "unavailable");
        return;
    }
    watchdog_period = (uint32_t)period;
    v->pin_controls |= PIN_PREEMPTION_TIMER;
    v->exit_controls |= EXIT_SAVE_PREEMPTION_TIMER;
    vmwrite(VMCS_PREEMPTION_TIMER_VALUE, watchdog_period);
    vmwrite(VMCS_PIN_CONTROLS, v->pin_controls);
    vmwrite(VMCS_EXIT_CONTROLS, v->exit_controls);
    LOG_INFO("isolation.watchdog", "state=started period_ms=%u timer=%u hang_samples=%u", WATCHDOG_MS,
             watchdog_period, HANG_SAMPLES);
}

long hc_recovery_setup(struct vcpu *v, struct hypercall_args *a)
{
    uint64_t offset = a->arg[0], tsc_khz = a->arg[1], new_landing = a->arg[2];
    uint32_t value;
    if (tsc_khz > 100000000 /* 100 GHz: not a TSC */ ||
        (new_landing && (new_landing < KERNEL_HALF_START || domain_of_code(new_landing))))
        return -HV_EINVAL;
    preempt_counter_offset = offset;
    if (offset && !read_preempt_counter(v, &value)) {
        preempt_counter_offset = 0;
        return -HV_EFAULT;
    }
    landing = new_landing;
    LOG_INFO("isolation.recovery_setup", "preempt_counter_gs_offset=0x%lx tsc_khz=%lu landing=0x%lx", offset, tsc_khz,
             landing);
    start_watchdog(v, tsc_khz);
    return HV_OK;
}

long hc_lock_function(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    if (a->arg[0] < KERNEL_HALF_START || domain_of_code(a->arg[0]))
        return -HV_EINVAL;
    long status = call_locks_register(a->arg[0], a->arg[1], a->arg[2]);
    if (status == HV_OK)
        isolation_unshare(a->arg[0], "lock_function"); /* a driver calling it must be seen */
    return status;
}

long hc_exception_table(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    long status = exception_tables_register(a->arg[0], a->arg[1], a->arg[2], a->arg[3]);
    if (status == HV_OK)
        LOG_INFO("isolation.exception_table", "code=0x%lx-0x%lx table=0x%lx entries=%lu", a->arg[0], a->arg[1],
                 a->arg[2], a->arg[3]);
    return status;
}

long hc_bug_table(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    uint64_t entries = a->arg[3] & 0xffffffffu, entry_bytes = (a->arg[3] >> 32) & 0xff, flags_offset = a->arg[3] >> 40;
    long status = bug_tables_register(a->arg[0], a->arg[1], a->arg[2], entries, entry_bytes, flags_offset);
    if (status == HV_OK)
        LOG_INFO("isolation.bug_table", "code=0x%lx-0x%lx table=0x%lx entries=%lu entry_bytes=%lu flags_offset=%lu",
                 a->arg[0], a->arg[1], a->arg[2], entries, entry_bytes, flags_offset);
    return status;
}

long hc_domain_lock_next(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    const struct domain *d = domain_by_id(a->arg[0]);
    if (!d)
        return -HV_ENOENT;
    if (!call_locks_next_held(d->id, &a->out[0], &a->out[1]))
        return -HV_ENOENT;
    LOG_INFO("isolation.lock_release", "abort=none domain=%lu module=%s class=%lu lock=0x%lx", d->id, d->name,
             a->out[0], a->out[1]);
    return HV_OK;
}

long hc_abort_lock_next(struct vcpu *v, struct hypercall_args *a)
{
    (void)v;
    uint64_t domain_id;
    if (!call_locks_next_release(a->arg[0], &domain_id, &a->out[0], &a->out[1]))
        return -HV_ENOENT;
    const struct domain *d = domain_by_id(domain_id);
    LOG_INFO("isolation.lock_release", "abort=%lu domain=%lu module=%s class=%lu lock=0x%lx", a->arg[0], domain_id,
             d ? d->name : "gone", a->out[0], a->out[1]);
    return HV_OK;
}
