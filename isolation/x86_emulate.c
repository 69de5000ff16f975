/* x86-64 write-instruction emulator: computes an instruction's memory writes, register results and flags in C,
 * into a copy of the registers that is committed only once every memory access has succeeded. */
#include "isolation/x86_emulate.h"

#include <stdbool.h>

#include "hv/errno.h"
#include "hv/lib.h"

/* REP MOVS/STOS move at most this many bytes per callback. */
#define STRING_BLOCK 64

struct emulation {
	const struct x86_insn *insn;
	const struct x86_regs *in;     /* the state before the instruction */
	struct x86_regs out;           /* the state after it, committed on success */
	const struct x86_mem_ops *ops;
	void *opaque;
};

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static uint64_t sign_bit(unsigned size)
{
	return 1ull << (8 * size - 1);
}

static bool is_high_byte_reg(const struct x86_insn *insn, unsigned reg, unsigned size)
{
	return size == 1 && !(insn->prefixes & X86_PFX_REX) && reg >= 4 && reg < 8;
}

static uint64_t reg_read(const struct x86_regs *regs, const struct x86_insn *insn, unsigned reg, unsigned size)
{
	if (is_high_byte_reg(insn, reg, size))
		return (regs->gpr[reg - 4] >> 8) & 0xff;
	return regs->gpr[reg] & size_mask(size);
}

/* 32-bit writes zero-extend to 64 bits; 8- and 16-bit writes keep the rest of the register. */
static void reg_write(struct x86_regs *regs, const struct x86_insn *insn, unsigned reg, unsigned size,
		      uint64_t value)
{
	uint64_t *gpr;

	if (is_high_byte_reg(insn, reg, size)) {
		gpr = &regs->gpr[reg - 4];
		*gpr = (*gpr & ~0xff00ull) | ((value & 0xff) << 8);
		return;
	}
	gpr = &regs->gpr[reg];
	if (size >= 4)
		*gpr = value & size_mask(size);
	else
		*gpr = (*gpr & ~size_mask(size)) | (value & size_mask(size));
}

static void set_flags(struct x86_regs *regs, uint64_t affected, uint64_t flags)
{
	regs->rflags = (regs->rflags & ~affected) | (flags & affected);
}

/* SF, ZF and PF of a result. */
static uint64_t result_flags(uint64_t result, unsigned size)
{
	uint8_t parity = (uint8_t)result;
	uint64_t flags = 0;

	parity ^= parity >> 4;
	parity ^= parity >> 2;
	parity ^= parity >> 1;
	result &= size_mask(size);
	if (!result)
		flags |= X86_RFLAGS_ZF;
	if (result & sign_bit(size))
		flags |= X86_RFLAGS_SF;
	if (!(parity & 1))
		flags |= X86_RFLAGS_PF;
	return flags;
}

static uint64_t sign_extended(uint64_t value, unsigned size)
{
	return size >= 8 ? value : (value ^ sign_bit(size)) - sign_bit(size);
}

/* ADD..CMP on size-byte operands; *flags receives all six arithmetic flags (AF = 0 for the logical ones). */
static uint64_t alu(unsigned op, uint64_t dst, uint64_t src, unsigned size, uint64_t rflags, uint64_t *flags)
{
	uint64_t mask = size_mask(size), carry = rflags & X86_RFLAGS_CF, result, f = 0;

	dst &= mask;
	src &= mask;
	switch (op) {
	case X86_ALU_ADD:
	case X86_ALU_ADC:
		carry = op == X86_ALU_ADC ? carry : 0;
		result = (dst + src + carry) & mask;
		if (carry ? result <= dst : result < dst)
			f |= X86_RFLAGS_CF;
		if ((dst ^ result) & (src ^ result) & sign_bit(size))
			f |= X86_RFLAGS_OF;
		f |= (dst ^ src ^ result) & X86_RFLAGS_AF;
		break;
	case X86_ALU_SUB:
	case X86_ALU_SBB:
	case X86_ALU_CMP:
		carry = op == X86_ALU_SBB ? carry : 0;
		result = (dst - src - carry) & mask;
		if (carry ? dst <= src : dst < src)
			f |= X86_RFLAGS_CF;
		if ((dst ^ src) & (dst ^ result) & sign_bit(size))
			f |= X86_RFLAGS_OF;
		f |= (dst ^ src ^ result) & X86_RFLAGS_AF;
		break;
	case X86_ALU_AND:
		result = dst & src;
		break;
	case X86_ALU_OR:
		result = dst | src;
		break;
	default:
		result = dst ^ src;
		break;
	}
	*flags = f | result_flags(result, size);
	return result;
}

