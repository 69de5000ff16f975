"""tools/faultgen.py on the guest kernel's real e1000.ko (host only, no Bochs): every fault type has sites, a seed
chooses the same fault every time and different seeds different ones, and every site re-verifies against the .ko
with binutils alone (readelf for symbols, sections and relocations; objdump for the replacement bytes)."""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import pytest

from conftest import ROOT

import faultgen  # noqa: E402  (tools/ is on sys.path: conftest)

FAULTGEN = os.path.join(ROOT, "tools", "faultgen.py")
RELOC_BYTES = {"R_X86_64_64": 8, "R_X86_64_PC32": 4, "R_X86_64_PLT32": 4, "R_X86_64_32": 4, "R_X86_64_32S": 4}


def e1000_ko():
    cache = subprocess.run([os.path.join(ROOT, "guest", "build-linux.sh"), "--print-path"], capture_output=True,
                           text=True, check=True).stdout.strip().splitlines()[-1]
    found = glob.glob(os.path.join(cache, "modroot", "lib", "modules", "*", "kernel", "drivers", "net", "ethernet",
                                   "intel", "e1000", "e1000.ko"))
    assert found, f"no e1000.ko under {cache}: build the guest kernel (make guest-kernel)"
    return found[0]


@pytest.fixture(scope="module")
def ko():
    return e1000_ko()


@pytest.fixture(scope="module")
def analyzed(ko):
    return faultgen.analyze(ko)


def run_faultgen(*args):
    out = subprocess.run([sys.executable, FAULTGEN, *args], capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_every_type_has_sites(analyzed):
    module, sites = analyzed
    assert module == "e1000"
    counts = {t: sum(s.type == t for s in sites) for t in faultgen.TYPES}
    assert all(counts.values()), counts
    # the probe path's allocation of the net_device is an alloc_fail site
    assert any(s.type == "alloc_fail" and s.symbol == "e1000_probe" and s.insn == "call alloc_etherdev_mqs"
               for s in sites)


def test_a_seed_gives_the_same_fault_every_time(ko, analyzed):
    module, sites = analyzed
    first, = run_faultgen(ko, "--seed", "7")
    assert list(first) == ["module", "seed", "type", "symbol", "offset", "orig", "new", "insn", "new_insn"]
    assert first["module"] == "e1000" and first["seed"] == 7
    again, = run_faultgen(ko, "--seed", "7")
    assert again == first
    chosen = faultgen.choose(module, sites, 7).record(module)
    assert {k: v for k, v in first.items() if k != "seed"} == chosen


def test_different_seeds_give_different_faults(analyzed):
    module, sites = analyzed
    faults = [json.dumps(faultgen.choose(module, sites, seed).record(module)) for seed in range(40)]
    assert len(set(faults)) >= 38, "seeds 0-39 should nearly never choose the same site"
    assert {json.loads(f)["type"] for f in faults} == set(faultgen.TYPES)  # types are chosen uniformly
    only = [faultgen.choose(module, sites, seed, "off_by_one") for seed in range(5)]
    assert all(s.type == "off_by_one" for s in only) and len({(s.symbol, s.offset) for s in only}) > 1


def test_list_sites_by_type(ko, analyzed):
    _, sites = analyzed
    listed = run_faultgen(ko, "--list-sites", "--type", "alloc_fail")
    assert listed and all(r["type"] == "alloc_fail" and "seed" not in r for r in listed)
    assert len(listed) == sum(s.type == "alloc_fail" for s in sites)


def readelf(ko, *args):
    return subprocess.run(["readelf", "-W", *args, ko], capture_output=True, text=True, check=True).stdout


def elf_facts(ko):
    """Section bytes by name, FUNC symbols (name -> (section, value)), relocated bytes {(section, offset): target}."""
    with open(ko, "rb") as f:
        raw = f.read()
    sections, names = {}, {}
    for m in re.finditer(r"^\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)",
                         readelf(ko, "-S"), re.M):
        names[m.group(1)] = m.group(2)
        off, size = int(m.group(3), 16), int(m.group(4), 16)
        sections[m.group(2)] = raw[off:off + size]
    funcs = {}
    for line in readelf(ko, "-s").splitlines():
        f = line.split()
        if len(f) == 8 and f[3] == "FUNC" and f[6] in names:
            funcs.setdefault(f[7], []).append((names[f[6]], int(f[1], 16)))
    relocated, section = {}, None
    for line in readelf(ko, "-r").splitlines():
        m = re.match(r"Relocation section '\.rela([^']+)'", line)
        if m:
            section = m.group(1)
            continue
        f = line.split()
        if section and len(f) >= 5 and re.fullmatch(r"[0-9a-f]{16}", f[0]) and f[2] in RELOC_BYTES:
            for i in range(RELOC_BYTES[f[2]]):
                relocated[(section, int(f[0], 16) + i)] = f[4]
    return sections, funcs, relocated


def disassemble_each(blobs):
    """[(lengths, texts)] of each blob disassembled on its own (one objdump run; faultgen.RESYNC after each blob
    brings the decoder back in step whatever a blob decodes to)."""
    data, starts = b"", []
    for b in blobs:
        starts.append(len(data))
        data += b + faultgen.RESYNC
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64", "--insn-width=16", f.name],
                             capture_output=True, text=True, check=True).stdout
    insns = {}
    for m in re.finditer(r"^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(.*)$", out, re.M):
        insns[int(m.group(1), 16)] = (len(m.group(2).split()), " ".join(m.group(3).split()))
    result = []
    for start, b in zip(starts, blobs):
        lengths, texts, pos = [], [], start
        while pos < start + len(b) and pos in insns:
            lengths.append(insns[pos][0])
            texts.append(insns[pos][1])
            pos += insns[pos][0]
        result.append((lengths, texts))
    return result


