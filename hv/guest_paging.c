#include "hv/guest_paging.h"

#include "hv/errno.h"
#include "hv/lib.h"
#include "isolation/domain.h"
#include "isolation/driver_fault.h"
#include "hv/guest_memory.h"
#include "hv/log.h"
#include "hv/pmem.h"
#include "hv/vmcs.h"
#include "hv/x86.h"

#define CPUID_80000001_EDX_PAGE1GB (1u << 26)
#define FORBIDDEN_LOGGED_MAX 16

static struct shadow_mmu views[GUEST_PAGING_MAX_VIEWS]; /* [0]: the kernel view; unused ones have no root */
static struct shadow_mmu *active_view;
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

static const struct shadow_ops shadow_memory_ops = {shadow_alloc, shadow_free, shadow_gpa_forbidden, NULL};

bool guest_paging_init(struct vcpu *v, uint64_t guest_cr3)
{
    if (shadow_init(&views[0], &shadow_memory_ops) != HV_OK) {
        LOG_FATAL("mmu.nomem", "reason=\"no pages for the shadow root\"");
        return false;
    }
    guest_maxphyaddr = cpuid(0x80000000, 0).eax >= 0x80000008 ? cpuid(0x80000008, 0).eax & 0xff : 36;
    guest_gbpages = cpuid(0x80000001, 0).edx & CPUID_80000001_EDX_PAGE1GB;
    v->guest_cr3 = guest_cr3;
    guest_paging_activate(&views[0]);
    vmwrite(VMCS_EXCEPTION_BITMAP, vmread(VMCS_EXCEPTION_BITMAP) | (1u << X86_EXC_PF));
    LOG_INFO("mmu.shadow", "mode=vtlb root=0x%lx guest_cr3=0x%lx maxphyaddr=%u gbpages=%d",
             shadow_root_pa(&views[0]), guest_cr3, guest_maxphyaddr, guest_gbpages);
    return true;
}

struct shadow_mmu *guest_paging_kernel_view(void) { return &views[0]; }
struct shadow_mmu *guest_paging_active_view(void) { return active_view; }

void guest_paging_activate(struct shadow_mmu *view)
{
    active_view = view;
    vmwrite(VMCS_GUEST_CR3, shadow_root_pa(view));
}

struct shadow_mmu *guest_paging_view_create(const struct shadow_policy *policy)
{
    for (unsigned i = 1; i < GUEST_PAGING_MAX_VIEWS; i++) {
        if (views[i].root)
            continue;
        if (shadow_init(&views[i], &shadow_memory_ops) != HV_OK) {
            LOG_ERROR("mmu.nomem", "reason=\"no pages for a view's shadow root\"");
            return NULL;
        }
        views[i].policy = *policy;
        views[i].global_pages = views[0].global_pages;
        return &views[i];
    }
    LOG_ERROR("mmu.no_view", "reason=\"all %u views in use\"", GUEST_PAGING_MAX_VIEWS);
    return NULL;
}

void guest_paging_view_destroy(struct shadow_mmu *view)
{
    if (active_view == view)
        guest_paging_activate(&views[0]);
    shadow_destroy(view);
}

#define FOR_EACH_VIEW(view)                                                                                            \
    for (struct shadow_mmu *view = views; view < views + GUEST_PAGING_MAX_VIEWS; view++)                              \
        if (view->root)

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

void guest_paging_inject_page_fault(struct vcpu *v, uint64_t linear, uint32_t error_code)
{
    write_cr2(linear); /* VM entry leaves CR2 alone, and a #PF VM exit does not change it */
    vcpu_inject_exception(v, X86_EXC_PF, true, error_code);
}

