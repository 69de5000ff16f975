"""A guest that tries to reach the hypervisor's memory gets a blank page or a fault, the hypervisor logs it, and
both carry on.

The Linux guest runs workload=hvmem (guest/workloads/hvmem.sh): it finds the hypervisor's image and page pool as
e820 "Reserved" ranges in /proc/iomem, reads them through /dev/mem, then loads guest/testmods/hvmem_probe.ko,
which reads them through ioremap, a crafted PTE, the direct map and a crafted writable PTE (write, read back,
restore), and points a crafted PMD's page TABLE into them. Every method prints
`HVMEM: method=<m> bytes=<n> marker_found=<0|1> nonzero=<n> pages=<n> ...`; a marker is a string certainly in the
hypervisor image (its log format and event names). Controls: `self` and `devmem_self` run the same searches on guest
RAM that holds a marker and must find it; a bare-Bochs run (no hypervisor) reads the BIOS ROM with the same methods
and must see its bytes, so that `nonzero=0` under the hypervisor means the sink page, not a probe that reads nothing.

Nothing is built here: `make` builds build/hv.elf, the guest kernel (`make guest-kernel`) and
build/guest/initramfs-testmods.cpio.gz (`make testmods`, mk/testmods.mk).
"""
import os
import re
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT, RUNS, boot, hvlog, make_iso

HV_ELF = os.path.join(BUILD, "hv.elf")
INITRAMFS = os.path.join(BUILD, "guest", "initramfs-testmods.cpio.gz")
GUEST_CMDLINE = "console=ttyS0,115200 workload=hvmem"
# Methods aimed at hypervisor memory, and the ones that read it page by page (each page a forbidden translation).
HV_METHODS = ("devmem", "ioremap", "pte_read", "directmap", "ptable", "pte_write")
MAPPING_METHODS = ("devmem", "ioremap", "pte_read", "pte_write")
BIOS_ROM = (0xF0000, 0x100000)  # reserved for the guest, and full of bytes: the bare run's target


def kernel_bzimage():
    entry = subprocess.run([os.path.join(ROOT, "guest", "build-linux.sh"), "--print-path"], check=True,
                           capture_output=True, text=True).stdout.strip()
    return os.path.join(entry, "bzImage")


def require(*paths):
    for path, how in paths:
        assert os.path.isfile(path), f"{path} missing: run `{how}` (or the tests through `make test`)"


def methods(result):
    """{method: {field: value}} from the HVMEM lines of the guest console (kernel lines carry a timestamp)."""
    out = {}
    for m in re.finditer(r"HVMEM: method=(\w+) ([^\n]*)", result.guest_log):
        out.setdefault(m.group(1), dict(re.findall(r"(\w+)=(\S+)", m.group(2))))
    return out


def probed_ranges(result):
    m = re.search(r"^HVMEM: ranges=(\S+) source=(\w+)", result.guest_log, re.M)
    assert m, f"the workload printed no ranges:\n{result.guest_log[-3000:]}"
    return sorted(tuple(int(x, 16) for x in r.split("-")) for r in m.group(1).split(",")), m.group(2)


def probed_pages(result):
    """How many pages of the ranges the module samples (it prints `HVMEM: range=... probed=N` for each)."""
    counts = re.findall(r"HVMEM: range=\S+ pages=\d+ probed=(\d+)", result.guest_log)
    assert counts, "the module printed no range lines"
    return sum(int(c) for c in counts)


def num(fields, key):
    assert key in fields, f"{key}= missing in {fields}"
    return int(fields[key], 0)


def hex_range(text):
    start, end = text.split("-")
    return int(start, 16), int(end, 16)


@pytest.fixture(scope="module")
def run():
    kernel = kernel_bzimage()
    require((HV_ELF, "make build/hv.elf"), (kernel, "make guest-kernel"), (INITRAMFS, "make testmods"))
    iso = make_iso("hv-memory", f"log=com2 loglevel=info guest=linux -- {GUEST_CMDLINE} hvmem_ranges=auto",
                   [(kernel, "linux"), (INITRAMFS, "initrd")])
    return boot(iso, "hv-memory", timeout=600)


@pytest.fixture(scope="module")
def bare():
    """The same probe on bare Bochs (GRUB boots Linux directly) over the BIOS ROM; no write, no page-table method
    (without the hypervisor the CPU would walk whatever the range holds)."""
    kernel = kernel_bzimage()
    require((kernel, "make guest-kernel"), (INITRAMFS, "make testmods"))
    out = os.path.join(RUNS, "hv-memory-bare.iso")
    os.makedirs(RUNS, exist_ok=True)
    cmdline = f"{GUEST_CMDLINE} hvmem_ranges=0x{BIOS_ROM[0]:x}-0x{BIOS_ROM[1]:x} hvmem_args=write=0,table=0"
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "mkiso.py"), "--out", out, "--linux", kernel,
                    "--initrd", INITRAMFS, "--cmdline", cmdline], check=True)
    return boot(out, "hv-memory-bare", timeout=300)


