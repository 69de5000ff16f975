"""Linux under the hypervisor (issue 3): the unmodified guest runs the whole basic workload on shadow paging, and its
deterministic output ("W: " lines) equals that of the same image booted on bare Bochs without the hypervisor."""
import os
import re
import shutil

import pytest

from conftest import BUILD, RUNS, boot, hvlog

WORKLOAD_DEVICES = dict(e1000=True, es1370=True)


def boot_with_disks(iso, name, **kw):
    run_dir = os.path.join(RUNS, name)
    os.makedirs(run_dir, exist_ok=True)
    for disk in ("ata.img", "usb.img"):
        shutil.copyfile(os.path.join(BUILD, "guest", disk), os.path.join(run_dir, disk))
    return boot(iso, name, timeout=400, ata_disk=os.path.join(run_dir, "ata.img"),
                usb_disk=os.path.join(run_dir, "usb.img"), **WORKLOAD_DEVICES, **kw)


def deterministic(log):
    return [l for l in log.splitlines() if l.startswith("W: ")]


@pytest.fixture(scope="module")
def hv_run():
    return boot_with_disks(os.path.join(BUILD, "hv-linux.iso"), "linux-hv")


@pytest.fixture(scope="module")
def bare_run():
    return boot_with_disks(os.path.join(BUILD, "linux-bare.iso"), "linux-bare", expect="bochs-exit")


def test_workload_passes_under_the_hypervisor(hv_run):
    out = deterministic(hv_run.guest_log)
    assert any(l.startswith("W: WORKLOAD-END result=PASS") for l in out), hv_run.guest_log[-3000:]
    for driver in ("e1000", "snd_ens1370", "ata_piix", "uhci_hcd", "usb-storage", "sd"):
        assert any(l.startswith(f"W: driver {driver} bound") for l in out), f"{driver} did not bind"
    assert any("0% packet loss" in l for l in out)
    assert len([l for l in out if re.match(r"W: disk (ata|usb) wrote\+read .* match$", l)]) == 2
    assert "W: procs fork+exec 300/300 ok" in out


def test_same_deterministic_output_as_bare_bochs(hv_run, bare_run):
    assert any(l.startswith("W: WORKLOAD-END result=PASS") for l in deterministic(bare_run.guest_log))
    assert deterministic(hv_run.guest_log) == deterministic(bare_run.guest_log)


def test_clean_shutdown_and_summary(hv_run):
    assert hv_run.status == "hv_shutdown" and hv_run.shutdown_reason == "guest powered off"
    assert hvlog.find(hv_run.records, "guest.poweroff")
    assert hvlog.find(hv_run.records, "guest.loaded", kind="linux")
    summary = hvlog.find(hv_run.records, "mmu.summary")[0]
    assert int(summary["fills"]) > 1000 and int(summary["cr3_flushes"]) > 100
    counts = hvlog.find(hv_run.records, "hv.exit_counts")[0]
    assert int(counts["exception_nmi"]) > 1000 and int(counts["invlpg"]) > 0
    assert not [r for r in hv_run.records if r["lvl"] in ("fatal", "error")]
    assert "Kernel panic" not in hv_run.guest_log and "Oops" not in hv_run.guest_log


def test_hypervisor_memory_reserved_in_guest_e820(hv_run):
    pool = hvlog.find(hv_run.records, "pmem.pool")[0]
    start, end = (int(x, 16) for x in pool["pool"].split("-"))
    # Linux prints its e820 map at boot: the pool must be inside a reserved entry.
    reserved = [tuple(int(x, 16) for x in m.groups())
                for m in re.finditer(r"BIOS-e820: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] reserved", hv_run.guest_log)]
    assert any(lo <= start and end - 1 <= hi for lo, hi in reserved), reserved


def kernel_image():
    import subprocess
    from conftest import ROOT
    path = subprocess.run([os.path.join(ROOT, "guest", "build-linux.sh"), "--print-path"], capture_output=True,
                          text=True, check=True).stdout.strip().splitlines()[-1]
    return os.path.join(path, "bzImage")


@pytest.mark.parametrize("case,reason", [
    ("missing", "guest module missing"),
    ("truncated", "guest could not be loaded"),
    ("junk", "guest could not be loaded"),
])
def test_bad_kernel_module_is_refused_cleanly(tmp_path, case, reason):
    from conftest import make_iso
    modules = []
    if case != "missing":
        data = open(kernel_image(), "rb").read()
        bad = tmp_path / f"{case}.bin"
        bad.write_bytes(data[:len(data) // 3] if case == "truncated" else os.urandom(len(data)))
        modules.append((str(bad), "linux"))
    modules.append((os.path.join(BUILD, "guest", "initramfs.cpio.gz"), "initrd"))
    iso = make_iso(f"bad-kernel-{case}", "guest=linux -- console=ttyS0", modules)
    r = boot(iso, f"bad-kernel-{case}", timeout=60)
    assert r.status == "hv_shutdown" and r.shutdown_reason == reason
    event = "guest.missing_module" if case == "missing" else "guest.load_failed"
    record = hvlog.find(r.records, event)
    assert record, r.hv_log
    if case == "truncated":
        assert "past the end" in record[0]["reason"]
    if case == "junk":
        assert "not a bzImage" in record[0]["reason"]
