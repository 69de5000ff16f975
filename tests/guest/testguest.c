/*
 * The foundation test guest. Runs in 64-bit mode under the hypervisor and exercises one exit path per step,
 * reporting each result on COM1 as "TG: <step> ..." lines that tests/integration assert on, next to the
 * hypervisor's own log on COM2. The last step executes INVD, which the hypervisor does not handle: it must log the
 * exit and shut the machine down cleanly.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hypercall_abi.h"

#define COM1 0x3f8
#define HV_LOG_UART 0x2f8
#define BENCH_DEFAULT_ITERATIONS 2000
#define BENCH_MAX_ITERATIONS 20000

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define TSS_SEL 0x28

extern long run_guarded(void (*fn)(void), int user, uint64_t user_stack);
extern uint64_t guard_fault_vector, guard_fault_error, guard_fault_rip, guard_fault_cs;
extern const uint64_t exception_stub_table[32];
extern uint8_t kernel_stack_top[];
extern void user_vmcall(void);
extern const uint8_t user_vmcall_insn[];

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* ---- console ---- */
static void putc(char c)
{
    for (unsigned i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
        ;
    outb(COM1, (uint8_t)c);
}
static void puts(const char *s)
{
    while (*s)
        putc(*s++);
}
static void put_hex(uint64_t v)
{
    puts("0x");
    bool started = false;
    for (int shift = 60; shift >= 0; shift -= 4) {
        unsigned d = (v >> shift) & 0xf;
        if (d || started || shift == 0) {
            putc("0123456789abcdef"[d]);
            started = true;
        }
    }
}
static void put_dec(int64_t v)
{
    char buf[24];
    int n = 0;
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        putc('-');
    do {
        buf[n++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    while (n--)
        putc(buf[n]);
}

/* ---- descriptor tables and user-accessible identity paging ---- */
struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1, ist[7], reserved2;
    uint16_t reserved3, iomap_base;
};
struct __attribute__((packed)) gate {
    uint16_t off0, sel;
    uint8_t ist, attr;
    uint16_t off1;
    uint32_t off2, zero;
};
struct __attribute__((packed)) table_ptr {
    uint16_t limit;
    uint64_t base;
};

static uint64_t gdt[7] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct gate idt[32] __attribute__((aligned(16)));
static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));
static uint8_t user_stack[4096] __attribute__((aligned(16)));

static void setup_cpu(void)
{
    uint64_t tss_base = (uint64_t)&tss;
    gdt[1] = 0x00af9b000000ffffull; /* 0x08 kernel code */
    gdt[2] = 0x00cf93000000ffffull; /* 0x10 kernel data */
    gdt[3] = 0x00cff3000000ffffull; /* 0x18 user data */
    gdt[4] = 0x00affb000000ffffull; /* 0x20 user code, 64-bit */
    gdt[5] = (sizeof(tss) - 1) | ((tss_base & 0xffffff) << 16) | (0x89ull << 40) | (((tss_base >> 24) & 0xff) << 56);
    gdt[6] = tss_base >> 32;
    tss.rsp[0] = (uint64_t)kernel_stack_top;
    tss.iomap_base = sizeof(tss);
    for (unsigned v = 0; v < 32; v++) {
        uint64_t h = exception_stub_table[v];
        idt[v] = (struct gate){(uint16_t)h, KERNEL_CS, 0, 0x8e, (uint16_t)(h >> 16), (uint32_t)(h >> 32), 0};
    }
    /* 0-4 GiB identity, user-accessible, so ring-3 code can run from this image */
    pml4[0] = (uint64_t)pdpt | 7;
    for (unsigned i = 0; i < 4; i++) {
        pdpt[i] = (uint64_t)pd[i] | 7;
        for (unsigned j = 0; j < 512; j++)
            pd[i][j] = (((uint64_t)i << 30) | ((uint64_t)j << 21)) | 0x87;
    }
    struct table_ptr gdtr = {sizeof(gdt) - 1, (uint64_t)gdt}, idtr = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lgdt %0\n\t"
                     "lidt %1\n\t"
                     "mov %2, %%cr3\n\t"
                     "pushq $0x08\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1: movw $0x10, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%ss\n\t"
                     "movw $0x28, %%ax\n\t"
                     "ltr %%ax"
                     :
                     : "m"(gdtr), "m"(idtr), "r"((uint64_t)pml4)
                     : "rax", "memory");
}

/* ---- hypercalls ---- */
struct hc_result {
    long status;
    uint64_t out0;
};
static struct hc_result hypercall(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    uint64_t rax = nr, rbx = a0, rcx = a1;
    __asm__ volatile("vmcall" : "+a"(rax), "+b"(rbx), "+c"(rcx) : "d"(a2), "S"(a3) : "memory");
    return (struct hc_result){(long)rax, rbx};
}