static uint64_t rotate(unsigned kind, uint64_t dst, unsigned count, unsigned size, struct x86_regs *out)
{
	unsigned bits = 8 * size;
	uint64_t mask = size_mask(size), msb = sign_bit(size), result = dst, cf, of;

	if (kind == X86_SHIFT_ROL || kind == X86_SHIFT_ROR) {
		unsigned n = count % bits;

		if (n && kind == X86_SHIFT_ROL)
			result = ((dst << n) | (dst >> (bits - n))) & mask;
		else if (n)
			result = ((dst >> n) | (dst << (bits - n))) & mask;
		if (kind == X86_SHIFT_ROL) {
			cf = result & 1;
			of = !!(result & msb) ^ cf;
		} else {
			cf = !!(result & msb);
			of = cf ^ ((result >> (bits - 2)) & 1);
		}
	} else {
		/* RCL/RCR rotate through CF: a (bits + 1)-bit rotation. */
		unsigned n = size == 1 ? count % 9 : size == 2 ? count % 17 : count;

		cf = out->rflags & X86_RFLAGS_CF;
		of = !!(dst & msb) ^ cf;   /* RCR's count-1 OF, from the operand before rotating */
		for (unsigned i = 0; i < n; i++) {
			uint64_t carry_out = kind == X86_SHIFT_RCL ? !!(result & msb) : result & 1;

			if (kind == X86_SHIFT_RCL)
				result = ((result << 1) | cf) & mask;
			else
				result = (result >> 1) | (cf ? msb : 0);
			cf = carry_out;
		}
		if (kind == X86_SHIFT_RCL)
			of = !!(result & msb) ^ cf;
	}
	set_flags(out, X86_RFLAGS_CF | X86_RFLAGS_OF, (cf ? X86_RFLAGS_CF : 0) | (of ? X86_RFLAGS_OF : 0));
	return result;
}

/* Shifts and rotates. The count is masked to 5 bits (6 for 64-bit operands); a zero count changes no flag. */
static uint64_t shift(unsigned kind, uint64_t dst, uint64_t count_in, unsigned size, struct x86_regs *out)
{
	unsigned bits = 8 * size, count = count_in & (size == 8 ? 0x3f : 0x1f);
	uint64_t mask = size_mask(size), result, cf, of;

	dst &= mask;
	if (!count)
		return dst;
	switch (kind) {
	case X86_SHIFT_SHL:
	case X86_SHIFT_SAL:
		result = (dst << count) & mask;
		cf = count > bits ? 0 : (dst >> (bits - count)) & 1;
		of = !!(result & sign_bit(size)) ^ cf;
		break;
	case X86_SHIFT_SHR:
		result = dst >> count;
		cf = (dst >> (count - 1)) & 1;
		of = !!(dst & sign_bit(size));
		break;
	case X86_SHIFT_SAR: {
		int64_t value = (int64_t)sign_extended(dst, size);

		result = (uint64_t)(value >> count) & mask;
		cf = (uint64_t)(value >> (count - 1)) & 1;
		of = 0;
		break;
	}
	default:
		return rotate(kind, dst, count, size, out);
	}
	set_flags(out, X86_RFLAGS_ARITH, result_flags(result, size) | (cf ? X86_RFLAGS_CF : 0) |
		  (of ? X86_RFLAGS_OF : 0));
	return result;
}

/* SHLD/SHRD: shift dst, filling with bits of src. */
static uint64_t double_shift(bool left, uint64_t dst, uint64_t src, uint64_t count_in, unsigned size,
			     struct x86_regs *out)
{
	unsigned bits = 8 * size, count = count_in & (size == 8 ? 0x3f : 0x1f);
	uint64_t mask = size_mask(size), result, cf, of;

	dst &= mask;
	src &= mask;
	if (!count)
		return dst;
	if (size == 8) {
		result = left ? (dst << count) | (src >> (64 - count)) : (dst >> count) | (src << (64 - count));
		cf = left ? (dst >> (64 - count)) & 1 : (dst >> (count - 1)) & 1;
	} else {
		/* The concatenation fits in 64 bits; it also defines 16-bit shifts by more than 16. */
		uint64_t wide = left ? (dst << bits) | src : (src << bits) | dst;

		result = (left ? (wide << count) >> bits : wide >> count) & mask;
		cf = left ? (wide >> (2 * bits - count)) & 1 : (wide >> (count - 1)) & 1;
	}
	of = !!((result ^ dst) & sign_bit(size));
	set_flags(out, X86_RFLAGS_ARITH, result_flags(result, size) | (cf ? X86_RFLAGS_CF : 0) |
		  (of ? X86_RFLAGS_OF : 0));
	return result;
}

