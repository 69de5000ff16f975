/*
 * VM-exit dispatch: one table, designated by exit reason, of a name and a handler. A reason without a handler is
 * logged with its qualification and the machine is shut down cleanly.
 */
#include "hv/vmexit.h"

#include "hv/guest_paging.h"
#include "hv/fmt.h"
#include "hv/hv.h"
#include "hv/lib.h"
#include "hv/log.h"
#include "hv/vmcs.h"
#include "hv/x86.h"
#include "isolation/driver_fault.h"

#define PROGRESS_EVERY_EXITS (1ul << 20) /* a power of two */

typedef void (*exit_handler_fn)(struct vcpu *v);

struct exit_handler {
    const char *name;
    exit_handler_fn handle;
};

static void handle_exception_nmi(struct vcpu *v);
static void handle_interrupt_window(struct vcpu *v);
static void handle_triple_fault(struct vcpu *v);
static void handle_reset_signal(struct vcpu *v);
static void handle_vmx_instruction(struct vcpu *v);
static void handle_ept_exit(struct vcpu *v);

static const struct exit_handler exit_handlers[VMX_EXIT_REASON_COUNT] = {
    [EXIT_EXCEPTION_NMI] = {"exception_nmi", handle_exception_nmi},
    [EXIT_EXTERNAL_INTERRUPT] = {"external_interrupt", NULL},
    [EXIT_TRIPLE_FAULT] = {"triple_fault", handle_triple_fault},
    [EXIT_INIT] = {"init", handle_reset_signal},
    [EXIT_SIPI] = {"sipi", handle_reset_signal},
    [EXIT_IO_SMI] = {"io_smi", NULL},
    [EXIT_OTHER_SMI] = {"other_smi", NULL},
    [EXIT_INTERRUPT_WINDOW] = {"interrupt_window", handle_interrupt_window},
    [EXIT_NMI_WINDOW] = {"nmi_window", NULL},
    [EXIT_TASK_SWITCH] = {"task_switch", NULL},
    [EXIT_CPUID] = {"cpuid", handle_cpuid},
    [EXIT_GETSEC] = {"getsec", NULL},
    [EXIT_HLT] = {"hlt", NULL},
    [EXIT_INVD] = {"invd", NULL},
    [EXIT_INVLPG] = {"invlpg", handle_invlpg},
    [EXIT_RDPMC] = {"rdpmc", NULL},
    [EXIT_RDTSC] = {"rdtsc", NULL},
    [EXIT_RSM] = {"rsm", NULL},
    [EXIT_VMCALL] = {"vmcall", handle_vmcall},
    [EXIT_VMCLEAR] = {"vmclear", handle_vmx_instruction},
    [EXIT_VMLAUNCH] = {"vmlaunch", handle_vmx_instruction},
    [EXIT_VMPTRLD] = {"vmptrld", handle_vmx_instruction},
    [EXIT_VMPTRST] = {"vmptrst", handle_vmx_instruction},
    [EXIT_VMREAD] = {"vmread", handle_vmx_instruction},
    [EXIT_VMRESUME] = {"vmresume", handle_vmx_instruction},
    [EXIT_VMWRITE] = {"vmwrite", handle_vmx_instruction},
    [EXIT_VMXOFF] = {"vmxoff", handle_vmx_instruction},
    [EXIT_VMXON] = {"vmxon", handle_vmx_instruction},
    [EXIT_CR_ACCESS] = {"cr_access", handle_cr_access},
    [EXIT_DR_ACCESS] = {"dr_access", NULL},
    [EXIT_IO_INSTRUCTION] = {"io_instruction", handle_io_instruction},
    [EXIT_RDMSR] = {"rdmsr", handle_rdmsr},
    [EXIT_WRMSR] = {"wrmsr", handle_wrmsr},
    [EXIT_ENTRY_INVALID_GUEST_STATE] = {"entry_invalid_guest_state", NULL},
    [EXIT_ENTRY_MSR_LOADING] = {"entry_msr_loading", NULL},
    [EXIT_MWAIT] = {"mwait", NULL},
    [EXIT_MONITOR_TRAP_FLAG] = {"monitor_trap_flag", NULL},
    [EXIT_MONITOR] = {"monitor", NULL},
    [EXIT_PAUSE] = {"pause", NULL},
    [EXIT_ENTRY_MACHINE_CHECK] = {"entry_machine_check", NULL},
    [EXIT_TPR_BELOW_THRESHOLD] = {"tpr_below_threshold", NULL},
    [EXIT_APIC_ACCESS] = {"apic_access", NULL},
    [EXIT_VIRTUALIZED_EOI] = {"virtualized_eoi", NULL},
    [EXIT_GDTR_IDTR_ACCESS] = {"gdtr_idtr_access", NULL},
    [EXIT_LDTR_TR_ACCESS] = {"ldtr_tr_access", NULL},
    [EXIT_EPT_VIOLATION] = {"ept_violation", handle_ept_exit},
    [EXIT_EPT_MISCONFIG] = {"ept_misconfig", handle_ept_exit},
    [EXIT_INVEPT] = {"invept", handle_vmx_instruction},
    [EXIT_RDTSCP] = {"rdtscp", NULL},
    [EXIT_PREEMPTION_TIMER] = {"preemption_timer", driver_fault_watchdog},
    [EXIT_INVVPID] = {"invvpid", handle_vmx_instruction},
    [EXIT_WBINVD] = {"wbinvd", NULL},
    [EXIT_XSETBV] = {"xsetbv", handle_xsetbv},
    [EXIT_APIC_WRITE] = {"apic_write", NULL},
    [EXIT_RDRAND] = {"rdrand", NULL},
    [EXIT_INVPCID] = {"invpcid", NULL},
    [EXIT_VMFUNC] = {"vmfunc", NULL},
    [EXIT_ENCLS] = {"encls", NULL},
    [EXIT_RDSEED] = {"rdseed", NULL},
    [EXIT_PML_FULL] = {"pml_full", NULL},
    [EXIT_XSAVES] = {"xsaves", NULL},
    [EXIT_XRSTORS] = {"xrstors", NULL},
};

