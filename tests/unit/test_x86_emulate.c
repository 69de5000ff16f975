/* Unit tests for the x86-64 write-instruction emulator, against the host CPU as the reference: every case of
 * tests/unit/x86/emulate_cases.S runs natively on a buffer from random registers, flags and memory (biased to edge
 * values), and in the emulator on a copy of the buffer; registers, the defined flags and memory must match. The
 * emulator's stores must stay within x86_mem_target(); failing memory callbacks, injected at random, must leave
 * registers and memory unchanged (or, for REP, resumable). Then targeted cases: REP chunking per page, FS, the
 * unsupported and exception cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "isolation/x86_decode.c"
#include "isolation/x86_emulate.c"

__asm__(".pushsection .x86_emu_table, \"aw\"\n"
	".balign 8\n"
	"emu_cases_start:\n"
	".popsection\n"
	".pushsection .x86_emu_code, \"a\"\n"
	".include \"tests/unit/x86/emulate_cases.S\"\n"
	".popsection\n"
	".pushsection .x86_emu_table, \"aw\"\n"
	"emu_cases_end:\n"
	".popsection\n");

struct emu_case {
	const uint8_t *start;
	const uint8_t *end;
	const char *text;
};

extern const struct emu_case emu_cases_start[], emu_cases_end[];

/* The reference: runs one instruction on the host CPU from and into a struct x86_regs (x86/native_run.S). */
__asm__(".include \"tests/unit/x86/native_run.S\"\n");

void native_run(struct x86_regs *regs, const void *code);
extern const uint8_t native_return[];

_Static_assert(offsetof(struct x86_regs, rflags) == 136, "native_run's layout of struct x86_regs");

/* One mapping below 2 GiB (so 32-bit addresses reach it): a code page, then the data the instructions access. */
#define DATA_SIZE   0x4000ull
#define RFLAGS_BASE 0x202ull   /* bit 1 and IF, as user mode runs */
#define GS_OFFSET   0x800ull   /* GS base, from the data start */
#define TRIALS      300        /* random runs per case */

static uint8_t *code_page;
static uint8_t *data;
static uint64_t data_base;
static uint64_t gs_base;

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint64_t random_below(uint64_t bound)
{
	return next_random() % bound;
}

/* Edge values half of the time: 0, +-1, the signed and unsigned limits of every width, and small counts. */
static uint64_t interesting_value(void)
{
	static const uint64_t edges[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
					  0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x7fffffffffffffff,
					  0x8000000000000000, 0xfffffffffffffffe, 0xffffffffffffffff,
					  0xffffffffffffff80, 0xffffffffffff8000, 0xffffffff80000000 };

	switch (random_below(4)) {
	case 0:
		return edges[random_below(ARRAY_SIZE(edges))];
	case 1:
		return random_below(70);
	default:
		return next_random();
	}
}

