/* x86-64 instruction decoder: opcode tables in the style of KVM's emulate.c (flags describing each opcode's
 * encoding and its memory semantics), a prefix/ModRM/SIB/immediate parser, and the operand address arithmetic. */
#include "isolation/x86_decode.h"

#include <stdbool.h>

#include "hv/errno.h"
#include "hv/lib.h"

#define PAGE_SIZE 4096ull

/* Encoding flags. */
#define ModRM     (1u << 0)
#define ByteOp    (1u << 1)   /* 8-bit operands */
#define ImmShift  2
#define Ib        (1u << ImmShift)  /* imm8 */
#define Iw        (2u << ImmShift)  /* imm16 */
#define Id        (3u << ImmShift)  /* imm32 whatever 66 says: rel32 of near branches in 64-bit mode (Intel) */
#define Iz        (4u << ImmShift)  /* operand-sized: 1, 2 or 4 bytes (4 sign-extended for 64-bit operands) */
#define Iv        (5u << ImmShift)  /* 2, 4 or 8 bytes: MOV r, imm */
#define Moffs     (6u << ImmShift)  /* address-sized absolute address: MOV moffs */
#define IwIb      (7u << ImmShift)  /* ENTER */
#define ImmMask   (7u << ImmShift)
#define Group     (1u << 5)   /* ModRM.reg picks the entry in groups[sub] */
#define Simd      (1u << 6)   /* a store whose size depends on the mandatory prefix: simd_stores[sub] */
#define Invalid   (1u << 7)   /* #UD in 64-bit mode */
#define Stack64   (1u << 8)   /* operand size defaults to 64 bits (PUSH, POP); 66 selects 16 */
#define Force64   (1u << 9)   /* operand size is 64 bits whatever the prefixes */
#define MemOnly   (1u << 10)  /* the register form of ModRM is #UD */
#define OnlyF8    (1u << 11)  /* only ModRM F8 is defined (XABORT, XBEGIN) */
#define ModRMReg  (1u << 12)  /* MOV CR/DR: mod is ignored, r/m is always a register */
#define OpcodeReg (1u << 13)  /* register operand in the opcode's low 3 bits */
#define Max32     (1u << 14)  /* 32 bits at most (INS, OUTS) */
#define NoPrefix  (1u << 15)  /* 66/F2/F3 make it undefined (MOVNTI, MOVDIRI) */
/* Memory semantics: DstMem/SrcMem apply to the r/m or moffs operand when it is memory. */
#define DstMem    (1u << 16)
#define SrcMem    (1u << 17)
#define Push      (1u << 18)  /* stores below RSP */
#define Pop       (1u << 19)  /* loads from RSP */
#define StrDst    (1u << 20)  /* string store to ES:rDI */
#define StrSrc    (1u << 21)  /* string load from seg:rSI */
#define StrCmp    (1u << 22)  /* string load from ES:rDI */
#define Lock      (1u << 23)  /* LOCK allowed (with a memory destination) */
#define Emul      (1u << 24)  /* x86_emulate() implements it */
#define BitOff    (1u << 25)  /* BT*: a register bit offset moves the memory operand */
#define SrcShift  26          /* enum x86_src, or SRC_RM */
#define SrcReg    (X86_SRC_REG << SrcShift)
#define SrcImm    (X86_SRC_IMM << SrcShift)
#define SrcOne    (X86_SRC_ONE << SrcShift)
#define SrcCL     (X86_SRC_CL << SrcShift)
#define SrcAcc    (X86_SRC_ACC << SrcShift)
#define SRC_RM    7           /* the r/m operand, register or memory: resolved at decode */
#define SrcRm     (SRC_RM << SrcShift)
#define SrcMask   (7u << SrcShift)

#define STRING_OPS (StrDst | StrSrc | StrCmp)

/* opcode_desc.mem_size: the size of the memory operand when it is not the operand size. */
#define SIZE_UNKNOWN 0xffff

struct opcode_desc {
	uint32_t flags;
	uint8_t op;        /* enum x86_op */
	uint8_t sub;       /* sub-operation, or the index into groups[] / simd_stores[] */
	uint16_t mem_size;
};

/* The mandatory prefix of SSE/AVX opcodes, numbered as VEX.pp. */
enum { PFX_NONE, PFX_66, PFX_F3, PFX_F2 };

/* SSE/AVX stores by mandatory prefix (none, 66, F3, F2); special sizes scale with VEX.L or REX.W/VEX.W. */
#define VEC  0xff  /* 16 bytes, 32 with VEX.L */
#define DQ   0xfe  /* 4 bytes, 8 with W */
#define HALF 0xfd  /* 8 bytes, 16 with VEX.L */
enum { SIMD_MOVUPS, SIMD_MOVLPS, SIMD_MOVAPS, SIMD_MOVD, SIMD_MOVDQA, SIMD_MOVQ, SIMD_MOVNTQ, SIMD_PEXTRB,
       SIMD_PEXTRW, SIMD_PEXTRD, SIMD_EXTRACTPS, SIMD_EXTRACT128, SIMD_CVTPS2PH, SIMD_MASKMOV };
