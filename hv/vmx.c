#include "hv/vmx.h"

#include "boot/cpu.h"
#include "hv/hv.h"
#include "hv/lib.h"
#include "hv/log.h"
#include "hv/pmem.h"
#include "hv/vmcs.h"
#include "hv/x86.h"

#define MSR_BITMAP_READ_LOW 0
#define MSR_BITMAP_READ_HIGH 1024
#define MSR_BITMAP_WRITE_LOW 2048
#define MSR_BITMAP_WRITE_HIGH 3072
#define MSR_HIGH_RANGE_BASE 0xc0000000u
#define CPUID_1_ECX_XSAVE (1u << 26)
#define MSR_RANGE_SIZE 0x2000u

/* Guest-visible CR bits the hypervisor owns: reads see the shadow, writes exit. */
#define CR0_OWNED_BITS (CR0_PE | CR0_NE | CR0_PG | CR0_WP | CR0_CD | CR0_NW)
#define CR4_OWNED_BITS                                                                                                 \
    (CR4_VMXE | CR4_SMXE | CR4_PAE | CR4_PSE | CR4_PGE | CR4_PCIDE | CR4_LA57 | CR4_SMEP | CR4_SMAP | CR4_PKE)

extern uint8_t vmx_exit_stack_top[]; /* hv/vmx_entry.S */
extern struct guest_regs vmx_guest_regs;
extern void vmx_exit_entry(void);
extern void vmx_launch_from_stack(void) __attribute__((noreturn));

static uint8_t *io_bitmap_a, *io_bitmap_b, *msr_bitmap;

static const struct vmx_control_request pin_request = {"pin", 0, 0};
/* Shadow paging needs every CR3 access and INVLPG to exit. */
static const struct vmx_control_request proc_request = {
    "proc",
    PROC_USE_IO_BITMAPS | PROC_USE_MSR_BITMAPS | PROC_CR3_LOAD_EXITING | PROC_CR3_STORE_EXITING | PROC_INVLPG_EXITING,
    PROC_ACTIVATE_SECONDARY};
static const struct vmx_control_request proc2_request = {"proc2", 0, PROC2_ENABLE_RDTSCP | PROC2_ENABLE_XSAVES};
static const struct vmx_control_request exit_request = {
    "exit", EXIT_HOST_ADDRESS_SPACE_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER, EXIT_SAVE_PAT | EXIT_LOAD_PAT};
static const struct vmx_control_request entry_request = {
    "entry", ENTRY_IA32E_MODE_GUEST | ENTRY_LOAD_EFER, ENTRY_LOAD_PAT};

static bool compute_control(const struct vmx_control_caps *caps, const struct vmx_control_request *req,
                            uint32_t *value)
{
    struct vmx_control_result r = vmx_compute_control(caps, req);
    *value = r.value;
    if (r.missing) {
        LOG_FATAL("vmx.unsupported", "reason=\"required VMX controls not allowed\" field=%s missing=0x%08x",
                  req->name, r.missing);
        return false;
    }
    return true;
}

void vmwrite_failed(enum vmcs_field field, uint64_t value)
{
    LOG_FATAL("vmx.vmwrite_failed", "field=0x%x value=0x%lx insn_error=%lu", field, value,
              vmread(VMCS_INSTRUCTION_ERROR));
    hv_shutdown("VMWRITE failed");
}

