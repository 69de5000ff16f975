#include "hv/guest_paging.h"

#include "hv/errno.h"
#include "hv/guest_memory.h"
#include "hv/log.h"
#include "hv/pmem.h"
#include "hv/vmcs.h"
#include "hv/x86.h"

#define CPUID_80000001_EDX_PAGE1GB (1u << 26)
#define FORBIDDEN_LOGGED_MAX 16

struct shadow_mmu guest_shadow;
static unsigned guest_maxphyaddr;
static bool guest_gbpages;
static unsigned forbidden_logged;

static void *shadow_alloc(void *opaque)
{
    (void)opaque;
    return pmem_alloc_page();
}

static void shadow_free(void *opaque, void *page)
{
    (void)opaque;
    pmem_free_page(page);
}

static bool shadow_gpa_forbidden(void *opaque, uint64_t gpa, uint64_t size)
{
    (void)opaque;
    return pmem_overlaps_hv(gpa, gpa + size);
}

static int guest_read_pte(void *opaque, uint64_t gpa, uint64_t *val)
{
    (void)opaque;
    if (!guest_ram_contains(gpa, sizeof(uint64_t)))
        return -HV_EFAULT;
    *val = *(volatile uint64_t *)(uintptr_t)gpa;
    return HV_OK;
}

static int guest_cmpxchg_pte(void *opaque, uint64_t gpa, uint64_t old, uint64_t new_val)
{
    (void)opaque;
    if (!guest_ram_contains(gpa, sizeof(uint64_t)))
        return -HV_EFAULT;
    uint64_t expected = old;
    __atomic_compare_exchange_n((uint64_t *)(uintptr_t)gpa, &expected, new_val, false, __ATOMIC_SEQ_CST,
                                __ATOMIC_SEQ_CST);
    return expected == old ? 0 : 1;
}

static const struct pt_walk_mem_ops guest_pte_ops = {guest_read_pte, guest_cmpxchg_pte};

bool guest_paging_init(struct vcpu *v, uint64_t guest_cr3)
{
    static const struct shadow_ops ops = {shadow_alloc, shadow_free, shadow_gpa_forbidden, NULL};
    if (shadow_init(&guest_shadow, &ops) != HV_OK) {
        LOG_FATAL("mmu.nomem", "reason=\"no pages for the shadow root\"");
        return false;
    }
    guest_maxphyaddr = cpuid(0x80000000, 0).eax >= 0x80000008 ? cpuid(0x80000008, 0).eax & 0xff : 36;
    guest_gbpages = cpuid(0x80000001, 0).edx & CPUID_80000001_EDX_PAGE1GB;
    v->guest_cr3 = guest_cr3;
    vmwrite(VMCS_GUEST_CR3, shadow_root_pa(&guest_shadow));
    vmwrite(VMCS_EXCEPTION_BITMAP, vmread(VMCS_EXCEPTION_BITMAP) | (1u << X86_EXC_PF));
    LOG_INFO("mmu.shadow", "mode=vtlb root=0x%lx guest_cr3=0x%lx maxphyaddr=%u gbpages=%d",
             shadow_root_pa(&guest_shadow), guest_cr3, guest_maxphyaddr, guest_gbpages);
    return true;
}

void guest_paging_walk_ctx(const struct vcpu *v, struct pt_walk_ctx *ctx)
{
    *ctx = (struct pt_walk_ctx){
        .cr3 = v->guest_cr3,
        .cr0_wp = v->cr0_shadow & CR0_WP,
        .cr4_smep = v->cr4_shadow & CR4_SMEP,
        .cr4_smap = v->cr4_shadow & CR4_SMAP,
        .efer_nxe = vmread(VMCS_GUEST_IA32_EFER) & EFER_NXE,
        .rflags_ac = vmread(VMCS_GUEST_RFLAGS) & RFLAGS_AC,
        .gbpages = guest_gbpages,
        .maxphyaddr = guest_maxphyaddr,
        .mem = &guest_pte_ops,
        .opaque = NULL,
    };
}

static unsigned access_from_error_code(uint32_t error_code)
{
    unsigned access = 0;
    if (error_code & PF_ERR_WRITE)
        access |= PT_ACCESS_WRITE;
    if (error_code & PF_ERR_USER)
        access |= PT_ACCESS_USER;
    if (error_code & PF_ERR_FETCH)
        access |= PT_ACCESS_FETCH;
    return access;
}

static void inject_page_fault(struct vcpu *v, uint64_t linear, uint32_t error_code)
{
    write_cr2(linear); /* VM entry leaves CR2 alone, and a #PF VM exit does not change it */
    vcpu_inject_exception(v, X86_EXC_PF, true, error_code);
}

void guest_paging_page_fault(struct vcpu *v, uint64_t linear, uint32_t error_code)
{
    struct pt_walk_ctx ctx;
    struct pt_walk_result walk;
    guest_paging_walk_ctx(v, &ctx);
    unsigned access = access_from_error_code(error_code);
    int ret = shadow_fill(&guest_shadow, &ctx, linear, access, &walk);
    switch (ret) {
    case SHADOW_FILLED:
        return;
    case SHADOW_FILLED_FORBIDDEN:
        if (forbidden_logged++ < FORBIDDEN_LOGGED_MAX)
            LOG_WARN("mmu.hv_memory_denied", "linear=0x%lx gpa=0x%lx access=%s rip=0x%lx action=map_sink", linear,
                     walk.gpa, access & PT_ACCESS_WRITE ? "write" : access & PT_ACCESS_FETCH ? "fetch" : "read",
                     vmread(VMCS_GUEST_RIP));
        return;
    case SHADOW_GUEST_FAULT:
        inject_page_fault(v, linear, walk.error_code);
        return;
    case -HV_ERANGE: /* a non-canonical address faults #GP, not #PF; the CPU already checked, but be exact */
        vcpu_inject_gp0(v);
        return;
    default:
        /* The guest's tables lie outside its RAM (e.g. in hypervisor memory): they do not exist for it. */
        LOG_WARN("mmu.bad_page_table", "linear=0x%lx cr3=0x%lx status=%d rip=0x%lx action=inject_pf", linear,
                 v->guest_cr3, ret, vmread(VMCS_GUEST_RIP));
        inject_page_fault(v, linear, error_code & (PF_ERR_WRITE | PF_ERR_USER | PF_ERR_FETCH));
        return;
    }
}

void guest_paging_write_cr3(struct vcpu *v, uint64_t value)
{
    v->guest_cr3 = value;
    shadow_flush_nonglobal(&guest_shadow);
}

void guest_paging_mode_changed(struct vcpu *v)
{
    guest_shadow.global_pages = v->cr4_shadow & CR4_PGE;
    shadow_flush(&guest_shadow);
}

void handle_invlpg(struct vcpu *v)
{
    shadow_invalidate(&guest_shadow, v->exit_qualification);
    vcpu_skip_instruction(v);
}

void guest_paging_log_summary(void)
{
    const struct shadow_stats *s = &guest_shadow.stats;
    LOG_INFO("mmu.summary",
             "fills=%lu guest_faults=%lu flushes=%lu cr3_flushes=%lu invalidations=%lu forbidden=%lu "
             "out_of_memory=%lu shadow_pages=%lu",
             s->fills, s->guest_faults, s->flushes, s->nonglobal_flushes, s->invalidations,
             s->forbidden, s->out_of_memory, s->pages_in_use);
}