static const uint8_t simd_stores[][4] = {
	[SIMD_MOVUPS]     = { VEC, VEC, 4, 8 },   /* 0F 11: movups/movupd/movss/movsd */
	[SIMD_MOVLPS]     = { 8, 8, 0, 0 },       /* 0F 13/17: movlps/movlpd/movhps/movhpd */
	[SIMD_MOVAPS]     = { VEC, VEC, 0, 0 },   /* 0F 29/2B: movaps/movapd/movntps/movntpd */
	[SIMD_MOVD]       = { DQ, DQ, 0, 0 },     /* 0F 7E: movd/movq from mm/xmm (F3: a load) */
	[SIMD_MOVDQA]     = { 8, VEC, VEC, 0 },   /* 0F 7F: movq mm, movdqa, movdqu */
	[SIMD_MOVQ]       = { 0, 8, 0, 0 },       /* 0F D6: movq xmm */
	[SIMD_MOVNTQ]     = { 8, VEC, 0, 0 },     /* 0F E7: movntq, movntdq */
	[SIMD_PEXTRB]     = { 0, 1, 0, 0 },       /* 0F 3A 14 */
	[SIMD_PEXTRW]     = { 0, 2, 0, 0 },       /* 0F 3A 15 */
	[SIMD_PEXTRD]     = { 0, DQ, 0, 0 },      /* 0F 3A 16: pextrd/pextrq */
	[SIMD_EXTRACTPS]  = { 0, 4, 0, 0 },       /* 0F 3A 17 */
	[SIMD_EXTRACT128] = { 0, 16, 0, 0 },      /* VEX 0F 3A 19/39: vextractf128/vextracti128 */
	[SIMD_CVTPS2PH]   = { 0, HALF, 0, 0 },    /* VEX 0F 3A 1D */
	[SIMD_MASKMOV]    = { 0, VEC, 0, 0 },     /* VEX 0F 38 2E/2F/8E: masked stores, the whole vector at most */
};

enum { GRP1, GRP1A, GRP2, GRP3, GRP4, GRP5, GRP11_C6, GRP11_C7, GRP6, GRP7, GRP8, GRP9, GRP15 };

#define RMW (DstMem | SrcMem | Emul)
#define ALU_GROUP_ENTRY(n) { RMW | Lock, X86_OP_ALU, n, 0 }

static const struct opcode_desc groups[][8] = {
	[GRP1] = { ALU_GROUP_ENTRY(0), ALU_GROUP_ENTRY(1), ALU_GROUP_ENTRY(2), ALU_GROUP_ENTRY(3),
		   ALU_GROUP_ENTRY(4), ALU_GROUP_ENTRY(5), ALU_GROUP_ENTRY(6), { SrcMem, 0, 0, 0 } },
	[GRP1A] = { { DstMem | Pop | Stack64 | Emul, X86_OP_POP, 0, 0 }, { Invalid }, { Invalid }, { Invalid },
		    { Invalid }, { Invalid }, { Invalid }, { Invalid } },
	[GRP2] = { { RMW, X86_OP_SHIFT, 0, 0 }, { RMW, X86_OP_SHIFT, 1, 0 }, { RMW, X86_OP_SHIFT, 2, 0 },
		   { RMW, X86_OP_SHIFT, 3, 0 }, { RMW, X86_OP_SHIFT, 4, 0 }, { RMW, X86_OP_SHIFT, 5, 0 },
		   { RMW, X86_OP_SHIFT, 6, 0 }, { RMW, X86_OP_SHIFT, 7, 0 } },
	[GRP3] = { { SrcMem | Iz }, { SrcMem | Iz }, { RMW | Lock, X86_OP_NOT, 0, 0 },
		   { RMW | Lock, X86_OP_NEG, 0, 0 }, { SrcMem }, { SrcMem }, { SrcMem }, { SrcMem } },
	[GRP4] = { { RMW | Lock, X86_OP_INC, 0, 0 }, { RMW | Lock, X86_OP_DEC, 0, 0 }, { Invalid }, { Invalid },
		   { Invalid }, { Invalid }, { Invalid }, { Invalid } },
	[GRP5] = { { RMW | Lock, X86_OP_INC, 0, 0 }, { RMW | Lock, X86_OP_DEC, 0, 0 },
		   { SrcMem | SrcRm | Push | Force64 | Emul, X86_OP_CALL, 0, 0 },
		   { SrcMem | Push | MemOnly, 0, 0, SIZE_UNKNOWN },  /* far CALL */
		   { SrcMem | Force64 }, { SrcMem | MemOnly },
		   { SrcMem | SrcRm | Push | Stack64 | Emul, X86_OP_PUSH, 0, 0 }, { Invalid } },
	[GRP11_C6] = { { DstMem | SrcImm | Iz | Emul, X86_OP_MOV, 0, 0 }, { Invalid }, { Invalid }, { Invalid },
		       { Invalid }, { Invalid }, { Invalid }, { Ib | OnlyF8 } },
	[GRP11_C7] = { { DstMem | SrcImm | Iz | Emul, X86_OP_MOV, 0, 0 }, { Invalid }, { Invalid }, { Invalid },
		       { Invalid }, { Invalid }, { Invalid }, { Iz | OnlyF8 } },
	[GRP6] = { { DstMem, 0, 0, 2 }, { DstMem, 0, 0, 2 }, { SrcMem, 0, 0, 2 }, { SrcMem, 0, 0, 2 },
		   { SrcMem, 0, 0, 2 }, { SrcMem, 0, 0, 2 }, { Invalid }, { Invalid } },
	[GRP7] = { { DstMem, 0, 0, 10 }, { DstMem, 0, 0, 10 }, { SrcMem, 0, 0, 10 }, { SrcMem, 0, 0, 10 },
		   { DstMem, 0, 0, 2 }, { SrcMem }, { SrcMem, 0, 0, 2 }, { 0 } },
	[GRP8] = { { Invalid }, { Invalid }, { Invalid }, { Invalid }, { SrcMem, X86_OP_NONE, X86_BT, 0 },
		   { RMW | Lock, X86_OP_BT, X86_BTS, 0 }, { RMW | Lock, X86_OP_BT, X86_BTR, 0 },
		   { RMW | Lock, X86_OP_BT, X86_BTC, 0 } },
	[GRP9] = { { Invalid }, { RMW | Lock | MemOnly, X86_OP_CMPXCHG8B, 0, 0 }, { Invalid },
		   { SrcMem, 0, 0, SIZE_UNKNOWN }, { DstMem, 0, 0, SIZE_UNKNOWN }, { DstMem, 0, 0, SIZE_UNKNOWN },
		   { SrcMem, 0, 0, 8 }, { DstMem, 0, 0, 8 } },
	[GRP15] = { { DstMem, 0, 0, 512 }, { SrcMem, 0, 0, 512 }, { SrcMem, 0, 0, 4 }, { DstMem, 0, 0, 4 },
		    { DstMem, 0, 0, SIZE_UNKNOWN }, { SrcMem, 0, 0, SIZE_UNKNOWN }, { DstMem, 0, 0, SIZE_UNKNOWN },
		    { 0 } },
};

