/* Instructions test_x86_emulate runs both on the host CPU and in the emulator, comparing registers, flags and
 * memory. Each records { start, end, text } in section .x86_emu_table. The test derives each case's setup from
 * its decoding: base registers point the memory operand into the test buffer (so a base and an index, or a base
 * and a BT bit offset, must be different registers), index registers hold small values, moffs and CALL rel32 are
 * patched, RSP points into the buffer, string instructions get RSI/RDI/RCX and DF at random. RIP-relative
 * operands land in the buffer because the code page sits 4 KiB below it. FS is the host's TLS: not used here. */

.macro emu insn:vararg
	.pushsection .x86_emu_table, "aw"
	.quad 771f, 772f, 773f
	.popsection
	.pushsection .x86_emu_names, "a"
773:	.asciz "\insn"
	.popsection
771:	\insn
772:
.endm

/* MOV and the other plain stores. */
emu movb %al, (%rbx)
emu movb %ah, 0x10(%rbx)
emu movb %bh, (%rsi)
emu movb %ch, -1(%rdi)
emu movb %spl, (%rdi)
emu movb %dil, (%r13)
emu movb %r15b, (%r15)
emu movw %ax, (%rbx)
emu movw %r9w, -0x10(%rbp)
emu movl %eax, (%rbx)
emu movl %esp, (%rbx)
emu movl %r10d, (%r11)
emu movq %rax, (%rbx)
emu movq %rsp, 0x8(%rbx)
emu movq %r15, (%r8)
emu movq %rbx, (%rbx)
emu movb $0x7f, (%rbx)
emu movb $0x80, 0x7f(%rbx)
emu movw $0x8000, (%rbx)
emu movl $0x12345678, (%rbx)
emu movq $-1, (%rbx)
emu movq $0x7fffffff, -8(%rsp)
emu movq $-0x80000000, 0x100(%r12)
emu movl %eax, %gs:0x10
emu movq %rcx, %gs:(%rbx)
emu movw %dx, %gs:0x12(%rbx,%rcx,2)
emu movabs %al, 0x1122334455667788
emu movabs %ax, 0x1122334455667788
emu movabs %eax, 0x1122334455667788
emu movabs %rax, 0x1122334455667788
emu addr32 movabs %eax, 0x11223344
emu movabs %eax, %gs:0x1122334455667788
emu movnti %eax, (%rbx)
emu movnti %r9, 0x40(%rbx,%rcx,8)
emu movbe %ax, (%rbx)
emu movbe %ecx, 0x4(%rbx)
emu movbe %r8, (%rbx)
emu movdiri %eax, (%rbx)
emu movdiri %rax, 0x10(%rbx)

/* Addressing forms. */
emu movl %ecx, (%rax)
emu movl %ecx, (%rcx)
emu movl %ecx, (%rsp)
emu movl %ecx, (%rbp)
emu movl %ecx, (%r12)
emu movl %ecx, (%r13)
emu movl %ecx, 0x7f(%rax)
emu movl %ecx, -0x80(%rsp)
emu movl %ecx, 0x1234(%rbp)
emu movl %ecx, -0x1234(%r13)
emu movl %ecx, (%rax,%rbx)
emu movl %ecx, (%rax,%rbx,2)
emu movl %ecx, (%rax,%rdx,4)
emu movl %ecx, (%rax,%rbx,8)
emu movl %ecx, (%rsp,%rbp,1)
emu movl %ecx, (%r13,%r12,2)
emu movl %ecx, (%r12,%r13,4)
emu movl %ecx, -0x10(%rbp,%rsi,4)
emu movl %ecx, 0x1000(%r13,%rdi,2)
emu movl %ecx, 0x12(,%rax,4)
emu movl %ecx, (,%r9,8)
emu movl %ecx, 0x1800(%rip)
emu movl %ecx, 0x2ff0(%rip)
emu movl %ecx, (%eax)
emu movl %ecx, (%r8d)
emu movl %ecx, 0x10(%esp)
emu movl %ecx, -0x10(%ebp,%esi,2)
emu movl %ecx, 0x1800(%eip)
emu movl %ecx, %gs:(%eax)

/* Prefix combinations GNU as does not emit itself. */
emu .byte 0x48, 0x66, 0x89, 0x03                 /* REX.W ignored: movw %ax, (%rbx) */
emu .byte 0x40, 0x65, 0x88, 0x23                 /* REX ignored: movb %ah, %gs:(%rbx) */
emu .byte 0x65, 0x40, 0x88, 0x23                 /* movb %spl, %gs:(%rbx) */
emu .byte 0x48, 0x41, 0x89, 0x03                 /* the last REX counts: movl %eax, (%r11) */
emu .byte 0x66, 0x88, 0x03                       /* 66 on a byte operation */
emu .byte 0xf3, 0x89, 0x03
emu .byte 0xf0, 0xf0, 0x01, 0x03
emu .byte 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x89, 0x03

/* ALU read-modify-write. */
.irp op, add, or, adc, sbb, and, sub, xor
emu \op\()b %al, (%rbx)
emu \op\()b %ch, 0x1(%rbx)
emu \op\()w %r8w, (%rbx)
emu \op\()l %edx, (%rbx)
emu \op\()q %rsi, (%rbx)
emu \op\()b $0x81, (%rbx)
emu \op\()w $0x1234, (%rbx)
emu \op\()l $0x87654321, (%rbx)
emu \op\()q $-0x12345678, (%rbx)
emu \op\()w $-0x80, (%rbx)
emu \op\()l $0x7f, (%rbx)
emu \op\()q $-1, (%rbx)
emu lock \op\()l %ecx, (%rbx)
emu lock \op\()q $1, %gs:0x20
.endr