static int setup_buffers(void **state)
{
	uint8_t *region = mmap(NULL, 0x1000 + DATA_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	(void)state;
	if (region == MAP_FAILED)
		return -1;
	code_page = region;
	data = region + 0x1000;
	data_base = (uint64_t)(uintptr_t)data;
	gs_base = data_base + GS_OFFSET;
	return syscall(SYS_arch_prctl, ARCH_SET_GS, gs_base) ? -1 : 0;
}

/* The emulator's view of memory: the data region mirrored in a separate buffer, stores checked against the range
 * x86_mem_target() announced, and a failure injected at one chosen access. */
struct emu_memory {
	uint8_t buffer[DATA_SIZE];
	uint64_t allowed_start;
	uint64_t allowed_end;
	unsigned accesses;
	unsigned fail_at;      /* 1-based access that fails with -HV_EFAULT once; 0: none */
	bool stray;            /* an access outside the data, or a store outside the allowed range */
};

static bool access_fails(struct emu_memory *mem, uint64_t linear, uint32_t size)
{
	if (++mem->accesses == mem->fail_at)
		return true;
	if (linear < data_base || linear + size > data_base + DATA_SIZE || size > 64) {
		mem->stray = true;
		return true;
	}
	return false;
}

static int emu_read(void *opaque, uint64_t linear, void *buf, uint32_t size)
{
	struct emu_memory *mem = opaque;

	if (access_fails(mem, linear, size))
		return -HV_EFAULT;
	memcpy(buf, mem->buffer + (linear - data_base), size);
	return 0;
}

static int emu_write(void *opaque, uint64_t linear, const void *buf, uint32_t size)
{
	struct emu_memory *mem = opaque;

	if (access_fails(mem, linear, size))
		return -HV_EFAULT;
	if (linear < mem->allowed_start || linear + size > mem->allowed_end) {
		mem->stray = true;
		return -HV_EFAULT;
	}
	memcpy(mem->buffer + (linear - data_base), buf, size);
	return 0;
}

static const struct x86_mem_ops emu_ops = { .read = emu_read, .write = emu_write };

static void decode_case(const uint8_t *code, size_t length, struct x86_insn *insn)
{
	assert_int_equal(x86_decode(code, length, insn), 0);
	assert_int_equal(insn->length, length);
}

/* Runs the emulator like the hypervisor would: decode, check the store range, emulate, and re-execute a REP
 * instruction until it completes. An injected failure must leave registers and memory as they were. */
static void emulate_until_done(const uint8_t *code, size_t length, struct x86_regs *regs, struct emu_memory *mem,
			       const char *text)
{
	static uint8_t before_call[DATA_SIZE];

	for (unsigned call = 0; call < 64; call++) {
		struct x86_insn insn;
		struct x86_regs saved = *regs;
		unsigned accesses = mem->accesses;
		uint64_t linear;
		uint32_t size;
		int rc;

		decode_case(code, length, &insn);
		assert_true(insn.flags & X86_EMULATABLE);
		assert_int_equal(x86_mem_target(&insn, regs, &linear, &size), 0);
		mem->allowed_start = linear;
		mem->allowed_end = linear + size;
		if (mem->fail_at)
			memcpy(before_call, mem->buffer, DATA_SIZE);
		rc = x86_emulate(&insn, regs, &emu_ops, mem);
		if (mem->stray)
			fail_msg("%s: access outside the data or the announced store range", text);
		if (rc) {
			if (rc != -HV_EFAULT || mem->fail_at <= accesses || mem->fail_at > mem->accesses)
				fail_msg("%s: emulation failed: %d", text, rc);
			assert_memory_equal(regs, &saved, sizeof(saved));
			assert_memory_equal(mem->buffer, before_call, DATA_SIZE);
			continue;
		}
		if (regs->rip != (uint64_t)(uintptr_t)code)
			return;
		assert_true(insn.flags & X86_REP);
	}
	fail_msg("%s: REP did not complete", text);
}

/* The flags the SDM defines for this instruction and input; the emulator's choices for the others are not the
 * host CPU's. */
static uint64_t defined_flags(const struct x86_insn *insn, const struct x86_regs *in)
{
	uint64_t all = X86_RFLAGS_ARITH | X86_RFLAGS_DF;
	unsigned bits = 8 * insn->op_size, count;

	switch (insn->op) {
	case X86_OP_ALU:
		return insn->sub == X86_ALU_AND || insn->sub == X86_ALU_OR || insn->sub == X86_ALU_XOR ?
		       all & ~X86_RFLAGS_AF : all;
	case X86_OP_SHIFT:
	case X86_OP_SHLD:
	case X86_OP_SHRD:
		count = insn->src == X86_SRC_ONE ? 1 : insn->src == X86_SRC_CL ? in->gpr[X86_RCX] & 0xff :
			(unsigned)insn->imm & 0xff;
		count &= bits == 64 ? 0x3f : 0x1f;
		if (!count)
			return all;
		if (count != 1)
			all &= ~X86_RFLAGS_OF;
		if (insn->op == X86_OP_SHIFT && insn->sub <= X86_SHIFT_RCR)
			return all;
		if (count >= bits && insn->op == X86_OP_SHIFT && insn->sub != X86_SHIFT_SAR)
			all &= ~X86_RFLAGS_CF;
		return all & ~X86_RFLAGS_AF;
	case X86_OP_BT:
		return X86_RFLAGS_CF | X86_RFLAGS_DF;
	default:
		return all;
	}
}

static uint64_t with_garbage_above_32(uint64_t value)
{
	return (next_random() << 32) | (value & 0xffffffff);
}

/* Points the explicit memory operand at target by choosing its base (or index) register. */
static void place_operand(const struct x86_insn *insn, struct x86_regs *regs, uint64_t target)
{
	const struct x86_mem_operand *mem = &insn->mem;
	uint64_t wanted = target - x86_segment_base(regs, mem->segment) - (uint64_t)mem->disp, index = 0;

	if (mem->index != X86_REG_NONE && mem->base != X86_REG_NONE && mem->base != X86_REG_RIP) {
		index = random_below(8);
		regs->gpr[mem->index] = index;
	}
	if (mem->base != X86_REG_NONE && mem->base != X86_REG_RIP)
		regs->gpr[mem->base] = wanted - index * mem->scale;
	else if (mem->index != X86_REG_NONE)
		regs->gpr[mem->index] = wanted / mem->scale;
	if (insn->addr_size == 4) {
		if (mem->base < X86_NR_GPRS)
			regs->gpr[mem->base] = with_garbage_above_32(regs->gpr[mem->base]);
		if (mem->index < X86_NR_GPRS)
			regs->gpr[mem->index] = with_garbage_above_32(regs->gpr[mem->index]);
	}
}

struct trial {
	uint8_t code[X86_MAX_INSN_LEN + 14];
	size_t length;
	struct x86_insn insn;
	struct x86_regs in;
};

/* String instructions: counts 0, 1, a few, or enough to cross pages; RSI/RDI placed so every element stays in
 * the data, upwards or downwards, the source sometimes overlapping the destination. */
static void setup_string(struct trial *t)
{
	uint64_t size = t->insn.op_size, max_count = 0x1800 / size, count, src, dst;
	bool down = next_random() & 1;

	switch (random_below(4)) {
	case 0:
		count = random_below(2);
		break;
	case 1:
		count = random_below(8);
		break;
	default:
		count = random_below(max_count + 1);
		break;
	}
	t->in.rflags = (t->in.rflags & ~X86_RFLAGS_DF) | (down ? X86_RFLAGS_DF : 0);
	t->in.gpr[X86_RCX] = t->insn.flags & X86_REP ? count : interesting_value();
	/* upwards from [0x40, 0x2040), downwards from [0x1840, 0x3fb8): 0x1800 bytes and +-32 for overlaps fit */
	dst = data_base + (down ? 0x1840 : 0x40) + random_below(down ? 0x2778 : 0x2000);
	src = next_random() & 1 ? dst + random_below(64) - 32 :
	      data_base + (down ? 0x1840 : 0x40) + random_below(down ? 0x2778 : 0x2000);
	t->in.gpr[X86_RDI] = dst;
	t->in.gpr[X86_RSI] = src - x86_segment_base(&t->in, t->insn.mem.segment);
	if (t->insn.addr_size == 4) {
		t->in.gpr[X86_RCX] = with_garbage_above_32(t->in.gpr[X86_RCX]);
		t->in.gpr[X86_RSI] = with_garbage_above_32(t->in.gpr[X86_RSI]);
		t->in.gpr[X86_RDI] = with_garbage_above_32(t->in.gpr[X86_RDI]);
	}
}

/* Random registers, flags and memory for one run of a case, constrained by what the instruction addresses. */
static void setup_trial(struct trial *t, const struct emu_case *c)
{
	uint64_t target = data_base + 0x2000 + random_below(0x400) - 0x200;
	uint64_t code_address = (uint64_t)(uintptr_t)code_page;
	struct x86_insn *insn = &t->insn;

	t->length = (size_t)(c->end - c->start);
	memcpy(t->code, c->start, t->length);
	decode_case(t->code, t->length, insn);
	for (unsigned i = 0; i < X86_NR_GPRS; i++)
		t->in.gpr[i] = interesting_value();
	t->in.rip = code_address;
	t->in.rflags = RFLAGS_BASE | (next_random() & (X86_RFLAGS_ARITH | X86_RFLAGS_DF));
	t->in.fs_base = 0;
	t->in.gs_base = gs_base;
	for (size_t i = 0; i < DATA_SIZE; i += 8) {
		uint64_t value = next_random();

		memcpy(data + i, &value, 8);
	}

	if (insn->flags & (X86_STACK_WRITE | X86_STACK_READ))
		t->in.gpr[X86_RSP] = data_base + 0x3000 + random_below(0x100);
	if (insn->op == X86_OP_CMPXCHG8B && insn->op_size == 8)
		target &= ~15ull;
	if (insn->flags & X86_MEM_OPERAND) {
		if (insn->map == X86_MAP_PRIMARY && (insn->opcode == 0xa2 || insn->opcode == 0xa3)) {
			uint64_t moffs = target - x86_segment_base(&t->in, insn->mem.segment);

			memcpy(t->code + t->length - insn->addr_size, &moffs, insn->addr_size);
			decode_case(t->code, t->length, insn);
		} else {
			place_operand(insn, &t->in, target);
		}
	}
	if (insn->flags & X86_BIT_OFFSET) {
		/* +-4 KiB of bit offsets at most, so the operand stays in the data */
		uint64_t offset = (next_random() & 1) ? random_below(0x8000) : -random_below(0x8000);

		t->in.gpr[insn->reg] = insn->op_size == 2 ? (next_random() & ~0xffffull) | (offset & 0xffff) : offset;
	}
	if (insn->flags & X86_STRING)
		setup_string(t);
	if ((insn->op == X86_OP_SHLD || insn->op == X86_OP_SHRD) && insn->op_size == 2 && insn->src == X86_SRC_CL)
		t->in.gpr[X86_RCX] = random_below(17);   /* 16-bit counts above 16 have undefined results */
	if (insn->op == X86_OP_CALL) {
		uint64_t stub = code_address + t->length, linear;

		if (insn->src == X86_SRC_REG)
			t->in.gpr[insn->reg] = stub;
		if (insn->src == X86_SRC_MEM) {
			assert_int_equal(x86_operand_address(insn, &t->in, &linear), 0);
			memcpy(data + (linear - data_base), &stub, 8);
		}
		if (insn->src == X86_SRC_NONE)
			assert_int_equal(insn->imm, 0);   /* the call lands on the return stub */
	}
	if (insn->flags & X86_MEM_OPERAND) {
		uint64_t linear, value = interesting_value();

		assert_int_equal(x86_operand_address(insn, &t->in, &linear), 0);
		if (insn->op == X86_OP_CMPXCHG && (next_random() & 1))
			value = t->in.gpr[X86_RAX];
		if (insn->op != X86_OP_CALL)
			memcpy(data + (linear - data_base), &value, MIN(insn->op_size, (uint8_t)8));
		if (insn->op == X86_OP_CMPXCHG8B && (next_random() & 1)) {
			uint64_t lo = t->in.gpr[X86_RAX], hi = t->in.gpr[X86_RDX];

			if (insn->op_size == 4)
				lo = (lo & 0xffffffff) | (hi << 32);
			memcpy(data + (linear - data_base), &lo, 8);
			if (insn->op_size == 8)
				memcpy(data + (linear - data_base) + 8, &hi, 8);
		}
	}
}

static bool within_data(uint64_t linear, uint64_t size)
{
	return linear >= data_base && linear + size <= data_base + DATA_SIZE;
}

/* Whether all iterations of a string instruction, from address on, stay in the data. */
static bool string_within_data(const struct trial *t, uint64_t address)
{
	uint64_t mask = t->insn.addr_size == 4 ? 0xffffffffull : ~0ull, size = t->insn.op_size;
	uint64_t count = t->insn.flags & X86_REP ? t->in.gpr[X86_RCX] & mask : 1;

	if (!count)
		return true;
	if (t->in.rflags & X86_RFLAGS_DF)
		return within_data(address - (count - 1) * size, count * size);
	return within_data(address, count * size);
}

/* Before running natively: the accesses must stay in the data, or the host would crash instead of failing. */
static void check_native_safety(const struct trial *t, const char *text)
{
	uint64_t linear, mask = t->insn.addr_size == 4 ? 0xffffffffull : ~0ull;
	uint32_t size;

	assert_int_equal(x86_mem_target(&t->insn, &t->in, &linear, &size), 0);
	if (size && !within_data(linear, size))
		fail_msg("%s: store at %#lx outside the data", text, (unsigned long)linear);
	if ((t->insn.flags & X86_STRING) &&
	    (!string_within_data(t, t->in.gpr[X86_RDI] & mask) ||
	     !string_within_data(t, x86_segment_base(&t->in, t->insn.mem.segment) + (t->in.gpr[X86_RSI] & mask))))
		fail_msg("%s: string range outside the data", text);
	if ((t->insn.flags & X86_MEM_OPERAND) && !x86_operand_address(&t->insn, &t->in, &linear) &&
	    !within_data(linear, t->insn.op_size))
		fail_msg("%s: operand at %#lx outside the data", text, (unsigned long)linear);
}

static void report_difference(const char *text, const struct trial *t, const struct x86_regs *native,
			      const struct x86_regs *emulated)
{
	fprintf(stderr, "%s:", text);
	for (size_t i = 0; i < t->length; i++)
		fprintf(stderr, " %02x", t->code[i]);
	fprintf(stderr, "\n  in:      rflags=%#lx", (unsigned long)t->in.rflags);
	for (unsigned i = 0; i < X86_NR_GPRS; i++)
		fprintf(stderr, " r%u=%#lx", i, (unsigned long)t->in.gpr[i]);
	fprintf(stderr, "\n  native:  rflags=%#lx", (unsigned long)native->rflags);
	for (unsigned i = 0; i < X86_NR_GPRS; i++)
		if (native->gpr[i] != emulated->gpr[i])
			fprintf(stderr, " r%u=%#lx", i, (unsigned long)native->gpr[i]);
	fprintf(stderr, "\n  emulate: rflags=%#lx", (unsigned long)emulated->rflags);
	for (unsigned i = 0; i < X86_NR_GPRS; i++)
		if (native->gpr[i] != emulated->gpr[i])
			fprintf(stderr, " r%u=%#lx", i, (unsigned long)emulated->gpr[i]);
	fputc('\n', stderr);
}

static unsigned run_case(const struct emu_case *c, unsigned trials, struct emu_memory *mem)
{
	static uint8_t native_after[DATA_SIZE];
	unsigned failures = 0;

	for (unsigned trial = 0; trial < trials; trial++) {
		struct trial t;
		struct x86_regs native, emulated;
		uint64_t flags_mask;

		setup_trial(&t, c);
		check_native_safety(&t, c->text);
		memcpy(mem->buffer, data, DATA_SIZE);
		memcpy(code_page, t.code, t.length);
		code_page[t.length] = 0xff;                     /* jmp *0(%rip) to native_return */
		code_page[t.length + 1] = 0x25;
		memset(code_page + t.length + 2, 0, 4);
		memcpy(code_page + t.length + 6, &(const uint8_t *){ native_return }, 8);

		native = t.in;
		native_run(&native, code_page);
		memcpy(native_after, data, DATA_SIZE);

		emulated = t.in;
		mem->accesses = 0;
		mem->fail_at = random_below(4) ? 0 : 1 + (unsigned)random_below(3);
		mem->stray = false;
		emulate_until_done(code_page, t.length, &emulated, mem, c->text);

		flags_mask = defined_flags(&t.insn, &t.in);
		native.rip = t.in.rip + t.length;
		if (memcmp(native.gpr, emulated.gpr, sizeof(native.gpr)) || native.rip != emulated.rip ||
		    ((native.rflags ^ emulated.rflags) & flags_mask) || memcmp(native_after, mem->buffer, DATA_SIZE)) {
			if (failures++ < 3) {
				report_difference(c->text, &t, &native, &emulated);
				for (size_t i = 0; i < DATA_SIZE; i++)
					if (native_after[i] != mem->buffer[i]) {
						fprintf(stderr, "  memory +%#zx: native %02x emulated %02x\n", i,
							native_after[i], mem->buffer[i]);
						break;
					}
			}
		}
	}
	return failures;
}

static void test_against_host_cpu(void **state)
{
	static struct emu_memory mem;
	unsigned failed_cases = 0, cases = 0;

	(void)state;
	for (const struct emu_case *c = emu_cases_start; c < emu_cases_end; c++, cases++) {
		unsigned failures = run_case(c, TRIALS, &mem);

		if (failures) {
			failed_cases++;
			fprintf(stderr, "%s: %u of %u runs differ\n", c->text, failures, TRIALS);
		}
	}
	assert_true(cases > 300);
	assert_int_equal(failed_cases, 0);
}

/* A memory for emulator-only cases: reads return the low byte of each address, stores are logged; accesses can
 * be made to fail from a given one on. */
struct log_memory {
	unsigned reads;
	unsigned writes;
	unsigned fail_from;    /* 1-based access from which every access fails; 0: none */
	uint64_t write_address[4];
	uint32_t write_size[4];
	uint8_t written[4][64];
};

static bool log_access_fails(struct log_memory *mem)
{
	return mem->fail_from && mem->reads + mem->writes >= mem->fail_from;
}

static int log_read(void *opaque, uint64_t linear, void *buf, uint32_t size)
{
	struct log_memory *mem = opaque;

	if (log_access_fails(mem))
		return -HV_EFAULT;
	mem->reads++;
	for (uint32_t i = 0; i < size; i++)
		((uint8_t *)buf)[i] = (uint8_t)(linear + i);
	return 0;
}

static int log_write(void *opaque, uint64_t linear, const void *buf, uint32_t size)
{
	struct log_memory *mem = opaque;
	unsigned slot = mem->writes % 4;

	if (log_access_fails(mem))
		return -HV_EFAULT;
	mem->writes++;
	mem->write_address[slot] = linear;
	mem->write_size[slot] = size;
	memcpy(mem->written[slot], buf, MIN(size, 64u));
	return 0;
}

static const struct x86_mem_ops log_ops = { .read = log_read, .write = log_write };

#define DECODE(insn, ...)                                               \
	do {                                                            \
		static const uint8_t bytes_[] = { __VA_ARGS__ };        \
		decode_case(bytes_, sizeof(bytes_), (insn));            \
	} while (0)

static struct x86_regs kernel_regs(void)
{
	struct x86_regs regs = { .rip = 0xffffffff81000000ull, .rflags = RFLAGS_BASE,
				 .fs_base = 0x7f0000001000ull, .gs_base = 0xffff888000100000ull };

	for (unsigned i = 0; i < X86_NR_GPRS; i++)
		regs.gpr[i] = 0xffff888000200000ull + 0x10000 * i;
	return regs;
}

/* One trap emulates at most one destination page of a REP string instruction, keeping RIP until rCX is 0. */
static void test_rep_one_page_per_trap(void **state)
{
	struct x86_regs regs = kernel_regs(), start;
	struct log_memory mem = { 0 };
	struct x86_insn insn;
	uint64_t linear;
	uint32_t size;

	(void)state;
	DECODE(&insn, 0xf3, 0xaa);                                         /* rep stosb */
	regs.gpr[X86_RDI] = 0xffff888000300000ull;
	regs.gpr[X86_RCX] = 5000;
	regs.gpr[X86_RAX] = 0x1234567890abcdefull;
	start = regs;
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), 0);
	assert_int_equal(regs.rip, start.rip);
	assert_int_equal(regs.gpr[X86_RCX], 5000 - 4096);
	assert_int_equal(regs.gpr[X86_RDI], start.gpr[X86_RDI] + 4096);
	assert_int_equal(mem.writes, 4096 / 64);
	assert_int_equal(mem.written[3][63], 0xef);
	assert_int_equal(x86_mem_target(&insn, &regs, &linear, &size), 0);
	assert_int_equal(linear, start.gpr[X86_RDI] + 4096);
	assert_int_equal(size, 904);
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), 0);
	assert_int_equal(regs.rip, start.rip + 2);
	assert_int_equal(regs.gpr[X86_RCX], 0);
	assert_int_equal(regs.gpr[X86_RDI], start.gpr[X86_RDI] + 5000);

	DECODE(&insn, 0xf3, 0x48, 0xab);                                   /* std; rep stosq */
	regs = start;
	regs.rflags |= X86_RFLAGS_DF;
	regs.gpr[X86_RDI] = 0xffff888000300010ull;
	regs.gpr[X86_RCX] = 3;
	memset(&mem, 0, sizeof(mem));
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), 0);
	assert_int_equal(regs.rip, start.rip + 3);                         /* 0x..010, 0x..008, 0x..000 fit */
	assert_int_equal(regs.gpr[X86_RCX], 0);
	assert_int_equal(regs.gpr[X86_RDI], 0xffff888000300010ull - 24);
	assert_int_equal(mem.write_address[0], 0xffff888000300000ull);
	assert_int_equal(mem.write_size[0], 24);
	regs.rip = start.rip;
	regs.gpr[X86_RDI] = 0xffff888000300008ull;
	regs.gpr[X86_RCX] = 3;
	memset(&mem, 0, sizeof(mem));
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), 0);
	assert_int_equal(regs.rip, start.rip);                             /* 0x..008, 0x..000: page ends */
	assert_int_equal(regs.gpr[X86_RCX], 1);
	assert_int_equal(regs.gpr[X86_RDI], 0xffff888000300008ull - 16);
	assert_int_equal(mem.write_address[0], 0xffff888000300000ull);
	assert_int_equal(mem.write_size[0], 16);
}

