/* x86-64 instruction decoder for the write-trap path: the length, operands and memory destination of one
 * instruction executed by the guest kernel (64-bit mode, CPL 0), so the hypervisor can check the write and then
 * emulate it (isolation/x86_emulate.h) or skip it. Pure: no logging, no hardware access.
 *
 * Every general-purpose, x87, MMX, SSE and VEX encoding decodes to its exact length. Memory destinations are
 * described for everything that stores; x86_emulate() executes the common integer stores (X86_EMULATABLE).
 * EVEX (AVX-512), XOP and 3DNow! encodings are rejected: the guest's CPU model does not have them. Undefined opcodes
 * inside the 0F38/0F3A/VEX maps decode by their map's generic form (ModRM, imm8 for 0F3A): they would raise #UD
 * before any page fault, so they never reach the write-trap path. */
#ifndef ISOLATION_X86_DECODE_H
#define ISOLATION_X86_DECODE_H

#include <stddef.h>
#include <stdint.h>

#define X86_MAX_INSN_LEN 15

enum x86_gpr {
	X86_RAX, X86_RCX, X86_RDX, X86_RBX, X86_RSP, X86_RBP, X86_RSI, X86_RDI,
	X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15,
	X86_NR_GPRS
};

/* Pseudo register numbers for a memory operand's base and index. */
#define X86_REG_RIP  0xfe
#define X86_REG_NONE 0xff

#define X86_RFLAGS_CF (1ull << 0)
#define X86_RFLAGS_PF (1ull << 2)
#define X86_RFLAGS_AF (1ull << 4)
#define X86_RFLAGS_ZF (1ull << 6)
#define X86_RFLAGS_SF (1ull << 7)
#define X86_RFLAGS_DF (1ull << 10)
#define X86_RFLAGS_OF (1ull << 11)
#define X86_RFLAGS_RF (1ull << 16)
#define X86_RFLAGS_VM (1ull << 17)
#define X86_RFLAGS_ARITH (X86_RFLAGS_CF | X86_RFLAGS_PF | X86_RFLAGS_AF | X86_RFLAGS_ZF | X86_RFLAGS_SF | \
			  X86_RFLAGS_OF)

/* The guest state an instruction reads and writes. Segment bases other than FS and GS are 0 in 64-bit mode. */
struct x86_regs {
	uint64_t gpr[X86_NR_GPRS];
	uint64_t rip;
	uint64_t rflags;
	uint64_t fs_base;
	uint64_t gs_base;
};

enum x86_map { X86_MAP_PRIMARY, X86_MAP_0F, X86_MAP_0F38, X86_MAP_0F3A };

enum x86_segment { X86_SEG_NONE, X86_SEG_ES, X86_SEG_CS, X86_SEG_SS, X86_SEG_DS, X86_SEG_FS, X86_SEG_GS };

/* struct x86_insn.prefixes */
#define X86_PFX_OPSIZE (1u << 0)  /* 66 */
#define X86_PFX_ADSIZE (1u << 1)  /* 67 */
#define X86_PFX_LOCK   (1u << 2)  /* F0 */
#define X86_PFX_REPNE  (1u << 3)  /* F2 */
#define X86_PFX_REP    (1u << 4)  /* F3 */
#define X86_PFX_REX    (1u << 5)  /* a REX prefix immediately precedes the opcode: SPL/BPL/SIL/DIL, not AH..BH */
#define X86_PFX_VEX    (1u << 6)

/* What x86_emulate() executes; X86_OP_NONE for everything else. */
enum x86_op {
	X86_OP_NONE,
	X86_OP_MOV,       /* MOV/MOVNTI/MOVDIRI store: source is insn->src */
	X86_OP_ALU,       /* sub: enum x86_alu */
	X86_OP_INC,
	X86_OP_DEC,
	X86_OP_NOT,
	X86_OP_NEG,
	X86_OP_SHIFT,     /* sub: enum x86_shift; count is insn->src */
	X86_OP_SHLD,      /* count is insn->src (imm8 or CL); bits come from register insn->reg */
	X86_OP_SHRD,
	X86_OP_XCHG,
	X86_OP_XADD,
	X86_OP_CMPXCHG,
	X86_OP_CMPXCHG8B, /* CMPXCHG16B with REX.W */
	X86_OP_BT,        /* sub: enum x86_bitop; bit offset is insn->src (register or imm8) */
	X86_OP_SETCC,     /* sub: condition code, the opcode's low nibble */
	X86_OP_MOVBE,
	X86_OP_PUSH,      /* source is insn->src: register, immediate or memory */
	X86_OP_PUSHF,
	X86_OP_POP,
	X86_OP_CALL,      /* target: rel32 immediate, register or memory */
	X86_OP_MOVS,
	X86_OP_STOS,
	X86_OP_INS,       /* from port DX */
};

/* Sub-operations, numbered as their ModRM.reg encodings. */
enum x86_alu { X86_ALU_ADD, X86_ALU_OR, X86_ALU_ADC, X86_ALU_SBB, X86_ALU_AND, X86_ALU_SUB, X86_ALU_XOR,
	       X86_ALU_CMP };
enum x86_shift { X86_SHIFT_ROL, X86_SHIFT_ROR, X86_SHIFT_RCL, X86_SHIFT_RCR, X86_SHIFT_SHL, X86_SHIFT_SHR,
		 X86_SHIFT_SAL, X86_SHIFT_SAR };
