/* Unit tests for the x86-64 instruction decoder: lengths and store sizes of several hundred encodings assembled by
 * GNU as (tests/unit/x86/encodings.S), agreement with objdump over whole binaries, truncation at every length,
 * random byte soup under ASan, and the operand, address and store-range computations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "isolation/x86_decode.c"

/* The encodings live in a section of their own; make runs the compiler from the repository root. */
__asm__(".pushsection .x86_enc_table, \"aw\"\n"
	".balign 8\n"
	"encodings_start:\n"
	".popsection\n"
	".pushsection .x86_enc_code, \"ax\"\n"
	".include \"tests/unit/x86/encodings.S\"\n"
	".popsection\n"
	".pushsection .x86_enc_table, \"aw\"\n"
	"encodings_end:\n"
	".popsection\n");

enum { KIND_NO_STORE, KIND_STORE, KIND_STORE_ONLY, KIND_INVALID };

struct encoding {
	const uint8_t *start;
	const uint8_t *end;
	const char *text;
	uint32_t kind;
	uint32_t store_size;
};

extern const struct encoding encodings_start[], encodings_end[];

static size_t encoding_length(const struct encoding *enc)
{
	return (size_t)(enc->end - enc->start);
}

/* Decodes from a heap copy of exactly avail bytes, so ASan catches any read beyond them. */
static int decode_exact(const uint8_t *bytes, size_t avail, struct x86_insn *insn)
{
	uint8_t *copy = malloc(avail ? avail : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, bytes, avail);
	rc = x86_decode(copy, avail, insn);
	free(copy);
	return rc;
}

static void print_bytes(const uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", bytes[i]);
}

static void test_corpus(void **state)
{
	unsigned failures = 0, count = 0;

	(void)state;
	for (const struct encoding *enc = encodings_start; enc < encodings_end; enc++, count++) {
		size_t len = encoding_length(enc);
		struct x86_insn insn;
		int rc = decode_exact(enc->start, MIN(len, (size_t)X86_MAX_INSN_LEN), &insn);
		bool ok;

		if (enc->kind == KIND_INVALID) {
			ok = rc == -HV_EBADINSN;
		} else {
			bool stores = insn.flags & X86_WRITES_MEM, emulatable = insn.flags & X86_EMULATABLE;

			ok = rc == 0 && insn.length == len && stores == (enc->kind != KIND_NO_STORE) &&
			     emulatable == (enc->kind == KIND_STORE) && insn.write_size == enc->store_size;
		}
		if (!ok) {
			failures++;
			fprintf(stderr, "%-45s rc=%d len=%u/%zu flags=%#x write_size=%u/%u bytes:", enc->text, rc,
				insn.length, len, insn.flags, insn.write_size, enc->store_size);
			print_bytes(enc->start, len);
			fputc('\n', stderr);
		}
	}
	assert_true(count > 500);
	assert_int_equal(failures, 0);
}

/* Every proper prefix of a valid instruction asks for more bytes, and reads none beyond what it was given. */
static void test_corpus_truncated(void **state)
{
	unsigned failures = 0;

	(void)state;
	for (const struct encoding *enc = encodings_start; enc < encodings_end; enc++) {
		struct x86_insn insn;

		if (enc->kind == KIND_INVALID)
			continue;
		for (size_t avail = 0; avail < encoding_length(enc); avail++) {
			int rc = decode_exact(enc->start, avail, &insn);

			if (rc != -HV_ETRUNC) {
				failures++;
				fprintf(stderr, "%s: %zu bytes gave %d\n", enc->text, avail, rc);
			}
		}
	}
	assert_int_equal(failures, 0);
}

struct objdump_line {
	uint64_t address;
	uint8_t bytes[16];
	size_t n;
	const char *text;
};

static FILE *open_objdump(const char *path, const char *section)
{
	char command[512];

	snprintf(command, sizeof(command), "objdump -d --insn-width=16 %s%s '%s' 2>/dev/null",
		 section ? "-j " : "", section ? section : "", path);
	return popen(command, "r");
}