/* ring-3 code: VMCALL must raise #UD at the VMCALL itself (the ud2 after it would be a different RIP) */
__asm__(".text\n"
        ".global user_vmcall, user_vmcall_insn\n"
        "user_vmcall:\n"
        "  xorl %eax, %eax\n"
        "user_vmcall_insn:\n"
        "  vmcall\n"
        "  ud2\n");

static void set_cr4_vmxe(void)
{
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= 1ull << 13;
    __asm__ volatile("mov %0, %%cr4" ::"r"(cr4));
}

static void read_vmx_basic_msr(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x480));
}

/* XCR0 without x87 state is invalid: the hypervisor's own XSETBV faults and its exception table turns that into the
 * guest's #GP. */
static void xsetbv_invalid(void)
{
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" ::"r"(cr4 | (1ull << 18))); /* CR4.OSXSAVE */
    __asm__ volatile("xsetbv" ::"a"(0), "d"(0), "c"(0));
}

static void execute_vmxon(void)
{
    uint64_t pa = 0;
    __asm__ volatile("vmxon %0" ::"m"(pa));
}

/* ---- steps ---- */
static void step_cpuid(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x40000000), "c"(0));
    char sig[13];
    for (int i = 0; i < 4; i++) {
        sig[i] = (char)(b >> (8 * i));
        sig[4 + i] = (char)(c >> (8 * i));
        sig[8 + i] = (char)(d >> (8 * i));
    }
    sig[12] = 0;
    puts("TG: cpuid hv_leaf_max=");
    put_hex(a);
    puts(" signature=");
    puts(sig);
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    puts(" vmx=");
    put_dec((c >> 5) & 1);
    puts(" hypervisor_bit=");
    put_dec((c >> 31) & 1);
    puts("\n");
}

static void step_hypercalls(void)
{
    struct hc_result r = hypercall(CHARIOT_HC_VERSION, 0, 0, 0, 0);
    puts("TG: vmcall version status=");
    put_dec(r.status);
    puts(" abi=");
    put_dec((int64_t)r.out0);
    puts("\n");
    r = hypercall(0xdead, 1, 2, 3, 4);
    puts("TG: vmcall unknown status=");
    put_dec(r.status);
    puts("\n");
}

static void step_ring3_vmcall(void)
{
    long vector = run_guarded(user_vmcall, 1, (uint64_t)(user_stack + sizeof(user_stack)));
    puts("TG: ring3 vmcall vector=");
    put_dec(vector);
    puts(vector == 6 && guard_fault_rip == (uint64_t)user_vmcall_insn && (guard_fault_cs & 3) == 3 ? " at_vmcall=1"
                                                                                                  : " at_vmcall=0");
    puts(" rip=");
    put_hex(guard_fault_rip);
    puts("\n");
}

static void step_forbidden(const char *name, void (*fn)(void))
{
    long vector = run_guarded(fn, 0, 0);
    puts("TG: forbidden ");
    puts(name);
    puts(" vector=");
    put_dec(vector);
    puts("\n");
}

static void step_io(void)
{
    outb(HV_LOG_UART, 'X');
    uint8_t lsr = inb(HV_LOG_UART + 5);
    puts("TG: io hv_uart_write=done hv_uart_lsr=");
    put_hex(lsr);
    puts("\n");
}

/* The value of `key=` in the command line (up to the next space), or NULL. */
static const char *cmdline_value(const char *cmdline, const char *key)
{
    for (const char *p = cmdline; *p; p++) {
        if (p != cmdline && p[-1] != ' ')
            continue;
        const char *k = key, *q = p;
        while (*k && *q == *k)
            k++, q++;
        if (!*k && *q == '=')
            return q + 1;
    }
    return NULL;
}

static uint64_t parse_bench_iterations(const char *cmdline)
{
    const char *v = cmdline_value(cmdline, "bench");
    if (!v)
        return BENCH_DEFAULT_ITERATIONS;
    uint64_t n = 0;
    for (; *v >= '0' && *v <= '9'; v++)
        n = n * 10 + (uint64_t)(*v - '0');
    return n > BENCH_MAX_ITERATIONS ? BENCH_MAX_ITERATIONS : n;
}

static bool cmdline_is(const char *cmdline, const char *key, const char *expected)
{
    const char *v = cmdline_value(cmdline, key);
    if (!v)
        return false;
    while (*expected && *v == *expected)
        v++, expected++;
    return !*expected && (*v == ' ' || *v == '\0');
}

static uint64_t samples[BENCH_MAX_ITERATIONS];

static void sort_samples(uint64_t *a, uint64_t n)
{
    for (uint64_t gap = n / 2; gap; gap /= 2)
        for (uint64_t i = gap; i < n; i++)
            for (uint64_t j = i; j >= gap && a[j - gap] > a[j]; j -= gap) {
                uint64_t t = a[j];
                a[j] = a[j - gap];
                a[j - gap] = t;
            }
}

