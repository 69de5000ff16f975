/* Exception entry: a uniform frame (vector, error code, GPRs), then exception_dispatch. */
#include "boot/exception_stubs.inc"
#include "boot/gpr_frame.inc"

    .text

EXCEPTION_STUBS exception_common

exception_common:
    PUSH_GPR_FRAME
    movq %rsp, %rbx
    movq %rsp, %rdi
    andq $-16, %rsp
    call exception_dispatch
    /* Returned: the fault was expected (exception table) and the frame's RIP now points at its fixup. */
    movq %rbx, %rsp
    POP_GPR_FRAME
    addq $16, %rsp      /* vector, error code */
    iretq

    .section .rodata
    EXCEPTION_STUB_TABLE exception_stubs