/* A REP instruction whose access fails after some iterations keeps them and returns 0; failing at once it
 * returns the error and changes nothing. */
static void test_rep_partial_failure(void **state)
{
	struct x86_regs regs = kernel_regs(), start;
	struct log_memory mem = { .fail_from = 5 };
	struct x86_insn insn;

	(void)state;
	DECODE(&insn, 0xf3, 0x48, 0xa5);                                   /* rep movsq */
	regs.gpr[X86_RSI] = 0xffff888000400000ull;
	regs.gpr[X86_RDI] = 0xffff888000500000ull;
	regs.gpr[X86_RCX] = 100;
	start = regs;
	/* blocks of 8 elements: read, write, read, write, then the 5th access fails */
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), 0);
	assert_int_equal(regs.rip, start.rip);
	assert_int_equal(regs.gpr[X86_RCX], 100 - 16);
	assert_int_equal(regs.gpr[X86_RSI], start.gpr[X86_RSI] + 128);
	assert_int_equal(regs.gpr[X86_RDI], start.gpr[X86_RDI] + 128);
	memset(&mem, 0, sizeof(mem));
	mem.fail_from = 1;
	start = regs;
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), -HV_EFAULT);
	assert_memory_equal(&regs, &start, sizeof(regs));
}

static void test_fs_segment(void **state)
{
	struct x86_regs regs = kernel_regs();
	struct log_memory mem = { 0 };
	struct x86_insn insn;

	(void)state;
	DECODE(&insn, 0x64, 0x89, 0x43, 0x10);                             /* mov %eax, %fs:0x10(%rbx) */
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), 0);
	assert_int_equal(mem.write_address[0], regs.fs_base + regs.gpr[X86_RBX] + 0x10);
	DECODE(&insn, 0x64, 0xa4);                                         /* movsb %fs:(%rsi), %es:(%rdi) */
	memset(&mem, 0, sizeof(mem));
	regs.gpr[X86_RSI] = 0x42;
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), 0);
	assert_int_equal(mem.written[0][0], (uint8_t)(regs.fs_base + 0x42));   /* read from FS:RSI */
	assert_int_equal(mem.write_address[0], regs.gpr[X86_RDI] - 1);          /* ES:RDI, no FS */
}