def test_every_site_reverifies(ko, analyzed):
    module, sites = analyzed
    sections, funcs, relocated = elf_facts(ko)
    records = [s.record(module) for s in sites]
    for r in records:
        assert len(funcs[r["symbol"]]) == 1, f"{r['symbol']}: the injector finds symbols by name"
        section, value = funcs[r["symbol"]][0]
        assert section in (".text", ".init.text") or section.startswith(".text."), r
        start = value + r["offset"]
        orig = [r["orig"][i:i + 2] for i in range(0, len(r["orig"]), 2)]
        new = bytes.fromhex(r["new"])
        assert len(orig) == len(new) > 0, r
        for i, pair in enumerate(orig):
            if (section, start + i) in relocated:
                assert pair == "..", (r, i)
            else:
                assert pair == f"{sections[section][start + i]:02x}", (r, i)
        if r["type"] == "alloc_fail":
            assert orig[0] == "e8" and r["new"] == "31c00f1f00", r
            if (section, start + 1) in relocated:  # a call out of the module
                target = relocated[(section, start + 1)]
            else:  # a call of the module's own copy of an inline allocator (kmalloc_array)
                dest = start + 5 + int.from_bytes(sections[section][start + 1:start + 5], "little", signed=True)
                target = next(name for name, where in funcs.items() if (section, dest) in where)
            assert r["insn"] == "call " + target and faultgen.ALLOCATORS.fullmatch(target), r
        else:
            assert ".." not in orig, r
    decoded = disassemble_each([bytes.fromhex(r["new"]) for r in records])
    originals = disassemble_each([bytes.fromhex(r["orig"].replace("..", "00")) for r in records])
    for r, (lengths, texts), (orig_lengths, orig_texts) in zip(records, decoded, originals):
        assert sum(lengths) == len(r["new"]) // 2, (r, texts)
        assert orig_lengths == [len(r["orig"]) // 2], (r, orig_texts)  # one instruction, the one faultgen named
        if r["type"] in ("branch_invert", "off_by_one"):
            assert texts[0].split()[0] == r["new_insn"].split()[0] != r["insn"].split()[0], (r, texts)
        else:  # a %rip-relative target shows where the blob is: not compared
            assert "; ".join(texts).partition(" #")[0] == r["new_insn"].partition(" #")[0], (r, texts)
        if r["type"] in ("delete_insn", "missing_init"):
            assert all(t.startswith("nop") or t == "xchg %ax,%ax" for t in texts), r
        if r["type"] in ("dst_reg", "src_reg", "pointer"):
            changed = [i for i in range(len(r["new"]) // 2) if r["new"][2 * i:2 * i + 2] != r["orig"][2 * i:2 * i + 2]]
            assert len(changed) == 1 and texts[0].split()[0] == orig_texts[0].split()[0], (r, texts)


def test_a_replacement_that_does_not_decode_as_intended_is_dropped(analyzed):
    _, sites = analyzed
    good = next(s for s in sites if s.type == "dst_reg" and s.insn.startswith("mov ") and len(s.new) >= 3)
    wrong_length = faultgen.Site("dst_reg", good.symbol, good.offset, good.orig, good.covered,
                                 good.new[:-1] + b"\x0f", good.insn, good.expect)
    wrong_register = faultgen.Site("dst_reg", good.symbol, good.offset, good.orig, good.covered, good.orig,
                                   good.insn, good.expect)
    kept = faultgen.verify([wrong_length, good, wrong_register])
    assert kept == [good]