#define ALU_OPS(n)                                                                              \
	[8 * (n) + 0] = { ModRM | ByteOp | RMW | Lock | SrcReg, X86_OP_ALU, n, 0 },             \
	[8 * (n) + 1] = { ModRM | RMW | Lock | SrcReg, X86_OP_ALU, n, 0 },                      \
	[8 * (n) + 2] = { ModRM | ByteOp | SrcMem }, [8 * (n) + 3] = { ModRM | SrcMem },         \
	[8 * (n) + 4] = { ByteOp | Ib }, [8 * (n) + 5] = { Iz }
#define GROUP(g, flags) { ModRM | Group | (flags), 0, g, 0 }

static const struct opcode_desc primary[256] = {
	ALU_OPS(0), ALU_OPS(1), ALU_OPS(2), ALU_OPS(3), ALU_OPS(4), ALU_OPS(5), ALU_OPS(6),
	[0x38] = { ModRM | ByteOp | SrcMem }, [0x39] = { ModRM | SrcMem },
	[0x3a] = { ModRM | ByteOp | SrcMem }, [0x3b] = { ModRM | SrcMem },
	[0x3c] = { ByteOp | Ib }, [0x3d] = { Iz },
	[0x06] = { Invalid }, [0x07] = { Invalid }, [0x0e] = { Invalid }, [0x16] = { Invalid },
	[0x17] = { Invalid }, [0x1e] = { Invalid }, [0x1f] = { Invalid }, [0x27] = { Invalid },
	[0x2f] = { Invalid }, [0x37] = { Invalid }, [0x3f] = { Invalid },
	[0x50 ... 0x57] = { OpcodeReg | Push | Stack64 | SrcReg | Emul, X86_OP_PUSH, 0, 0 },
	[0x58 ... 0x5f] = { OpcodeReg | Pop | Stack64 },
	[0x60 ... 0x62] = { Invalid },
	[0x63] = { ModRM | SrcMem, 0, 0, 4 },
	[0x68] = { Iz | Push | Stack64 | SrcImm | Emul, X86_OP_PUSH, 0, 0 },
	[0x69] = { ModRM | SrcMem | Iz },
	[0x6a] = { Ib | Push | Stack64 | SrcImm | Emul, X86_OP_PUSH, 0, 0 },
	[0x6b] = { ModRM | SrcMem | Ib },
	[0x6c] = { ByteOp | StrDst | Emul, X86_OP_INS, 0, 0 }, [0x6d] = { StrDst | Max32 | Emul, X86_OP_INS, 0, 0 },
	[0x6e] = { ByteOp | StrSrc }, [0x6f] = { StrSrc | Max32 },
	[0x70 ... 0x7f] = { Ib },
	[0x80] = GROUP(GRP1, ByteOp | Iz | SrcImm), [0x81] = GROUP(GRP1, Iz | SrcImm),
	[0x82] = { Invalid }, [0x83] = GROUP(GRP1, Ib | SrcImm),
	[0x84] = { ModRM | ByteOp | SrcMem }, [0x85] = { ModRM | SrcMem },
	[0x86] = { ModRM | ByteOp | RMW | Lock | SrcReg, X86_OP_XCHG, 0, 0 },
	[0x87] = { ModRM | RMW | Lock | SrcReg, X86_OP_XCHG, 0, 0 },
	[0x88] = { ModRM | ByteOp | DstMem | SrcReg | Emul, X86_OP_MOV, 0, 0 },
	[0x89] = { ModRM | DstMem | SrcReg | Emul, X86_OP_MOV, 0, 0 },
	[0x8a] = { ModRM | ByteOp | SrcMem }, [0x8b] = { ModRM | SrcMem },
	[0x8c] = { ModRM | DstMem, 0, 0, 2 },   /* MOV r/m, Sreg: the selector is not in struct x86_regs */
	[0x8d] = { ModRM | MemOnly },
	[0x8e] = { ModRM | SrcMem, 0, 0, 2 },
	[0x8f] = GROUP(GRP1A, 0),
	[0x90 ... 0x97] = { OpcodeReg },
	[0x9a] = { Invalid },
	[0x9c] = { Push | Stack64 | Emul, X86_OP_PUSHF, 0, 0 },
	[0x9d] = { Pop | Stack64 },
	[0xa0] = { Moffs | ByteOp | SrcMem }, [0xa1] = { Moffs | SrcMem },
	[0xa2] = { Moffs | ByteOp | DstMem | SrcAcc | Emul, X86_OP_MOV, 0, 0 },
	[0xa3] = { Moffs | DstMem | SrcAcc | Emul, X86_OP_MOV, 0, 0 },
	[0xa4] = { ByteOp | StrSrc | StrDst | Emul, X86_OP_MOVS, 0, 0 },
	[0xa5] = { StrSrc | StrDst | Emul, X86_OP_MOVS, 0, 0 },
	[0xa6] = { ByteOp | StrSrc | StrCmp }, [0xa7] = { StrSrc | StrCmp },
	[0xa8] = { ByteOp | Ib }, [0xa9] = { Iz },
	[0xaa] = { ByteOp | StrDst | SrcAcc | Emul, X86_OP_STOS, 0, 0 },
	[0xab] = { StrDst | SrcAcc | Emul, X86_OP_STOS, 0, 0 },
	[0xac] = { ByteOp | StrSrc }, [0xad] = { StrSrc },
	[0xae] = { ByteOp | StrCmp }, [0xaf] = { StrCmp },
	[0xb0 ... 0xb7] = { OpcodeReg | ByteOp | Ib },
	[0xb8 ... 0xbf] = { OpcodeReg | Iv },
	[0xc0] = GROUP(GRP2, ByteOp | Ib | SrcImm), [0xc1] = GROUP(GRP2, Ib | SrcImm),
	[0xc2] = { Iw | Pop | Force64 }, [0xc3] = { Pop | Force64 },
	[0xc6] = GROUP(GRP11_C6, ByteOp), [0xc7] = GROUP(GRP11_C7, 0),
	[0xc8] = { IwIb | Push | Stack64, 0, 0, SIZE_UNKNOWN },
	[0xc9] = { Pop | Stack64 },
	[0xca] = { Iw | Pop }, [0xcb] = { Pop },
	[0xcd] = { Ib }, [0xce] = { Invalid }, [0xcf] = { Pop },
	[0xd0] = GROUP(GRP2, ByteOp | SrcOne), [0xd1] = GROUP(GRP2, SrcOne),
	[0xd2] = GROUP(GRP2, ByteOp | SrcCL), [0xd3] = GROUP(GRP2, SrcCL),
	[0xd4 ... 0xd6] = { Invalid },
	[0xd8 ... 0xdf] = { ModRM },   /* x87: memory semantics from x87_store_size */
	[0xe0 ... 0xe7] = { Ib },
	[0xe8] = { Id | Push | Force64 | Emul, X86_OP_CALL, 0, 0 },
	[0xe9] = { Id }, [0xea] = { Invalid }, [0xeb] = { Ib },
	[0xf6] = GROUP(GRP3, ByteOp), [0xf7] = GROUP(GRP3, 0),
	[0xfe] = GROUP(GRP4, ByteOp), [0xff] = GROUP(GRP5, 0),
};

