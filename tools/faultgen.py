#!/usr/bin/env python3
"""Choose one fault to inject into a driver's machine code (Rio / Nooks style: Ng & Chen; Swift et al., SOSP 2003).

    faultgen.py KO --seed N [--type T]      one fault, as one JSON line:
        {"module": "e1000", "seed": 7, "type": "branch_invert", "symbol": "e1000_clean_rx_irq", "offset": 123,
         "orig": "740a", "new": "750a", "insn": "je 13c <e1000_clean_rx_irq+0x7b>", "new_insn": "jne 13c <...>"}
    faultgen.py KO --list-sites [--type T]  every candidate site, one JSON line each (the same keys but "seed")

`symbol`+`offset` is the instruction (a FUNC symbol of .text or .init.text, the byte offset inside it); `orig` the hex
of its bytes, `..` for each byte a relocation covers (known only once loaded); `new` its replacement, same length.
Those are what guest-agent/chariot_inject.c's `arm <module> <symbol> <offset> <orig> <new>` takes. The same .ko and
seed give the same fault: random.Random(f"{module}:{seed}") picks a type among those with sites, then a site.

Fault types:
  dst_reg        the destination register of a reg/mem instruction becomes another register
  src_reg        a source register becomes another register
  pointer        the base register of a memory operand becomes another register (the displacement stays)
  delete_insn    an instruction becomes NOPs of the same length
  branch_invert  a conditional branch tests the opposite condition (je <-> jne, ...)
  off_by_one     a `<` becomes `<=` or the reverse (jl <-> jle, jg <-> jge, jb <-> jbe, ja <-> jae)
  missing_init   a store initializing memory (mov of an immediate, or of a register to a stack slot) becomes NOPs
  alloc_fail     a call of an allocator becomes `xor %eax,%eax` + NOP: the allocation returns NULL

Instructions are decoded here from their bytes (legacy prefixes, REX, opcode, ModRM/SIB/displacement/immediate) for
a small set of opcodes: ALU 00-3b, 80/81/83, test 84/85, mov 88/89/8a/8b/c6/c7, lea 8d, movzx/movsx 0f b6-bf,
movslq 63, jcc 70-7f and 0f 80-8f, call e8. objdump gives the instruction boundaries and text; every replacement is
disassembled again (objdump -D -b binary) and a site whose new bytes do not decode to the intended instruction of
the same length is dropped. Never changed: bytes a relocation covers (alloc_fail replaces the whole call), a
register to or from %rsp, and functions the kernel patches while loading (alternatives, jump labels, ...).
"""
import argparse
import bisect
import json
import random
import re
import struct
import subprocess
import sys
import tempfile

TYPES = ("dst_reg", "src_reg", "pointer", "delete_insn", "branch_invert", "off_by_one", "missing_init", "alloc_fail")
# Sections listing code the kernel rewrites at load time: the .ko's bytes there are not what runs.
PATCHED_AT_LOAD = {"__jump_table", ".altinstructions", ".parainstructions", ".static_call_sites", ".retpoline_sites",
                   ".return_sites", ".call_sites", ".ibt_endbr_seal", "__mcount_loc", "__patchable_function_entries",
                   ".smp_locks"}
# Functions returning a pointer (or 0) that is NULL when the allocation fails; also the kernel's inline wrappers,
# which a module may get an out-of-line copy of.
ALLOCATORS = re.compile(
    r"(__)?kmalloc(_array|_node|_trace|_node_trace|_large|_large_node|_array_node|_node_track_caller)?|"
    r"kzalloc(_node)?|kcalloc(_node)?|krealloc|kmemdup|kstrdup|kstrndup|devm_kmalloc|devm_kzalloc|devm_kcalloc|"
    r"kmem_cache_alloc(_lru|_node|_trace|_node_trace)?|__alloc_pages\w*|alloc_pages\w*|__get_free_pages|"
    r"get_zeroed_page|vmalloc\w*|vzalloc\w*|__vmalloc\w*|kvmalloc_node|kvzalloc|kvcalloc|"
    r"dma_alloc_attrs|dmam_alloc_attrs|dma_alloc_pages|dma_pool_alloc|dma_pool_create|"
    r"__alloc_skb|alloc_skb\w*|__netdev_alloc_skb|__napi_alloc_skb|build_skb|napi_build_skb|"
    r"alloc_etherdev_mqs|alloc_netdev_mqs|usb_alloc_urb|usb_alloc_coherent|mempool_alloc|scsi_host_alloc|"
    r"ata_host_alloc(_pinfo)?|__alloc_ei_netdev|__alloc_eip_netdev|snd_devm_alloc_dir_pages|snd_ctl_new1")
