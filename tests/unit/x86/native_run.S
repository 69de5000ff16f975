/* native_run(struct x86_regs *regs, const void *code) for test_x86_emulate: loads every GPR and RFLAGS from regs,
 * jumps to code, which jumps back to native_return; stores every GPR and RFLAGS into regs. No stack is used in
 * between: the instruction under test may own RSP. Offsets follow struct x86_regs (gpr[16], rip, rflags). */

	.pushsection .data
	.balign 8
native_host_rsp: .quad 0
native_regs:	.quad 0
native_code:	.quad 0
native_rax:	.quad 0
	.popsection

	.text
	.globl native_run
	.hidden native_run
	.type native_run, @function
native_run:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, native_host_rsp(%rip)
	mov %rdi, native_regs(%rip)
	mov %rsi, native_code(%rip)
	pushq 136(%rdi)
	popfq
	mov %rdi, %rax
	mov 8(%rax), %rcx
	mov 16(%rax), %rdx
	mov 24(%rax), %rbx
	mov 32(%rax), %rsp
	mov 40(%rax), %rbp
	mov 48(%rax), %rsi
	mov 56(%rax), %rdi
	mov 64(%rax), %r8
	mov 72(%rax), %r9
	mov 80(%rax), %r10
	mov 88(%rax), %r11
	mov 96(%rax), %r12
	mov 104(%rax), %r13
	mov 112(%rax), %r14
	mov 120(%rax), %r15
	mov 0(%rax), %rax
	jmp *native_code(%rip)

	.globl native_return
	.hidden native_return
native_return:
	mov %rax, native_rax(%rip)
	mov native_regs(%rip), %rax
	mov %rcx, 8(%rax)
	mov %rdx, 16(%rax)
	mov %rbx, 24(%rax)
	mov %rsp, 32(%rax)
	mov %rbp, 40(%rax)
	mov %rsi, 48(%rax)
	mov %rdi, 56(%rax)
	mov %r8, 64(%rax)
	mov %r9, 72(%rax)
	mov %r10, 80(%rax)
	mov %r11, 88(%rax)
	mov %r12, 96(%rax)
	mov %r13, 104(%rax)
	mov %r14, 112(%rax)
	mov %r15, 120(%rax)
	mov native_host_rsp(%rip), %rsp
	pushfq				/* nothing above changed the flags */
	popq 136(%rax)
	mov native_rax(%rip), %rcx
	mov %rcx, 0(%rax)
	cld
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
	.size native_run, . - native_run