/* BT* register offsets far outside the operand, beyond what the host test buffer allows. */
static void test_bit_offset_extremes(void **state)
{
	static const struct { uint8_t size; uint64_t offset; int64_t delta; unsigned bit; } cases[] = {
		{ 2, 0x8000, -4096, 0 }, { 2, 0x7fff, 4094, 15 }, { 4, 0x80000000, -0x10000000, 0 },
		{ 4, 0x7fffffff, 0x0ffffffc, 31 }, { 8, ~0ull, -8, 63 }, { 8, 1ull << 62, 1ll << 59, 0 },
		{ 8, 1ull << 63, INT64_MIN / 8, 0 },
	};
	struct log_memory mem;
	struct x86_insn insn;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct x86_regs regs = kernel_regs();
		uint64_t expected = regs.gpr[X86_RDI] + (uint64_t)cases[i].delta, word = 0, pattern = 0;

		if (cases[i].size == 2)
			DECODE(&insn, 0x66, 0x0f, 0xab, 0x07);              /* btsw %ax, (%rdi) */
		else if (cases[i].size == 4)
			DECODE(&insn, 0x0f, 0xab, 0x07);                    /* btsl %eax, (%rdi) */
		else
			DECODE(&insn, 0x48, 0x0f, 0xab, 0x07);              /* btsq %rax, (%rdi) */
		regs.gpr[X86_RAX] = cases[i].offset;
		memset(&mem, 0, sizeof(mem));
		assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), 0);
		assert_int_equal(mem.write_address[0], expected);
		for (unsigned b = 0; b < cases[i].size; b++)
			pattern |= (uint64_t)(uint8_t)(expected + b) << (8 * b);
		memcpy(&word, mem.written[0], cases[i].size);
		assert_int_equal(word, pattern | (1ull << cases[i].bit));
		assert_int_equal(regs.rflags & X86_RFLAGS_CF, (pattern >> cases[i].bit) & 1);
	}
}

