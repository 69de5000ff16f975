/*
 * RDMSR/WRMSR exits. Most MSRs pass through (MSR bitmap); the hypervisor intercepts the ones that would reveal or
 * disturb VMX (feature control, VMX capability MSRs), EFER (kept consistent with the VM-entry controls) and
 * IA32_APIC_BASE (a guest must never disable the local APIC: Bochs cannot re-enable it until reset).
 * MSRs outside the bitmap's ranges always exit and are executed with fault recovery.
 */
#include "hv/guest_paging.h"
#include "hv/log.h"
#include "hv/vmcs.h"
#include "hv/vmexit.h"
#include "hv/vmx.h"
#include "hv/x86.h"
#include "hv/x86_safe.h"

#define MSR_VMX_FIRST 0x480
#define MSR_VMX_LAST 0x491
#define EFER_GUEST_WRITABLE (EFER_SCE | EFER_LME | EFER_NXE)

void msr_intercepts_init(void)
{
    vmx_intercept_msr(MSR_IA32_FEATURE_CONTROL, true, true);
    for (uint32_t msr = MSR_VMX_FIRST; msr <= MSR_VMX_LAST; msr++)
        vmx_intercept_msr(msr, true, true);
    vmx_intercept_msr(MSR_EFER, false, true);
    vmx_intercept_msr(MSR_IA32_APIC_BASE, false, true);
}

static bool is_vmx_msr(uint32_t msr) { return msr >= MSR_VMX_FIRST && msr <= MSR_VMX_LAST; }

static void complete_rdmsr(struct vcpu *v, uint64_t value)
{
    v->regs->gpr[GPR_RAX] = (uint32_t)value;
    v->regs->gpr[GPR_RDX] = value >> 32;
    vcpu_skip_instruction(v);
}

void handle_rdmsr(struct vcpu *v)
{
    uint32_t msr = (uint32_t)v->regs->gpr[GPR_RCX];
    uint64_t value;
    if (msr == MSR_IA32_FEATURE_CONTROL) {
        complete_rdmsr(v, FEATURE_CONTROL_LOCKED); /* locked with VMX off: what a guest without VT-x sees */
        return;
    }
    if (!is_vmx_msr(msr) && rdmsr_safe(msr, &value)) {
        complete_rdmsr(v, value);
        return;
    }
    LOG_DEBUG("guest.rdmsr", "msr=0x%x action=inject_gp", msr);
    vcpu_inject_gp0(v);
}

static bool write_efer(struct vcpu *v, uint64_t value)
{
    uint64_t current = vmread(VMCS_GUEST_IA32_EFER);
    if (value & ~(EFER_GUEST_WRITABLE | EFER_LMA))
        return false;
    /* LME cannot change while paging is on; LMA is read-only (kept from the current value). */
    if ((value ^ current) & EFER_LME)
        return false;
    vmwrite(VMCS_GUEST_IA32_EFER, (value & EFER_GUEST_WRITABLE) | (current & EFER_LMA));
    if ((value ^ current) & EFER_NXE)
        guest_paging_mode_changed(v); /* shadow leaves carry NX bits, reserved while NXE is off */
    return true;
}

void handle_wrmsr(struct vcpu *v)
{
    uint32_t msr = (uint32_t)v->regs->gpr[GPR_RCX];
    uint64_t value = (v->regs->gpr[GPR_RDX] << 32) | (uint32_t)v->regs->gpr[GPR_RAX];
    bool ok;
    if (msr == MSR_EFER) {
        ok = write_efer(v, value);
    } else if (msr == MSR_IA32_APIC_BASE && !(value & APIC_BASE_ENABLE)) {
        LOG_WARN("guest.apic_disable_refused", "value=0x%lx rip=0x%lx action=ignore", value, vmread(VMCS_GUEST_RIP));
        ok = true;
    } else if (msr == MSR_IA32_FEATURE_CONTROL || is_vmx_msr(msr)) {
        ok = false;
    } else {
        ok = wrmsr_safe(msr, value);
    }
    if (!ok) {
        LOG_DEBUG("guest.wrmsr", "msr=0x%x value=0x%lx action=inject_gp", msr, value);
        vcpu_inject_gp0(v);
        return;
    }
    vcpu_skip_instruction(v);
}
