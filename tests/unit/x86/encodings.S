/* Encodings for test_x86_decode, assembled by GNU as: the labels around each instruction give its true length.
 * Each macro records { start, end, text, kind, store size } in section .x86_enc_table:
 *   store N, insn       stores N bytes (per iteration) and x86_emulate() executes it
 *   store_only N, insn  stores N bytes (0: size not known from the encoding); decoded and skipped, not emulated
 *   no_store insn       stores nothing
 *   invalid insn        -HV_EBADINSN
 * Raw .byte sequences cover what GNU as will not emit (redundant or misplaced prefixes). */

.macro x86_enc kind, size, insn:vararg
	.pushsection .x86_enc_table, "aw"
	.quad 771f, 772f, 773f
	.long \kind, \size
	.popsection
	.pushsection .x86_enc_names, "a"
773:	.asciz "\insn"
	.popsection
771:	\insn
772:
.endm
.macro no_store insn:vararg
	x86_enc 0, 0, \insn
.endm
.macro store size, insn:vararg
	x86_enc 1, \size, \insn
.endm
.macro store_only size, insn:vararg
	x86_enc 2, \size, \insn
.endm
.macro invalid insn:vararg
	x86_enc 3, 0, \insn
.endm

/* MOV stores: every size and source register, byte registers with and without REX. */
store 1, movb %al, (%rdi)
store 1, movb %cl, (%rdi)
store 1, movb %dl, (%rdi)
store 1, movb %bl, (%rdi)
store 1, movb %ah, (%rdi)
store 1, movb %ch, (%rdi)
store 1, movb %dh, (%rdi)
store 1, movb %bh, (%rdi)
store 1, movb %spl, (%rdi)
store 1, movb %bpl, (%rdi)
store 1, movb %sil, (%rdi)
store 1, movb %dil, (%rdi)
store 1, movb %r8b, (%rdi)
store 1, movb %r15b, (%r15)
store 2, movw %ax, (%rdi)
store 2, movw %r9w, (%rdi)
store 4, movl %eax, (%rdi)
store 4, movl %r10d, (%r11)
store 8, movq %rax, (%rdi)
store 8, movq %rsp, (%rdi)
store 8, movq %r15, (%r8)
store 1, movb $0x7f, (%rdi)
store 1, movb $0x80, 0x10(%rsi)
store 2, movw $0x1234, (%rdi)
store 2, movw $-1, 0x12345678(%rdi)
store 4, movl $0x12345678, (%rdi)
store 4, movl $0, -8(%rbp)
store 8, movq $-1, (%rdi)
store 8, movq $0x7fffffff, 0x8(%rsp)
store 8, movq $0x12345678, %gs:0x28
store 1, movabs %al, 0x1122334455667788
store 2, movabs %ax, 0x1122334455667788
store 4, movabs %eax, 0x1122334455667788
store 8, movabs %rax, 0x1122334455667788
store 4, movabs %eax, %gs:0x1122334455667788
store 4, addr32 movabs %eax, 0x11223344
store 1, addr32 movabs %al, 0x11223344
store 4, movnti %eax, (%rdi)
store 8, movnti %r9, 0x40(%rdi,%rcx,8)
store 2, movbe %ax, (%rdi)
store 4, movbe %ecx, 0x4(%rsi)
store 8, movbe %r8, (%rdi)
store 4, movdiri %eax, (%rdi)
store 8, movdiri %rax, 0x10(%rdi)