/* VMXON, VMCLEAR and VMPTRLD take a physical address in memory; each reports VMfail through CF or ZF. */
#define DEFINE_VMX_PA_INSN(insn)                                                                                       \
    static bool insn##_failed(uint64_t pa)                                                                             \
    {                                                                                                                  \
        bool failed;                                                                                                   \
        __asm__ volatile(#insn " %1" : "=@ccbe"(failed) : "m"(pa) : "memory");                                         \
        if (failed)                                                                                                    \
            LOG_FATAL("vmx.insn_failed", "insn=" #insn " pa=0x%lx", pa);                                               \
        return failed;                                                                                                 \
    }
DEFINE_VMX_PA_INSN(vmxon)
DEFINE_VMX_PA_INSN(vmclear)
DEFINE_VMX_PA_INSN(vmptrld)

void vmx_intercept_io(uint16_t port, unsigned count)
{
    for (unsigned p = port; p < (unsigned)port + count && p <= 0xffff; p++) {
        uint8_t *bitmap = p < 0x8000 ? io_bitmap_a : io_bitmap_b;
        unsigned bit = p & 0x7fff;
        bitmap[bit / 8] |= (uint8_t)(1u << (bit % 8));
    }
}

bool vmx_io_intercepted(uint16_t port, unsigned count)
{
    for (unsigned p = port; p < (unsigned)port + count && p <= 0xffff; p++) {
        const uint8_t *bitmap = p < 0x8000 ? io_bitmap_a : io_bitmap_b;
        unsigned bit = p & 0x7fff;
        if (bitmap[bit / 8] & (1u << (bit % 8)))
            return true;
    }
    return false;
}

void vmx_intercept_msr(uint32_t msr, bool reads, bool writes)
{
    unsigned read_off, write_off, index;
    if (msr < MSR_RANGE_SIZE) {
        read_off = MSR_BITMAP_READ_LOW, write_off = MSR_BITMAP_WRITE_LOW, index = msr;
    } else if (msr - MSR_HIGH_RANGE_BASE < MSR_RANGE_SIZE) {
        read_off = MSR_BITMAP_READ_HIGH, write_off = MSR_BITMAP_WRITE_HIGH, index = msr - MSR_HIGH_RANGE_BASE;
    } else {
        return; /* MSRs outside both ranges always exit */
    }
    if (reads)
        msr_bitmap[read_off + index / 8] |= (uint8_t)(1u << (index % 8));
    if (writes)
        msr_bitmap[write_off + index / 8] |= (uint8_t)(1u << (index % 8));
}

/* WP stays set whatever the guest chooses: the shadow MMU emulates WP=0 and relies on read-only leaves trapping
 * supervisor writes (dirty-bit tracking, write protection of the guest kernel). */
uint64_t vmx_cr0_real(const struct vcpu *v, uint64_t guest_value)
{
    return (guest_value | v->caps.cr0_fixed0 | CR0_WP) & v->caps.cr0_fixed1;
}

uint64_t vmx_cr4_real(const struct vcpu *v, uint64_t guest_value)
{
    return (guest_value | v->caps.cr4_fixed0) & v->caps.cr4_fixed1;
}

static void write_host_state(void)
{
    struct descriptor_table_ptr gdtr, idtr;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
    vmwrite(VMCS_HOST_CR0, read_cr0());
    vmwrite(VMCS_HOST_CR3, read_cr3());
    vmwrite(VMCS_HOST_CR4, read_cr4());
    vmwrite(VMCS_HOST_CS_SEL, HV_CS_SELECTOR);
    vmwrite(VMCS_HOST_SS_SEL, HV_DS_SELECTOR);
    vmwrite(VMCS_HOST_DS_SEL, HV_DS_SELECTOR);
    vmwrite(VMCS_HOST_ES_SEL, HV_DS_SELECTOR);
    vmwrite(VMCS_HOST_FS_SEL, 0);
    vmwrite(VMCS_HOST_GS_SEL, 0);
    vmwrite(VMCS_HOST_TR_SEL, HV_TR_SELECTOR);
    vmwrite(VMCS_HOST_FS_BASE, 0);
    vmwrite(VMCS_HOST_GS_BASE, 0);
    vmwrite(VMCS_HOST_TR_BASE, cpu_tss_base());
    vmwrite(VMCS_HOST_GDTR_BASE, gdtr.base);
    vmwrite(VMCS_HOST_IDTR_BASE, idtr.base);
    vmwrite(VMCS_HOST_SYSENTER_CS, 0);
    vmwrite(VMCS_HOST_SYSENTER_ESP, 0);
    vmwrite(VMCS_HOST_SYSENTER_EIP, 0);
    vmwrite(VMCS_HOST_IA32_EFER, rdmsr(MSR_EFER));
    vmwrite(VMCS_HOST_IA32_PAT, rdmsr(MSR_IA32_PAT));
    vmwrite(VMCS_HOST_RSP, (uint64_t)vmx_exit_stack_top);
    vmwrite(VMCS_HOST_RIP, (uint64_t)vmx_exit_entry);
}

static void write_controls(struct vcpu *v)
{
    vmwrite(VMCS_PIN_CONTROLS, v->pin_controls);
    vmwrite(VMCS_PROC_CONTROLS, v->proc_controls);
    if (v->proc_controls & PROC_ACTIVATE_SECONDARY)
        vmwrite(VMCS_PROC_CONTROLS2, v->proc2_controls);
    vmwrite(VMCS_EXIT_CONTROLS, v->exit_controls);
    vmwrite(VMCS_ENTRY_CONTROLS, v->entry_controls);
    vmwrite(VMCS_EXCEPTION_BITMAP, 0);
    vmwrite(VMCS_PF_ERROR_MASK, 0);
    vmwrite(VMCS_PF_ERROR_MATCH, 0);
    vmwrite(VMCS_CR3_TARGET_COUNT, 0);
    vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
    vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
    vmwrite(VMCS_IO_BITMAP_A, (uint64_t)io_bitmap_a);
    vmwrite(VMCS_IO_BITMAP_B, (uint64_t)io_bitmap_b);
    vmwrite(VMCS_MSR_BITMAP, (uint64_t)msr_bitmap);
    vmwrite(VMCS_CR0_GUEST_HOST_MASK, CR0_OWNED_BITS);
    vmwrite(VMCS_CR4_GUEST_HOST_MASK, CR4_OWNED_BITS);
    vmwrite(VMCS_LINK_POINTER, ~0ull);
}

bool vmx_init(struct vcpu *v)
{
    if (!vmx_caps_read(&v->caps))
        return false;
    vmx_caps_log(&v->caps);
    if (!compute_control(&v->caps.pin, &pin_request, &v->pin_controls) ||
        !compute_control(&v->caps.proc, &proc_request, &v->proc_controls) ||
        !compute_control(&v->caps.exit, &exit_request, &v->exit_controls) ||
        !compute_control(&v->caps.entry, &entry_request, &v->entry_controls))
        return false;
    v->proc2_controls = 0;
    if ((v->proc_controls & PROC_ACTIVATE_SECONDARY) &&
        !compute_control(&v->caps.proc2, &proc2_request, &v->proc2_controls))
        return false;
    LOG_INFO("vmx.controls", "pin=0x%08x proc=0x%08x proc2=0x%08x exit=0x%08x entry=0x%08x", v->pin_controls,
             v->proc_controls, v->proc2_controls, v->exit_controls, v->entry_controls);

    void *vmxon_region = pmem_alloc_page(), *vmcs_region = pmem_alloc_page();
    io_bitmap_a = pmem_alloc_page();
    io_bitmap_b = pmem_alloc_page();
    msr_bitmap = pmem_alloc_page();
    if (!vmxon_region || !vmcs_region || !io_bitmap_a || !io_bitmap_b || !msr_bitmap) {
        LOG_FATAL("vmx.nomem", "reason=\"no pages for VMX regions\"");
        return false;
    }
    *(uint32_t *)vmxon_region = v->caps.revision_id;
    *(uint32_t *)vmcs_region = v->caps.revision_id;

    write_cr0(vmx_cr0_real(v, read_cr0()));
    uint64_t host_cr4 = read_cr4() | CR4_VMXE;
    if (cpuid(1, 0).ecx & CPUID_1_ECX_XSAVE)
        host_cr4 |= CR4_OSXSAVE; /* to execute XSETBV for the guest */
    write_cr4(vmx_cr4_real(v, host_cr4));
    if (vmxon_failed((uint64_t)vmxon_region) || vmclear_failed((uint64_t)vmcs_region) ||
        vmptrld_failed((uint64_t)vmcs_region))
        return false;
    write_controls(v);
    write_host_state();
    v->regs = &vmx_guest_regs;
    memset(v->regs, 0, sizeof(*v->regs));
    LOG_INFO("vmx.on", "vmxon=%p vmcs=%p", vmxon_region, vmcs_region);
    return true;
}

void vmx_launch(struct vcpu *v)
{
    LOG_INFO("vmx.launch", "rip=0x%lx rsp=0x%lx guest_cr3=0x%lx shadow_root=0x%lx", vmread(VMCS_GUEST_RIP),
             vmread(VMCS_GUEST_RSP), v->guest_cr3, vmread(VMCS_GUEST_CR3));
    vmx_launch_from_stack();
}