static bool condition(unsigned cc, uint64_t rflags)
{
	bool cf = rflags & X86_RFLAGS_CF, zf = rflags & X86_RFLAGS_ZF, sf = rflags & X86_RFLAGS_SF;
	bool of = rflags & X86_RFLAGS_OF, pf = rflags & X86_RFLAGS_PF;
	bool holds;

	switch (cc >> 1) {
	case 0: holds = of; break;
	case 1: holds = cf; break;
	case 2: holds = zf; break;
	case 3: holds = cf || zf; break;
	case 4: holds = sf; break;
	case 5: holds = pf; break;
	case 6: holds = sf != of; break;
	default: holds = zf || sf != of; break;
	}
	return holds ^ (cc & 1);
}

static uint64_t byte_swap(uint64_t value, unsigned size)
{
	uint64_t swapped = 0;

	for (unsigned i = 0; i < size; i++)
		swapped |= ((value >> (8 * i)) & 0xff) << (8 * (size - 1 - i));
	return swapped;
}

static int mem_read(struct emulation *e, uint64_t linear, uint64_t *value, unsigned size)
{
	*value = 0;
	return e->ops->read(e->opaque, linear, value, size);
}

static int mem_write(struct emulation *e, uint64_t linear, uint64_t value, unsigned size)
{
	return e->ops->write(e->opaque, linear, &value, size);
}

static int source_value(struct emulation *e, uint64_t *value)
{
	const struct x86_insn *insn = e->insn;
	uint64_t linear;
	int err;

	switch (insn->src) {
	case X86_SRC_REG:
		*value = reg_read(e->in, insn, insn->reg, insn->op_size);
		return 0;
	case X86_SRC_IMM:
		*value = (uint64_t)insn->imm & size_mask(insn->op_size);
		return 0;
	case X86_SRC_ONE:
		*value = 1;
		return 0;
	case X86_SRC_CL:
		*value = e->in->gpr[X86_RCX] & 0xff;
		return 0;
	case X86_SRC_ACC:
		*value = e->in->gpr[X86_RAX] & size_mask(insn->op_size);
		return 0;
	case X86_SRC_MEM:
		if ((err = x86_operand_address(insn, e->in, &linear)))
			return err;
		return mem_read(e, linear, value, insn->op_size);
	default:
		*value = 0;
		return 0;
	}
}

/* Computes the value an operation stores to its memory operand, from the operand's old value. */
static uint64_t operate(struct emulation *e, uint64_t old, uint64_t src)
{
	const struct x86_insn *insn = e->insn;
	unsigned size = insn->op_size;
	uint64_t flags, result, bit;

	switch (insn->op) {
	case X86_OP_ALU:
		result = alu(insn->sub, old, src, size, e->in->rflags, &flags);
		set_flags(&e->out, X86_RFLAGS_ARITH, flags);
		return result;
	case X86_OP_INC:
	case X86_OP_DEC:
		result = alu(insn->op == X86_OP_INC ? X86_ALU_ADD : X86_ALU_SUB, old, 1, size, 0, &flags);
		set_flags(&e->out, X86_RFLAGS_ARITH & ~X86_RFLAGS_CF, flags);
		return result;
	case X86_OP_NOT:
		return ~old & size_mask(size);
	case X86_OP_NEG:
		result = alu(X86_ALU_SUB, 0, old, size, 0, &flags);
		set_flags(&e->out, X86_RFLAGS_ARITH, flags);
		return result;
	case X86_OP_SHIFT:
		return shift(insn->sub, old, src, size, &e->out);
	case X86_OP_SHLD:
	case X86_OP_SHRD:
		return double_shift(insn->op == X86_OP_SHLD, old, reg_read(e->in, insn, insn->reg, size), src, size,
				    &e->out);
	case X86_OP_XCHG:
		reg_write(&e->out, insn, insn->reg, size, old);
		return src;
	case X86_OP_XADD:
		result = alu(X86_ALU_ADD, old, src, size, 0, &flags);
		set_flags(&e->out, X86_RFLAGS_ARITH, flags);
		reg_write(&e->out, insn, insn->reg, size, old);
		return result;
	case X86_OP_CMPXCHG: {
		uint64_t accumulator = e->in->gpr[X86_RAX] & size_mask(size);

		alu(X86_ALU_CMP, accumulator, old, size, 0, &flags);
		set_flags(&e->out, X86_RFLAGS_ARITH, flags);
		if (accumulator == old)
			return src;
		/* The destination is written back unchanged when the comparison fails. */
		reg_write(&e->out, insn, X86_RAX, size, old);
		return old;
	}
	case X86_OP_BT:
		bit = 1ull << (src & (8 * size - 1));
		set_flags(&e->out, X86_RFLAGS_CF, old & bit ? X86_RFLAGS_CF : 0);
		if (insn->sub == X86_BTS)
			return old | bit;
		return insn->sub == X86_BTR ? old & ~bit : old ^ bit;
	case X86_OP_SETCC:
		return condition(insn->sub, e->in->rflags);
	case X86_OP_MOVBE:
		return byte_swap(src, size);
	default:
		return src;
	}
}