THUNKS = re.compile(r"__x86_indirect_thunk_\w+|__x86_return_thunk|__fentry__")
JCC = ("jo", "jno", "jb", "jae", "je", "jne", "jbe", "ja", "js", "jns", "jp", "jnp", "jl", "jge", "jle", "jg")
OFF_BY_ONE = {0xc: 0xe, 0xe: 0xc, 0xf: 0xd, 0xd: 0xf, 0x2: 0x6, 0x6: 0x2, 0x7: 0x3, 0x3: 0x7}
NOPS = {1: "90", 2: "6690", 3: "0f1f00", 4: "0f1f4000", 5: "0f1f440000", 6: "660f1f440000", 7: "0f1f8000000000",
        8: "0f1f840000000000", 9: "660f1f840000000000"}
ZERO_RAX = bytes.fromhex("31c0")
RSP = 4

# ---- the ELF relocatable (.ko) ----

RELOC_SIZE = {1: 8, 2: 4, 4: 4, 9: 4, 10: 4, 11: 4, 12: 2, 13: 2, 14: 1, 15: 1, 24: 8, 41: 4, 42: 4}
STT_FUNC, STT_SECTION = 2, 3


class Elf:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.raw = f.read()
        if self.raw[:4] != b"\x7fELF" or self.raw[4] != 2 or self.raw[5] != 1:
            raise ValueError(f"{path}: not a little-endian ELF64 file")
        if struct.unpack_from("<HH", self.raw, 16) != (1, 62):
            raise ValueError(f"{path}: not an x86-64 relocatable object (a .ko)")
        shoff, = struct.unpack_from("<Q", self.raw, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", self.raw, 0x3a)
        self.sections = []
        for i in range(shnum):
            name, stype, flags, _, offset, size, link, info, _, _ = struct.unpack_from(
                "<IIQQQQIIQQ", self.raw, shoff + i * shentsize)
            self.sections.append({"name_off": name, "type": stype, "flags": flags, "offset": offset, "size": size,
                                  "link": link, "info": info})
        names = self.sections[shstrndx]
        for s in self.sections:
            s["name"] = self._cstr(names["offset"] + s["name_off"])
        self.index = {s["name"]: i for i, s in enumerate(self.sections)}
        symtab = next(s for s in self.sections if s["type"] == 2)
        strtab = self.sections[symtab["link"]]
        self.symbols = []
        for off in range(symtab["offset"], symtab["offset"] + symtab["size"], 24):
            name, info, _, shndx, value, size = struct.unpack_from("<IBBHQQ", self.raw, off)
            self.symbols.append({"name": self._cstr(strtab["offset"] + name), "type": info & 0xf,
                                 "local": info >> 4 == 0, "shndx": shndx, "value": value, "size": size})

    def _cstr(self, off):
        return self.raw[off:self.raw.index(b"\0", off)].decode()

    def data(self, name):
        s = self.sections[self.index[name]]
        return self.raw[s["offset"]:s["offset"] + s["size"]]

    def relocs(self, name):
        """(offset, type, symbol, addend) of the relocations applied to section `name`."""
        target = self.index.get(name)
        for s in self.sections:
            if s["type"] == 4 and s["info"] == target:
                for off in range(s["offset"], s["offset"] + s["size"], 24):
                    r_off, r_info, addend = struct.unpack_from("<QQq", self.raw, off)
                    yield r_off, r_info & 0xffffffff, self.symbols[r_info >> 32], addend


def module_name(elf, path):
    """The name the kernel knows the module by: .modinfo's name=, else struct module's name (offset 24)."""
    if ".modinfo" in elf.index:
        for entry in elf.data(".modinfo").split(b"\0"):
            if entry.startswith(b"name="):
                return entry[5:].decode().replace("-", "_")
    if ".gnu.linkonce.this_module" in elf.index:
        return elf.data(".gnu.linkonce.this_module")[24:80].split(b"\0")[0].decode().replace("-", "_")
    raise ValueError(f"{path}: no module name (.modinfo name= or .gnu.linkonce.this_module)")


def text_sections(elf):
    """{section index: name} of the code the module keeps (.text, .text.*: its core text) or runs at init
    (.init.text); not .exit.text, which runs only when it unloads."""
    return {i: s["name"] for i, s in enumerate(elf.sections) if s["type"] == 1 and s["flags"] & 4 and
            (s["name"] in (".text", ".init.text") or s["name"].startswith(".text."))}


def all_functions(elf):
    """{(section, start): name} of every FUNC symbol of the text sections (what a call may reach)."""
    sec_of = text_sections(elf)
    return {(sec_of[s["shndx"]], s["value"]): s["name"] for s in elf.symbols
            if s["type"] == STT_FUNC and s["shndx"] in sec_of}


def functions(elf):
    """{section: [(start, end, name)]} for the FUNC symbols of the text sections whose name is unique (the
    injector finds a symbol by name) and whose code the kernel does not patch at load; of aliases (init_module
    and e1000_init_module) the local name, so that the code is there once."""
    sec_of = text_sections(elf)
    funcs = [s for s in elf.symbols if s["type"] == STT_FUNC and s["shndx"] in sec_of and s["size"]]
    counts = {}
    for s in funcs:
        counts[s["name"]] = counts.get(s["name"], 0) + 1
    funcs = [s for s in funcs if counts[s["name"]] == 1]
    by_address = {}
    for s in sorted(funcs, key=lambda s: (not s["local"], s["name"])):
        by_address.setdefault((s["shndx"], s["value"]), s)
    funcs = by_address.values()
    patched = set()
    for table in PATCHED_AT_LOAD & set(elf.index):
        for _, _, sym, addend in elf.relocs(table):
            if sym["shndx"] in sec_of:
                patched.add((sec_of[sym["shndx"]], sym["value"] + addend))
    result = {s: [] for s in sec_of.values()}
    for s in funcs:
        sec, start, end = sec_of[s["shndx"]], s["value"], s["value"] + s["size"]
        if not any(p_sec == sec and start <= p < end for p_sec, p in patched):
            result[sec].append((start, end, s["name"]))
    return result


def reloc_map(elf, section, targets):
    """{byte offset: target name} for every byte of `section` a relocation covers; the target of a relocation
    against a section symbol is the function there (what a call reaches), else section+offset."""
    covered = {}
    for off, rtype, sym, addend in elf.relocs(section):
        if rtype not in RELOC_SIZE:
            raise ValueError(f"{section}+{off:#x}: relocation type {rtype} not handled")
        target = sym["name"]
        if sym["type"] == STT_SECTION:
            where = sym["value"] + addend + 4
            sec_name = elf.sections[sym["shndx"]]["name"]
            target = targets.get((sec_name, where), f"{sec_name}+{where:#x}")
        for i in range(RELOC_SIZE[rtype]):
            covered[off + i] = target
    return covered


# ---- objdump ----

INSN_LINE = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*(?:\t(.*))?$")


def objdump(args):
    out = subprocess.run(["objdump", "-z", "--insn-width=16"] + args, capture_output=True, text=True, check=True)
    return out.stdout


def parse_disassembly(text):
    """{section: [(offset, bytes, text)]}; the text with its blanks collapsed."""
    result, section, insns = {}, None, None
    for line in text.splitlines():
        if line.startswith("Disassembly of section "):
            section = line[len("Disassembly of section "):].rstrip(":")
            insns = result.setdefault(section, [])
            continue
        m = INSN_LINE.match(line)
        if not m or insns is None:
            continue
        raw = bytes.fromhex(m.group(2).replace(" ", ""))
        if m.group(3) is None:  # a continuation of the previous instruction's bytes
            off, prev, txt = insns[-1]
            insns[-1] = (off, prev + raw, txt)
        else:
            insns.append((int(m.group(1), 16), raw, " ".join(m.group(3).split())))
    return result


def split_insn(text):
    """(mnemonic, [operands]) of an AT&T instruction text with operands, its comment dropped."""
    *mnemonic, operands = text.split("#")[0].split()
    ops, depth, cur = [], 0, ""
    for ch in operands:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            ops.append(cur)
            cur = ""
        else:
            cur += ch
    return " ".join(mnemonic), ops + [cur]


# ---- the instruction decoder ----

LEGACY_PREFIXES = {0x66, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65}
R64 = "rax rcx rdx rbx rsp rbp rsi rdi".split() + [f"r{i}" for i in range(8, 16)]
R32 = "eax ecx edx ebx esp ebp esi edi".split() + [f"r{i}d" for i in range(8, 16)]
R16 = "ax cx dx bx sp bp si di".split() + [f"r{i}w" for i in range(8, 16)]
R8_REX = "al cl dl bl spl bpl sil dil".split() + [f"r{i}b" for i in range(8, 16)]
R8 = "al cl dl bl ah ch dh bh".split()


def reg_name(n, size, rex):
    if size == 8:
        return (R8_REX if rex else R8)[n]
    return {16: R16, 32: R32, 64: R64}[size][n]


class Insn:
    """One decoded instruction of the supported set. form says where the operands are in the AT&T text:
    'rm_reg' = [reg, r/m], 'reg_rm' = [r/m, reg], 'imm_rm' = [imm, r/m]. writes: 'reg', 'rm' or None."""

    def __init__(self, form, writes, reg_size, rm_size, opcode_end, code, rex):
        self.form, self.writes, self.reg_size, self.rm_size, self.rex = form, writes, reg_size, rm_size, rex
        self.modrm_at, self.sib_at = opcode_end, None
        modrm = code[opcode_end]
        self.mod, self.reg = modrm >> 6, (modrm >> 3 & 7) | (rex & 4) << 1
        self.rm = self.base = self.index = None
        pos, disp = opcode_end + 1, {0: 0, 1: 1, 2: 4, 3: 0}[self.mod]
        if self.mod == 3:
            self.rm = (modrm & 7) | (rex & 1) << 3
        elif modrm & 7 == 4:
            self.sib_at, sib = pos, code[pos]
            pos += 1
            index = (sib >> 3 & 7) | (rex & 2) << 2
            self.index = None if index == 4 else index
            if sib & 7 == 5 and self.mod == 0:
                disp = 4
            else:
                self.base = (sib & 7) | (rex & 1) << 3
        elif modrm & 7 == 5 and self.mod == 0:
            disp = 4  # %rip-relative: no base register
        else:
            self.base = (modrm & 7) | (rex & 1) << 3
        self.body_end = pos + disp  # the immediate, if any, follows

    @property
    def rm_op(self):
        return 0 if self.form == "reg_rm" else 1


def decode(code):
    """An Insn for the supported opcodes (with .length), else None (also when `code` ends too early)."""
    try:
        return decode_supported(code)
    except IndexError:  # no ModRM or SIB where the opcode needs one
        return None


def decode_supported(code):
    i, opsize16 = 0, False
    while i < len(code) and code[i] in LEGACY_PREFIXES:
        opsize16 |= code[i] == 0x66
        i += 1
    rex = code[i] if i < len(code) and 0x40 <= code[i] <= 0x4f else 0
    i += bool(rex)
    if i + 2 > len(code):
        return None
    op, vsize, imm = code[i], 64 if rex & 8 else 16 if opsize16 else 32, 0
    if op == 0x0f and code[i + 1] in (0xb6, 0xb7, 0xbe, 0xbf):
        insn = Insn("reg_rm", "reg", vsize, 8 if code[i + 1] in (0xb6, 0xbe) else 16, i + 2, code, rex)
    elif op < 0x40 and op & 7 <= 3:
        size, writes = 8 if op & 1 == 0 else vsize, op >> 3 != 7  # 38-3b: cmp
        insn = Insn("reg_rm" if op & 2 else "rm_reg", ("reg" if op & 2 else "rm") if writes else None, size, size,
                    i + 1, code, rex)
    elif op in (0x84, 0x85, 0x88, 0x89, 0x8a, 0x8b, 0x8d):
        size = 8 if op in (0x84, 0x88, 0x8a) else vsize
        form, writes = {0x84: ("rm_reg", None), 0x85: ("rm_reg", None), 0x88: ("rm_reg", "rm"),
                        0x89: ("rm_reg", "rm")}.get(op, ("reg_rm", "reg"))
        insn = Insn(form, writes, size, size, i + 1, code, rex)
        if op == 0x8d and insn.mod == 3:
            return None
    elif op == 0x63 and rex & 8:
        insn = Insn("reg_rm", "reg", 64, 32, i + 1, code, rex)
    elif op in (0x80, 0x81, 0x83, 0xc6, 0xc7):
        size = 8 if op in (0x80, 0xc6) else vsize
        ext = code[i + 1] >> 3 & 7
        if op in (0xc6, 0xc7) and ext != 0:
            return None
        insn = Insn("imm_rm", None if ext == 7 and op < 0xc0 else "rm", size, size, i + 1, code, rex)
        imm = 1 if op in (0x80, 0x83, 0xc6) else 2 if opsize16 else 4
    else:
        return None
    insn.opcode = op
    insn.length = insn.body_end + imm
    return insn if insn.length <= len(code) else None


def decode_imm_to_reg(code):
    """(opcode index, register, operand size, REX) of `mov $imm,%reg` (b8+r), with register None for an ALU op or
    test of an immediate with the accumulator (04/05, 0c/0d, ... 3c/3d, a8/a9), if `code` is exactly one."""
    i = 1 if code[0] == 0x66 else 0
    rex = code[i] if i < len(code) and 0x40 <= code[i] <= 0x4f else 0
    i += bool(rex)
    if i >= len(code):
        return None
    op, wide = code[i], 2 if code[0] == 0x66 else 4
    if 0xb8 <= op <= 0xbf:
        imm, reg, size = 8 if rex & 8 else wide, (op & 7) | (rex & 1) << 3, 64 if rex & 8 else wide * 8
    elif op < 0x40 and op & 7 in (4, 5) or op in (0xa8, 0xa9):
        imm, reg, size = 1 if op & 1 == 0 else wide, None, None
    else:
        return None
    return (i, reg, size, rex) if len(code) == i + 1 + imm else None


def other_reg(orig, avoid, allowed=lambda n: True):
    """The replacement register: the first of orig^1, orig^2, orig^3 (same REX bit) that is not %rsp, not
    another register of the instruction, and encodable there."""
    for d in (1, 2, 3):
        n = orig ^ d
        if n != RSP and n not in avoid and allowed(n):
            return n
    return None


# ---- sites ----

class Site:
    def __init__(self, kind, symbol, offset, orig, covered, new, insn, expect):
        self.type, self.symbol, self.offset = kind, symbol, offset
        self.orig, self.covered, self.new, self.insn, self.expect = orig, covered, new, insn, expect
        self.new_insn = None

    def record(self, module):
        orig = "".join(".." if c else f"{b:02x}" for b, c in zip(self.orig, self.covered))
        return {"module": module, "type": self.type, "symbol": self.symbol, "offset": self.offset, "orig": orig,
                "new": self.new.hex(), "insn": self.insn, "new_insn": self.new_insn}


def nops(length):
    out = b""
    while len(out) < length:
        out += bytes.fromhex(NOPS[min(9, length - len(out))])
    return out


def with_byte(code, at, value):
    return code[:at] + bytes([value]) + code[at + 1:]


def register_sites(insn, code, text):
    """(type, new bytes, expected (mnemonic, operands)) for dst_reg, src_reg and pointer."""
    mnemonic, ops = split_insn(text)
    if len(ops) != 2:
        return []
    regs = {r for r in (insn.reg if insn.form != "imm_rm" else None, insn.rm, insn.base, insn.index) if r is not None}
    out = []

    def change_reg_field(kind, op_index):
        new = other_reg(insn.reg, regs)
        if new is not None and ops[op_index] == "%" + reg_name(insn.reg, insn.reg_size, insn.rex):
            patched = with_byte(code, insn.modrm_at, code[insn.modrm_at] ^ (new ^ insn.reg) << 3)
            operand = "%" + reg_name(new, insn.reg_size, insn.rex)
            out.append((kind, patched, (mnemonic, replace(ops, op_index, operand))))

    def change_rm_reg(kind):
        new = other_reg(insn.rm, regs)
        if new is not None and ops[insn.rm_op] == "%" + reg_name(insn.rm, insn.rm_size, insn.rex):
            patched = with_byte(code, insn.modrm_at, code[insn.modrm_at] ^ (new ^ insn.rm))
            operand = "%" + reg_name(new, insn.rm_size, insn.rex)
            out.append((kind, patched, (mnemonic, replace(ops, insn.rm_op, operand))))

    reg_op = 1 if insn.form == "reg_rm" else 0
    if insn.writes == "reg" and insn.reg != RSP:
        change_reg_field("dst_reg", reg_op)
    if insn.writes == "rm" and insn.mod == 3 and insn.rm != RSP:
        change_rm_reg("dst_reg")
    if insn.form == "rm_reg":
        change_reg_field("src_reg", reg_op)
    if insn.form == "reg_rm" and insn.mod == 3:
        change_rm_reg("src_reg")
    if insn.base is not None:
        if insn.sib_at is None:  # r/m 100 means a SIB follows, 101 with mod 00 %rip
            new = other_reg(insn.base, regs, lambda n: n & 7 != 4 and not (n & 7 == 5 and insn.mod == 0))
            at = insn.modrm_at
        else:  # base 101 with mod 00 means no base
            new = other_reg(insn.base, regs, lambda n: not (n & 7 == 5 and insn.mod == 0))
            at = insn.sib_at
        operand = ops[insn.rm_op]
        disp, _, inside = operand.partition("(")
        parts = inside.rstrip(")").split(",")
        if new is not None and parts[0] == "%" + R64[insn.base]:
            if insn.index is not None:
                parts[0] = "%" + R64[new]
            else:  # a SIB without index prints as (%base,%riz,1) unless the base is %rsp or %r12
                parts = ["%" + R64[new]] + ([] if insn.sib_at is None or new & 7 == 4 else ["%riz", "1"])
            out.append(("pointer", with_byte(code, at, code[at] ^ (new ^ insn.base) & 7),
                        (mnemonic, replace(ops, insn.rm_op, disp + "(" + ",".join(parts) + ")"))))
    return out


def replace(items, index, value):
    return items[:index] + [value] + items[index + 1:]


def writes_rsp(insn):
    return (insn.writes == "reg" and insn.reg == RSP) or (insn.writes == "rm" and insn.mod == 3 and insn.rm == RSP)


def insn_sites(symbol, offset, code, covered, text, targets, section, sec_off):
    """Every candidate Site of one instruction (`offset` inside `symbol`, `sec_off` inside `section`); `targets`
    names the functions by (section, start)."""
    relocated = [c is not None for c in covered]
    sites = []

    def add(kind, new, expect):
        sites.append(Site(kind, symbol, offset, code, relocated, new, text, expect))

    if code[0] == 0xe8 and len(code) == 5:
        if relocated == [False, True, True, True, True] and len(set(covered[1:])) == 1:
            target = covered[1]
        elif not any(relocated):
            dest = sec_off + 5 + struct.unpack_from("<i", code, 1)[0]
            target = targets.get((section, dest))
        else:
            target = None
        if target and ALLOCATORS.fullmatch(target) and not THUNKS.fullmatch(target):
            sites.append(Site("alloc_fail", symbol, offset, code, relocated, ZERO_RAX + nops(3), f"call {target}",
                              ("alloc", None)))
        return sites
    if any(relocated):
        return sites
    if 0x70 <= code[0] <= 0x7f and len(code) == 2 or code[0] == 0x0f and 0x80 <= code[1] <= 0x8f and len(code) == 6:
        at = 0 if len(code) == 2 else 1
        cc = code[at] & 0xf
        add("branch_invert", with_byte(code, at, code[at] ^ 1), ("branch", JCC[cc ^ 1]))
        if cc in OFF_BY_ONE:
            add("off_by_one", with_byte(code, at, code[at] & 0xf0 | OFF_BY_ONE[cc]), ("branch", JCC[OFF_BY_ONE[cc]]))
        return sites
    imm_to_reg = decode_imm_to_reg(code)
    if imm_to_reg:
        at, reg, size, rex = imm_to_reg
        if reg != RSP:
            add("delete_insn", nops(len(code)), ("nops", None))
        if reg not in (None, RSP):
            new = other_reg(reg, set())
            mnemonic, ops = split_insn(text)
            add("dst_reg", with_byte(code, at, code[at] ^ (new ^ reg)),
                ("ops", (mnemonic, [ops[0], "%" + reg_name(new, size, rex)])))
        return sites
    insn = decode(code)
    if insn is None or insn.length != len(code):
        return sites
    for kind, new, expect in register_sites(insn, code, text):
        add(kind, new, ("ops", expect))
    if not writes_rsp(insn):
        add("delete_insn", nops(len(code)), ("nops", None))
        stores_imm = insn.opcode in (0xc6, 0xc7) and insn.mod != 3
        stores_stack = insn.opcode in (0x88, 0x89) and insn.mod != 3 and insn.base == RSP
        if stores_imm or stores_stack:
            add("missing_init", nops(len(code)), ("nops", None))
    return sites


def candidate_sites(elf, path):
    funcs, targets = functions(elf), all_functions(elf)
    disasm = parse_disassembly(objdump(["-d"] + [a for s in funcs for a in ("-j", s)] + [path]))
    sites = []
    for section in funcs:
        data, covered = elf.data(section), reloc_map(elf, section, targets)
        ranges = sorted(funcs[section])
        starts = [start for start, _, _ in ranges]
        for off, code, text in disasm.get(section, []):
            if data[off:off + len(code)] != code:
                raise ValueError(f"objdump and the ELF disagree at {section}+{off:#x}")
            i = bisect.bisect_right(starts, off) - 1
            if i >= 0 and off + len(code) <= ranges[i][1]:
                sites += insn_sites(ranges[i][2], off - ranges[i][0], code,
                                    [covered.get(off + j) for j in range(len(code))], text, targets, section, off)
    return sites


# After each replacement in a blob: the decoder, wherever it enters these 15 bytes (an instruction that does not
# end where the replacement does runs into them by 14 at most), leaves them at their end: 0x66 prefixes, then nop.
RESYNC = b"\x66" * 14 + b"\x90"
NOP_TEXT = re.compile(r"(nop[lw]?( .*)?|xchg %ax,%ax)")


def verify(sites):
    """Disassembles every replacement (each in its own slot) and keeps the sites whose new bytes are exactly the
    intended instruction(s); sets .new_insn."""
    blob, starts = b"", []
    for site in sites:
        starts.append(len(blob))
        blob += site.new + RESYNC
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(blob)
        f.flush()
        decoded = parse_disassembly(objdump(["-D", "-b", "binary", "-m", "i386:x86-64", f.name]))
    insns = {off: (code, text) for off, code, text in next(iter(decoded.values()), [])}
    kept = []
    for site, start in zip(sites, starts):
        got, pos = [], start
        while pos < start + len(site.new) and pos in insns:
            got.append(insns[pos][1])
            pos += len(insns[pos][0])
        if pos != start + len(site.new):
            continue
        kind, want = site.expect
        if kind == "ops" and len(got) == 1 and split_insn(got[0]) == (want[0], want[1]):
            # a %rip-relative operand reaches what the original reaches: its comment, not the blob's
            comment = site.insn.partition(" #")[1:]
            site.new_insn = got[0].partition(" #")[0] + "".join(comment)
        elif kind == "branch" and len(got) == 1 and got[0].split()[0] == want:
            site.new_insn = want + site.insn[site.insn.index(" "):]
        elif kind == "nops" and all(NOP_TEXT.fullmatch(t) for t in got):
            site.new_insn = "; ".join(got)
        elif kind == "alloc" and got[0] == "xor %eax,%eax" and all(NOP_TEXT.fullmatch(t) for t in got[1:]):
            site.new_insn = "; ".join(got)
        else:
            continue
        kept.append(site)
    return kept


def analyze(path):
    """(module name, verified sites in a fixed order) of the .ko at `path`."""
    elf = Elf(path)
    return module_name(elf, path), verify(candidate_sites(elf, path))


def choose(module, sites, seed, only_type=None):
    rng = random.Random(f"{module}:{seed}")
    by_type = {t: [s for s in sites if s.type == t] for t in TYPES}
    types = [t for t in TYPES if by_type[t] and only_type in (None, t)]
    if not types:
        raise LookupError(f"{module}: no {only_type or 'fault'} site")
    return rng.choice(by_type[rng.choice(types)])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ko", help="the driver module (.ko)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", type=int, help="print the fault this seed chooses")
    group.add_argument("--list-sites", action="store_true", help="print every candidate site")
    p.add_argument("--type", choices=TYPES, help="only faults of this type")
    args = p.parse_args()
    try:
        module, sites = analyze(args.ko)
        if args.list_sites:
            for site in sites:
                if args.type in (None, site.type):
                    print(json.dumps(site.record(module)))
            return 0
        record = choose(module, sites, args.seed, args.type).record(module)
    except (OSError, ValueError, LookupError, subprocess.CalledProcessError) as e:
        print(f"faultgen: {e}", file=sys.stderr)
        return 1
    print(json.dumps({"module": module, "seed": args.seed, **{k: v for k, v in record.items() if k != "module"}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