/* Addressing forms: every base, index, scale and displacement width, RIP-relative, absolute, 32-bit addresses. */
store 4, movl %ecx, (%rax)
store 4, movl %ecx, (%rcx)
store 4, movl %ecx, (%rdx)
store 4, movl %ecx, (%rbx)
store 4, movl %ecx, (%rsp)
store 4, movl %ecx, (%rbp)
store 4, movl %ecx, (%rsi)
store 4, movl %ecx, (%rdi)
store 4, movl %ecx, (%r8)
store 4, movl %ecx, (%r9)
store 4, movl %ecx, (%r10)
store 4, movl %ecx, (%r11)
store 4, movl %ecx, (%r12)
store 4, movl %ecx, (%r13)
store 4, movl %ecx, (%r14)
store 4, movl %ecx, (%r15)
store 4, movl %ecx, 0x7f(%rax)
store 4, movl %ecx, -0x80(%rsp)
store 4, movl %ecx, 0x10(%rbp)
store 4, movl %ecx, 0x10(%r12)
store 4, movl %ecx, 0x10(%r13)
store 4, movl %ecx, 0x80(%rax)
store 4, movl %ecx, -0x81(%rsp)
store 4, movl %ecx, 0x12345678(%rbp)
store 4, movl %ecx, -0x80000000(%r12)
store 4, movl %ecx, 0x7fffffff(%r13)
store 4, movl %ecx, (%rax,%rbx)
store 4, movl %ecx, (%rax,%rbx,2)
store 4, movl %ecx, (%rax,%rbx,4)
store 4, movl %ecx, (%rax,%rbx,8)
store 4, movl %ecx, (%rsp,%rbp,1)
store 4, .byte 0x89, 0x4c, 0x25, 0x00            /* (%rbp): SIB index 4 without REX.X is no index */
store 4, .byte 0x42, 0x89, 0x0c, 0x24            /* (%rsp,%r12,1): with REX.X it is %r12 */
store 4, .byte 0x41, 0x89, 0x0c, 0x24            /* (%r12): REX.B does not avoid the SIB */
store 4, .byte 0x41, 0x89, 0x0d, 0, 0, 0, 0      /* REX.B does not avoid RIP-relative */
store 4, .byte 0x41, 0x89, 0x0c, 0x25, 0, 0, 0, 0 /* nor the SIB's no-base disp32 */
store 4, movl %ecx, (%r13,%r12,2)
store 4, movl %ecx, (%r12,%r13,4)
store 4, movl %ecx, (%rbx,%r15,8)
store 4, movl %ecx, (%r8,%rax,1)
store 4, movl %ecx, 0x10(%rax,%rbx,8)
store 4, movl %ecx, -0x10(%rbp,%rsi,4)
store 4, movl %ecx, 0x1000(%r13,%rdi,2)
store 4, movl %ecx, -0x12345678(%rsp,%r11,1)
store 4, movl %ecx, 0x12345678(,%rax,4)
store 4, movl %ecx, (,%r9,8)
store 4, movl %ecx, 0x12345678
store 4, movl %ecx, -0x4
store 4, movl %ecx, 0x1234(%rip)
store 4, movl %ecx, -0x1234(%rip)
store 4, movl %ecx, (%eax)
store 4, movl %ecx, (%r8d)
store 4, movl %ecx, 0x10(%esp)
store 4, movl %ecx, 0x10(%ebp)
store 4, movl %ecx, (%eax,%ebx,2)
store 4, movl %ecx, 0x100(%r12d,%r13d,8)
store 4, movl %ecx, 0x10(%eip)
store 4, movl %ecx, %fs:(%rax)
store 4, movl %ecx, %gs:(%rax)
store 4, movl %ecx, %gs:0x10
store 4, movl %ecx, %gs:0x10(%rip)
store 4, movl %ecx, %fs:-0x8(%rbp,%rcx,4)
store 4, movl %ecx, %es:(%rax)
store 4, movl %ecx, %cs:(%rax)
store 4, movl %ecx, %ss:(%rax)
store 4, movl %ecx, %ds:(%rax)
store 4, addr32 movl %ecx, %gs:(%eax)

/* Prefix combinations GNU as does not emit itself. */
store 2, .byte 0x48, 0x66, 0x89, 0x07            /* REX.W then 66: REX ignored, 16-bit */
store 2, .byte 0x41, 0x66, 0x67, 0x89, 0x07      /* REX.B ignored: 16-bit to (%edi) */
store 8, .byte 0x66, 0x48, 0x89, 0x07            /* 66 then REX.W: 64-bit */
store 1, .byte 0x40, 0x65, 0x88, 0x27            /* REX ignored: %ah again */
store 1, .byte 0x65, 0x40, 0x88, 0x27            /* REX in effect: %spl */
store 4, .byte 0x48, 0x41, 0x89, 0x07            /* two REX: the last one counts */
store 2, .byte 0x66, 0x66, 0x66, 0x67, 0x67, 0x89, 0x07
store 2, .byte 0x66, 0x66, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36, 0x89, 0x07
store 4, .byte 0x64, 0x65, 0x89, 0x07            /* the last segment override counts */
store 4, .byte 0xf2, 0x89, 0x07                  /* REP prefixes are ignored by MOV */
store 4, .byte 0xf3, 0xf2, 0x89, 0x07
store 1, .byte 0x66, 0x88, 0x07                  /* 66 does not widen a byte operation */
store 4, .byte 0xf0, 0xf0, 0x01, 0x07            /* repeated LOCK */
no_store .byte 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90
no_store .byte 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00
no_store .byte 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00

