/* VMCS field encodings (Intel SDM vol. 3, appendix B) and the VMX instructions that access them. */
#ifndef HV_VMCS_H
#define HV_VMCS_H

#include <stdbool.h>
#include <stdint.h>

enum vmcs_field {
    /* 16-bit */
    VMCS_VPID = 0x0000,
    VMCS_EPTP_INDEX = 0x0004,
    VMCS_GUEST_ES_SEL = 0x0800,
    VMCS_GUEST_CS_SEL = 0x0802,
    VMCS_GUEST_SS_SEL = 0x0804,
    VMCS_GUEST_DS_SEL = 0x0806,
    VMCS_GUEST_FS_SEL = 0x0808,
    VMCS_GUEST_GS_SEL = 0x080a,
    VMCS_GUEST_LDTR_SEL = 0x080c,
    VMCS_GUEST_TR_SEL = 0x080e,
    VMCS_HOST_ES_SEL = 0x0c00,
    VMCS_HOST_CS_SEL = 0x0c02,
    VMCS_HOST_SS_SEL = 0x0c04,
    VMCS_HOST_DS_SEL = 0x0c06,
    VMCS_HOST_FS_SEL = 0x0c08,
    VMCS_HOST_GS_SEL = 0x0c0a,
    VMCS_HOST_TR_SEL = 0x0c0c,
    /* 64-bit control */
    VMCS_IO_BITMAP_A = 0x2000,
    VMCS_IO_BITMAP_B = 0x2002,
    VMCS_MSR_BITMAP = 0x2004,
    VMCS_EXIT_MSR_STORE_ADDR = 0x2006,
    VMCS_EXIT_MSR_LOAD_ADDR = 0x2008,
    VMCS_ENTRY_MSR_LOAD_ADDR = 0x200a,
    VMCS_TSC_OFFSET = 0x2010,
    VMCS_VMFUNC_CONTROLS = 0x2018,
    VMCS_EPT_POINTER = 0x201a,
    VMCS_EPTP_LIST_ADDR = 0x2024,
    VMCS_VE_INFO_ADDR = 0x202a,
    /* 64-bit read-only */
    VMCS_GUEST_PHYSICAL_ADDR = 0x2400,
    /* 64-bit guest state */
    VMCS_LINK_POINTER = 0x2800,
    VMCS_GUEST_IA32_DEBUGCTL = 0x2802,
    VMCS_GUEST_IA32_PAT = 0x2804,
    VMCS_GUEST_IA32_EFER = 0x2806,
    /* 64-bit host state */
    VMCS_HOST_IA32_PAT = 0x2c00,
    VMCS_HOST_IA32_EFER = 0x2c02,
    /* 32-bit control */
    VMCS_PIN_CONTROLS = 0x4000,
    VMCS_PROC_CONTROLS = 0x4002,
    VMCS_EXCEPTION_BITMAP = 0x4004,
    VMCS_PF_ERROR_MASK = 0x4006,
    VMCS_PF_ERROR_MATCH = 0x4008,
    VMCS_CR3_TARGET_COUNT = 0x400a,
    VMCS_EXIT_CONTROLS = 0x400c,
    VMCS_EXIT_MSR_STORE_COUNT = 0x400e,
    VMCS_EXIT_MSR_LOAD_COUNT = 0x4010,
    VMCS_ENTRY_CONTROLS = 0x4012,
    VMCS_ENTRY_MSR_LOAD_COUNT = 0x4014,
    VMCS_ENTRY_INTR_INFO = 0x4016,
    VMCS_ENTRY_EXCEPTION_ERROR = 0x4018,
    VMCS_ENTRY_INSTRUCTION_LEN = 0x401a,
    VMCS_TPR_THRESHOLD = 0x401c,
    VMCS_PROC_CONTROLS2 = 0x401e,
    /* 32-bit read-only */
    VMCS_INSTRUCTION_ERROR = 0x4400,
    VMCS_EXIT_REASON = 0x4402,
    VMCS_EXIT_INTR_INFO = 0x4404,
    VMCS_EXIT_INTR_ERROR = 0x4406,
    VMCS_IDT_VECTORING_INFO = 0x4408,
    VMCS_IDT_VECTORING_ERROR = 0x440a,
    VMCS_EXIT_INSTRUCTION_LEN = 0x440c,
    VMCS_EXIT_INSTRUCTION_INFO = 0x440e,
    /* 32-bit guest state */
    VMCS_GUEST_ES_LIMIT = 0x4800,
    VMCS_GUEST_CS_LIMIT = 0x4802,
    VMCS_GUEST_SS_LIMIT = 0x4804,
    VMCS_GUEST_DS_LIMIT = 0x4806,
    VMCS_GUEST_FS_LIMIT = 0x4808,
    VMCS_GUEST_GS_LIMIT = 0x480a,
    VMCS_GUEST_LDTR_LIMIT = 0x480c,
    VMCS_GUEST_TR_LIMIT = 0x480e,
    VMCS_GUEST_GDTR_LIMIT = 0x4810,
    VMCS_GUEST_IDTR_LIMIT = 0x4812,
    VMCS_GUEST_ES_AR = 0x4814,
    VMCS_GUEST_CS_AR = 0x4816,
    VMCS_GUEST_SS_AR = 0x4818,
    VMCS_GUEST_DS_AR = 0x481a,
    VMCS_GUEST_FS_AR = 0x481c,
    VMCS_GUEST_GS_AR = 0x481e,
    VMCS_GUEST_LDTR_AR = 0x4820,
    VMCS_GUEST_TR_AR = 0x4822,
    VMCS_GUEST_INTERRUPTIBILITY = 0x4824,
    VMCS_GUEST_ACTIVITY_STATE = 0x4826,
    VMCS_GUEST_SYSENTER_CS = 0x482a,
    VMCS_PREEMPTION_TIMER_VALUE = 0x482e,
    /* 32-bit host state */
    VMCS_HOST_SYSENTER_CS = 0x4c00,
    /* natural-width control */
    VMCS_CR0_GUEST_HOST_MASK = 0x6000,
    VMCS_CR4_GUEST_HOST_MASK = 0x6002,
    VMCS_CR0_READ_SHADOW = 0x6004,
    VMCS_CR4_READ_SHADOW = 0x6006,
    /* natural-width read-only */
    VMCS_EXIT_QUALIFICATION = 0x6400,
    VMCS_GUEST_LINEAR_ADDR = 0x640a,
    /* natural-width guest state */
    VMCS_GUEST_CR0 = 0x6800,
    VMCS_GUEST_CR3 = 0x6802,
    VMCS_GUEST_CR4 = 0x6804,
    VMCS_GUEST_ES_BASE = 0x6806,
    VMCS_GUEST_CS_BASE = 0x6808,
    VMCS_GUEST_SS_BASE = 0x680a,
    VMCS_GUEST_DS_BASE = 0x680c,
    VMCS_GUEST_FS_BASE = 0x680e,
    VMCS_GUEST_GS_BASE = 0x6810,
    VMCS_GUEST_LDTR_BASE = 0x6812,
    VMCS_GUEST_TR_BASE = 0x6814,
    VMCS_GUEST_GDTR_BASE = 0x6816,
    VMCS_GUEST_IDTR_BASE = 0x6818,
    VMCS_GUEST_DR7 = 0x681a,
    VMCS_GUEST_RSP = 0x681c,
    VMCS_GUEST_RIP = 0x681e,
    VMCS_GUEST_RFLAGS = 0x6820,
    VMCS_GUEST_PENDING_DBG = 0x6822,
    VMCS_GUEST_SYSENTER_ESP = 0x6824,
    VMCS_GUEST_SYSENTER_EIP = 0x6826,
    /* natural-width host state */
    VMCS_HOST_CR0 = 0x6c00,
    VMCS_HOST_CR3 = 0x6c02,
    VMCS_HOST_CR4 = 0x6c04,
    VMCS_HOST_FS_BASE = 0x6c06,
    VMCS_HOST_GS_BASE = 0x6c08,
    VMCS_HOST_TR_BASE = 0x6c0a,
    VMCS_HOST_GDTR_BASE = 0x6c0c,
    VMCS_HOST_IDTR_BASE = 0x6c0e,
    VMCS_HOST_SYSENTER_ESP = 0x6c10,
    VMCS_HOST_SYSENTER_EIP = 0x6c12,
    VMCS_HOST_RSP = 0x6c14,
    VMCS_HOST_RIP = 0x6c16,
};