void guest_paging_page_fault(struct vcpu *v, uint64_t linear, uint32_t error_code)
{
    struct pt_walk_ctx ctx;
    struct pt_walk_result walk;
    if ((error_code & (PF_ERR_PRESENT | PF_ERR_FETCH)) == (PF_ERR_PRESENT | PF_ERR_FETCH) &&
        isolation_switch_view_for_fetch(v, active_view, linear))
        return;
    guest_paging_walk_ctx(v, &ctx);
    unsigned access = access_from_error_code(error_code);
    int ret = shadow_fill(active_view, &ctx, linear, access, &walk);
    switch (ret) {
    case SHADOW_FILLED:
        return;
    case SHADOW_DENIED_WRITE:
    case SHADOW_DENIED_FETCH:
        isolation_view_denied(v, active_view, linear, ret == SHADOW_DENIED_WRITE);
        return;
    case SHADOW_FILLED_FORBIDDEN:
        if (forbidden_logged++ < FORBIDDEN_LOGGED_MAX)
            LOG_WARN("mmu.hv_memory_denied", "linear=0x%lx gpa=0x%lx access=%s rip=0x%lx action=map_sink", linear,
                     walk.gpa, access & PT_ACCESS_WRITE ? "write" : access & PT_ACCESS_FETCH ? "fetch" : "read",
                     vmread(VMCS_GUEST_RIP));
        return;
    case SHADOW_GUEST_FAULT:
        if (!isolation_guest_exception(v, X86_EXC_PF, walk.error_code, linear))
            guest_paging_inject_page_fault(v, linear, walk.error_code);
        return;
    case -HV_ERANGE: /* a non-canonical address faults #GP, not #PF; the CPU already checked, but be exact */
        if (!isolation_guest_exception(v, X86_EXC_GP, 0, 0))
            vcpu_inject_gp0(v);
        return;
    default:
        /* The guest's tables lie outside its RAM (e.g. in hypervisor memory): they do not exist for it. */
        LOG_WARN("mmu.bad_page_table", "linear=0x%lx cr3=0x%lx status=%d rip=0x%lx action=inject_pf", linear,
                 v->guest_cr3, ret, vmread(VMCS_GUEST_RIP));
        guest_paging_inject_page_fault(v, linear, error_code & (PF_ERR_WRITE | PF_ERR_USER | PF_ERR_FETCH));
        return;
    }
}

void guest_paging_write_cr3(struct vcpu *v, uint64_t value)
{
    v->guest_cr3 = value;
    FOR_EACH_VIEW(view)
    shadow_flush_nonglobal(view);
}

void guest_paging_mode_changed(struct vcpu *v)
{
    FOR_EACH_VIEW(view)
    {
        view->global_pages = v->cr4_shadow & CR4_PGE;
        shadow_flush(view);
    }
}

void handle_invlpg(struct vcpu *v)
{
    FOR_EACH_VIEW(view)
    shadow_invalidate(view, v->exit_qualification);
    vcpu_skip_instruction(v);
}

/* ---- guest memory by linear address ---- */

/* A device register: one access of exactly the instruction's width, as the device must see it. */
static bool mmio_access(uint64_t gpa, void *buf, uint32_t size, bool to_guest)
{
    volatile void *reg = (volatile void *)(uintptr_t)gpa;
    switch (size) {
    case 1:
        if (to_guest)
            *(volatile uint8_t *)reg = *(uint8_t *)buf;
        else
            *(uint8_t *)buf = *(volatile uint8_t *)reg;
        return true;
    case 2:
        if (to_guest)
            *(volatile uint16_t *)reg = *(uint16_t *)buf;
        else
            *(uint16_t *)buf = *(volatile uint16_t *)reg;
        return true;
    case 4:
        if (to_guest)
            *(volatile uint32_t *)reg = *(uint32_t *)buf;
        else
            *(uint32_t *)buf = *(volatile uint32_t *)reg;
        return true;
    case 8:
        if (to_guest)
            *(volatile uint64_t *)reg = *(uint64_t *)buf;
        else
            *(uint64_t *)buf = *(volatile uint64_t *)reg;
        return true;
    default:
        return false;
    }
}

/* A shadow leaf that lets the supervisor make `access` (a write: one the guest allows, even if a view refuses it). */
static bool leaf_grants(uint64_t leaf, unsigned access)
{
    return (leaf & PTE_PRESENT) && !(leaf & PTE_USER) &&
           (!(access & PT_ACCESS_WRITE) || (leaf & (PTE_WRITABLE | SHADOW_LEAF_WRITE_DENIED))) &&
           (!(access & PT_ACCESS_FETCH) || !(leaf & PTE_NX));
}

/* The guest-physical address of kernel-half `linear` as the CPU would translate it now, when the active view or
 * the kernel view holds a leaf granting a supervisor `access` to guest RAM (for a write, one the guest allows and
 * only a view refuses will do: an emulated driver write): far cheaper than walking the guest's tables (the
 * hypervisor reads the guest's stack at every call into and out of a driver), and what a TLB may use. A leaf to
 * the sink page or a device is left to the walk. */