/* ALU read-modify-write, every operand size and immediate form; CMP and TEST do not store. */
store 1, addb %al, (%rdi)
store 2, addw %ax, (%rdi)
store 4, addl %eax, (%rdi)
store 8, addq %rax, (%rdi)
store 1, orb %ch, 0x1(%rdi)
store 2, orw %r8w, (%rdi)
store 4, orl %eax, (%rdi)
store 8, orq %r15, (%rdi)
store 1, adcb %dl, (%rdi)
store 2, adcw %dx, (%rdi)
store 4, adcl %edx, (%rdi)
store 8, adcq %rdx, (%rdi)
store 1, sbbb %bl, (%rdi)
store 2, sbbw %bx, (%rdi)
store 4, sbbl %ebx, (%rdi)
store 8, sbbq %rbx, (%rdi)
store 1, andb %sil, (%rdi)
store 2, andw %si, (%rdi)
store 4, andl %esi, (%rdi)
store 8, andq %rsi, (%rdi)
store 1, subb %bh, (%rdi)
store 2, subw %di, (%rdi)
store 4, subl %edi, (%rdi)
store 8, subq %rdi, (%rdi)
store 1, xorb %al, (%rdi)
store 2, xorw %ax, (%rdi)
store 4, xorl %eax, (%rdi)
store 8, xorq %rax, (%rdi)
store 1, addb $0x12, (%rdi)
store 2, addw $0x1234, (%rdi)
store 4, addl $0x12345678, (%rdi)
store 8, addq $-0x12345678, (%rdi)
store 2, addw $0x12, (%rdi)
store 4, addl $-1, (%rdi)
store 8, addq $0x7f, (%rdi)
store 1, orb $0x80, 0x10(%rdi)
store 4, orl $0x1000, %gs:0x10
store 1, adcb $1, (%rdi)
store 4, adcl $0x100, (%rdi)
store 8, sbbq $1, (%rdi)
store 2, sbbw $0x1000, (%rdi)
store 1, andb $0xfe, (%rdi)
store 8, andq $-0x1001, (%rdi)
store 4, subl $1, (%rdi)
store 8, subq $0x12345678, (%rdi)
store 1, xorb $0xff, (%rdi)
store 2, xorw $-0x2, (%rdi)
store 4, lock addl $1, (%rdi)
store 8, lock orq %rax, (%rdi)
store 1, lock andb $0x7f, %gs:(%rdi)
store 4, lock subl %eax, 0x10(%rdi)
store 8, lock xorq $0x10, (%rdi)
store 8, lock adcq %rax, (%rdi)
store 8, lock sbbq %rax, (%rdi)
no_store addl (%rdi), %eax
no_store orb (%rdi), %ah
no_store addl %eax, %ecx
no_store addb $1, %al
no_store addl $0x12345678, %eax
no_store addw $0x1234, %ax
no_store addq $-1, %rax
no_store cmpb %al, (%rdi)
no_store cmpw %ax, (%rdi)
no_store cmpl %eax, (%rdi)
no_store cmpq %rax, (%rdi)
no_store cmpl (%rdi), %eax
no_store cmpb $1, (%rdi)
no_store cmpw $0x1234, (%rdi)
no_store cmpl $0x12345678, (%rdi)
no_store cmpq $1, %gs:0x10
no_store cmpb $1, %al
no_store cmpl $1, %eax
no_store testb %al, (%rdi)
no_store testl %eax, (%rdi)
no_store testb $1, (%rdi)
no_store testw $0x8000, (%rdi)
no_store testl $0x80000000, (%rdi)
no_store testq $1, (%rdi)
no_store testb $1, %al
no_store testl $1, %eax
no_store .byte 0xf6, 0x0f, 0x01                  /* F6 /1: TEST alias */

