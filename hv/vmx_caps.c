#include "hv/vmx_caps.h"

#include "hv/log.h"
#include "hv/x86.h"

#define MSR_VMX_BASIC 0x480
#define MSR_VMX_PINBASED 0x481
#define MSR_VMX_PROCBASED 0x482
#define MSR_VMX_EXIT 0x483
#define MSR_VMX_ENTRY 0x484
#define MSR_VMX_MISC 0x485
#define MSR_VMX_CR0_FIXED0 0x486
#define MSR_VMX_CR0_FIXED1 0x487
#define MSR_VMX_CR4_FIXED0 0x488
#define MSR_VMX_CR4_FIXED1 0x489
#define MSR_VMX_PROCBASED2 0x48b
#define MSR_VMX_EPT_VPID_CAP 0x48c
#define MSR_VMX_TRUE_PINBASED 0x48d
#define MSR_VMX_TRUE_PROCBASED 0x48e
#define MSR_VMX_TRUE_EXIT 0x48f
#define MSR_VMX_TRUE_ENTRY 0x490
#define MSR_VMX_VMFUNC 0x491

#define VMX_BASIC_TRUE_CONTROLS (1ull << 55)
#define CPUID_1_ECX_VMX (1u << 5)

bool vmx_caps_read(struct vmx_caps *caps)
{
    if (!(cpuid(1, 0).ecx & CPUID_1_ECX_VMX)) {
        LOG_FATAL("vmx.unsupported", "reason=\"CPUID.1:ECX.VMX is 0: this CPU has no VT-x\"");
        return false;
    }
    uint64_t feature_control = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(feature_control & FEATURE_CONTROL_LOCKED)) {
        feature_control |= FEATURE_CONTROL_LOCKED | FEATURE_CONTROL_VMX_OUTSIDE_SMX;
        wrmsr(MSR_IA32_FEATURE_CONTROL, feature_control);
    }
    if (!(feature_control & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
        LOG_FATAL("vmx.unsupported",
                  "reason=\"VMX disabled by firmware (IA32_FEATURE_CONTROL locked without VMX)\" feature_control=0x%lx",
                  feature_control);
        return false;
    }

    caps->basic = rdmsr(MSR_VMX_BASIC);
    caps->revision_id = (uint32_t)caps->basic & 0x7fffffff;
    caps->true_controls = caps->basic & VMX_BASIC_TRUE_CONTROLS;
    caps->pin = vmx_control_caps_from_msr(rdmsr(caps->true_controls ? MSR_VMX_TRUE_PINBASED : MSR_VMX_PINBASED));
    caps->proc = vmx_control_caps_from_msr(rdmsr(caps->true_controls ? MSR_VMX_TRUE_PROCBASED : MSR_VMX_PROCBASED));
    caps->exit = vmx_control_caps_from_msr(rdmsr(caps->true_controls ? MSR_VMX_TRUE_EXIT : MSR_VMX_EXIT));
    caps->entry = vmx_control_caps_from_msr(rdmsr(caps->true_controls ? MSR_VMX_TRUE_ENTRY : MSR_VMX_ENTRY));
    caps->misc = rdmsr(MSR_VMX_MISC);
    caps->cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
    caps->cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
    caps->cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
    caps->cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
    caps->proc2 = (struct vmx_control_caps){0, 0};
    caps->ept_vpid = 0;
    caps->vmfunc = 0;
    if (caps->proc.may_be_one & PROC_ACTIVATE_SECONDARY) {
        caps->proc2 = vmx_control_caps_from_msr(rdmsr(MSR_VMX_PROCBASED2));
        /* These MSRs raise #GP unless the matching secondary controls may be 1. */
        if (caps->proc2.may_be_one & (PROC2_ENABLE_EPT | PROC2_ENABLE_VPID))
            caps->ept_vpid = rdmsr(MSR_VMX_EPT_VPID_CAP);
        if (caps->proc2.may_be_one & PROC2_ENABLE_VMFUNC)
            caps->vmfunc = rdmsr(MSR_VMX_VMFUNC);
    }
    return true;
}

void vmx_caps_log(const struct vmx_caps *c)
{
    LOG_INFO("vmx.caps",
             "revision=0x%x true_controls=%d vmcs_size=%lu pin=%08x:%08x proc=%08x:%08x proc2=%08x:%08x "
             "exit=%08x:%08x entry=%08x:%08x ept=%d vpid=%d unrestricted=%d vmfunc=%d ve=%d ept_vpid_cap=0x%lx "
             "cr0_fixed0=0x%lx cr4_fixed0=0x%lx",
             c->revision_id, c->true_controls, (c->basic >> 32) & 0x1fff, c->pin.must_be_one, c->pin.may_be_one,
             c->proc.must_be_one, c->proc.may_be_one, c->proc2.must_be_one, c->proc2.may_be_one, c->exit.must_be_one,
             c->exit.may_be_one, c->entry.must_be_one, c->entry.may_be_one,
             !!(c->proc2.may_be_one & PROC2_ENABLE_EPT), !!(c->proc2.may_be_one & PROC2_ENABLE_VPID),
             !!(c->proc2.may_be_one & PROC2_UNRESTRICTED_GUEST), !!(c->proc2.may_be_one & PROC2_ENABLE_VMFUNC),
             !!(c->proc2.may_be_one & PROC2_EPT_VIOLATION_VE), c->ept_vpid, c->cr0_fixed0, c->cr4_fixed0);
}
