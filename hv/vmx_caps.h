/* VMX capabilities read from the VMX MSRs, and VMCS controls computed from them. */
#ifndef HV_VMX_CAPS_H
#define HV_VMX_CAPS_H

#include <stdbool.h>
#include <stdint.h>

/* Pin-based controls */
#define PIN_EXTERNAL_INTERRUPT_EXITING (1u << 0)
#define PIN_NMI_EXITING (1u << 3)
#define PIN_VIRTUAL_NMIS (1u << 5)
#define PIN_PREEMPTION_TIMER (1u << 6)
/* Primary processor-based controls */
#define PROC_INTERRUPT_WINDOW_EXITING (1u << 2)
#define PROC_HLT_EXITING (1u << 7)
#define PROC_INVLPG_EXITING (1u << 9)
#define PROC_CR3_LOAD_EXITING (1u << 15)
#define PROC_CR3_STORE_EXITING (1u << 16)
#define PROC_CR8_LOAD_EXITING (1u << 19)
#define PROC_CR8_STORE_EXITING (1u << 20)
#define PROC_NMI_WINDOW_EXITING (1u << 22)
#define PROC_MOV_DR_EXITING (1u << 23)
#define PROC_UNCONDITIONAL_IO_EXITING (1u << 24)
#define PROC_USE_IO_BITMAPS (1u << 25)
#define PROC_MONITOR_TRAP_FLAG (1u << 27)
#define PROC_USE_MSR_BITMAPS (1u << 28)
#define PROC_ACTIVATE_SECONDARY (1u << 31)
/* Secondary processor-based controls */
#define PROC2_ENABLE_EPT (1u << 1)
#define PROC2_ENABLE_RDTSCP (1u << 3)
#define PROC2_ENABLE_VPID (1u << 5)
#define PROC2_UNRESTRICTED_GUEST (1u << 7)
#define PROC2_ENABLE_INVPCID (1u << 12)
#define PROC2_ENABLE_VMFUNC (1u << 13)
#define PROC2_EPT_VIOLATION_VE (1u << 18)
#define PROC2_ENABLE_XSAVES (1u << 20)
/* VM-exit controls */
#define EXIT_SAVE_DEBUG_CONTROLS (1u << 2)
#define EXIT_HOST_ADDRESS_SPACE_64 (1u << 9)
#define EXIT_ACK_INTERRUPT (1u << 15)
#define EXIT_SAVE_PAT (1u << 18)
#define EXIT_SAVE_PREEMPTION_TIMER (1u << 22)
#define EXIT_LOAD_PAT (1u << 19)
#define EXIT_SAVE_EFER (1u << 20)
#define EXIT_LOAD_EFER (1u << 21)
/* VM-entry controls */
#define ENTRY_LOAD_DEBUG_CONTROLS (1u << 2)
#define ENTRY_IA32E_MODE_GUEST (1u << 9)
#define ENTRY_LOAD_PAT (1u << 14)
#define ENTRY_LOAD_EFER (1u << 15)

/* The allowed settings of one 32-bit control field: bits set in must_be_one are forced on, bits clear in may_be_one
 * are forced off (SDM A.3-A.5). */
struct vmx_control_caps {
    uint32_t must_be_one;
    uint32_t may_be_one;
};

struct vmx_caps {
    uint64_t basic;
    uint32_t revision_id;
    bool true_controls;
    struct vmx_control_caps pin, proc, proc2, exit, entry;
    uint64_t misc; /* bits 4:0: the preemption timer counts every 2^n TSC ticks */
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    uint64_t ept_vpid; /* 0 when the secondary EPT/VPID controls are not allowed */
    uint64_t vmfunc;   /* 0 when VMFUNC is not allowed */
};

/* What a control field is asked for: required bits must be granted, optional ones are used where allowed. */
struct vmx_control_request {
    const char *name;
    uint32_t required;
    uint32_t optional;
};

struct vmx_control_result {
    uint32_t value;
    uint32_t missing; /* required bits the CPU does not allow */
};

struct vmx_control_result vmx_compute_control(const struct vmx_control_caps *caps, const struct vmx_control_request *req);
struct vmx_control_caps vmx_control_caps_from_msr(uint64_t msr);

/* Hardware part: reads the MSRs; returns false (with a logged reason) when VMX is unusable. */
bool vmx_caps_read(struct vmx_caps *caps);
void vmx_caps_log(const struct vmx_caps *caps);

#endif
