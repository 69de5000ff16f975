/*
 * CPUID as the guest sees it: the host's values, minus what the hypervisor does not virtualize (VMX, SMX, PCID,
 * INVPCID, LA57, PKU, MONITOR/MWAIT), plus the hypervisor bit and a vendor leaf at 0x40000000.
 */
#include "hv/hypercall_abi.h"
#include "hv/log.h"
#include "hv/vmcs.h"
#include "hv/vmexit.h"
#include "hv/x86.h"

#define CPUID_1_ECX_MONITOR (1u << 3)
#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_1_ECX_SMX (1u << 6)
#define CPUID_1_ECX_PCID (1u << 17)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_7_EBX_INVPCID (1u << 10)
#define CPUID_7_ECX_PKU (1u << 3)
#define CPUID_7_ECX_OSPKE (1u << 4)
#define CPUID_7_ECX_LA57 (1u << 16)
#define CPUID_D1_EAX_XSAVES (1u << 3)
#define CPUID_80000001_EDX_RDTSCP (1u << 27)

#define CPUID_HV_BASE 0x40000000u
#define CPUID_HV_LAST 0x40000001u

static void guest_cpuid(const struct vcpu *v, uint32_t leaf, uint32_t subleaf, struct cpuid_regs *r)
{
    if (leaf >= CPUID_HV_BASE && leaf <= 0x4fffffffu) {
        *r = (struct cpuid_regs){0, 0, 0, 0};
        if (leaf == CPUID_HV_BASE) {
            /* "ChariotHV\0\0\0" in EBX, ECX, EDX */
            r->eax = CPUID_HV_LAST;
            r->ebx = 0x72616843; /* "Char" */
            r->ecx = 0x48746f69; /* "iotH" */
            r->edx = 0x00000056; /* "V" */
        } else if (leaf == CPUID_HV_LAST) {
            r->eax = CHARIOT_ABI_VERSION;
        }
        return;
    }
    *r = cpuid(leaf, subleaf);
    switch (leaf) {
    case 1:
        r->ecx &= ~(CPUID_1_ECX_VMX | CPUID_1_ECX_SMX | CPUID_1_ECX_PCID | CPUID_1_ECX_MONITOR);
        r->ecx |= CPUID_1_ECX_HYPERVISOR;
        break;
    case 7:
        if (subleaf == 0) {
            r->ebx &= ~CPUID_7_EBX_INVPCID;
            r->ecx &= ~(CPUID_7_ECX_PKU | CPUID_7_ECX_OSPKE | CPUID_7_ECX_LA57);
        }
        break;
    case 0xd:
        if (subleaf == 1 && !(v->proc2_controls & PROC2_ENABLE_XSAVES))
            r->eax &= ~CPUID_D1_EAX_XSAVES;
        break;
    case 0x80000001:
        if (!(v->proc2_controls & PROC2_ENABLE_RDTSCP))
            r->edx &= ~CPUID_80000001_EDX_RDTSCP;
        break;
    default:
        break;
    }
}

void handle_cpuid(struct vcpu *v)
{
    uint32_t leaf = (uint32_t)v->regs->gpr[GPR_RAX], subleaf = (uint32_t)v->regs->gpr[GPR_RCX];
    struct cpuid_regs r;
    guest_cpuid(v, leaf, subleaf, &r);
    LOG_DEBUG("guest.cpuid", "leaf=0x%x subleaf=0x%x eax=0x%x ebx=0x%x ecx=0x%x edx=0x%x", leaf, subleaf, r.eax,
              r.ebx, r.ecx, r.edx);
    v->regs->gpr[GPR_RAX] = r.eax;
    v->regs->gpr[GPR_RBX] = r.ebx;
    v->regs->gpr[GPR_RCX] = r.ecx;
    v->regs->gpr[GPR_RDX] = r.edx;
    vcpu_skip_instruction(v);
}