/* Reads the next instruction line of objdump -d output; false at the end. */
static bool next_objdump_line(FILE *pipe, char *buffer, size_t size, struct objdump_line *line)
{
	while (fgets(buffer, (int)size, pipe)) {
		char *bytes_field = strchr(buffer, '\t'), *text, *cursor;

		if (!bytes_field || !(text = strchr(bytes_field + 1, '\t')))
			continue;
		*text++ = '\0';
		line->address = strtoull(buffer, NULL, 16);
		line->text = text;
		line->n = 0;
		for (cursor = bytes_field + 1; line->n < sizeof(line->bytes);) {
			char *next;
			unsigned long value = strtoul(cursor, &next, 16);

			if (next == cursor)
				break;
			line->bytes[line->n++] = (uint8_t)value;
			cursor = next;
		}
		if (line->n)
			return true;
	}
	return false;
}

static void report_objdump_mismatch(const char *what, const struct objdump_line *line, int rc,
				    const struct x86_insn *insn)
{
	fprintf(stderr, "%s: rc=%d len=%u, objdump %zu:", what, rc, insn->length, line->n);
	print_bytes(line->bytes, line->n);
	fprintf(stderr, "  %s", line->text);
}

/* Decodes every instruction objdump finds in path's executable sections (or one section) and compares the
 * lengths. Returns the number of instructions compared, or -1 without objdump. */
static long compare_with_objdump(const char *path, const char *section, unsigned *failures)
{
	struct objdump_line line;
	char buffer[1024];
	long compared = 0;
	FILE *pipe = open_objdump(path, section);

	if (!pipe)
		return -1;
	while (next_objdump_line(pipe, buffer, sizeof(buffer), &line)) {
		struct x86_insn insn = { 0 };
		int rc;

		/* objdump shows FWAIT (9B) with the x87 instruction after it; the CPU runs them separately. */
		if (strstr(line.text, "(bad)") || (line.bytes[0] == 0x9b && line.n > 1))
			continue;
		compared++;
		rc = decode_exact(line.bytes, line.n, &insn);
		if ((rc || insn.length != line.n) && (*failures)++ < 20)
			report_objdump_mismatch(path, &line, rc, &insn);
	}
	pclose(pipe);
	return compared ? compared : -1;
}

static const char *own_path(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	assert_true(n > 0);
	path[n] = '\0';
	return path;
}

/* objdump over the compiler's code in this binary, and over X86_DECODE_OBJDUMP_FILES (space-separated paths to
 * binaries without AVX-512 or data in their code, e.g. gdb or cc1) when set. */
static void test_objdump_agrees(void **state)
{
	const char *extra = getenv("X86_DECODE_OBJDUMP_FILES");
	unsigned failures = 0;
	long compared = compare_with_objdump(own_path(), ".text", &failures);

	(void)state;
	if (compared < 0)
		skip();
	assert_true(compared > 1000);
	if (extra) {
		char paths[1024], *saveptr = NULL;

		snprintf(paths, sizeof(paths), "%s", extra);
		for (char *path = strtok_r(paths, " ", &saveptr); path; path = strtok_r(NULL, " ", &saveptr))
			fprintf(stderr, "objdump %s: %ld instructions\n", path,
				compare_with_objdump(path, NULL, &failures));
	}
	assert_int_equal(failures, 0);
}

/* Whether objdump printed prefixes alone: it splits off a REX prefix that does not immediately precede the opcode
 * (the CPU ignores it), and shows at most 14 prefixes a line. */
static bool only_prefixes(const char *text)
{
	static const char *const names[] = { "data16", "addr32", "rex", "cs", "ds", "es", "ss", "fs", "gs", "lock",
					     "repz", "repnz" };
	char copy[256], *saveptr = NULL;

	snprintf(copy, sizeof(copy), "%s", text);
	for (char *word = strtok_r(copy, " \n", &saveptr); word; word = strtok_r(NULL, " \n", &saveptr)) {
		bool known = false;

		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			known |= !strncmp(word, names[i], strlen(names[i])) &&
				 (!word[strlen(names[i])] || word[strlen(names[i])] == '.');
		if (!known)
			return false;
	}
	return true;
}