static void assert_not_emulated(const struct x86_insn *insn, int expected)
{
	struct x86_regs regs = kernel_regs(), start = regs;
	struct log_memory mem = { 0 };

	assert_int_equal(x86_emulate(insn, &regs, &log_ops, &mem), expected);
	assert_memory_equal(&regs, &start, sizeof(regs));
	assert_int_equal(mem.reads + mem.writes, 0);
}

static void test_not_emulated(void **state)
{
	struct x86_insn insn;

	(void)state;
	DECODE(&insn, 0x0f, 0x11, 0x07);                                   /* movups %xmm0, (%rdi) */
	assert_not_emulated(&insn, -HV_ENOSYS);
	DECODE(&insn, 0xc5, 0xfe, 0x7f, 0x07);                             /* vmovdqu %ymm0, (%rdi) */
	assert_not_emulated(&insn, -HV_ENOSYS);
	DECODE(&insn, 0xd9, 0x1f);                                         /* fstps (%rdi) */
	assert_not_emulated(&insn, -HV_ENOSYS);
	DECODE(&insn, 0xc8, 0x10, 0x00, 0x00);                             /* enter */
	assert_not_emulated(&insn, -HV_ENOSYS);
	DECODE(&insn, 0x6c);                                               /* insb, without port access */
	assert_not_emulated(&insn, -HV_ENOSYS);
	DECODE(&insn, 0x0f, 0xa0);                                         /* push %fs */
	assert_not_emulated(&insn, -HV_ENOSYS);
	DECODE(&insn, 0x8c, 0x1f);                                         /* mov %ds, (%rdi) */
	assert_not_emulated(&insn, -HV_ENOSYS);
	DECODE(&insn, 0x39, 0x07);                                         /* cmp: no store */
	assert_not_emulated(&insn, -HV_ENOSYS);
	DECODE(&insn, 0x01, 0xc1);                                         /* add %eax, %ecx: no memory */
	assert_not_emulated(&insn, -HV_ENOSYS);
}