const char *vmexit_reason_name(unsigned reason)
{
    if (reason < VMX_EXIT_REASON_COUNT && exit_handlers[reason].name)
        return exit_handlers[reason].name;
    return "unknown";
}

static void log_per_reason(enum log_level level, const char *event, const uint64_t *per_reason)
{
    char line[400];
    size_t n = 0;
    for (unsigned r = 0; r < VMX_EXIT_REASON_COUNT && n < sizeof(line); r++)
        if (vcpu0.exit_counts[r])
            n += (size_t)hv_snprintf(line + n, sizeof(line) - n, "%s%s=%lu", n ? " " : "", vmexit_reason_name(r),
                                     per_reason[r]);
    line[MIN(n, sizeof(line) - 1)] = '\0';
    LOG_AT(level, event, "%s", line);
}

void vmexit_log_counts(int level, const char *event)
{
    char cycles_event[48];
    hv_snprintf(cycles_event, sizeof(cycles_event), "%s_cycles", event);
    log_per_reason((enum log_level)level, event, vcpu0.exit_counts);
    log_per_reason((enum log_level)level, cycles_event, vcpu0.exit_cycles);
}

static void log_guest_state(enum log_level level, const char *event)
{
    LOG_AT(level, event,
           "rip=0x%lx rsp=0x%lx rflags=0x%lx cr0=0x%lx cr3=0x%lx cr4=0x%lx cs=0x%lx cs_ar=0x%lx efer=0x%lx "
           "intr_info=0x%lx idt_vectoring=0x%lx",
           vmread(VMCS_GUEST_RIP), vmread(VMCS_GUEST_RSP), vmread(VMCS_GUEST_RFLAGS), vmread(VMCS_GUEST_CR0),
           vmread(VMCS_GUEST_CR3), vmread(VMCS_GUEST_CR4), vmread(VMCS_GUEST_CS_SEL), vmread(VMCS_GUEST_CS_AR),
           vmread(VMCS_GUEST_IA32_EFER), vmread(VMCS_EXIT_INTR_INFO), vmread(VMCS_IDT_VECTORING_INFO));
}

/* #PF belongs to the shadow MMU; the others intercepted through the bitmap are an isolated driver's fault
 * (isolation/driver_fault.c) or reflected unchanged. */
static void handle_exception_nmi(struct vcpu *v)
{
    uint32_t info = (uint32_t)vmread(VMCS_EXIT_INTR_INFO);
    unsigned vector = info & INTR_VECTOR_MASK;
    if ((info & INTR_TYPE_MASK) == INTR_TYPE_NMI) {
        vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_NMI | X86_EXC_NMI);
        v->event_injected = true;
        return;
    }
    bool has_error = info & INTR_INFO_ERROR_CODE;
    if (vector == X86_EXC_PF) {
        guest_paging_page_fault(v, v->exit_qualification, (uint32_t)vmread(VMCS_EXIT_INTR_ERROR));
        return;
    }
    uint32_t error_code = has_error ? (uint32_t)vmread(VMCS_EXIT_INTR_ERROR) : 0;
    if (!isolation_guest_exception(v, vector, error_code, 0))
        vcpu_inject_exception(v, vector, has_error, error_code);
}

/* Nothing to do here: the pending interrupt is delivered on the way back into the guest. */
static void handle_interrupt_window(struct vcpu *v)
{
    (void)v;
}

static void handle_triple_fault(struct vcpu *v)
{
    (void)v;
    log_guest_state(LOG_LEVEL_ERROR, "guest.triple_fault");
    hv_shutdown("guest triple fault");
}

static void handle_reset_signal(struct vcpu *v)
{
    LOG_ERROR("guest.reset_signal", "reason=%s", vmexit_reason_name(v->exit_reason));
    hv_shutdown("guest received INIT/SIPI");
}

/* VMX is hidden from the guest's CPUID, so its instructions are undefined there. */
static void handle_vmx_instruction(struct vcpu *v)
{
    LOG_WARN("guest.vmx_instruction", "insn=%s rip=0x%lx action=inject_ud", vmexit_reason_name(v->exit_reason),
             vmread(VMCS_GUEST_RIP));
    vcpu_inject_ud(v);
}