/* INC, DEC, NOT, NEG. */
.irp op, inc, dec, not, neg
emu \op\()b (%rbx)
emu \op\()w (%rbx)
emu \op\()l (%rbx)
emu \op\()q (%rbx)
emu lock \op\()l %gs:0x8(%rbx)
.endr

/* Shifts and rotates: by one, by CL (every count), by immediates around the operand width. */
.irp op, rol, ror, rcl, rcr, shl, shr, sar
emu \op\()b (%rbx)
emu \op\()w (%rbx)
emu \op\()l (%rbx)
emu \op\()q (%rbx)
emu \op\()b %cl, (%rbx)
emu \op\()w %cl, (%rbx)
emu \op\()l %cl, (%rbx)
emu \op\()q %cl, (%rbx)
emu \op\()b $7, (%rbx)
emu \op\()b $9, (%rbx)
emu \op\()w $16, (%rbx)
emu \op\()l $31, (%rbx)
emu \op\()q $33, (%rbx)
.endr
emu .byte 0xd1, 0x33                             /* sal alias D1 /6 */
emu .byte 0xd2, 0x33                             /* D2 /6 */
emu .byte 0xc1, 0x33, 0x05                       /* C1 /6 */
emu shldw $3, %ax, (%rbx)
emu shldw $16, %dx, (%rbx)
emu shldl $1, %eax, (%rbx)
emu shldl $31, %eax, (%rbx)
emu shldq $63, %r9, (%rbx)
emu shldq $1, %rdx, (%rbx)
emu shldw %cl, %dx, (%rbx)
emu shldl %cl, %eax, (%rbx)
emu shldq %cl, %rax, (%rbx)
emu shrdw $5, %ax, (%rbx)
emu shrdl $1, %eax, (%rbx)
emu shrdq $40, %rsi, (%rbx)
emu shrdw %cl, %dx, (%rbx)
emu shrdl %cl, %eax, (%rbx)
emu shrdq %cl, %rax, 0x8(%rbx)

/* Exchange, compare-exchange (made equal half of the time), exchange-add. */
emu xchgb %al, (%rbx)
emu xchgb %ah, (%rbx)
emu xchgw %ax, (%rbx)
emu xchgl %eax, (%rbx)
emu xchgq %r11, (%rbx)
emu lock xchgl %esi, %gs:0x10
emu cmpxchgb %cl, (%rbx)
emu cmpxchgb %ah, (%rbx)
emu cmpxchgw %cx, (%rbx)
emu cmpxchgl %ecx, (%rbx)
emu lock cmpxchgq %rcx, (%rbx)
emu lock cmpxchgq %rdx, %gs:0x10(%rbx)
emu cmpxchg8b (%rbx)
emu lock cmpxchg8b 0x8(%rbx)
emu cmpxchg16b (%rbx)
emu lock cmpxchg16b %gs:(%rsi)
emu xaddb %al, (%rbx)
emu xaddb %ah, (%rbx)
emu xaddw %ax, (%rbx)
emu lock xaddl %eax, (%rbx)
emu lock xaddq %rax, 0x10(%rbx)

/* Bit test and modify: register offsets (also negative, moving the operand) and immediates; SETcc. */
.irp op, bts, btr, btc
emu \op\()w %ax, (%rbx)
emu \op\()l %ecx, (%rbx)
emu \op\()q %rdx, (%rbx)
emu lock \op\()q %rsi, 0x10(%rbx)
emu \op\()w $15, (%rbx)
emu \op\()l $33, (%rbx)
emu lock \op\()q $63, %gs:0x10
.endr
.irp cc, o, no, b, ae, e, ne, be, a, s, ns, p, np, l, ge, le, g
emu set\cc (%rbx)
.endr
emu setg 0x1800(%rip)

/* Stack stores: PUSH, PUSHF, CALL; POP to memory. */
emu push %rax
emu push %rsp
emu push %r15
emu pushw %ax
emu pushw %r9w
emu push $0x12
emu push $-1
emu push $0x12345678
emu pushw $0x1234
emu pushw $-2
emu pushq (%rbx)
emu pushq 0x8(%rsp)
emu pushq (%rsp)
emu pushw (%rbx)
emu pushq %gs:0x10
emu pushfq
emu pushfw
emu call .+5
emu call *%rax
emu call *%r11
emu call *(%rbx)
emu call *0x8(%rsp)
emu call *0x1800(%rip)
emu call *%gs:0x18
emu popq (%rbx)
emu popq 0x8(%rsp)
emu popq (%rsp)
emu popq -0x8(%rsp)
emu popw (%rbx)
emu popq %gs:0x20

/* String stores: every size, REP, REPNE (a REP for MOVS/STOS), 32-bit addresses, a source segment override. */
emu movsb
emu movsw
emu movsl
emu movsq
emu rep movsb
emu rep movsw
emu rep movsl
emu rep movsq
emu stosb
emu stosw
emu stosl
emu stosq
emu rep stosb
emu rep stosw
emu rep stosl
emu rep stosq
emu .byte 0xf2, 0x48, 0xa5                       /* repne movsq */
emu .byte 0xf2, 0xaa                             /* repne stosb */
emu .byte 0x66, 0xf3, 0xab                       /* rep stosw, prefixes swapped */
emu addr32 rep stosb
emu addr32 rep movsl
emu addr32 stosq
emu movsb %gs:(%rsi), %es:(%rdi)
emu rep movsq %gs:(%rsi), %es:(%rdi)