/* objdump over the corpus: at the start of every valid encoding it sees the length GNU as assembled. */
static void test_objdump_corpus(void **state)
{
	const struct encoding *enc = encodings_start;
	struct objdump_line line;
	uint64_t first = 0;
	unsigned failures = 0, compared = 0;
	char buffer[1024];
	FILE *pipe = open_objdump(own_path(), ".x86_enc_code");

	(void)state;
	if (!pipe)
		skip();
	while (next_objdump_line(pipe, buffer, sizeof(buffer), &line)) {
		uint64_t offset;

		if (!compared && enc == encodings_start)
			first = line.address;
		offset = line.address - first;
		while (enc < encodings_end && (uint64_t)(enc->start - encodings_start->start) < offset)
			enc++;
		if (enc == encodings_end || (uint64_t)(enc->start - encodings_start->start) != offset ||
		    enc->kind == KIND_INVALID || only_prefixes(line.text))
			continue;
		compared++;
		if (line.n != encoding_length(enc) && failures++ < 20)
			fprintf(stderr, "%s: objdump %zu bytes, as %zu\n", enc->text, line.n, encoding_length(enc));
	}
	pclose(pipe);
	if (!compared)
		skip();
	assert_true(compared > 500);
	assert_int_equal(failures, 0);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random bytes, half of them drawn from prefixes, escapes and interesting opcodes and ModRM bytes: the decoder
 * must never read past avail, and a success must be reproducible from exactly its own bytes. */
static void test_random_bytes(void **state)
{
	static const uint8_t palette[] = { 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x64, 0x65, 0x40, 0x48, 0x4f, 0x0f,
					   0x38, 0x3a, 0xc4, 0xc5, 0x62, 0x8f, 0xd8, 0xdf, 0xa5, 0xab, 0xc7, 0xf7,
					   0xff, 0x04, 0x05, 0x24, 0x25, 0x44, 0x84, 0x80, 0xc0, 0xba, 0xae, 0x01 };
	unsigned ok = 0;

	(void)state;
	for (unsigned iteration = 0; iteration < 400000; iteration++) {
		uint8_t bytes[X86_MAX_INSN_LEN];
		size_t avail = next_random() % (X86_MAX_INSN_LEN + 1);
		struct x86_insn insn, again;
		int rc;

		for (size_t i = 0; i < sizeof(bytes); i++) {
			uint64_t r = next_random();

			bytes[i] = r & 0x100 ? palette[(r >> 16) % sizeof(palette)] : (uint8_t)r;
		}
		rc = decode_exact(bytes, avail, &insn);
		if (rc) {
			assert_true(rc == -HV_EBADINSN || (rc == -HV_ETRUNC && avail < X86_MAX_INSN_LEN));
			continue;
		}
		ok++;
		assert_true(insn.length >= 1 && insn.length <= avail);
		assert_int_equal(decode_exact(bytes, insn.length, &again), 0);
		assert_memory_equal(&insn, &again, sizeof(insn));
		assert_int_equal(decode_exact(bytes, insn.length - 1u, &again), -HV_ETRUNC);
		if (insn.flags & X86_EMULATABLE)
			assert_true(insn.write_size >= 1 && insn.write_size <= 16);
	}
	assert_true(ok > 50000);
}

static void decode_bytes(const uint8_t *bytes, size_t n, struct x86_insn *insn)
{
	assert_int_equal(decode_exact(bytes, n, insn), 0);
	assert_int_equal(insn->length, n);
}

#define DECODE(insn, ...)                                               \
	do {                                                            \
		static const uint8_t bytes_[] = { __VA_ARGS__ };        \
		decode_bytes(bytes_, sizeof(bytes_), (insn));           \
	} while (0)

static void assert_memory_operand(const struct x86_insn *insn, uint8_t segment, uint8_t base, uint8_t index,
				  uint8_t scale, int64_t disp)
{
	assert_true(insn->flags & X86_MEM_OPERAND);
	assert_int_equal(insn->mem.segment, segment);
	assert_int_equal(insn->mem.base, base);
	assert_int_equal(insn->mem.index, index);
	assert_int_equal(insn->mem.scale, scale);
	assert_int_equal(insn->mem.disp, disp);
}

static void test_memory_operands(void **state)
{
	struct x86_insn insn;

	(void)state;
	DECODE(&insn, 0x89, 0x0c, 0x24);                                   /* mov %ecx, (%rsp) */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_RSP, X86_REG_NONE, 1, 0);
	assert_int_equal(insn.has_sib, 1);
	assert_int_equal(insn.sib, 0x24);
	DECODE(&insn, 0x89, 0x4c, 0x25, 0x00);                             /* (%rbp) through a SIB */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_RBP, X86_REG_NONE, 1, 0);
	DECODE(&insn, 0x42, 0x89, 0x0c, 0x24);                             /* (%rsp,%r12,1) */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_RSP, X86_R12, 1, 0);
	DECODE(&insn, 0x41, 0x89, 0x0c, 0x24);                             /* (%r12) */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_R12, X86_REG_NONE, 1, 0);
	DECODE(&insn, 0x41, 0x89, 0x0d, 0x34, 0x12, 0x00, 0x00);           /* 0x1234(%rip), REX.B or not */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_REG_RIP, X86_REG_NONE, 1, 0x1234);
	DECODE(&insn, 0x89, 0x0c, 0x25, 0x78, 0x56, 0x34, 0x12);           /* absolute 0x12345678 */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_REG_NONE, X86_REG_NONE, 1, 0x12345678);
	DECODE(&insn, 0x89, 0x0c, 0x8d, 0x00, 0x00, 0x00, 0x80);           /* -0x80000000(,%rcx,4) */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_REG_NONE, X86_RCX, 4, -0x80000000ll);
	DECODE(&insn, 0x89, 0x84, 0x98, 0x80, 0xff, 0xff, 0xff);           /* -0x80(%rax,%rbx,4), disp32 */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_RAX, X86_RBX, 4, -0x80);
	DECODE(&insn, 0x89, 0x4c, 0xd8, 0x80);                             /* -0x80(%rax,%rbx,8), disp8 */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_RAX, X86_RBX, 8, -0x80);
	DECODE(&insn, 0x4f, 0x89, 0x0c, 0xe7);                             /* mov %r9, (%r15,%r12,8) */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_R15, X86_R12, 8, 0);
	assert_int_equal(insn.reg, X86_R9);
	assert_int_equal(insn.op_size, 8);
	DECODE(&insn, 0x67, 0x89, 0x08);                                   /* mov %ecx, (%eax) */
	assert_int_equal(insn.addr_size, 4);
	assert_memory_operand(&insn, X86_SEG_NONE, X86_RAX, X86_REG_NONE, 1, 0);
	DECODE(&insn, 0x65, 0x48, 0x89, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00);
	assert_memory_operand(&insn, X86_SEG_GS, X86_REG_NONE, X86_REG_NONE, 1, 0x28);
	DECODE(&insn, 0x65, 0x64, 0x89, 0x08);                             /* the last FS/GS override counts */
	assert_memory_operand(&insn, X86_SEG_FS, X86_RAX, X86_REG_NONE, 1, 0);
	DECODE(&insn, 0x65, 0x36, 0x89, 0x08);                             /* SS after GS is ignored */
	assert_memory_operand(&insn, X86_SEG_GS, X86_RAX, X86_REG_NONE, 1, 0);
	DECODE(&insn, 0x26, 0x89, 0x08);
	assert_memory_operand(&insn, X86_SEG_ES, X86_RAX, X86_REG_NONE, 1, 0);
	DECODE(&insn, 0x48, 0xa3, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88);
	assert_memory_operand(&insn, X86_SEG_NONE, X86_REG_NONE, X86_REG_NONE, 1, (int64_t)0x8877665544332211ull);
	assert_int_equal(insn.src, X86_SRC_ACC);
	assert_int_equal(insn.imm_size, 0);
	DECODE(&insn, 0x67, 0xa3, 0x44, 0x33, 0x22, 0x91);                 /* 32-bit moffs: zero-extended */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_REG_NONE, X86_REG_NONE, 1, 0x91223344);
	DECODE(&insn, 0x8b, 0x07);                                         /* loads describe the operand too */
	assert_memory_operand(&insn, X86_SEG_NONE, X86_RDI, X86_REG_NONE, 1, 0);
	assert_int_equal(insn.flags & (X86_READS_MEM | X86_WRITES_MEM), X86_READS_MEM);
	DECODE(&insn, 0x89, 0xc8);                                         /* register form: no operand */
	assert_int_equal(insn.flags, 0);
	DECODE(&insn, 0x0f, 0x20, 0x40);                                   /* MOV CR ignores mod: no disp8 */
	assert_false(insn.flags & X86_MEM_OPERAND);
}