/* Instructions that read-modify-write (or just write) their explicit memory operand. */
static int emulate_on_operand(struct emulation *e)
{
	const struct x86_insn *insn = e->insn;
	uint64_t linear, old = 0, src;
	bool reads = insn->op != X86_OP_MOV && insn->op != X86_OP_SETCC && insn->op != X86_OP_MOVBE;
	int err;

	if ((err = x86_operand_address(insn, e->in, &linear)) || (err = source_value(e, &src)))
		return err;
	if (reads && (err = mem_read(e, linear, &old, insn->op_size)))
		return err;
	return mem_write(e, linear, operate(e, old, src), insn->write_size);
}

/* CMPXCHG8B/16B: compares rDX:rAX with the memory operand; stores rCX:rBX if equal, else loads it. */
static int emulate_cmpxchg_double(struct emulation *e)
{
	const struct x86_insn *insn = e->insn;
	unsigned half = insn->op_size;
	uint64_t linear, old[2] = { 0, 0 }, lo, hi, expected_lo, expected_hi;
	bool equal;
	int err;

	if ((err = x86_operand_address(insn, e->in, &linear)))
		return err;
	if (half == 8 && (linear & 15))
		return -HV_EBADINSN;   /* #GP on hardware */
	if ((err = e->ops->read(e->opaque, linear, old, 2 * half)))
		return err;
	lo = half == 8 ? old[0] : old[0] & 0xffffffff;
	hi = half == 8 ? old[1] : old[0] >> 32;
	expected_lo = e->in->gpr[X86_RAX] & size_mask(half);
	expected_hi = e->in->gpr[X86_RDX] & size_mask(half);
	equal = lo == expected_lo && hi == expected_hi;
	if (equal) {
		uint64_t new_lo = e->in->gpr[X86_RBX] & size_mask(half), new_hi = e->in->gpr[X86_RCX] & size_mask(half);

		old[0] = half == 8 ? new_lo : new_lo | (new_hi << 32);
		old[1] = half == 8 ? new_hi : 0;
	} else {
		reg_write(&e->out, insn, X86_RAX, half, lo);
		reg_write(&e->out, insn, X86_RDX, half, hi);
	}
	set_flags(&e->out, X86_RFLAGS_ZF, equal ? X86_RFLAGS_ZF : 0);
	return e->ops->write(e->opaque, linear, old, 2 * half);
}

/* PUSH, PUSHF and CALL: one store below RSP. */
static int emulate_push(struct emulation *e)
{
	const struct x86_insn *insn = e->insn;
	unsigned size = insn->op_size;
	uint64_t value, rsp = e->in->gpr[X86_RSP] - size;
	int err;

	if (insn->op == X86_OP_PUSHF) {
		value = e->in->rflags & ~(X86_RFLAGS_RF | X86_RFLAGS_VM);
	} else if (insn->op == X86_OP_CALL) {
		uint64_t target = e->out.rip + (uint64_t)insn->imm;

		if (insn->src != X86_SRC_NONE && (err = source_value(e, &target)))
			return err;
		value = e->out.rip;
		e->out.rip = target;
	} else if ((err = source_value(e, &value))) {
		return err;
	}
	if ((err = mem_write(e, rsp, value, size)))
		return err;
	e->out.gpr[X86_RSP] = rsp;
	return 0;
}

/* POP to memory: the destination address is computed with RSP already incremented. */
static int emulate_pop(struct emulation *e)
{
	const struct x86_insn *insn = e->insn;
	uint64_t value, linear;
	uint32_t size;
	int err;

	if ((err = mem_read(e, e->in->gpr[X86_RSP], &value, insn->op_size)) ||
	    (err = x86_mem_target(insn, e->in, &linear, &size)) || (err = mem_write(e, linear, value, size)))
		return err;
	e->out.gpr[X86_RSP] = e->in->gpr[X86_RSP] + insn->op_size;
	return 0;
}