/* INC, DEC, NOT, NEG. */
store 1, incb (%rdi)
store 2, incw (%rdi)
store 4, incl (%rdi)
store 8, incq (%rdi)
store 1, decb (%rdi)
store 2, decw (%rdi)
store 4, decl (%rdi)
store 8, decq (%rdi)
store 4, incl %gs:0x1234
store 4, lock incl (%rdi)
store 8, lock decq 0x8(%rdi)
store 1, notb (%rdi)
store 2, notw (%rdi)
store 4, notl (%rdi)
store 8, notq (%rdi)
store 1, negb (%rdi)
store 2, negw (%rdi)
store 4, negl (%rdi)
store 8, negq (%rdi)
store 4, lock notl (%rdi)
store 8, lock negq (%rdi)
no_store incl %eax
no_store decq %r8
no_store negl %eax
no_store mulb (%rdi)
no_store imull (%rdi)
no_store divq (%rdi)
no_store idivw (%rdi)

/* Shifts and rotates by 1, CL and imm8. */
store 1, rolb (%rdi)
store 2, rolw %cl, (%rdi)
store 4, roll $3, (%rdi)
store 8, rolq $63, (%rdi)
store 1, rorb $7, (%rdi)
store 2, rorw (%rdi)
store 4, rorl %cl, (%rdi)
store 8, rorq (%rdi)
store 1, rclb %cl, (%rdi)
store 2, rclw $2, (%rdi)
store 4, rcll (%rdi)
store 8, rclq %cl, (%rdi)
store 1, rcrb (%rdi)
store 2, rcrw %cl, (%rdi)
store 4, rcrl $31, (%rdi)
store 8, rcrq $1, (%rdi)
store 1, shlb %cl, (%rdi)
store 2, shlw $15, (%rdi)
store 4, shll (%rdi)
store 8, shlq %cl, 0x8(%rsp)
store 1, shrb $1, (%rdi)
store 2, shrw (%rdi)
store 4, shrl %cl, (%rdi)
store 8, shrq $32, (%rdi)
store 1, sarb (%rdi)
store 2, sarw %cl, (%rdi)
store 4, sarl $5, (%rdi)
store 8, sarq %cl, %gs:(%rdi)
store 4, .byte 0xd1, 0x37                        /* D1 /6: SAL alias */
store 1, .byte 0xc0, 0x37, 0x03
no_store shll %cl, %eax
no_store rolq $3, %rax
store 2, shldw $3, %ax, (%rdi)
store 4, shldl %cl, %eax, (%rdi)
store 8, shldq $63, %r9, (%rdi)
store 2, shrdw %cl, %dx, (%rdi)
store 4, shrdl $1, %eax, (%rdi)
store 8, shrdq %cl, %rax, 0x8(%rdi)
no_store shldl $3, %eax, %ecx

/* Exchange, compare-exchange, exchange-add. */
store 1, xchgb %al, (%rdi)
store 2, xchgw %ax, (%rdi)
store 4, xchgl %eax, (%rdi)
store 8, xchgq %r11, (%rdi)
store 1, xchgb %ah, (%rdi)
store 4, lock xchgl %eax, (%rdi)
no_store xchgl %eax, %ecx
no_store xchgq %rax, %r8
no_store .byte 0x90
no_store .byte 0x41, 0x90                        /* xchg %r8d, %eax */
no_store pause
store 1, cmpxchgb %cl, (%rdi)
store 2, cmpxchgw %cx, (%rdi)
store 4, cmpxchgl %ecx, (%rdi)
store 8, lock cmpxchgq %rcx, (%rdi)
store 8, lock cmpxchgq %rdx, %gs:0x10(%rdi)
store 8, cmpxchg8b (%rdi)
store 8, lock cmpxchg8b 0x8(%rdi)
store 16, cmpxchg16b (%rdi)
store 16, lock cmpxchg16b %gs:(%rsi)
store 1, xaddb %al, (%rdi)
store 2, xaddw %ax, (%rdi)
store 4, lock xaddl %eax, (%rdi)
store 8, lock xaddq %rax, 0x10(%rdi)
no_store cmpxchgl %ecx, %edx
no_store xaddq %rax, %rcx