static void test_registers_and_immediates(void **state)
{
	struct x86_insn insn;

	(void)state;
	DECODE(&insn, 0x88, 0x27);                                         /* mov %ah, (%rdi) */
	assert_int_equal(insn.reg, 4);
	assert_false(insn.prefixes & X86_PFX_REX);
	DECODE(&insn, 0x40, 0x88, 0x27);                                   /* mov %spl, (%rdi) */
	assert_int_equal(insn.reg, 4);
	assert_true(insn.prefixes & X86_PFX_REX);
	DECODE(&insn, 0x40, 0x65, 0x88, 0x27);                             /* REX not last: ignored */
	assert_false(insn.prefixes & X86_PFX_REX);
	assert_int_equal(insn.rex, 0);
	DECODE(&insn, 0x48, 0x66, 0x89, 0x07);
	assert_int_equal(insn.op_size, 2);
	DECODE(&insn, 0x66, 0x48, 0x89, 0x07);
	assert_int_equal(insn.op_size, 8);
	DECODE(&insn, 0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0xff);           /* movq $-1: imm32 sign-extended */
	assert_int_equal(insn.op, X86_OP_MOV);
	assert_int_equal(insn.src, X86_SRC_IMM);
	assert_int_equal(insn.imm, -1);
	assert_int_equal(insn.imm_size, 4);
	DECODE(&insn, 0x66, 0xc7, 0x07, 0x34, 0x12);                       /* movw $0x1234 */
	assert_int_equal(insn.imm, 0x1234);
	assert_int_equal(insn.imm_size, 2);
	DECODE(&insn, 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8);                 /* movabs $imm64, %rax */
	assert_int_equal(insn.imm, 0x0807060504030201ll);
	assert_int_equal(insn.imm_size, 8);
	assert_int_equal(insn.flags, 0);
	DECODE(&insn, 0x83, 0x07, 0xff);                                   /* addl $-1, (%rdi) */
	assert_int_equal(insn.op, X86_OP_ALU);
	assert_int_equal(insn.sub, X86_ALU_ADD);
	assert_int_equal(insn.imm, -1);
	DECODE(&insn, 0x81, 0x3f, 0, 0, 0, 0);                             /* cmpl: not executed */
	assert_int_equal(insn.op, X86_OP_NONE);
	assert_int_equal(insn.flags & X86_WRITES_MEM, 0);
	DECODE(&insn, 0x0f, 0x9f, 0x07);                                   /* setg */
	assert_int_equal(insn.op, X86_OP_SETCC);
	assert_int_equal(insn.sub, 0xf);
	DECODE(&insn, 0x0f, 0xba, 0x2f, 0x05);                             /* btsl $5 */
	assert_int_equal(insn.op, X86_OP_BT);
	assert_int_equal(insn.sub, X86_BTS);
	assert_false(insn.flags & X86_BIT_OFFSET);
	DECODE(&insn, 0x0f, 0xb3, 0x07);                                   /* btrl %eax: the offset moves it */
	assert_int_equal(insn.sub, X86_BTR);
	assert_true(insn.flags & X86_BIT_OFFSET);
	DECODE(&insn, 0x41, 0xff, 0xd3);                                   /* call *%r11 */
	assert_int_equal(insn.op, X86_OP_CALL);
	assert_int_equal(insn.src, X86_SRC_REG);
	assert_int_equal(insn.reg, X86_R11);
	assert_int_equal(insn.op_size, 8);
	DECODE(&insn, 0x66, 0xff, 0xd0);                                   /* 66 call: still 64-bit (Intel) */
	assert_int_equal(insn.op_size, 8);
	DECODE(&insn, 0xff, 0x37);                                         /* pushq (%rdi) */
	assert_int_equal(insn.src, X86_SRC_MEM);
	assert_true(insn.flags & X86_STACK_WRITE);
	assert_true(insn.flags & X86_READS_MEM);
	DECODE(&insn, 0x41, 0x57);                                         /* push %r15 */
	assert_int_equal(insn.reg, X86_R15);
	DECODE(&insn, 0xe8, 0xfb, 0xff, 0xff, 0xff);                       /* call .-0 */
	assert_int_equal(insn.imm, -5);
	DECODE(&insn, 0xf3, 0x48, 0xab);                                   /* rep stosq */
	assert_int_equal(insn.flags & (X86_STRING | X86_REP), X86_STRING | X86_REP);
	DECODE(&insn, 0xf3, 0x89, 0x07);                                   /* REP does nothing to MOV */
	assert_false(insn.flags & X86_REP);
	DECODE(&insn, 0xc5, 0xfc, 0x11, 0x07);                             /* vmovups %ymm0, (%rdi) */
	assert_true(insn.prefixes & X86_PFX_VEX);
	assert_int_equal(insn.map, X86_MAP_0F);
	assert_int_equal(insn.write_size, 32);
	DECODE(&insn, 0xc4, 0x41, 0x7c, 0x11, 0x01);                       /* vmovups %ymm8, (%r9) */
	assert_int_equal(insn.reg, 8);
	assert_int_equal(insn.mem.base, X86_R9);
}

static void test_length_limits(void **state)
{
	uint8_t bytes[X86_MAX_INSN_LEN + 2];
	struct x86_insn insn;

	(void)state;
	memset(bytes, 0x66, sizeof(bytes));
	bytes[14] = 0x90;
	decode_bytes(bytes, 15, &insn);                                  /* 14 prefixes and an opcode */
	bytes[14] = 0x66;
	assert_int_equal(decode_exact(bytes, 15, &insn), -HV_EBADINSN);  /* 15 prefixes: no room left */
	assert_int_equal(decode_exact(bytes, 14, &insn), -HV_ETRUNC);
	assert_int_equal(decode_exact(bytes, 0, &insn), -HV_ETRUNC);
	/* 17 bytes: over-long as soon as the immediate would cross byte 15, whatever the caller could still fetch */
	memcpy(bytes, (const uint8_t[]){ 0x66, 0x66, 0x66, 0x66, 0x66, 0x48, 0xc7, 0x84, 0x24 }, 9);
	assert_int_equal(decode_exact(bytes, 15, &insn), -HV_EBADINSN);
	assert_int_equal(decode_exact(bytes, 13, &insn), -HV_EBADINSN);
	assert_int_equal(decode_exact(bytes, 12, &insn), -HV_ETRUNC);
}