/* Updates an address or count register by delta at the instruction's address size: a 32-bit address size writes
 * the 32-bit register, which zero-extends. */
static void advance_register(struct emulation *e, unsigned reg, uint64_t delta)
{
	uint64_t value = e->in->gpr[reg] + delta;

	e->out.gpr[reg] = e->insn->addr_size == 4 ? value & 0xffffffff : value;
}

/* MOVS, STOS and INS, in blocks of up to STRING_BLOCK bytes. Overlapping MOVS ranges, and 32-bit addresses (which
 * wrap per element), go one element at a time so each element reads what the previous ones wrote. */
static int emulate_string(struct emulation *e)
{
	const struct x86_insn *insn = e->insn;
	uint64_t address_mask = insn->addr_size == 4 ? 0xffffffffull : ~0ull;
	uint64_t size = insn->op_size, iterations = x86_string_iterations(insn, e->in), done = 0, per_block;
	bool down = e->in->rflags & X86_RFLAGS_DF, movs = insn->op == X86_OP_MOVS, ins = insn->op == X86_OP_INS;
	uint64_t rdi = e->in->gpr[X86_RDI], rsi = e->in->gpr[X86_RSI];
	uint64_t src_base = x86_segment_base(e->in, insn->mem.segment);
	uint8_t block[STRING_BLOCK];
	int err = 0;

	if (!iterations)
		return 0;   /* REP with rCX = 0: no register is written, not even zero-extended */
	if (ins && !e->ops->port_in)
		return -HV_ENOSYS;
	per_block = insn->addr_size == 4 ? 1 : STRING_BLOCK / size;
	if (ins && down)
		per_block = 1;  /* port data comes in element order: a descending block would store it reversed */
	if (movs) {
		uint64_t src_first = src_base + (rsi & address_mask), dst_first = rdi & address_mask;
		uint64_t span = iterations * size;
		uint64_t src_low = down ? src_first - span + size : src_first;
		uint64_t dst_low = down ? dst_first - span + size : dst_first;

		if (src_low < dst_low + span && dst_low < src_low + span)
			per_block = 1;
	} else if (!ins) {
		uint64_t pattern = e->in->gpr[X86_RAX];

		for (unsigned i = 0; i < STRING_BLOCK; i += size)
			memcpy(block + i, &pattern, size);
	}
	while (done < iterations) {
		uint64_t count = MIN(iterations - done, per_block);
		uint64_t first = down ? done + count - 1 : done;   /* element at the block's lowest address */
		uint64_t offset = down ? -first * size : first * size;
		uint64_t dst = (rdi + offset) & address_mask;

		if (movs && (err = e->ops->read(e->opaque, src_base + ((rsi + offset) & address_mask), block,
						count * size)))
			break;
		if (ins && (err = e->ops->port_in(e->opaque, (uint16_t)e->in->gpr[X86_RDX], block, (uint32_t)size,
						  (uint32_t)count)))
			break;
		if ((err = e->ops->write(e->opaque, dst, block, count * size)))
			break;
		done += count;
	}
	if (!done)
		return err;
	advance_register(e, X86_RDI, down ? -done * size : done * size);
	if (movs)
		advance_register(e, X86_RSI, down ? -done * size : done * size);
	if (insn->flags & X86_REP) {
		advance_register(e, X86_RCX, -done);
		if (e->out.gpr[X86_RCX] & address_mask)
			e->out.rip = e->in->rip;
	}
	return 0;
}

int x86_emulate(const struct x86_insn *insn, struct x86_regs *regs, const struct x86_mem_ops *ops, void *opaque)
{
	struct emulation e = { .insn = insn, .in = regs, .out = *regs, .ops = ops, .opaque = opaque };
	int err;

	if (!(insn->flags & X86_EMULATABLE))
		return -HV_ENOSYS;
	e.out.rip = regs->rip + insn->length;
	switch (insn->op) {
	case X86_OP_PUSH:
	case X86_OP_PUSHF:
	case X86_OP_CALL:
		err = emulate_push(&e);
		break;
	case X86_OP_POP:
		err = emulate_pop(&e);
		break;
	case X86_OP_MOVS:
	case X86_OP_STOS:
	case X86_OP_INS:
		err = emulate_string(&e);
		break;
	case X86_OP_CMPXCHG8B:
		err = emulate_cmpxchg_double(&e);
		break;
	default:
		err = emulate_on_operand(&e);
		break;
	}
	if (err)
		return err;
	*regs = e.out;
	return 0;
}