/* Bit test and modify, register offsets (which move the operand) and immediates; SETcc. */
no_store btw %ax, (%rdi)
no_store btl %eax, (%rdi)
no_store btq %rax, (%rdi)
no_store btl $3, (%rdi)
store 2, btsw %ax, (%rdi)
store 4, btsl %eax, (%rdi)
store 8, btsq %rax, (%rdi)
store 8, lock btsq %rax, (%rdi)
store 2, btrw %cx, (%rdi)
store 4, lock btrl %ecx, (%rdi)
store 8, btrq %r9, 0x10(%rdi)
store 2, btcw %dx, (%rdi)
store 4, btcl %edx, (%rdi)
store 8, lock btcq %rdx, (%rdi)
store 2, btsw $15, (%rdi)
store 4, btsl $31, (%rdi)
store 8, lock btsq $63, (%rdi)
store 4, btrl $1, (%rdi)
store 8, lock btrq $0, %gs:0x10
store 4, btcl $7, (%rdi)
no_store btsl %eax, %ecx
no_store btl $1, %eax
store 1, seto (%rdi)
store 1, setno (%rdi)
store 1, setb (%rdi)
store 1, setae (%rdi)
store 1, sete (%rdi)
store 1, setne (%rdi)
store 1, setbe (%rdi)
store 1, seta (%rdi)
store 1, sets (%rdi)
store 1, setns (%rdi)
store 1, setp (%rdi)
store 1, setnp (%rdi)
store 1, setl (%rdi)
store 1, setge (%rdi)
store 1, setle (%rdi)
store 1, setg %gs:0x10(%rip)
no_store sete %al
no_store setne %r8b

/* Stack stores: PUSH, PUSHF, CALL; POP to memory. */
store 8, push %rax
store 8, push %rsp
store 8, push %r8
store 8, push %r15
store 2, pushw %ax
store 2, pushw %r9w
store 8, push $0x12
store 8, push $-1
store 8, push $0x12345678
store 2, pushw $0x1234
store 2, pushw $-2
store 8, pushq (%rdi)
store 8, pushq 0x10(%rsp)
store 8, pushq %gs:0x10
store 2, pushw (%rdi)
store 8, pushfq
store 2, pushfw
store 8, call .+0x100
store 8, call *%rax
store 8, call *%r11
store 8, call *(%rax)
store 8, call *0x10(%rip)
store 8, call *%gs:0x18
store 8, popq (%rdi)
store 8, popq 0x8(%rsp)
store 2, popw (%rdi)
store 8, popq %gs:0x20
no_store pop %rax
no_store pop %r12
no_store popw %ax
no_store .byte 0x8f, 0xc0                        /* pop %rax, the 8F form */
no_store popfq
no_store ret
no_store ret $0x10
no_store leave
no_store lretq
no_store iretq
store_only 0, enter $0x10, $0
store_only 0, enter $0x100, $2
store_only 0, lcall *(%rax)
store_only 8, push %fs
store_only 8, push %gs
no_store pop %fs

/* String instructions: sizes, REP, REPNE (a REP for MOVS/STOS), 32-bit addresses, source segment override. */
store 1, movsb
store 2, movsw
store 4, movsl
store 8, movsq
store 1, rep movsb
store 2, rep movsw
store 4, rep movsl
store 8, rep movsq
store 1, stosb
store 2, stosw
store 4, stosl
store 8, stosq
store 1, rep stosb
store 2, rep stosw
store 4, rep stosl
store 8, rep stosq
store 8, .byte 0xf2, 0x48, 0xa5                  /* repne movsq */
store 1, addr32 rep stosb
store 4, addr32 movsl
store 1, movsb %fs:(%rsi), %es:(%rdi)
store 8, rep movsq %gs:(%rsi), %es:(%rdi)
store 1, .byte 0xf3, 0x66, 0x67, 0x64, 0xa4
store 1, insb (%dx), %es:(%rdi)
store 4, rep insl (%dx), %es:(%rdi)
no_store outsb %ds:(%rsi), (%dx)
no_store lodsb
no_store rep lodsq
no_store scasb
no_store repne scasb
no_store repe cmpsq
no_store cmpsb