/* INS: a port whose every read returns the next value of a counter, into a small buffer. */
struct port_memory {
	uint8_t buffer[64];
	uint64_t base;
	uint32_t next_value, port_reads;
	uint16_t port;
};

static int port_mem_write(void *opaque, uint64_t linear, const void *buf, uint32_t size)
{
	struct port_memory *m = opaque;

	assert_true(linear >= m->base && linear + size <= m->base + sizeof(m->buffer));
	memcpy(m->buffer + (linear - m->base), buf, size);
	return 0;
}

static int port_mem_in(void *opaque, uint16_t port, void *buf, uint32_t size, uint32_t count)
{
	struct port_memory *m = opaque;

	m->port = port;
	for (uint32_t i = 0; i < count; i++, m->port_reads++) {
		uint32_t value = m->next_value++;
		memcpy((uint8_t *)buf + i * size, &value, size);
	}
	return 0;
}

static void test_ins(void **state)
{
	static const struct x86_mem_ops ops = { .write = port_mem_write, .port_in = port_mem_in };
	struct port_memory m = { .base = 0xffff888000100000ull, .next_value = 0x11 };
	struct x86_regs regs = kernel_regs();
	struct x86_insn insn;
	uint32_t dwords[4];

	(void)state;
	DECODE(&insn, 0xf3, 0x6d);                                         /* rep insl (%dx), %es:(%rdi) */
	regs.gpr[X86_RDX] = 0xc010;
	regs.gpr[X86_RDI] = m.base + 8;
	regs.gpr[X86_RCX] = 4;
	assert_int_equal(x86_emulate(&insn, &regs, &ops, &m), 0);
	memcpy(dwords, m.buffer + 8, sizeof(dwords));
	assert_int_equal(m.port, 0xc010);
	assert_int_equal(m.port_reads, 4);
	assert_int_equal(dwords[0], 0x11);
	assert_int_equal(dwords[3], 0x14);
	assert_int_equal(regs.gpr[X86_RDI], m.base + 24);
	assert_int_equal(regs.gpr[X86_RCX], 0);
	assert_int_equal(regs.rip, kernel_regs().rip + 2);

	/* descending: each element goes below the previous one, in the order the port gives them */
	regs = kernel_regs();
	regs.rflags |= X86_RFLAGS_DF;
	regs.gpr[X86_RDX] = 0xc010;
	regs.gpr[X86_RDI] = m.base + 40;
	regs.gpr[X86_RCX] = 3;
	DECODE(&insn, 0xf3, 0x6c);                                         /* rep insb */
	m.next_value = 0xa1;
	assert_int_equal(x86_emulate(&insn, &regs, &ops, &m), 0);
	assert_int_equal(m.buffer[40], 0xa1);
	assert_int_equal(m.buffer[39], 0xa2);
	assert_int_equal(m.buffer[38], 0xa3);
	assert_int_equal(regs.gpr[X86_RDI], m.base + 37);
}