/* Segment access-rights bits in the VMCS format */
#define VMX_AR_UNUSABLE (1u << 16)

/* VM-entry/exit interruption-information format */
#define INTR_INFO_VALID (1u << 31)
#define INTR_INFO_ERROR_CODE (1u << 11)
#define INTR_INFO_NMI_UNBLOCKED_IRET (1u << 12)
#define INTR_TYPE_EXT_INTR (0u << 8)
#define INTR_TYPE_NMI (2u << 8)
#define INTR_TYPE_HW_EXCEPTION (3u << 8)
#define INTR_TYPE_SW_INTR (4u << 8)
#define INTR_TYPE_PRIV_SW_EXCEPTION (5u << 8)
#define INTR_TYPE_SW_EXCEPTION (6u << 8)
#define INTR_TYPE_MASK (7u << 8)
#define INTR_VECTOR_MASK 0xffu

#define VMX_EXIT_REASON_ENTRY_FAILURE (1u << 31)

static inline uint64_t vmread(enum vmcs_field field)
{
    uint64_t v;
    __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"((uint64_t)field) : "cc");
    return v;
}

/* VMfail on a write is a hypervisor bug (bad field or value), never a guest's doing: report and stop. */
void vmwrite_failed(enum vmcs_field field, uint64_t value) __attribute__((noreturn));

static inline void vmwrite(enum vmcs_field field, uint64_t value)
{
    bool failed;
    __asm__ volatile("vmwrite %2, %1" : "=@ccbe"(failed) : "r"((uint64_t)field), "r"(value) : "cc");
    if (failed)
        vmwrite_failed(field, value);
}

#endif