/* Stores decoded for reporting only: SSE/AVX, x87, system, segment registers. */
store_only 16, movups %xmm0, (%rdi)
store_only 16, movupd %xmm1, (%rdi)
store_only 4, movss %xmm2, (%rdi)
store_only 8, movsd %xmm3, (%rdi)
store_only 8, movlps %xmm0, (%rdi)
store_only 8, movlpd %xmm0, (%rdi)
store_only 8, movhps %xmm0, (%rdi)
store_only 8, movhpd %xmm0, (%rdi)
store_only 16, movaps %xmm8, 0x10(%rdi)
store_only 16, movapd %xmm0, (%rdi)
store_only 16, movntps %xmm0, (%rdi)
store_only 16, movntpd %xmm0, (%rdi)
store_only 4, movd %xmm0, (%rdi)
store_only 8, movq %xmm0, (%rdi)
store_only 4, movd %mm0, (%rdi)
store_only 8, movq %mm0, (%rdi)
store_only 16, movdqa %xmm0, (%rdi)
store_only 16, movdqu %xmm15, (%r15)
store_only 16, movntdq %xmm0, (%rdi)
store_only 8, movntq %mm1, (%rdi)
store_only 1, pextrb $1, %xmm0, (%rdi)
store_only 2, pextrw $1, %xmm0, (%rdi)
store_only 4, pextrd $1, %xmm0, (%rdi)
store_only 8, pextrq $1, %xmm0, (%rdi)
store_only 4, extractps $1, %xmm0, (%rdi)
store_only 16, vmovups %xmm0, (%rdi)
store_only 32, vmovups %ymm0, (%rdi)
store_only 32, vmovaps %ymm9, 0x20(%r9)
store_only 32, vmovdqu %ymm0, (%rdi)
store_only 16, vmovdqa %xmm0, (%rdi)
store_only 4, vmovss %xmm0, (%rdi)
store_only 8, vmovsd %xmm0, (%rdi)
store_only 8, vmovq %xmm0, (%rdi)
store_only 4, vmovd %xmm0, (%rdi)
store_only 32, vmovntdq %ymm0, (%rdi)
store_only 8, vmovlps %xmm0, (%rdi)
store_only 16, vextractf128 $1, %ymm0, (%rdi)
store_only 16, vextracti128 $1, %ymm0, (%rdi)
store_only 8, vcvtps2ph $0, %xmm0, (%rdi)
store_only 16, vcvtps2ph $0, %ymm0, (%rdi)
store_only 16, vmaskmovps %xmm0, %xmm1, (%rdi)
store_only 32, vpmaskmovd %ymm0, %ymm1, (%rdi)
store_only 8, vpextrq $1, %xmm0, (%rdi)
store_only 4, fsts (%rdi)
store_only 4, fstps (%rdi)
store_only 8, fstpl (%rdi)
store_only 10, fstpt (%rdi)
store_only 2, fists (%rdi)
store_only 4, fistl (%rdi)
store_only 8, fistpll (%rdi)
store_only 2, fisttps (%rdi)
store_only 8, fisttpll (%rdi)
store_only 10, fbstp (%rdi)
store_only 2, fnstcw (%rdi)
store_only 2, fnstsw (%rdi)
store_only 28, fnstenv (%rdi)
store_only 108, fnsave (%rdi)
store_only 512, fxsave (%rdi)
store_only 512, fxsave64 (%rdi)
store_only 4, stmxcsr (%rdi)
store_only 0, xsave (%rdi)
store_only 0, xsaveopt (%rdi)
store_only 0, xsavec (%rdi)
store_only 0, xsaves (%rdi)
store_only 10, sgdt (%rdi)
store_only 10, sidt (%rdi)
store_only 2, sldt (%rdi)
store_only 2, str (%rdi)
store_only 2, smsw (%rdi)
store_only 8, vmptrst (%rdi)
store_only 8, vmread %rax, (%rdi)
store_only 2, movw %ds, (%rdi)
store_only 2, movw %gs, 0x8(%rdi)
no_store movups (%rdi), %xmm0
no_store movss (%rdi), %xmm0
no_store movq (%rdi), %xmm0
no_store movd (%rdi), %mm0
no_store movdqu (%rdi), %xmm0
no_store movq %xmm0, %xmm1
no_store movd %xmm0, %eax
no_store pextrb $1, %xmm0, %eax
no_store vmovdqu (%rdi), %ymm0
no_store vmovups %ymm0, %ymm1
no_store vpaddd %ymm0, %ymm1, %ymm2
no_store vpshufd $0x1b, (%rdi), %ymm1
no_store vpblendvb %ymm3, %ymm2, %ymm1, %ymm0
no_store vpermq $0x4e, %ymm0, %ymm1
no_store vzeroupper
no_store vzeroall
no_store fldl (%rdi)
no_store fldcw (%rdi)
no_store fldenv (%rdi)
no_store frstor (%rdi)
no_store faddp
no_store fld %st(1)
no_store fwait
no_store fxrstor (%rdi)
no_store xrstor (%rdi)
no_store ldmxcsr (%rdi)
no_store clflush (%rdi)
no_store clflushopt (%rdi)
no_store clwb (%rdi)
no_store prefetchnta (%rdi)
no_store prefetchw (%rdi)
no_store lgdt (%rdi)
no_store lidt (%rdi)
no_store lldt %ax
no_store ltr %ax
no_store invlpg (%rdi)
no_store vmptrld (%rdi)
no_store movw (%rdi), %ds
no_store psrlq $3, %xmm1
no_store pshufd $0x1b, %xmm1, %xmm2
no_store cmpps $1, %xmm1, %xmm2
no_store pinsrw $1, (%rdi), %xmm0
no_store pshufb (%rdi), %xmm0
no_store palignr $3, (%rdi), %xmm0
no_store aesenc %xmm1, %xmm0
no_store pclmulqdq $0x11, %xmm1, %xmm0
no_store sha256rnds2 %xmm0, %xmm1, %xmm2

