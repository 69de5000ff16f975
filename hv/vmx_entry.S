/*
 * VM exit entry and guest (re)entry. On every exit the CPU loads RSP = vmx_exit_stack_top; the guest's GPRs are
 * pushed below it as a struct guest_regs (indexed by register number, RSP's slot unused), so C finds them at
 * vmx_exit_stack_top - sizeof(struct guest_regs) and the first launch pops its initial registers from there.
 */
#define EXIT_STACK_SIZE 32768

.macro PUSH_GUEST_REGS
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
    pushq $0            /* RSP slot: the guest's RSP is in the VMCS */
    pushq %rbx
    pushq %rdx
    pushq %rcx
    pushq %rax
.endm

.macro POP_GUEST_REGS
    popq %rax
    popq %rcx
    popq %rdx
    popq %rbx
    addq $8, %rsp
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
.endm

    .text
    .global vmx_exit_entry
vmx_exit_entry:
    PUSH_GUEST_REGS
    movq %rsp, %rdi
    call vmexit_dispatch
    POP_GUEST_REGS
    vmresume
    /* VMRESUME fell through: VMfail. */
    movq $vmx_exit_stack_top, %rsp
    movl $0, %edi
    call vmx_entry_failed

    .global vmx_launch_from_stack
vmx_launch_from_stack:
    movq $vmx_guest_regs, %rsp
    POP_GUEST_REGS
    vmlaunch
    movq $vmx_exit_stack_top, %rsp
    movl $1, %edi
    call vmx_entry_failed

    .section .bss
    .balign 4096
vmx_exit_stack:
    .skip EXIT_STACK_SIZE - 16 * 8
    .global vmx_guest_regs
vmx_guest_regs:         /* struct guest_regs, at the top of the stack */
    .skip 16 * 8
    .global vmx_exit_stack_top
vmx_exit_stack_top:
