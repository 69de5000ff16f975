/*
 * GDT with a 64-bit TSS (VM entry requires a non-null host TR), and an IDT whose every exception vector logs a
 * register dump and shuts the machine down: the hypervisor never dies in a silent triple fault.
 */
#include "boot/cpu.h"

#include "hv/hv.h"
#include "hv/lib.h"
#include "hv/log.h"
#include "hv/x86.h"

#define IST_STACK_SIZE 8192
#define EXCEPTION_VECTORS 32

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};

struct __attribute__((packed)) idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

static uint64_t gdt[5] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[EXCEPTION_VECTORS] __attribute__((aligned(16)));
static uint8_t ist_stack[IST_STACK_SIZE] __attribute__((aligned(16)));

extern const uint64_t exception_stubs[EXCEPTION_VECTORS]; /* boot/isr.S */

static const char *const exception_names[EXCEPTION_VECTORS] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "res15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "res22", "res23", "res24", "res25", "res26", "res27", "#HV", "#VC",
    "#SX", "res31",
};

void cpu_tables_init(void)
{
    uint64_t tss_base = (uint64_t)&tss;
    uint64_t tss_limit = sizeof(tss) - 1;

    gdt[0] = 0;
    gdt[HV_CS_SELECTOR / 8] = 0x00af9a000000ffffull;
    gdt[HV_DS_SELECTOR / 8] = 0x00cf92000000ffffull;
    /* 64-bit available TSS: a 16-byte descriptor */
    gdt[HV_TR_SELECTOR / 8] = (tss_limit & 0xffff) | ((tss_base & 0xffffff) << 16) | (0x89ull << 40) |
                              (((tss_limit >> 16) & 0xf) << 48) | (((tss_base >> 24) & 0xff) << 56);
    gdt[HV_TR_SELECTOR / 8 + 1] = tss_base >> 32;

    memset(&tss, 0, sizeof(tss));
    tss.ist[0] = (uint64_t)(ist_stack + IST_STACK_SIZE);
    tss.iomap_base = sizeof(tss);

    struct descriptor_table_ptr gdtr = {sizeof(gdt) - 1, (uint64_t)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "pushq %1\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movw %w2, %%ds\n\t"
                     "movw %w2, %%es\n\t"
                     "movw %w2, %%ss\n\t"
                     "ltr %w3"
                     :
                     : "m"(gdtr), "i"(HV_CS_SELECTOR), "r"(HV_DS_SELECTOR), "r"(HV_TR_SELECTOR)
                     : "rax", "memory");

    for (unsigned v = 0; v < EXCEPTION_VECTORS; v++) {
        uint64_t handler = exception_stubs[v];
        bool needs_own_stack = v == X86_EXC_DF || v == X86_EXC_NMI || v == X86_EXC_MC;
        idt[v] = (struct idt_gate){
            .offset_low = handler & 0xffff,
            .selector = HV_CS_SELECTOR,
            .ist = needs_own_stack ? 1 : 0,
            .type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
            .offset_mid = (handler >> 16) & 0xffff,
            .offset_high = handler >> 32,
        };
    }
    struct descriptor_table_ptr idtr = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

uint64_t cpu_tss_base(void) { return (uint64_t)&tss; }

/* Instructions allowed to fault, each with the address to resume at (see hv/x86_safe.h). */
struct extable_entry {
    uint64_t insn, fixup;
};
extern const struct extable_entry __start_hv_extable[], __stop_hv_extable[];

void exception_dispatch(struct exception_frame *f)
{
    for (const struct extable_entry *e = __start_hv_extable; e < __stop_hv_extable; e++) {
        if (e->insn == f->rip) {
            f->rip = e->fixup;
            return;
        }
    }
    LOG_FATAL("hv.exception",
              "vector=%lu name=%s error=0x%lx rip=0x%lx cs=0x%lx rflags=0x%lx rsp=0x%lx cr2=0x%lx cr3=0x%lx",
              f->vector, f->vector < EXCEPTION_VECTORS ? exception_names[f->vector] : "?", f->error_code, f->rip,
              f->cs, f->rflags, f->rsp, read_cr2(), read_cr3());
    LOG_FATAL("hv.exception.regs",
              "rax=0x%lx rbx=0x%lx rcx=0x%lx rdx=0x%lx rsi=0x%lx rdi=0x%lx rbp=0x%lx r8=0x%lx r9=0x%lx r10=0x%lx "
              "r11=0x%lx r12=0x%lx r13=0x%lx r14=0x%lx r15=0x%lx",
              f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp, f->r8, f->r9, f->r10, f->r11, f->r12, f->r13,
              f->r14, f->r15);
    hv_shutdown("hypervisor exception");
}