/* Instructions that store nothing: loads, control flow, system, the long NOPs, BMI, x86-64 specials. */
no_store movl (%rdi), %eax
no_store movb (%rdi), %ah
no_store movq %gs:0x28, %rax
no_store movabs 0x1122334455667788, %al
no_store movabs 0x1122334455667788, %rax
no_store movabs $0x1122334455667788, %rax
no_store movabs $0x1122334455667788, %r15
no_store movl $0x12345678, %eax
no_store movw $0x1234, %ax
no_store movb $0x12, %ah
no_store movq $-1, %rax
no_store movl %eax, %ecx
no_store movzbl (%rdi), %eax
no_store movzwl (%rdi), %eax
no_store movsbq (%rdi), %rax
no_store movswq %ax, %rax
no_store movslq (%rdi), %rax
no_store leaq 0x10(%rdi,%rsi,4), %rax
no_store leal (%eax), %eax
no_store imull $0x12345678, (%rdi), %eax
no_store imulw $0x1234, (%rdi), %ax
no_store imulq $-3, %rax, %rcx
no_store imulq (%rdi), %rax
no_store cmovel (%rdi), %eax
no_store cmovneq %rcx, %rax
no_store bswap %eax
no_store bswap %r9
no_store popcnt (%rdi), %eax
no_store tzcnt %rax, %rcx
no_store lzcnt %eax, %ecx
no_store bsfl (%rdi), %eax
no_store bsrq %rax, %rcx
no_store crc32b (%rdi), %eax
no_store crc32q %rax, %rcx
no_store movbe (%rdi), %eax
no_store adcx (%rdi), %eax
no_store adox %rax, %rcx
no_store andn (%rdi), %eax, %ecx
no_store shlxq %rax, (%rdi), %rcx
no_store rorxq $3, (%rdi), %rax
no_store bextr %eax, (%rdi), %ecx
no_store pdep %rax, %rcx, %rdx
no_store cwtl
no_store cltq
no_store cqto
no_store sahf
no_store lahf
no_store xlat
no_store jmp .+2
no_store jmp .+0x1000
no_store je .+2
no_store jne .+0x1000
no_store jrcxz .+2
no_store jecxz .+2
no_store loop .+2
no_store jmp *%rax
no_store jmp *(%rax)
no_store jmp *0x10(%rip)
no_store ljmp *(%rax)
no_store notrack jmp *%rax
no_store bnd jmp *%rax
no_store int3
no_store int $0x80
no_store int1
no_store ud2
no_store ud1 (%rax), %eax
no_store ud0 %eax, %eax
no_store hlt
no_store cli
no_store sti
no_store clc
no_store stc
no_store cmc
no_store cld
no_store std
no_store nop
no_store nopw (%rax)
no_store nopl 0x0(%rax,%rax,1)
no_store nopw 0x0(%rax,%rax,1)
no_store nopw %cs:0x0(%rax,%rax,1)
no_store endbr64
no_store syscall
no_store sysretq
no_store sysenter
no_store cpuid
no_store rdtsc
no_store rdtscp
no_store rdmsr
no_store wrmsr
no_store rdpmc
no_store rdrand %eax
no_store rdseed %rax
no_store rdpid %rax
no_store xgetbv
no_store xsetbv
no_store swapgs
no_store clac
no_store stac
no_store lfence
no_store mfence
no_store sfence
no_store wbinvd
no_store invd
no_store clts
no_store vmcall
no_store vmlaunch
no_store vmresume
no_store vmxoff
no_store rdfsbase %rax
no_store wrgsbase %rax
no_store movq %cr0, %rax
no_store movq %rax, %cr3
no_store movq %cr8, %rax
no_store movq %dr7, %rax
no_store movq %rax, %dr0
no_store inb $0x60, %al
no_store outb %al, $0x80
no_store inl (%dx), %eax
no_store outw %ax, (%dx)
no_store emms
no_store xbegin .+0x100
no_store xabort $1
no_store xend
no_store xtest
no_store monitor
no_store mwait
no_store larl (%rdi), %eax
no_store lsll %eax, %eax
no_store verr (%rdi)

/* Encodings that are #UD in 64-bit mode, or not supported (EVEX, XOP, REX/66 before VEX), or over 15 bytes. */
invalid .byte 0x06
invalid .byte 0x0e
invalid .byte 0x27
invalid .byte 0x37
invalid .byte 0x60
invalid .byte 0x61
invalid .byte 0x82, 0x07, 0x01
invalid .byte 0x9a
invalid .byte 0xce
invalid .byte 0xd4, 0x0a
invalid .byte 0xd6
invalid .byte 0xea
invalid .byte 0x62, 0xf1, 0x7c, 0x48, 0x11, 0x07 /* EVEX vmovups %zmm0, (%rdi) */
invalid .byte 0x8f, 0xe8, 0x78, 0xc0, 0xc8, 0x01 /* XOP vprotb */
invalid .byte 0x48, 0xc5, 0xf8, 0x11, 0x07       /* REX then VEX */
invalid .byte 0x66, 0xc5, 0xf8, 0x11, 0x07       /* 66 then VEX */
invalid .byte 0xf0, 0xc5, 0xf8, 0x11, 0x07
invalid .byte 0xc4, 0xe0, 0x78, 0x11, 0x07       /* VEX map 0 */
invalid .byte 0xc4, 0xe4, 0x78, 0x11, 0x07       /* VEX map 4 */
invalid .byte 0xf0, 0x89, 0x07                   /* LOCK mov */
invalid .byte 0xf0, 0x39, 0x07                   /* LOCK cmp */
invalid .byte 0xf0, 0x01, 0xc0                   /* LOCK add to a register */
invalid .byte 0xf0, 0x0f, 0xa3, 0x07             /* LOCK bt */
invalid .byte 0xf0, 0x90
invalid .byte 0xf0, 0xa5                         /* LOCK movs */
invalid .byte 0xf0, 0xa3, 0, 0, 0, 0, 0, 0, 0, 0 /* LOCK mov moffs */
invalid .byte 0x8d, 0xc0                         /* lea with a register operand */
invalid .byte 0x0f, 0xc7, 0xc8                   /* cmpxchg8b with a register operand */
invalid .byte 0x0f, 0xc3, 0xc0                   /* movnti with a register operand */
invalid .byte 0x66, 0x0f, 0xc3, 0x07             /* movnti with 66 */
invalid .byte 0x0f, 0x38, 0xf1, 0xc0             /* movbe with a register operand */
invalid .byte 0xff, 0xd8                         /* far call with a register operand */
invalid .byte 0xfe, 0x17
invalid .byte 0xff, 0x3f
invalid .byte 0xc6, 0x0f, 0x01
invalid .byte 0xc7, 0x0f, 0, 0, 0, 0
invalid .byte 0xc6, 0xf9, 0x01                   /* C6 /7 other than XABORT */
invalid .byte 0x8f, 0x0f
invalid .byte 0x0f, 0xba, 0x17, 0x01             /* 0F BA /0../3 are undefined */
invalid .byte 0x0f, 0xba, 0x07, 0x01
invalid .byte 0x0f, 0x04
invalid .byte 0x0f, 0x0a
invalid .byte 0x0f, 0x0f, 0xc1, 0xbf             /* 3DNow! */
invalid .byte 0x0f, 0x24, 0xc0
invalid .byte 0x0f, 0xa6
invalid .byte 0x0f, 0x00, 0x30
invalid .byte 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90
invalid .byte 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0xc7, 0x07, 0, 0, 0, 0
invalid .byte 0x64, 0x64, 0x64, 0x64, 0x64, 0x48, 0xc7, 0x84, 0x24, 0, 0, 0, 0, 0, 0, 0, 0