/* Guest-side cost of one VMCALL round trip (exit, dispatch, resume), in TSC cycles; with Bochs the TSC counts
 * emulated instructions, so the figure does not depend on the host's load. */
static void step_bench(uint64_t n)
{
    if (!n)
        return;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t t0 = rdtsc();
        hypercall(CHARIOT_HC_NOP, 0, 0, 0, 0);
        samples[i] = rdtsc() - t0;
    }
    uint64_t empty = UINT64_MAX; /* the cost of the two RDTSCs, subtracted */
    for (unsigned i = 0; i < 64; i++) {
        uint64_t t0 = rdtsc();
        uint64_t d = rdtsc() - t0;
        empty = d < empty ? d : empty;
    }
    sort_samples(samples, n);
    puts("TG: bench vmcall_roundtrip_cycles median=");
    put_dec((int64_t)(samples[n / 2] - empty));
    puts(" min=");
    put_dec((int64_t)(samples[0] - empty));
    puts(" p90=");
    put_dec((int64_t)(samples[n * 9 / 10] - empty));
    puts(" n=");
    put_dec((int64_t)n);
    puts("\n");
}

/* ---- hypercall fuzzing: random numbers and hostile arguments; the hypervisor must answer every one ---- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Arguments biased to the edges validation must get right: 0, all ones, non-canonical, kernel-half, tiny
 * lengths, lengths that wrap, and plain noise. */
static uint64_t hostile_value(void)
{
    static const uint64_t edges[] = {
        0, 1, ~0ull, 0x7fffffffffffull, 0x800000000000ull, 0xffff800000000000ull, 0xffffffff81000000ull,
        0xfffffffffffff000ull, 0x1000, 0x10000, 0x100000, 4096, 0x8000000000000000ull,
    };
    uint64_t r = rng();
    switch (r % 4) {
    case 0: return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))];
    case 1: return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))] + ((r >> 32) & 0xff) - 0x80;
    case 2: return r >> ((r >> 40) & 63);
    default: return rng();
    }
}

static void step_fuzz(uint64_t n)
{
    uint64_t ok = 0, errors = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t r = rng();
        /* mostly real or near-real numbers */
        uint64_t nr = r % 8 == 0 ? hostile_value() : r % (CHARIOT_HC_COUNT + 2);
        struct hc_result res = hypercall(nr, hostile_value(), hostile_value(), hostile_value(), hostile_value());
        if (res.status == 0)
            ok++;
        else if (res.status < 0 && res.status > -64)
            errors++;
        else {
            puts("TG: FAIL fuzz status out of range nr=");
            put_hex(nr);
            puts("\n");
            return;
        }
    }
    puts("TG: fuzz calls=");
    put_dec((int64_t)n);
    puts(" ok=");
    put_dec((int64_t)ok);
    puts(" errors=");
    put_dec((int64_t)errors);
    puts("\n");
}

void unexpected_exception(void)
{
    puts("TG: FAIL unexpected exception vector=");
    put_dec((int64_t)guard_fault_vector);
    puts(" rip=");
    put_hex(guard_fault_rip);
    puts(" error=");
    put_hex(guard_fault_error);
    puts("\n");
    for (const char *s = "Shutdown"; *s; s++)
        outb(0x8900, (uint8_t)*s);
}

void testguest_main(const char *cmdline)
{
    outb(COM1 + 3, 0x80); /* 115200 8N1 */
    outb(COM1 + 0, 1);
    outb(COM1 + 1, 0);
    outb(COM1 + 3, 0x03);
    puts("TG: start cmdline=\"");
    puts(cmdline);
    puts("\"\n");
    setup_cpu();
    step_cpuid();
    step_hypercalls();
    step_ring3_vmcall();
    step_forbidden("cr4_vmxe", set_cr4_vmxe);
    step_forbidden("rdmsr_vmx_basic", read_vmx_basic_msr);
    step_forbidden("vmxon", execute_vmxon);
    step_forbidden("xsetbv_invalid", xsetbv_invalid);
    step_io();
    step_bench(parse_bench_iterations(cmdline));
    const char *fuzz = cmdline_value(cmdline, "fuzz");
    if (fuzz) {
        uint64_t n = 0;
        for (; *fuzz >= '0' && *fuzz <= '9'; fuzz++)
            n = n * 10 + (uint64_t)(*fuzz - '0');
        step_fuzz(n);
    }
    if (cmdline_is(cmdline, "end", "poweroff")) {
        puts("TG: done, powering off\n");
        __asm__ volatile("outw %0, %1" ::"a"((uint16_t)0x2000), "Nd"((uint16_t)0xb004)); /* ACPI S5 (Bochs PIIX4) */
    }
    puts("TG: invd (unhandled exit next)\n");
    __asm__ volatile("invd");
    puts("TG: FAIL invd returned\n");
    for (const char *s = "Shutdown"; *s; s++)
        outb(0x8900, (uint8_t)*s);
}