static const struct opcode_desc secondary[256] = {
	[0x00] = GROUP(GRP6, 0), [0x01] = GROUP(GRP7, 0),
	[0x02] = { ModRM | SrcMem, 0, 0, 2 }, [0x03] = { ModRM | SrcMem, 0, 0, 2 },
	[0x04] = { Invalid }, [0x0a] = { Invalid }, [0x0c] = { Invalid },
	[0x0d] = { ModRM }, [0x0e] = { Invalid }, [0x0f] = { Invalid },
	[0x10] = { ModRM | SrcMem }, [0x11] = { ModRM | Simd, 0, SIMD_MOVUPS, 0 },
	[0x12] = { ModRM | SrcMem }, [0x13] = { ModRM | Simd, 0, SIMD_MOVLPS, 0 },
	[0x14 ... 0x16] = { ModRM | SrcMem }, [0x17] = { ModRM | Simd, 0, SIMD_MOVLPS, 0 },
	[0x18 ... 0x1f] = { ModRM },
	[0x20 ... 0x23] = { ModRM | ModRMReg },
	[0x24 ... 0x27] = { Invalid },
	[0x28] = { ModRM | SrcMem }, [0x29] = { ModRM | Simd, 0, SIMD_MOVAPS, 0 },
	[0x2a] = { ModRM | SrcMem }, [0x2b] = { ModRM | Simd, 0, SIMD_MOVAPS, 0 },
	[0x2c ... 0x2f] = { ModRM | SrcMem },
	[0x36] = { Invalid }, [0x39] = { Invalid }, [0x3b ... 0x3f] = { Invalid },
	[0x40 ... 0x4f] = { ModRM | SrcMem },
	[0x50 ... 0x6f] = { ModRM | SrcMem },
	[0x70 ... 0x73] = { ModRM | Ib | SrcMem },
	[0x74 ... 0x76] = { ModRM | SrcMem },
	[0x78] = { ModRM | DstMem | Force64 },   /* VMREAD */
	[0x79] = { ModRM | SrcMem | Force64 },   /* VMWRITE */
	[0x7a ... 0x7b] = { Invalid },
	[0x7c ... 0x7d] = { ModRM | SrcMem },
	[0x7e] = { ModRM | Simd, 0, SIMD_MOVD, 0 }, [0x7f] = { ModRM | Simd, 0, SIMD_MOVDQA, 0 },
	[0x80 ... 0x8f] = { Id },
	[0x90 ... 0x9f] = { ModRM | ByteOp | DstMem | Emul, X86_OP_SETCC, 0, 0 },
	[0xa0] = { Push | Stack64 }, [0xa1] = { Pop | Stack64 },
	[0xa3] = { ModRM | SrcMem | SrcReg | BitOff, 0, X86_BT, 0 },
	[0xa4] = { ModRM | RMW | Ib | SrcImm, X86_OP_SHLD, 0, 0 },
	[0xa5] = { ModRM | RMW | SrcCL, X86_OP_SHLD, 0, 0 },
	[0xa6 ... 0xa7] = { Invalid },
	[0xa8] = { Push | Stack64 }, [0xa9] = { Pop | Stack64 },
	[0xab] = { ModRM | RMW | Lock | SrcReg | BitOff, X86_OP_BT, X86_BTS, 0 },
	[0xac] = { ModRM | RMW | Ib | SrcImm, X86_OP_SHRD, 0, 0 },
	[0xad] = { ModRM | RMW | SrcCL, X86_OP_SHRD, 0, 0 },
	[0xae] = GROUP(GRP15, 0),
	[0xaf] = { ModRM | SrcMem },
	[0xb0] = { ModRM | ByteOp | RMW | Lock | SrcReg, X86_OP_CMPXCHG, 0, 0 },
	[0xb1] = { ModRM | RMW | Lock | SrcReg, X86_OP_CMPXCHG, 0, 0 },
	[0xb2] = { ModRM | SrcMem | MemOnly },
	[0xb3] = { ModRM | RMW | Lock | SrcReg | BitOff, X86_OP_BT, X86_BTR, 0 },
	[0xb4 ... 0xb5] = { ModRM | SrcMem | MemOnly },
	[0xb6] = { ModRM | SrcMem, 0, 0, 1 }, [0xb7] = { ModRM | SrcMem, 0, 0, 2 },
	[0xb8 ... 0xb9] = { ModRM | SrcMem },
	[0xba] = GROUP(GRP8, Ib | SrcImm),
	[0xbb] = { ModRM | RMW | Lock | SrcReg | BitOff, X86_OP_BT, X86_BTC, 0 },
	[0xbc ... 0xbd] = { ModRM | SrcMem },
	[0xbe] = { ModRM | SrcMem, 0, 0, 1 }, [0xbf] = { ModRM | SrcMem, 0, 0, 2 },
	[0xc0] = { ModRM | ByteOp | RMW | Lock | SrcReg, X86_OP_XADD, 0, 0 },
	[0xc1] = { ModRM | RMW | Lock | SrcReg, X86_OP_XADD, 0, 0 },
	[0xc2] = { ModRM | Ib | SrcMem },
	[0xc3] = { ModRM | DstMem | MemOnly | NoPrefix | SrcReg | Emul, X86_OP_MOV, 0, 0 },   /* MOVNTI */
	[0xc4 ... 0xc6] = { ModRM | Ib | SrcMem },
	[0xc7] = GROUP(GRP9, 0),
	[0xc8 ... 0xcf] = { OpcodeReg },
	[0xd0 ... 0xd5] = { ModRM | SrcMem }, [0xd6] = { ModRM | Simd, 0, SIMD_MOVQ, 0 },
	[0xd7 ... 0xe6] = { ModRM | SrcMem }, [0xe7] = { ModRM | Simd, 0, SIMD_MOVNTQ, 0 },
	[0xe8 ... 0xff] = { ModRM | SrcMem },
};

/* x87 stores by opcode (D8..DF) and ModRM.reg, memory forms; every other x87 memory form loads. */
static const uint8_t x87_store_size[8][8] = {
	[1] = { [2] = 4, [3] = 4, [6] = 28, [7] = 2 },           /* fst(p) m32, fnstenv, fnstcw */
	[3] = { [1] = 4, [2] = 4, [3] = 4, [7] = 10 },           /* fisttp/fist(p) m32, fstp m80 */
	[5] = { [1] = 8, [2] = 8, [3] = 8, [6] = 108, [7] = 2 }, /* fisttp m64, fst(p) m64, fnsave, fnstsw */
	[7] = { [1] = 2, [2] = 2, [3] = 2, [6] = 10, [7] = 8 },  /* fisttp/fist(p) m16, fbstp, fistp m64 */
};

static struct opcode_desc map_0f38(uint8_t opcode, uint8_t simd_prefix, bool vex)
{
	if (vex) {
		if (opcode == 0x2e || opcode == 0x2f || opcode == 0x8e)
			return (struct opcode_desc){ ModRM | Simd, 0, SIMD_MASKMOV, 0 };
		return (struct opcode_desc){ ModRM | SrcMem, 0, 0, 0 };
	}
	if (opcode == 0xf1 && simd_prefix != PFX_F2)   /* MOVBE m, r (F2: CRC32) */
		return (struct opcode_desc){ ModRM | DstMem | MemOnly | SrcReg | Emul, X86_OP_MOVBE, 0, 0 };
	if (opcode == 0xf9 && !simd_prefix)            /* MOVDIRI */
		return (struct opcode_desc){ ModRM | DstMem | MemOnly | SrcReg | Emul, X86_OP_MOV, 0, 0 };
	return (struct opcode_desc){ ModRM | SrcMem, 0, 0, 0 };
}

static struct opcode_desc map_0f3a(uint8_t opcode, bool vex)
{
	static const uint8_t extract[4] = { SIMD_PEXTRB, SIMD_PEXTRW, SIMD_PEXTRD, SIMD_EXTRACTPS };

	if (opcode >= 0x14 && opcode <= 0x17)
		return (struct opcode_desc){ ModRM | Ib | Simd, 0, extract[opcode - 0x14], 0 };
	if (vex && (opcode == 0x19 || opcode == 0x39))
		return (struct opcode_desc){ ModRM | Ib | Simd, 0, SIMD_EXTRACT128, 0 };
	if (vex && opcode == 0x1d)
		return (struct opcode_desc){ ModRM | Ib | Simd, 0, SIMD_CVTPS2PH, 0 };
	return (struct opcode_desc){ ModRM | Ib | SrcMem, 0, 0, 0 };
}

/* VEX map 0F: ModRM everywhere but VZEROUPPER/VZEROALL; the stores and imm8 forms match the legacy map. */
static struct opcode_desc vex_map_0f(uint8_t opcode)
{
	const struct opcode_desc *legacy = &secondary[opcode];

	if (opcode == 0x77)
		return (struct opcode_desc){ 0, 0, 0, 0 };
	if (legacy->flags & Simd)
		return *legacy;
	return (struct opcode_desc){ ModRM | SrcMem | (legacy->flags & Ib), 0, 0, 0 };
}

struct decoder {
	const uint8_t *bytes;
	size_t avail;
	unsigned pos;
	uint8_t simd_prefix;   /* PFX_*: the last of F2/F3, else 66 */
	uint8_t vex_l;
};

static int fetch(struct decoder *d, unsigned n, uint64_t *value)
{
	uint64_t v = 0;

	if (d->pos + n > X86_MAX_INSN_LEN)
		return -HV_EBADINSN;
	if (d->pos + n > d->avail)
		return -HV_ETRUNC;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)d->bytes[d->pos + i] << (8 * i);
	d->pos += n;
	*value = v;
	return 0;
}

