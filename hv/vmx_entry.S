/*
 * VM exit entry and guest (re)entry. On every exit the CPU loads RSP = vmx_exit_stack_top; the guest's GPRs are
 * pushed below it as a struct guest_regs (indexed by register number, RSP's slot unused), so C finds them at
 * vmx_exit_stack_top - sizeof(struct guest_regs) and the first launch pops its initial registers from there.
 */
#define EXIT_STACK_SIZE 32768

#include "boot/gpr_frame.inc"

    .text
    .global vmx_exit_entry
vmx_exit_entry:
    PUSH_GPR_FRAME
    movq %rsp, %rdi
    call vmexit_dispatch
    POP_GPR_FRAME
    vmresume
    /* VMRESUME fell through: VMfail. */
    movq $vmx_exit_stack_top, %rsp
    movl $0, %edi
    call vmx_entry_failed

    .global vmx_launch_from_stack
vmx_launch_from_stack:
    movq $vmx_guest_regs, %rsp
    POP_GPR_FRAME
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