static inline bool shadow_translate(uint64_t linear, unsigned access, uint64_t *gpa)
{
    if (linear < KERNEL_HALF_START || (access & PT_ACCESS_USER))
        return false;
    uint64_t leaf = shadow_leaf(active_view, linear);
    if (!leaf_grants(leaf, access) && active_view != &views[0])
        leaf = shadow_leaf(&views[0], linear);
    if (!leaf_grants(leaf, access))
        return false;
    uint64_t page = leaf & SHADOW_ADDR_MASK;
    if (!guest_ram_contains(page, PAGE_SIZE))
        return false;
    *gpa = page | (linear & (PAGE_SIZE - 1));
    return true;
}

static void copy_ram(uint64_t gpa, void *buf, uint32_t len, bool to_guest)
{
    if (to_guest)
        memcpy((void *)(uintptr_t)gpa, buf, len);
    else
        memcpy(buf, (const void *)(uintptr_t)gpa, len);
}

/* Copies between the guest range and `buf` page by page after translating all of it first, so that a fault
 * half-way leaves nothing done. Memory that is neither guest RAM nor the hypervisor's is a device: it takes
 * single accesses of 1, 2, 4 or 8 bytes within one page. Out of line: its frame would otherwise be every copy's. */
static __attribute__((noinline)) int copy_pages(struct vcpu *v, uint64_t linear, void *buf, uint32_t size,
                                                unsigned access, bool to_guest, uint32_t *error_code)
{
    enum { MAX_PAGES = 3 };
    uint64_t gpa[MAX_PAGES];
    uint32_t len[MAX_PAGES];
    unsigned n = 0;
    struct pt_walk_ctx ctx;
    bool have_ctx = false;
    for (uint32_t done = 0; done < size; n++) {
        uint64_t la = linear + done;
        uint32_t chunk = (uint32_t)MIN((uint64_t)size - done, PAGE_SIZE - (la & (PAGE_SIZE - 1)));
        if (n == MAX_PAGES)
            return -HV_ERANGE;
        len[n] = chunk;
        done += chunk;
        if (shadow_translate(la, access, &gpa[n]))
            continue;
        if (!have_ctx) {
            guest_paging_walk_ctx(v, &ctx);
            have_ctx = true;
        }
        struct pt_walk_result walk;
        int ret = pt_walk(&ctx, la, access, &walk);
        if (ret == PT_WALK_FAULT) {
            *error_code = walk.error_code;
            return 1;
        }
        if (ret < 0)
            return ret;
        if (!guest_ram_contains(walk.gpa, chunk)) {
            if (pmem_overlaps_hv(walk.gpa, walk.gpa + chunk) || chunk != size)
                return -HV_EFAULT;
            return mmio_access(walk.gpa, buf, size, to_guest) ? HV_OK : -HV_EFAULT;
        }
        gpa[n] = walk.gpa;
    }
    uint8_t *p = buf;
    for (unsigned i = 0; i < n; p += len[i], i++)
        copy_ram(gpa[i], p, len[i], to_guest);
    return HV_OK;
}

static inline int guest_linear_copy(struct vcpu *v, uint64_t linear, void *buf, uint32_t size, unsigned access,
                                    bool to_guest, uint32_t *error_code)
{
    uint64_t direct;
    /* Most copies (a stack word, an instruction, an emulated store) stay in one page a view translates. */
    if ((linear & (PAGE_SIZE - 1)) + size <= PAGE_SIZE && shadow_translate(linear, access, &direct)) {
        copy_ram(direct, buf, size, to_guest);
        return HV_OK;
    }
    return copy_pages(v, linear, buf, size, access, to_guest, error_code);
}

int guest_linear_read(struct vcpu *v, uint64_t linear, void *buf, uint32_t size, unsigned access,
                      uint32_t *error_code)
{
    return guest_linear_copy(v, linear, buf, size, access, false, error_code);
}

int guest_linear_write(struct vcpu *v, uint64_t linear, const void *buf, uint32_t size, uint32_t *error_code)
{
    return guest_linear_copy(v, linear, (void *)buf, size, PT_ACCESS_WRITE, true, error_code);
}

void guest_paging_log_summary(void)
{
    const struct shadow_stats *s = &views[0].stats;
    LOG_INFO("mmu.summary",
             "fills=%lu guest_faults=%lu flushes=%lu cr3_flushes=%lu invalidations=%lu forbidden=%lu "
             "out_of_memory=%lu shadow_pages=%lu",
             s->fills, s->guest_faults, s->flushes, s->nonglobal_flushes, s->invalidations,
             s->forbidden, s->out_of_memory, s->pages_in_use);
}