static int fetch_byte(struct decoder *d, uint8_t *byte)
{
	uint64_t v = 0;
	int err = fetch(d, 1, &v);

	*byte = (uint8_t)v;
	return err;
}

static int64_t sign_extend(uint64_t value, unsigned bytes)
{
	unsigned shift = 64 - 8 * bytes;

	return bytes >= 8 ? (int64_t)value : (int64_t)(value << shift) >> shift;
}

/* Consumes one legacy or REX prefix; false if b is not one. A REX prefix counts only right before the opcode. */
static bool take_prefix(uint8_t b, struct x86_insn *insn, struct decoder *d)
{
	static const uint8_t segments[] = { [0x26 >> 3] = X86_SEG_ES, [0x2e >> 3] = X86_SEG_CS,
					    [0x36 >> 3] = X86_SEG_SS, [0x3e >> 3] = X86_SEG_DS };

	if ((b & 0xf0) == 0x40) {
		insn->rex = b;
		return true;
	}
	switch (b) {
	case 0x66:
		insn->prefixes |= X86_PFX_OPSIZE;
		break;
	case 0x67:
		insn->prefixes |= X86_PFX_ADSIZE;
		break;
	case 0xf0:
		insn->prefixes |= X86_PFX_LOCK;
		break;
	case 0xf2:
		insn->prefixes |= X86_PFX_REPNE;
		d->simd_prefix = PFX_F2;
		break;
	case 0xf3:
		insn->prefixes |= X86_PFX_REP;
		d->simd_prefix = PFX_F3;
		break;
	case 0x26: case 0x2e: case 0x36: case 0x3e:
		/* Ignored in 64-bit mode: they do not cancel an FS/GS override (Bochs; some AMD CPUs differ). */
		if (insn->mem.segment != X86_SEG_FS && insn->mem.segment != X86_SEG_GS)
			insn->mem.segment = segments[b >> 3];
		break;
	case 0x64:
		insn->mem.segment = X86_SEG_FS;
		break;
	case 0x65:
		insn->mem.segment = X86_SEG_GS;
		break;
	default:
		return false;
	}
	insn->rex = 0;
	return true;
}

static int decode_vex(struct decoder *d, uint8_t first, struct x86_insn *insn, struct opcode_desc *desc)
{
	uint8_t p1, p2;
	int err;

	/* VEX after 66, F2, F3, LOCK or REX is #UD. */
	if (insn->rex || (insn->prefixes & (X86_PFX_OPSIZE | X86_PFX_LOCK | X86_PFX_REP | X86_PFX_REPNE)))
		return -HV_EBADINSN;
	if ((err = fetch_byte(d, &p1)))
		return err;
	if (first == 0xc5) {
		insn->map = X86_MAP_0F;
		insn->rex = 0x40 | (p1 & 0x80 ? 0 : 0x04);
		p2 = p1;
	} else {
		if ((err = fetch_byte(d, &p2)))
			return err;
		insn->map = p1 & 0x1f;
		if (insn->map < X86_MAP_0F || insn->map > X86_MAP_0F3A)
			return -HV_EBADINSN;
		insn->rex = 0x40 | ((~p1 >> 5) & 0x07) | (p2 & 0x80 ? 0x08 : 0);
	}
	insn->prefixes |= X86_PFX_VEX;
	d->vex_l = (p2 >> 2) & 1;
	d->simd_prefix = p2 & 3;
	if ((err = fetch_byte(d, &insn->opcode)))
		return err;
	if (insn->map == X86_MAP_0F)
		*desc = vex_map_0f(insn->opcode);
	else if (insn->map == X86_MAP_0F38)
		*desc = map_0f38(insn->opcode, d->simd_prefix, true);
	else
		*desc = map_0f3a(insn->opcode, true);
	return 0;
}

/* Reads prefixes and the opcode bytes, and finds the opcode's description (groups not yet resolved). */
static int decode_opcode(struct decoder *d, struct x86_insn *insn, struct opcode_desc *desc)
{
	uint8_t b;
	int err;

	do {
		if ((err = fetch_byte(d, &b)))
			return err;
	} while (take_prefix(b, insn, d));
	if (insn->rex)
		insn->prefixes |= X86_PFX_REX;
	if (b == 0xc4 || b == 0xc5)
		return decode_vex(d, b, insn, desc);
	if (!d->simd_prefix && (insn->prefixes & X86_PFX_OPSIZE))
		d->simd_prefix = PFX_66;
	if (b != 0x0f) {
		insn->map = X86_MAP_PRIMARY;
		insn->opcode = b;
		*desc = primary[b];
		return 0;
	}
	if ((err = fetch_byte(d, &b)))
		return err;
	insn->map = X86_MAP_0F;
	if (b == 0x38 || b == 0x3a) {
		insn->map = b == 0x38 ? X86_MAP_0F38 : X86_MAP_0F3A;
		if ((err = fetch_byte(d, &b)))
			return err;
	}
	insn->opcode = b;
	if (insn->map == X86_MAP_0F)
		*desc = secondary[b];
	else if (insn->map == X86_MAP_0F38)
		*desc = map_0f38(b, d->simd_prefix, false);
	else
		*desc = map_0f3a(b, false);
	return 0;
}

static int decode_modrm_memory(struct decoder *d, struct x86_insn *insn)
{
	uint8_t mod = insn->modrm >> 6, rm = insn->modrm & 7;
	uint64_t disp = 0;
	unsigned disp_size = mod == 1 ? 1 : mod == 2 ? 4 : 0;
	int err;

	insn->mem.scale = 1;
	if (rm == 4) {
		uint8_t base, index;

		if ((err = fetch_byte(d, &insn->sib)))
			return err;
		insn->has_sib = 1;
		base = insn->sib & 7;
		index = ((insn->sib >> 3) & 7) | (insn->rex & 0x02 ? 8 : 0);
		insn->mem.scale = 1 << (insn->sib >> 6);
		if (index != X86_RSP)
			insn->mem.index = index;
		if (base == 5 && mod == 0)
			disp_size = 4;
		else
			insn->mem.base = base | (insn->rex & 0x01 ? 8 : 0);
	} else if (rm == 5 && mod == 0) {
		insn->mem.base = X86_REG_RIP;
		disp_size = 4;
	} else {
		insn->mem.base = rm | (insn->rex & 0x01 ? 8 : 0);
	}
	if (disp_size && (err = fetch(d, disp_size, &disp)))
		return err;
	insn->mem.disp = disp_size ? sign_extend(disp, disp_size) : 0;
	return 0;
}

static unsigned operand_size(const struct x86_insn *insn, uint32_t flags)
{
	if (flags & ByteOp)
		return 1;
	if ((flags & Force64) || (insn->rex & 0x08))
		return 8;
	if (insn->prefixes & X86_PFX_OPSIZE)
		return 2;
	return flags & Stack64 ? 8 : 4;
}

static int decode_immediate(struct decoder *d, struct x86_insn *insn, uint32_t flags)
{
	uint64_t value, ignored;
	unsigned size;
	int err;

	switch (flags & ImmMask) {
	case Ib:
		size = 1;
		break;
	case Iw:
		size = 2;
		break;
	case Id:
		size = 4;
		break;
	case Iz:
		size = MIN(insn->op_size, 4u);
		break;
	case Iv:
		size = insn->op_size;
		break;
	case Moffs:
		if ((err = fetch(d, insn->addr_size, &value)))
			return err;
		insn->mem.disp = (int64_t)value;
		insn->mem.scale = 1;
		return 0;
	case IwIb:
		if ((err = fetch(d, 2, &value)) || (err = fetch(d, 1, &ignored)))
			return err;
		insn->imm = (int64_t)value;
		insn->imm_size = 3;
		return 0;
	default:
		return 0;
	}
	if ((err = fetch(d, size, &value)))
		return err;
	insn->imm = sign_extend(value, size);
	insn->imm_size = size;
	return 0;
}

static unsigned simd_store_size(const struct decoder *d, const struct x86_insn *insn, uint8_t table)
{
	unsigned size = simd_stores[table][d->simd_prefix];

	if (size == VEC)
		return 16u << d->vex_l;
	if (size == HALF)
		return 8u << d->vex_l;
	if (size == DQ)
		return insn->rex & 0x08 ? 8 : 4;
	return size;
}

/* Sets the X86_* flags and sizes from the resolved description. */
static int describe(const struct decoder *d, struct x86_insn *insn, const struct opcode_desc *desc)
{
	uint32_t flags = desc->flags;
	bool memory = (insn->has_modrm && insn->modrm < 0xc0 && !(flags & ModRMReg)) || (flags & ImmMask) == Moffs;
	unsigned src = (flags & SrcMask) >> SrcShift;

	if (memory)
		insn->flags |= X86_MEM_OPERAND;
	if (memory && (flags & DstMem))
		insn->flags |= X86_WRITES_MEM;
	if ((memory && (flags & SrcMem)) || (flags & (StrSrc | StrCmp)))
		insn->flags |= X86_READS_MEM;
	if (flags & Push)
		insn->flags |= X86_WRITES_MEM | X86_STACK_WRITE;
	if (flags & Pop)
		insn->flags |= X86_READS_MEM | X86_STACK_READ;
	if (flags & StrDst)
		insn->flags |= X86_WRITES_MEM;
	if (flags & STRING_OPS) {
		insn->flags |= X86_STRING;
		if (insn->prefixes & (X86_PFX_REP | X86_PFX_REPNE))
			insn->flags |= X86_REP;
	}
	if (memory && (flags & BitOff) && src == X86_SRC_REG)
		insn->flags |= X86_BIT_OFFSET;

	if ((insn->prefixes & X86_PFX_LOCK) && !(memory && (flags & Lock)))
		return -HV_EBADINSN;
	if ((flags & NoPrefix) && d->simd_prefix)
		return -HV_EBADINSN;
	if ((flags & Max32) && insn->op_size == 8)
		insn->op_size = 4;

	if (src == SRC_RM) {
		src = memory ? X86_SRC_MEM : X86_SRC_REG;
		insn->reg = (insn->modrm & 7) | (insn->rex & 0x01 ? 8 : 0);
	}
	insn->src = (uint8_t)src;
	insn->op = desc->op;
	/* sub of a Simd description indexes simd_stores[]: not for the caller */
	insn->sub = desc->op == X86_OP_SETCC ? (insn->opcode & 0x0f) : (flags & Simd) ? 0 : desc->sub;

	if (flags & Simd) {
		insn->write_size = memory ? simd_store_size(d, insn, desc->sub) : 0;
		insn->flags |= insn->write_size ? X86_WRITES_MEM : (memory ? X86_READS_MEM : 0);
	} else if (insn->map == X86_MAP_PRIMARY && insn->opcode >= 0xd8 && insn->opcode <= 0xdf && memory) {
		unsigned size = x87_store_size[insn->opcode - 0xd8][(insn->modrm >> 3) & 7];

		/* with 66, fnstenv and fnsave store the 16-bit environment, 14 bytes shorter */
		if ((size == 28 || size == 108) && (insn->prefixes & X86_PFX_OPSIZE))
			size -= 14;
		insn->write_size = size;
		insn->flags |= size ? X86_WRITES_MEM : X86_READS_MEM;
	} else if (desc->mem_size == SIZE_UNKNOWN) {
		insn->write_size = 0;
	} else if (desc->mem_size) {
		insn->write_size = desc->mem_size;
	} else if (desc->op == X86_OP_CMPXCHG8B) {
		insn->write_size = 2 * insn->op_size;
	} else {
		insn->write_size = insn->op_size;
	}
	if (!(insn->flags & X86_WRITES_MEM))
		insn->write_size = 0;
	if ((flags & Emul) && (insn->flags & X86_WRITES_MEM))
		insn->flags |= X86_EMULATABLE;
	return 0;
}

