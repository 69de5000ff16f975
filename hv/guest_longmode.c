#include "hv/guest_longmode.h"

#include "hv/lib.h"
#include "hv/pmem.h"
#include "hv/vmcs.h"
#include "hv/vmx.h"
#include "hv/x86.h"

#define PTE_PRESENT 1ull
#define PTE_WRITABLE 2ull
#define PTE_LARGE 0x80ull
#define GDT_OFFSET 0x0
#define PML4_OFFSET 0x1000
#define PDPT_OFFSET 0x2000
#define PD_OFFSET 0x3000 /* four page directories */

#define AR_CODE64 0xa09b /* present, DPL 0, execute/read accessed, L=1, G=1 */
#define AR_DATA 0xc093   /* present, DPL 0, read/write accessed, D/B=1, G=1 */
#define AR_TSS64_BUSY 0x008b

static void write_boot_tables(void)
{
    uint8_t *scratch = (uint8_t *)(uintptr_t)GUEST_BOOT_SCRATCH_GPA;
    memset(scratch, 0, GUEST_BOOT_SCRATCH_SIZE);

    uint64_t *gdt = (uint64_t *)(scratch + GDT_OFFSET);
    gdt[GUEST_BOOT_CS / 8] = 0x00af9b000000ffffull;
    gdt[GUEST_BOOT_DS / 8] = 0x00cf93000000ffffull;

    uint64_t *pml4 = (uint64_t *)(scratch + PML4_OFFSET);
    uint64_t *pdpt = (uint64_t *)(scratch + PDPT_OFFSET);
    uint64_t *pd = (uint64_t *)(scratch + PD_OFFSET);
    pml4[0] = (GUEST_BOOT_SCRATCH_GPA + PDPT_OFFSET) | PTE_PRESENT | PTE_WRITABLE;
    for (unsigned i = 0; i < 4; i++)
        pdpt[i] = (GUEST_BOOT_SCRATCH_GPA + PD_OFFSET + i * PAGE_SIZE) | PTE_PRESENT | PTE_WRITABLE;
    for (unsigned i = 0; i < 4 * 512; i++)
        pd[i] = ((uint64_t)i << 21) | PTE_PRESENT | PTE_WRITABLE | PTE_LARGE;
}

static void write_segment(enum vmcs_field sel, enum vmcs_field base, enum vmcs_field limit, enum vmcs_field ar,
                          uint16_t selector, uint32_t access_rights)
{
    vmwrite(sel, selector);
    vmwrite(base, 0);
    vmwrite(limit, 0xffffffff);
    vmwrite(ar, access_rights);
}

void guest_longmode_setup(struct vcpu *v, uint64_t rip, uint64_t rsp)
{
    write_boot_tables();

    uint64_t cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    uint64_t cr4 = CR4_PAE;
    v->cr0_shadow = cr0;
    v->cr4_shadow = cr4;
    vmwrite(VMCS_GUEST_CR0, vmx_cr0_real(v, cr0));
    vmwrite(VMCS_CR0_READ_SHADOW, cr0);
    vmwrite(VMCS_GUEST_CR4, vmx_cr4_real(v, cr4));
    vmwrite(VMCS_CR4_READ_SHADOW, cr4);
    vmwrite(VMCS_GUEST_CR3, GUEST_BOOT_SCRATCH_GPA + PML4_OFFSET);
    vmwrite(VMCS_GUEST_IA32_EFER, EFER_LME | EFER_LMA);
    vmwrite(VMCS_GUEST_IA32_PAT, 0x0007040600070406ull); /* the power-on default */
    vmwrite(VMCS_GUEST_IA32_DEBUGCTL, 0);
    vmwrite(VMCS_GUEST_DR7, 0x400);

    write_segment(VMCS_GUEST_CS_SEL, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR, GUEST_BOOT_CS,
                  AR_CODE64);
    write_segment(VMCS_GUEST_DS_SEL, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR, GUEST_BOOT_DS,
                  AR_DATA);
    write_segment(VMCS_GUEST_ES_SEL, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR, GUEST_BOOT_DS,
                  AR_DATA);
    write_segment(VMCS_GUEST_SS_SEL, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR, GUEST_BOOT_DS,
                  AR_DATA);
    write_segment(VMCS_GUEST_FS_SEL, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR, GUEST_BOOT_DS,
                  AR_DATA);
    write_segment(VMCS_GUEST_GS_SEL, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR, GUEST_BOOT_DS,
                  AR_DATA);
    vmwrite(VMCS_GUEST_LDTR_SEL, 0);
    vmwrite(VMCS_GUEST_LDTR_BASE, 0);
    vmwrite(VMCS_GUEST_LDTR_LIMIT, 0);
    vmwrite(VMCS_GUEST_LDTR_AR, VMX_AR_UNUSABLE);
    /* VM entry needs a usable busy TSS; the guest loads its own before it can take an interrupt. */
    vmwrite(VMCS_GUEST_TR_SEL, 0);
    vmwrite(VMCS_GUEST_TR_BASE, 0);
    vmwrite(VMCS_GUEST_TR_LIMIT, 0x67);
    vmwrite(VMCS_GUEST_TR_AR, AR_TSS64_BUSY);
    vmwrite(VMCS_GUEST_GDTR_BASE, GUEST_BOOT_SCRATCH_GPA + GDT_OFFSET);
    vmwrite(VMCS_GUEST_GDTR_LIMIT, GUEST_BOOT_DS + 7);
    vmwrite(VMCS_GUEST_IDTR_BASE, 0);
    vmwrite(VMCS_GUEST_IDTR_LIMIT, 0);

    vmwrite(VMCS_GUEST_SYSENTER_CS, 0);
    vmwrite(VMCS_GUEST_SYSENTER_ESP, 0);
    vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
    vmwrite(VMCS_GUEST_RFLAGS, RFLAGS_FIXED);
    vmwrite(VMCS_GUEST_RIP, rip);
    vmwrite(VMCS_GUEST_RSP, rsp);
    vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmwrite(VMCS_GUEST_ACTIVITY_STATE, 0);
    vmwrite(VMCS_GUEST_PENDING_DBG, 0);
}
