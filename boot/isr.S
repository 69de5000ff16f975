/* Exception entry: a uniform frame (vector, error code, GPRs), then exception_dispatch. */
#include "boot/exception_stubs.inc"

    .text

EXCEPTION_STUBS exception_common

exception_common:
    pushq %r15
    pushq %r14
    pushq %r13
    pushq %r12
    pushq %r11
    pushq %r10
    pushq %r9
    pushq %r8
    pushq %rdi
    pushq %rsi
    pushq %rbp
    pushq %rbx
    pushq %rdx
    pushq %rcx
    pushq %rax
    movq %rsp, %rbx
    movq %rsp, %rdi
    andq $-16, %rsp
    call exception_dispatch
    /* Returned: the fault was expected (exception table) and the frame's RIP now points at its fixup. */
    movq %rbx, %rsp
    popq %rax
    popq %rcx
    popq %rdx
    popq %rbx
    popq %rbp
    popq %rsi
    popq %rdi
    popq %r8
    popq %r9
    popq %r10
    popq %r11
    popq %r12
    popq %r13
    popq %r14
    popq %r15
    addq $16, %rsp      /* vector, error code */
    iretq

    .section .rodata
    EXCEPTION_STUB_TABLE exception_stubs
