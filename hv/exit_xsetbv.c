/* XSETBV exits unconditionally. The hypervisor does not use extended state itself, so the guest's XCR0 is loaded
 * into the CPU as it asks; a value the CPU rejects faults in the exception table and becomes the guest's #GP. */
#include "hv/log.h"
#include "hv/vmcs.h"
#include "hv/vmexit.h"
#include "hv/x86_safe.h"

void handle_xsetbv(struct vcpu *v)
{
    uint32_t xcr = (uint32_t)v->regs->gpr[GPR_RCX];
    uint64_t value = (v->regs->gpr[GPR_RDX] << 32) | (uint32_t)v->regs->gpr[GPR_RAX];
    if (xcr != 0 || !xsetbv_safe(xcr, value)) {
        LOG_WARN("guest.xsetbv", "xcr=%u value=0x%lx action=inject_gp", xcr, value);
        vcpu_inject_gp0(v);
        return;
    }
    LOG_DEBUG("guest.xsetbv", "xcr=%u value=0x%lx", xcr, value);
    vcpu_skip_instruction(v);
}
