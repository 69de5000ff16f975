/*
 * Test-guest entry and its "guarded call" mechanism: run_guarded() runs a function in ring 0 or ring 3 and returns
 * -1 if it returned normally, or the vector of the first exception it raised (recorded in guard_fault_*).
 */
#include "boot/exception_stubs.inc"

#define KERNEL_CS 0x08
#define USER_DS (0x18 | 3)
#define USER_CS (0x20 | 3)

    .section .text.start, "ax"
    .global _start
_start:
    /* zero .bss (the stacks live there too, so no stack until it is done); keep the command line in r15 */
    movq %rdi, %r15
    movq $_bss_start, %rdi
    movq $_bss_end, %rcx
    subq %rdi, %rcx
    xorl %eax, %eax
    rep stosb
    movq %r15, %rdi
    movq $stack_top, %rsp
    call testguest_main
1:  hlt
    jmp 1b

    .text
/* long run_guarded(void (*fn)(void), int user, uint64_t user_stack) */
    .global run_guarded
run_guarded:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, guard_rsp(%rip)
    testl %esi, %esi
    jnz 2f
    call *%rdi
    movq $-1, %rax
    jmp guard_return
2:  pushq $USER_DS
    pushq %rdx
    pushq $0x2              /* RFLAGS: interrupts off */
    pushq $USER_CS
    pushq %rdi
    iretq

guard_return:
    movq $0, guard_rsp(%rip)
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret

EXCEPTION_STUBS exception_common

exception_common:
    movq 0(%rsp), %rax
    movq %rax, guard_fault_vector(%rip)
    movq 8(%rsp), %rax
    movq %rax, guard_fault_error(%rip)
    movq 16(%rsp), %rax
    movq %rax, guard_fault_rip(%rip)
    movq 24(%rsp), %rax
    movq %rax, guard_fault_cs(%rip)
    movq guard_rsp(%rip), %rax
    testq %rax, %rax
    jz 3f
    movq %rax, %rsp
    movq guard_fault_vector(%rip), %rax
    jmp guard_return
3:  movq $stack_top, %rsp
    call unexpected_exception
4:  hlt
    jmp 4b

    .section .rodata
    EXCEPTION_STUB_TABLE exception_stub_table

    .bss
    .balign 16
    .global guard_fault_vector, guard_fault_error, guard_fault_rip, guard_fault_cs
guard_rsp: .quad 0
guard_fault_vector: .quad 0
guard_fault_error: .quad 0
guard_fault_rip: .quad 0
guard_fault_cs: .quad 0
    .balign 16
    .global stack_top, kernel_stack_top
    .skip 16384
stack_top:
    .skip 8192
kernel_stack_top:
