/* Privileged instructions whose operands come from the guest and may fault: the exception handler resumes at the
 * fixup through the hv_extable section instead of stopping the hypervisor. */
#ifndef HV_X86_SAFE_H
#define HV_X86_SAFE_H

#include <stdbool.h>
#include <stdint.h>

#define EXTABLE_ENTRY(insn_label, fixup_label)                                                                         \
    ".pushsection hv_extable, \"a\"\n\t.balign 8\n\t.quad " insn_label ", " fixup_label "\n\t.popsection\n\t"

/* Returns false when the MSR access raised an exception. */
static inline bool rdmsr_safe(uint32_t msr, uint64_t *value)
{
    uint32_t lo = 0, hi = 0;
    uint64_t faulted = 0;
    __asm__ volatile("1: rdmsr\n\t"
                     "jmp 3f\n"
                     "2: movl $1, %k2\n"
                     "3:\n\t" EXTABLE_ENTRY("1b", "2b")
                     : "=a"(lo), "=d"(hi), "+r"(faulted)
                     : "c"(msr));
    *value = ((uint64_t)hi << 32) | lo;
    return !faulted;
}

static inline bool wrmsr_safe(uint32_t msr, uint64_t value)
{
    uint64_t faulted = 0;
    __asm__ volatile("1: wrmsr\n\t"
                     "jmp 3f\n"
                     "2: movl $1, %k0\n"
                     "3:\n\t" EXTABLE_ENTRY("1b", "2b")
                     : "+r"(faulted)
                     : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
    return !faulted;
}

/* XCR0 from the guest: XSETBV faults on values the CPU rejects. */
static inline bool xsetbv_safe(uint32_t xcr, uint64_t value)
{
    uint64_t faulted = 0;
    __asm__ volatile("1: xsetbv\n\t"
                     "jmp 3f\n"
                     "2: movl $1, %k0\n"
                     "3:\n\t" EXTABLE_ENTRY("1b", "2b")
                     : "+r"(faulted)
                     : "c"(xcr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                     : "memory");
    return !faulted;
}

#endif
