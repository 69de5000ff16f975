/* The hypervisor's own descriptor tables and exception handling. */
#ifndef BOOT_CPU_H
#define BOOT_CPU_H

#include <stdint.h>

#define HV_CS_SELECTOR 0x08
#define HV_DS_SELECTOR 0x10
#define HV_TR_SELECTOR 0x18

/* Saved by boot/isr.S (boot/gpr_frame.inc, then the stub's vector and error code, then the CPU's frame). */
struct exception_frame {
    uint64_t rax, rcx, rdx, rbx, rsp_slot, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

void cpu_tables_init(void);
uint64_t cpu_tss_base(void);
void exception_dispatch(struct exception_frame *frame);

#endif