static void test_cmpxchg16b_alignment(void **state)
{
	struct x86_regs regs = kernel_regs(), start;
	struct log_memory mem = { 0 };
	struct x86_insn insn;

	(void)state;
	DECODE(&insn, 0xf0, 0x48, 0x0f, 0xc7, 0x0f);                       /* lock cmpxchg16b (%rdi) */
	regs.gpr[X86_RDI] += 8;
	start = regs;
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), -HV_EBADINSN);   /* #GP on hardware */
	assert_memory_equal(&regs, &start, sizeof(regs));
	assert_int_equal(mem.reads + mem.writes, 0);
	regs.gpr[X86_RDI] -= 8;
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), 0);
	assert_int_equal(mem.write_size[0], 16);
	assert_false(regs.rflags & X86_RFLAGS_ZF);                         /* the pattern is not rDX:rAX */
}

/* PUSHF stores RFLAGS without RF and VM, which the host test cannot set. */
static void test_pushf_image(void **state)
{
	struct x86_regs regs = kernel_regs();
	struct log_memory mem = { 0 };
	struct x86_insn insn;
	uint64_t image;

	(void)state;
	DECODE(&insn, 0x9c);
	regs.rflags = RFLAGS_BASE | X86_RFLAGS_RF | X86_RFLAGS_VM | X86_RFLAGS_CF | (1ull << 21);
	assert_int_equal(x86_emulate(&insn, &regs, &log_ops, &mem), 0);
	memcpy(&image, mem.written[0], 8);
	assert_int_equal(image, RFLAGS_BASE | X86_RFLAGS_CF | (1ull << 21));
	assert_int_equal(mem.write_address[0], regs.gpr[X86_RSP]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_host_cpu),
		cmocka_unit_test(test_rep_one_page_per_trap),
		cmocka_unit_test(test_rep_partial_failure),
		cmocka_unit_test(test_fs_segment),
		cmocka_unit_test(test_bit_offset_extremes),
		cmocka_unit_test(test_not_emulated),
		cmocka_unit_test(test_ins),
		cmocka_unit_test(test_cmpxchg16b_alignment),
		cmocka_unit_test(test_pushf_image),
	};

	return cmocka_run_group_tests(tests, setup_buffers, NULL);
}