def test_run_ends_with_clean_shutdown(run):
    assert run.status == "hv_shutdown" and run.shutdown_reason == "guest powered off", \
        f"status={run.status} reason={run.shutdown_reason!r}\n{run.hv_log[-3000:]}"
    assert not [r for r in run.records if r["lvl"] in ("error", "fatal")]


def test_workload_passed(run):
    assert re.search(r"^W: WORKLOAD-END result=PASS", run.guest_log, re.M), run.guest_log[-3000:]
    assert not re.search(r"Oops|BUG:|Kernel panic", run.guest_log)


def test_probe_aimed_at_the_hypervisor_memory(run):
    pool = hvlog.find(run.records, "pmem.pool")
    assert pool, "no pmem.pool record"
    ranges, source = probed_ranges(run)
    assert source == "iomem"
    assert ranges == sorted([hex_range(pool[0]["image"]), hex_range(pool[0]["pool"])])


@pytest.mark.parametrize("method", HV_METHODS)
def test_method_saw_nothing_of_the_hypervisor(run, method):
    fields = methods(run).get(method)
    assert fields, f"no HVMEM line for method={method}:\n{run.guest_log[-3000:]}"
    assert num(fields, "marker_found") == 0
    # The sink page is blank (pte_write restores what it read): not one byte of the hypervisor shows.
    assert num(fields, "nonzero") == 0
    if method in MAPPING_METHODS:
        assert num(fields, "bytes") > 0 and num(fields, "bytes") == num(fields, "pages") * 4096
        if method != "devmem":  # the module's own sample of each range
            assert num(fields, "pages") == probed_pages(run)
    else:
        # directmap: the guest never mapped the ranges; ptable: the walk must fail. Either way a fault, no bytes.
        assert num(fields, "bytes") == 0 and num(fields, "faulted") > 0
        if method == "directmap":
            assert num(fields, "faulted") == probed_pages(run)


def test_write_went_to_the_sink(run):
    fields = methods(run)["pte_write"]
    assert num(fields, "written") == num(fields, "bytes")
    assert num(fields, "readback") == num(fields, "written")  # a writable page, just not the hypervisor's


@pytest.mark.parametrize("control", ("self", "devmem_self"))
def test_control_finds_a_marker_in_guest_memory(run, control):
    fields = methods(run).get(control)
    assert fields, f"no HVMEM line for method={control}"
    assert num(fields, "marker_found") == 1 and num(fields, "nonzero") > 0
    assert fields["phys"] == methods(run)["self"]["phys"]


def test_denied_translations_are_logged(run):
    denied = hvlog.find(run.records, "mmu.hv_memory_denied", action="map_sink")
    assert denied, "no mmu.hv_memory_denied record"
    pool = hvlog.find(run.records, "pmem.pool")[0]
    hv_ranges = [hex_range(pool["image"]), hex_range(pool["pool"])]
    for rec in denied:
        gpa = int(rec["gpa"], 16)
        assert any(start <= gpa < end for start, end in hv_ranges), rec
        assert rec["access"] in ("read", "write", "fetch")
    # The log is rate-limited; the summary counts every translation that was backed by the sink: at least one
    # for each page read through a fresh mapping.
    summary = hvlog.find(run.records, "mmu.summary")
    assert summary and "forbidden" in summary[0], "no mmu.summary forbidden= count"
    pages = sum(num(methods(run)[m], "pages") for m in MAPPING_METHODS)
    assert int(summary[0]["forbidden"]) >= pages


def test_page_table_in_hypervisor_memory_faults(run):
    faulted = num(methods(run)["ptable"], "faulted")
    ranges, _ = probed_ranges(run)
    assert faulted == 2 * len(ranges)  # the first and the last page of each range as a page table
    bad = hvlog.find(run.records, "mmu.bad_page_table", action="inject_pf")
    assert len(bad) >= faulted


def test_bare_control_reads_the_bytes(bare):
    """Without the hypervisor, the same methods read the BIOS ROM's real bytes (and the controls still work)."""
    assert re.search(r"^W: WORKLOAD-END result=PASS", bare.guest_log, re.M), bare.guest_log[-3000:]
    ranges, source = probed_ranges(bare)
    assert source == "cmdline" and ranges == [BIOS_ROM]
    found = methods(bare)
    for method in ("devmem", "ioremap", "pte_read", "directmap"):
        assert method in found, f"no HVMEM line for method={method}"
        assert num(found[method], "bytes") == BIOS_ROM[1] - BIOS_ROM[0]
        assert num(found[method], "nonzero") > 0
    assert num(found["self"], "marker_found") == 1 and num(found["devmem_self"], "marker_found") == 1
