/* VM-exit reasons (SDM appendix C) and the handlers the dispatch table in hv/vmexit.c routes them to. */
#ifndef HV_VMEXIT_H
#define HV_VMEXIT_H

#include "hv/vcpu.h"

enum vmx_exit_reason {
    EXIT_EXCEPTION_NMI = 0,
    EXIT_EXTERNAL_INTERRUPT = 1,
    EXIT_TRIPLE_FAULT = 2,
    EXIT_INIT = 3,
    EXIT_SIPI = 4,
    EXIT_IO_SMI = 5,
    EXIT_OTHER_SMI = 6,
    EXIT_INTERRUPT_WINDOW = 7,
    EXIT_NMI_WINDOW = 8,
    EXIT_TASK_SWITCH = 9,
    EXIT_CPUID = 10,
    EXIT_GETSEC = 11,
    EXIT_HLT = 12,
    EXIT_INVD = 13,
    EXIT_INVLPG = 14,
    EXIT_RDPMC = 15,
    EXIT_RDTSC = 16,
    EXIT_RSM = 17,
    EXIT_VMCALL = 18,
    EXIT_VMCLEAR = 19,
    EXIT_VMLAUNCH = 20,
    EXIT_VMPTRLD = 21,
    EXIT_VMPTRST = 22,
    EXIT_VMREAD = 23,
    EXIT_VMRESUME = 24,
    EXIT_VMWRITE = 25,
    EXIT_VMXOFF = 26,
    EXIT_VMXON = 27,
    EXIT_CR_ACCESS = 28,
    EXIT_DR_ACCESS = 29,
    EXIT_IO_INSTRUCTION = 30,
    EXIT_RDMSR = 31,
    EXIT_WRMSR = 32,
    EXIT_ENTRY_INVALID_GUEST_STATE = 33,
    EXIT_ENTRY_MSR_LOADING = 34,
    EXIT_MWAIT = 36,
    EXIT_MONITOR_TRAP_FLAG = 37,
    EXIT_MONITOR = 39,
    EXIT_PAUSE = 40,
    EXIT_ENTRY_MACHINE_CHECK = 41,
    EXIT_TPR_BELOW_THRESHOLD = 43,
    EXIT_APIC_ACCESS = 44,
    EXIT_VIRTUALIZED_EOI = 45,
    EXIT_GDTR_IDTR_ACCESS = 46,
    EXIT_LDTR_TR_ACCESS = 47,
    EXIT_EPT_VIOLATION = 48,
    EXIT_EPT_MISCONFIG = 49,
    EXIT_INVEPT = 50,
    EXIT_RDTSCP = 51,
    EXIT_PREEMPTION_TIMER = 52,
    EXIT_INVVPID = 53,
    EXIT_WBINVD = 54,
    EXIT_XSETBV = 55,
    EXIT_APIC_WRITE = 56,
    EXIT_RDRAND = 57,
    EXIT_INVPCID = 58,
    EXIT_VMFUNC = 59,
    EXIT_ENCLS = 60,
    EXIT_RDSEED = 61,
    EXIT_PML_FULL = 62,
    EXIT_XSAVES = 63,
    EXIT_XRSTORS = 64,
};

const char *vmexit_reason_name(unsigned reason);
/* Two records: the count of every exit reason seen so far, and the TSC cycles its handlers took. */
void vmexit_log_counts(int level, const char *event);

/* Handlers: each completes its exit (skips the instruction, injects an event, or shuts down). */
void handle_cpuid(struct vcpu *v);
void handle_vmcall(struct vcpu *v);
void handle_cr_access(struct vcpu *v);
void handle_io_instruction(struct vcpu *v);
void handle_rdmsr(struct vcpu *v);
void handle_wrmsr(struct vcpu *v);
void handle_xsetbv(struct vcpu *v);

/* Program the I/O and MSR bitmaps for the ports and MSRs those handlers own. */
void io_intercepts_init(void);
void msr_intercepts_init(void);

/* Called by hv/vmx_entry.S */
void vmexit_dispatch(struct guest_regs *regs);
void vmx_entry_failed(int launch) __attribute__((noreturn));

#endif