static void handle_ept_exit(struct vcpu *v)
{
    LOG_ERROR("guest.ept_exit", "reason=%s gpa=0x%lx qual=0x%lx", vmexit_reason_name(v->exit_reason),
              vmread(VMCS_GUEST_PHYSICAL_ADDR), v->exit_qualification);
    hv_shutdown("EPT exit without EPT in use");
}

static const char *const entry_failure_causes[] = {
    [0] = "invalid guest state",
    [2] = "PDPTE loading failed",
    [3] = "NMI injection while blocked",
    [4] = "invalid VMCS link pointer",
};

static void handle_entry_failure(struct vcpu *v, unsigned basic_reason)
{
    uint64_t q = v->exit_qualification;
    const char *cause = q < ARRAY_SIZE(entry_failure_causes) && entry_failure_causes[q] ? entry_failure_causes[q]
                                                                                         : "see qualification";
    if (basic_reason == EXIT_ENTRY_MSR_LOADING)
        cause = "MSR load list entry (qualification is its 1-based index)";
    else if (basic_reason == EXIT_ENTRY_MACHINE_CHECK)
        cause = "machine check during entry";
    LOG_FATAL("vmx.entry_failed", "reason=%u name=%s qual=0x%lx cause=\"%s\"", basic_reason,
              vmexit_reason_name(basic_reason), q, cause);
    log_guest_state(LOG_LEVEL_FATAL, "vmx.entry_failed.state");
    hv_shutdown("VM entry failed");
}

void vmexit_dispatch(struct guest_regs *regs)
{
    uint64_t start = rdtsc();
    struct vcpu *v = &vcpu0;
    v->regs = regs;
    v->exit_reason = (uint32_t)vmread(VMCS_EXIT_REASON);
    v->exit_qualification = vmread(VMCS_EXIT_QUALIFICATION);
    v->exit_instruction_len = (uint32_t)vmread(VMCS_EXIT_INSTRUCTION_LEN);
    unsigned basic = v->exit_reason & 0xffff;
    v->exits_total++;
    if (basic < VMX_EXIT_REASON_COUNT)
        v->exit_counts[basic]++;
    if ((v->exits_total & (PROGRESS_EVERY_EXITS - 1)) == 0) {
        vmexit_log_counts(LOG_LEVEL_INFO, "hv.progress");
        guest_paging_log_summary();
    }

    if (v->exit_reason & VMX_EXIT_REASON_ENTRY_FAILURE)
        handle_entry_failure(v, basic);

    vcpu_requeue_interrupted_event(v);
    exit_handler_fn handle = basic < VMX_EXIT_REASON_COUNT ? exit_handlers[basic].handle : NULL;
    if (!handle) {
        LOG_ERROR("vmexit.unhandled", "reason=%u name=%s qual=0x%lx rip=0x%lx insn_len=%u", basic,
                  vmexit_reason_name(basic), v->exit_qualification, vmread(VMCS_GUEST_RIP), v->exit_instruction_len);
        log_guest_state(LOG_LEVEL_ERROR, "vmexit.unhandled.state");
        hv_shutdown("unhandled VM exit");
    }
    handle(v);
    vcpu_deliver_pending_interrupt(v);
    v->exit_cycles[basic] += rdtsc() - start;
}

static const char *const vm_instruction_errors[] = {
    [1] = "VMCALL executed in VMX root operation",
    [2] = "VMCLEAR with invalid physical address",
    [3] = "VMCLEAR with VMXON pointer",
    [4] = "VMLAUNCH with non-clear VMCS",
    [5] = "VMRESUME with non-launched VMCS",
    [6] = "VMRESUME after VMXOFF",
    [7] = "VM entry with invalid control field(s)",
    [8] = "VM entry with invalid host-state field(s)",
    [9] = "VMPTRLD with invalid physical address",
    [10] = "VMPTRLD with VMXON pointer",
    [11] = "VMPTRLD with incorrect VMCS revision identifier",
    [12] = "VMREAD/VMWRITE from/to unsupported VMCS component",
    [13] = "VMWRITE to read-only VMCS component",
    [15] = "VMXON executed in VMX root operation",
    [16] = "VM entry with invalid executive-VMCS pointer",
    [17] = "VM entry with non-launched executive VMCS",
    [18] = "VM entry with executive-VMCS pointer not VMXON pointer",
    [26] = "VM entry with events blocked by MOV SS",
    [28] = "invalid operand to INVEPT/INVVPID",
};

void vmx_entry_failed(int launch)
{
    uint64_t error = vmread(VMCS_INSTRUCTION_ERROR);
    const char *text = error < ARRAY_SIZE(vm_instruction_errors) && vm_instruction_errors[error]
                           ? vm_instruction_errors[error]
                           : "unknown VM-instruction error";
    LOG_FATAL("vmx.entry_failed", "insn=%s insn_error=%lu cause=\"%s\"", launch ? "vmlaunch" : "vmresume", error,
              text);
    log_guest_state(LOG_LEVEL_FATAL, "vmx.entry_failed.state");
    hv_shutdown("VM entry failed");
}
