/* x86-64 emulator for the guest kernel's memory writes that trap on write-protected pages: executes one decoded
 * instruction (isolation/x86_decode.h) against the guest's registers, reaching guest memory only through the
 * caller's callbacks. Pure: no logging, no hardware access, no floating point.
 *
 * Emulated (X86_EMULATABLE): MOV/MOVNTI/MOVDIRI/MOVBE stores, ADD/OR/ADC/SBB/AND/SUB/XOR, INC/DEC/NOT/NEG, the
 * shifts and rotates, SHLD/SHRD, XCHG, XADD, CMPXCHG, CMPXCHG8B/16B, BTS/BTR/BTC, SETcc, PUSH (register, immediate,
 * memory), PUSHF, POP to memory, CALL (rel32, register, memory), MOVS and STOS with or without REP. LOCK is accepted:
 * the guest is paused while the hypervisor runs, so every emulated read-modify-write is atomic by construction.
 *
 * Flags are computed as the SDM defines them. Where it leaves a flag undefined, the emulator produces: AF = 0 after
 * AND/OR/XOR, the shifts and SHLD/SHRD; for counts above 1, OF by the count-1 formula (SHL/ROL/RCL: MSB(result) ^
 * CF; SHR: MSB(operand); SAR: 0; ROR: MSB(result) ^ MSB-1(result); RCR: MSB(operand) ^ CF before rotating;
 * SHLD/SHRD: MSB(result) ^ MSB(operand)); after SHL/SHR of 8/16-bit operands by more than their width, CF = 0;
 * BT* leave OF/SF/AF/PF unchanged. SHLD/SHRD of a 16-bit operand by more than 16 (undefined result) shift the 32-bit
 * concatenation of destination and source with zeros coming in. Compiled code never reads these; a real CPU may
 * differ (the AMD host of the unit tests does for AF after shifts and OF after SHR/RCR/SHLD/SHRD by more than 1).
 *
 * Near CALL ignores 66 (Intel: the operand size is always 64 bits). */
#ifndef ISOLATION_X86_EMULATE_H
#define ISOLATION_X86_EMULATE_H

#include <stdint.h>

#include "isolation/x86_decode.h"

/* Guest memory access by linear address. Both return 0, or a negative HV_E* code having changed nothing (the
 * hypervisor translates the whole range first). Accesses are at most 64 bytes and may cross a page boundary.
 * port_in reads `count` elements of `size` (1, 2 or 4) bytes from an I/O port, one access each, as INS does; NULL,
 * or -HV_ENOSYS for a port it must not touch, leaves INS unemulated. */
struct x86_mem_ops {
	int (*read)(void *opaque, uint64_t linear, void *buf, uint32_t size);
	int (*write)(void *opaque, uint64_t linear, const void *buf, uint32_t size);
	int (*port_in)(void *opaque, uint16_t port, void *buf, uint32_t size, uint32_t count);
};

/* Executes insn in state regs: performs its memory accesses, then updates the registers, RFLAGS and RIP.
 * Stores go only to the range x86_mem_target() reports for the same regs; every instruction but REP MOVS/STOS
 * stores once, after its reads. REP INS reads the port once per element it stores, no further ahead.
 * Returns 0; -HV_ENOSYS for an instruction that is decoded but not emulated (!X86_EMULATABLE: SSE/AVX/x87 and
 * system stores, ENTER, far CALL, ...: skip and report it); -HV_EBADINSN when the hardware would raise an
 * exception instead (misaligned CMPXCHG16B); or the error of the failing callback. On any error neither the
 * registers nor memory have changed.
 * A REP string instruction performs x86_string_iterations() iterations, in blocks of up to 64 bytes; RIP advances
 * only once rCX reaches 0. If an access fails after some iterations completed, those are kept (the registers say
 * how far it got, as after an interrupted REP on hardware) and the result is 0: re-executing the instruction
 * reaches the failing access again, first. */
int x86_emulate(const struct x86_insn *insn, struct x86_regs *regs, const struct x86_mem_ops *ops, void *opaque);

#endif