int x86_decode(const uint8_t *bytes, size_t avail, struct x86_insn *out)
{
	struct decoder d = { .bytes = bytes, .avail = avail };
	struct opcode_desc desc;
	int err;

	memset(out, 0, sizeof(*out));
	out->mem.base = out->mem.index = X86_REG_NONE;
	if ((err = decode_opcode(&d, out, &desc)))
		return err;
	if (desc.flags & Invalid)
		return -HV_EBADINSN;
	if (desc.flags & ModRM) {
		if ((err = fetch_byte(&d, &out->modrm)))
			return err;
		out->has_modrm = 1;
		out->reg = ((out->modrm >> 3) & 7) | (out->rex & 0x04 ? 8 : 0);
		if (desc.flags & Group) {
			const struct opcode_desc *entry = &groups[desc.sub][(out->modrm >> 3) & 7];

			desc = (struct opcode_desc){ desc.flags | entry->flags, entry->op, entry->sub, entry->mem_size };
			/* 66 0F AE /6 is CLWB, not XSAVEOPT: it stores nothing */
			if (desc.sub == 0 && out->map == X86_MAP_0F && out->opcode == 0xae && d.simd_prefix == PFX_66 &&
			    ((out->modrm >> 3) & 7) == 6)
				desc.flags &= ~DstMem;
		}
		if ((desc.flags & Invalid) || ((desc.flags & MemOnly) && out->modrm >= 0xc0) ||
		    ((desc.flags & OnlyF8) && out->modrm != 0xf8))
			return -HV_EBADINSN;
		if (out->modrm < 0xc0 && !(desc.flags & ModRMReg) && (err = decode_modrm_memory(&d, out)))
			return err;
	} else if (desc.flags & OpcodeReg) {
		out->reg = (out->opcode & 7) | (out->rex & 0x01 ? 8 : 0);
	}
	out->op_size = (uint8_t)operand_size(out, desc.flags);
	out->addr_size = out->prefixes & X86_PFX_ADSIZE ? 4 : 8;
	if ((err = decode_immediate(&d, out, desc.flags)))
		return err;
	out->length = (uint8_t)d.pos;
	return describe(&d, out, &desc);
}

uint64_t x86_segment_base(const struct x86_regs *regs, uint8_t segment)
{
	if (segment == X86_SEG_FS)
		return regs->fs_base;
	return segment == X86_SEG_GS ? regs->gs_base : 0;
}

static uint64_t address_mask(const struct x86_insn *insn)
{
	return insn->addr_size == 4 ? 0xffffffffull : ~0ull;
}

int x86_operand_address(const struct x86_insn *insn, const struct x86_regs *regs, uint64_t *linear)
{
	const struct x86_mem_operand *mem = &insn->mem;
	uint64_t ea = (uint64_t)mem->disp;

	if (!(insn->flags & X86_MEM_OPERAND))
		return -HV_EINVAL;
	if (mem->base == X86_REG_RIP)
		ea += regs->rip + insn->length;
	else if (mem->base != X86_REG_NONE)
		ea += regs->gpr[mem->base];
	if (mem->index != X86_REG_NONE)
		ea += regs->gpr[mem->index] * mem->scale;
	if (insn->flags & X86_BIT_OFFSET) {
		/* The signed bit offset selects the operand-sized word holding the bit: floor(offset / bits). */
		int64_t offset = sign_extend(regs->gpr[insn->reg], insn->op_size);
		unsigned shift = insn->op_size == 2 ? 4 : insn->op_size == 4 ? 5 : 6;

		ea += (uint64_t)(offset >> shift) * insn->op_size;
	}
	*linear = x86_segment_base(regs, mem->segment) + (ea & address_mask(insn));
	return 0;
}

uint64_t x86_string_iterations(const struct x86_insn *insn, const struct x86_regs *regs)
{
	uint64_t count = insn->flags & X86_REP ? regs->gpr[X86_RCX] & address_mask(insn) : 1;
	uint64_t offset = regs->gpr[X86_RDI] & address_mask(insn) & (PAGE_SIZE - 1);
	uint64_t size = insn->op_size;
	uint64_t in_page = regs->rflags & X86_RFLAGS_DF ? offset / size + 1 : (PAGE_SIZE - offset + size - 1) / size;

	return MIN(count, in_page);
}

int x86_mem_target(const struct x86_insn *insn, const struct x86_regs *regs, uint64_t *linear, uint32_t *size)
{
	*linear = 0;
	*size = 0;
	if (!(insn->flags & X86_WRITES_MEM))
		return 0;
	if (!insn->write_size)
		return -HV_ENOSYS;
	if (insn->flags & X86_STACK_WRITE) {
		*linear = regs->gpr[X86_RSP] - insn->write_size;
		*size = insn->write_size;
		return 0;
	}
	if (insn->flags & X86_STRING) {
		uint64_t iterations = x86_string_iterations(insn, regs);
		uint64_t rdi = regs->gpr[X86_RDI] & address_mask(insn);

		if (!iterations)
			return 0;
		*linear = regs->rflags & X86_RFLAGS_DF ? rdi - (iterations - 1) * insn->write_size : rdi;
		*size = (uint32_t)(iterations * insn->write_size);
		return 0;
	}
	*size = insn->write_size;
	if (insn->op == X86_OP_POP) {
		/* POP to memory computes the address after incrementing RSP. */
		struct x86_regs popped = *regs;

		popped.gpr[X86_RSP] += insn->op_size;
		return x86_operand_address(insn, &popped, linear);
	}
	return x86_operand_address(insn, regs, linear);
}