static struct x86_regs sample_regs(void)
{
	struct x86_regs regs = { .rip = 0xffffffff81000000ull, .fs_base = 0x7f0000001000ull,
				 .gs_base = 0xffff888000100000ull };

	for (unsigned i = 0; i < X86_NR_GPRS; i++)
		regs.gpr[i] = 0xffff888000000000ull + 0x1000 * i;
	return regs;
}

static uint64_t operand_address(const struct x86_insn *insn, const struct x86_regs *regs)
{
	uint64_t linear = 0;

	assert_int_equal(x86_operand_address(insn, regs, &linear), 0);
	return linear;
}

static void test_operand_address(void **state)
{
	struct x86_regs regs = sample_regs();
	struct x86_insn insn;
	uint64_t linear;

	(void)state;
	DECODE(&insn, 0x89, 0x4c, 0xd8, 0x80);                             /* -0x80(%rax,%rbx,8) */
	assert_int_equal(operand_address(&insn, &regs), regs.gpr[X86_RAX] + regs.gpr[X86_RBX] * 8 - 0x80);
	DECODE(&insn, 0x89, 0x0d, 0x34, 0x12, 0x00, 0x00);                 /* 0x1234(%rip) */
	assert_int_equal(operand_address(&insn, &regs), regs.rip + 6 + 0x1234);
	DECODE(&insn, 0x67, 0x89, 0x0d, 0xf0, 0xff, 0xff, 0xff);           /* -0x10(%eip) */
	assert_int_equal(operand_address(&insn, &regs), (regs.rip + 7 - 0x10) & 0xffffffff);
	DECODE(&insn, 0x65, 0x89, 0x0c, 0x25, 0x28, 0x00, 0x00, 0x00);     /* %gs:0x28 */
	assert_int_equal(operand_address(&insn, &regs), regs.gs_base + 0x28);
	DECODE(&insn, 0x64, 0x89, 0x48, 0xf8);                             /* %fs:-8(%rax) */
	assert_int_equal(operand_address(&insn, &regs), regs.fs_base + regs.gpr[X86_RAX] - 8);
	DECODE(&insn, 0x2e, 0x89, 0x08);                                   /* %cs: base 0 */
	assert_int_equal(operand_address(&insn, &regs), regs.gpr[X86_RAX]);
	/* 32-bit addresses wrap before the segment base is added */
	regs.gpr[X86_RAX] = 0x12345678fffffff0ull;
	DECODE(&insn, 0x65, 0x67, 0x89, 0x48, 0x20);                       /* %gs:0x20(%eax) */
	assert_int_equal(operand_address(&insn, &regs), regs.gs_base + 0x10);
	DECODE(&insn, 0x65, 0x67, 0xa3, 0x00, 0x00, 0x00, 0x80);           /* 32-bit moffs */
	assert_int_equal(operand_address(&insn, &regs), regs.gs_base + 0x80000000ull);
	DECODE(&insn, 0x89, 0xc8);
	assert_int_equal(x86_operand_address(&insn, &regs, &linear), -HV_EINVAL);
}

/* BT* with a register offset address the operand-sized word holding the bit: floor(offset / bits) words away. */
static void test_bit_offset_address(void **state)
{
	static const struct { int64_t offset; uint8_t op_size; int64_t delta; } cases[] = {
		{ 0, 4, 0 }, { 31, 4, 0 }, { 32, 4, 4 }, { -1, 4, -4 }, { -32, 4, -4 }, { -33, 4, -8 },
		{ 0x7fffffff, 4, 0x03ffffff * 4ll }, { INT32_MIN, 4, -0x04000000 * 4ll },
		{ 15, 2, 0 }, { 16, 2, 2 }, { -1, 2, -2 }, { INT16_MIN, 2, -4096 }, { INT16_MAX, 2, 4094 },
		{ 63, 8, 0 }, { 64, 8, 8 }, { -65, 8, -16 }, { 1ll << 40, 8, 1ll << 37 },
		{ INT64_MIN, 8, INT64_MIN / 8 },
	};
	struct x86_regs regs = sample_regs();
	struct x86_insn insn;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (cases[i].op_size == 2)
			DECODE(&insn, 0x66, 0x0f, 0xab, 0x07);                  /* btsw %ax, (%rdi) */
		else if (cases[i].op_size == 4)
			DECODE(&insn, 0x0f, 0xab, 0x07);                        /* btsl %eax, (%rdi) */
		else
			DECODE(&insn, 0x48, 0x0f, 0xab, 0x07);                  /* btsq %rax, (%rdi) */
		/* the upper bits of a narrower offset register do not count */
		regs.gpr[X86_RAX] = (uint64_t)cases[i].offset;
		if (cases[i].op_size < 8)
			regs.gpr[X86_RAX] = (regs.gpr[X86_RAX] & ((1ull << (8 * cases[i].op_size)) - 1)) |
					    0xabcd000000000000ull;
		assert_int_equal(operand_address(&insn, &regs), regs.gpr[X86_RDI] + (uint64_t)cases[i].delta);
	}
}

static void assert_target(const struct x86_insn *insn, const struct x86_regs *regs, uint64_t linear, uint32_t size)
{
	uint64_t got_linear = 1;
	uint32_t got_size = 1;

	assert_int_equal(x86_mem_target(insn, regs, &got_linear, &got_size), 0);
	assert_int_equal(got_size, size);
	if (size)
		assert_int_equal(got_linear, linear);
}

static void test_mem_target(void **state)
{
	struct x86_regs regs = sample_regs();
	uint64_t rsp = regs.gpr[X86_RSP], linear;
	struct x86_insn insn;
	uint32_t size;

	(void)state;
	DECODE(&insn, 0x48, 0x89, 0x47, 0x08);                             /* mov %rax, 8(%rdi) */
	assert_target(&insn, &regs, regs.gpr[X86_RDI] + 8, 8);
	DECODE(&insn, 0x39, 0x07);                                         /* cmp: stores nothing */
	assert_target(&insn, &regs, 0, 0);
	DECODE(&insn, 0x50);                                               /* push %rax */
	assert_target(&insn, &regs, rsp - 8, 8);
	DECODE(&insn, 0x66, 0x50);                                         /* pushw %ax */
	assert_target(&insn, &regs, rsp - 2, 2);
	DECODE(&insn, 0x66, 0x6a, 0xff);                                   /* pushw $-1 */
	assert_target(&insn, &regs, rsp - 2, 2);
	DECODE(&insn, 0x9c);                                               /* pushfq */
	assert_target(&insn, &regs, rsp - 8, 8);
	DECODE(&insn, 0xff, 0x54, 0x24, 0x08);                             /* call *8(%rsp): stores below RSP */
	assert_target(&insn, &regs, rsp - 8, 8);
	DECODE(&insn, 0x8f, 0x04, 0x24);                                   /* popq (%rsp): RSP already popped */
	assert_target(&insn, &regs, rsp + 8, 8);
	DECODE(&insn, 0x66, 0x8f, 0x44, 0x24, 0x08);                       /* popw 8(%rsp) */
	assert_target(&insn, &regs, rsp + 2 + 8, 2);
	DECODE(&insn, 0x48, 0x0f, 0xab, 0x07);                             /* btsq %rax, (%rdi) */
	regs.gpr[X86_RAX] = (uint64_t)-1;
	assert_target(&insn, &regs, regs.gpr[X86_RDI] - 8, 8);
	DECODE(&insn, 0xc8, 0x10, 0x00, 0x00);                             /* enter: size unknown */
	assert_int_equal(x86_mem_target(&insn, &regs, &linear, &size), -HV_ENOSYS);
	DECODE(&insn, 0x0f, 0xae, 0x27);                                   /* xsave */
	assert_int_equal(x86_mem_target(&insn, &regs, &linear, &size), -HV_ENOSYS);
	assert_int_equal(operand_address(&insn, &regs), regs.gpr[X86_RDI]);
}