enum x86_bitop { X86_BT, X86_BTS, X86_BTR, X86_BTC };

/* Where the operation's source value comes from. */
enum x86_src {
	X86_SRC_NONE,
	X86_SRC_REG,  /* register insn->reg */
	X86_SRC_IMM,  /* insn->imm */
	X86_SRC_ONE,  /* the constant 1 (shift by one) */
	X86_SRC_CL,
	X86_SRC_ACC,  /* AL/AX/EAX/RAX */
	X86_SRC_MEM,  /* the memory operand (PUSH/CALL through memory) */
};

/* struct x86_insn.flags */
#define X86_WRITES_MEM   (1u << 0)  /* stores write_size bytes (per iteration for string ops) */
#define X86_READS_MEM    (1u << 1)
#define X86_MEM_OPERAND  (1u << 2)  /* insn->mem describes an explicit memory operand (ModRM or moffs) */
#define X86_STACK_WRITE  (1u << 3)  /* the store goes below RSP (PUSH, CALL, PUSHF, ENTER) */
#define X86_STACK_READ   (1u << 4)
#define X86_STRING       (1u << 5)  /* string instruction: destination ES:rDI, source seg:rSI */
#define X86_REP          (1u << 6)  /* string instruction repeated rCX times */
#define X86_BIT_OFFSET   (1u << 7)  /* BT* with a register bit offset: it moves the accessed operand */
#define X86_EMULATABLE   (1u << 8)  /* x86_emulate() executes it */

struct x86_mem_operand {
	uint8_t segment;   /* enum x86_segment: the override, X86_SEG_NONE for the default (base 0). CS/DS/ES/SS
			    * overrides do not cancel an FS/GS one (Bochs, objdump; some AMD CPUs let the last win) */
	uint8_t base;      /* enum x86_gpr, X86_REG_RIP or X86_REG_NONE */
	uint8_t index;     /* enum x86_gpr or X86_REG_NONE */
	uint8_t scale;     /* 1, 2, 4 or 8 */
	int64_t disp;      /* sign-extended displacement; the absolute address for MOV moffs */
};

struct x86_insn {
	uint8_t length;
	uint8_t map;        /* enum x86_map */
	uint8_t opcode;
	uint8_t prefixes;   /* X86_PFX_* */
	uint8_t rex;        /* the REX byte in effect (VEX.W/R/X/B mapped onto it), 0 without */
	uint8_t has_modrm;
	uint8_t modrm;
	uint8_t has_sib;
	uint8_t sib;
	uint8_t op_size;    /* operand size in bytes: 1, 2, 4 or 8 */
	uint8_t addr_size;  /* 4 with the 67 prefix, else 8 */
	uint8_t imm_size;
	uint8_t op;         /* enum x86_op */
	uint8_t sub;        /* enum x86_alu, x86_shift, x86_bitop or the condition code */
	uint8_t src;        /* enum x86_src */
	uint8_t reg;        /* the register operand: ModRM.reg (+REX.R), or the opcode's low 3 bits (+REX.B) */
	uint32_t flags;     /* X86_* above */
	uint32_t write_size; /* bytes stored (per iteration); 0 with X86_WRITES_MEM when not known from the encoding
			      * (XSAVE family, ENTER, far CALL) */
	int64_t imm;        /* first immediate, sign-extended from imm_size bytes */
	struct x86_mem_operand mem;
};

/* Decodes the instruction at bytes[0..avail). Reads nothing at or beyond bytes[avail] nor beyond 15 bytes.
 * 0 on success; -HV_ETRUNC if avail ends before the instruction does (fetch more bytes and retry); -HV_EBADINSN for
 * an invalid, unsupported or over-long (> 15 bytes) encoding. */
int x86_decode(const uint8_t *bytes, size_t avail, struct x86_insn *out);

/* Base of a segment in 64-bit mode: fs_base, gs_base, or 0. */
uint64_t x86_segment_base(const struct x86_regs *regs, uint8_t segment);

/* Linear address of the explicit memory operand (X86_MEM_OPERAND): segment base + effective address, truncated to
 * the address size, the register bit offset of BT* included. 0, or -HV_EINVAL without such an operand. */
int x86_operand_address(const struct x86_insn *insn, const struct x86_regs *regs, uint64_t *linear);

/* The memory the instruction stores to when executed (emulated) in state regs: [*linear, *linear + *size). For a
 * REP string instruction, the range of the iterations x86_emulate() performs next (x86_string_iterations()).
 * *size = 0 when it stores nothing (e.g. CMP, or REP with rCX = 0). 0 on success; -HV_ENOSYS when the stored size
 * is not known from the encoding (write_size 0: use the fault address). */
int x86_mem_target(const struct x86_insn *insn, const struct x86_regs *regs, uint64_t *linear, uint32_t *size);

/* How many iterations of a string instruction x86_emulate() performs in one call: all remaining (rCX for REP, else
 * 1) but at most those whose destination element starts in the page of the first one. A REP instruction left with
 * rCX != 0 keeps its RIP, so the guest re-executes it, exactly like an interrupted REP on hardware: each trap
 * emulates at most one destination page. */
uint64_t x86_string_iterations(const struct x86_insn *insn, const struct x86_regs *regs);

#endif
