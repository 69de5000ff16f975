/*
 * MOV to/from control registers and CLTS/LMSW, for the bits the hypervisor owns (CR0/CR4 guest/host masks):
 * the guest reads its own value from the read shadow; the real register keeps the bits VMX requires set.
 */
#include "hv/guest_paging.h"
#include "hv/log.h"
#include "hv/vmcs.h"
#include "hv/vmexit.h"
#include "hv/vmx.h"
#include "hv/x86.h"

enum cr_access_type { CR_MOV_TO = 0, CR_MOV_FROM = 1, CR_CLTS = 2, CR_LMSW = 3 };

/* CR4 features hidden from the guest's CPUID, or owned by VMX: setting them must fault as on a CPU without them. */
#define CR4_GUEST_FORBIDDEN (CR4_VMXE | CR4_SMXE | CR4_PCIDE | CR4_LA57 | CR4_PKE)

static bool guest_in_long_mode(void) { return vmread(VMCS_GUEST_IA32_EFER) & EFER_LMA; }

static void set_guest_cr0(struct vcpu *v, uint64_t value)
{
    bool invalid = (value >> 32) || ((value & CR0_PG) && !(value & CR0_PE)) ||
                   ((value & CR0_NW) && !(value & CR0_CD));
    /* The guest runs with paging on from the first instruction; leaving it is not supported (and in 64-bit mode
     * clearing PG is a #GP on hardware too). */
    if (!(value & CR0_PG) && guest_in_long_mode())
        invalid = true;
    if (invalid) {
        LOG_WARN("guest.cr_write", "cr=0 value=0x%lx action=inject_gp", value);
        vcpu_inject_gp0(v);
        return;
    }
    bool paging_changed = (v->cr0_shadow ^ value) & (CR0_WP | CR0_PG);
    v->cr0_shadow = value;
    vmwrite(VMCS_CR0_READ_SHADOW, value);
    vmwrite(VMCS_GUEST_CR0, vmx_cr0_real(v, value));
    if (paging_changed)
        guest_paging_mode_changed(v);
    vcpu_skip_instruction(v);
}

static void set_guest_cr4(struct vcpu *v, uint64_t value)
{
    uint64_t allowed = v->caps.cr4_fixed1 & ~(uint64_t)CR4_GUEST_FORBIDDEN;
    if ((value & ~allowed) || (guest_in_long_mode() && !(value & CR4_PAE))) {
        LOG_WARN("guest.cr_write", "cr=4 value=0x%lx action=inject_gp", value);
        vcpu_inject_gp0(v);
        return;
    }
    /* Any CR4 write flushes: toggling PGE is how the guest flushes global translations. */
    v->cr4_shadow = value;
    vmwrite(VMCS_CR4_READ_SHADOW, value);
    vmwrite(VMCS_GUEST_CR4, vmx_cr4_real(v, value));
    guest_paging_mode_changed(v);
    vcpu_skip_instruction(v);
}

void handle_cr_access(struct vcpu *v)
{
    uint64_t q = v->exit_qualification;
    unsigned cr = q & 0xf, type = (q >> 4) & 3, reg = (q >> 8) & 0xf;
    switch (type) {
    case CR_MOV_TO:
        if (cr == 3) {
            /* CR4.PCIDE is hidden, so bit 63 (no-flush) and bits 11:0 carry no meaning the MMU needs. */
            guest_paging_write_cr3(v, vcpu_gpr_read(v, reg));
            vcpu_skip_instruction(v);
            return;
        }
        if (cr == 0) {
            set_guest_cr0(v, vcpu_gpr_read(v, reg));
            return;
        }
        if (cr == 4) {
            set_guest_cr4(v, vcpu_gpr_read(v, reg));
            return;
        }
        break;
    case CR_MOV_FROM:
        if (cr == 3) {
            vcpu_gpr_write(v, reg, v->guest_cr3);
            vcpu_skip_instruction(v);
            return;
        }
        break;
    case CR_CLTS:
        set_guest_cr0(v, v->cr0_shadow & ~CR0_TS);
        return;
    case CR_LMSW: {
        /* LMSW loads CR0[3:0] but can set PE, never clear it. */
        uint64_t source = (q >> 16) & 0xf;
        set_guest_cr0(v, (v->cr0_shadow & ~0xeull) | source | (v->cr0_shadow & CR0_PE));
        return;
    }
    default:
        break;
    }
    LOG_ERROR("guest.cr_access", "cr=%u type=%u reg=%u qual=0x%lx action=inject_ud reason=\"not intercepted by design\"",
              cr, type, reg, q);
    vcpu_inject_ud(v);
}