/* REP string stores: the iterations emulated next stay within the destination page of the first one. */
static void test_string_target(void **state)
{
	struct x86_regs regs = sample_regs();
	const uint64_t page = 0xffff888000123000ull;
	struct x86_insn insn;

	(void)state;
	DECODE(&insn, 0xf3, 0x48, 0xab);                                   /* rep stosq */
	regs.gpr[X86_RDI] = page;
	regs.gpr[X86_RCX] = 10;
	assert_target(&insn, &regs, page, 80);
	regs.gpr[X86_RCX] = 0;
	assert_target(&insn, &regs, 0, 0);
	assert_int_equal(x86_string_iterations(&insn, &regs), 0);
	regs.gpr[X86_RCX] = 1000;
	assert_target(&insn, &regs, page, 4096);
	regs.gpr[X86_RDI] = page + 0xff8;
	assert_target(&insn, &regs, page + 0xff8, 8);
	regs.gpr[X86_RDI] = page + 0xffd;                                  /* a misaligned last element spills */
	assert_target(&insn, &regs, page + 0xffd, 8);
	regs.gpr[X86_RDI] = page + 0xff5;
	assert_target(&insn, &regs, page + 0xff5, 16);
	regs.rflags |= X86_RFLAGS_DF;                                      /* downwards */
	regs.gpr[X86_RDI] = page + 0x10;
	assert_target(&insn, &regs, page, 0x18);
	regs.gpr[X86_RCX] = 2;
	assert_target(&insn, &regs, page + 0x8, 0x10);
	regs.gpr[X86_RDI] = page + 0x3;
	regs.gpr[X86_RCX] = 5;
	assert_target(&insn, &regs, page + 0x3, 8);
	regs.rflags &= ~X86_RFLAGS_DF;

	DECODE(&insn, 0xf3, 0xaa);                                         /* rep stosb */
	regs.gpr[X86_RDI] = page + 0x800;
	regs.gpr[X86_RCX] = 100000;
	assert_target(&insn, &regs, page + 0x800, 0x800);
	assert_int_equal(x86_string_iterations(&insn, &regs), 0x800);
	DECODE(&insn, 0x67, 0xf3, 0xaa);                                   /* addr32 rep stosb: ECX, EDI */
	regs.gpr[X86_RCX] = 0x100000003ull;
	regs.gpr[X86_RDI] = 0xabcd000000001000ull;
	assert_target(&insn, &regs, 0x1000, 3);
	regs.gpr[X86_RCX] = 0x100000000ull;
	assert_target(&insn, &regs, 0, 0);
	DECODE(&insn, 0x66, 0xa5);                                         /* movsw: one iteration, no REP */
	regs.gpr[X86_RDI] = page + 0xfff;
	regs.gpr[X86_RCX] = 0;
	assert_target(&insn, &regs, page + 0xfff, 2);
	DECODE(&insn, 0xf2, 0xa4);                                         /* repne movsb repeats like rep */
	regs.gpr[X86_RCX] = 7;
	regs.gpr[X86_RDI] = page;
	assert_target(&insn, &regs, page, 7);
	DECODE(&insn, 0xf3, 0xa6);                                         /* repe cmpsb stores nothing */
	assert_target(&insn, &regs, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_corpus_truncated),
		cmocka_unit_test(test_objdump_agrees),
		cmocka_unit_test(test_objdump_corpus),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_memory_operands),
		cmocka_unit_test(test_registers_and_immediates),
		cmocka_unit_test(test_length_limits),
		cmocka_unit_test(test_operand_address),
		cmocka_unit_test(test_bit_offset_address),
		cmocka_unit_test(test_mem_target),
		cmocka_unit_test(test_string_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
