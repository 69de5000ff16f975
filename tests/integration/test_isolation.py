"""Driver isolation (issue 4), first slice: the guest agent isolates the demo driver, whose illegal writes (out of
bounds, kernel data, another module, use after free, a wild pointer, a page the kernel wrote a moment before) are
detected, logged with module+offset, and skipped in enforce mode or let through and logged in audit mode; without
isolation the same writes visibly corrupt the guest."""
import os
import subprocess

import pytest

from conftest import BUILD, ROOT, boot, hvlog, make_iso
from conftest import RUNS  # noqa: F401  (run directories live there)

INITRAMFS = os.path.join(BUILD, "guest", "initramfs-isolation.cpio.gz")
ILLEGAL_COMMANDS = ["oob", "kernel_data", "other_module", "use_after_free", "wild", "stale_page"]
ILLEGAL_STORES = 7  # oob is two stores: the write and its undo


def bzimage():
    path = subprocess.run([os.path.join(ROOT, "guest", "build-linux.sh"), "--print-path"], capture_output=True,
                          text=True, check=True).stdout.strip().splitlines()[-1]
    return os.path.join(path, "bzImage")


def guest_cmdline(scenario):
    return f"console=ttyS0,115200 workload=isolation isolation={scenario}"


def hv_boot(scenario):
    assert os.path.isfile(INITRAMFS), "initramfs-isolation missing: run the tests through `make test`"
    iso = make_iso(f"isolation-{scenario}", f"log=com2 loglevel=info guest=linux -- {guest_cmdline(scenario)}",
                   [(bzimage(), "linux"), (INITRAMFS, "initrd")])
    return boot(iso, f"isolation-hv-{scenario}", timeout=300)


def bare_boot(scenario):
    out = os.path.join(RUNS, f"isolation-bare-{scenario}.iso")
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "mkiso.py"), "--out", out, "--linux", bzimage(),
                    "--initrd", INITRAMFS, "--cmdline", guest_cmdline(scenario)], check=True)
    return boot(out, f"isolation-bare-{scenario}", timeout=300, expect="bochs-exit")


def w_lines(log):
    return [l for l in log.splitlines() if l.startswith("W: ")]


def demo_outcome(log, command):
    lines = [l for l in w_lines(log) if l.startswith(f"W: demo {command} ")]
    assert lines, f"no outcome for demo {command}:\n{log[-3000:]}"
    return lines[0]


@pytest.fixture(scope="module")
def enforce():
    return hv_boot("enforce")


@pytest.fixture(scope="module")
def audit():
    return hv_boot("audit")


def test_enforce_skips_every_illegal_write_and_logs_it(enforce):
    assert "W: WORKLOAD-END result=PASS" in enforce.guest_log, enforce.guest_log[-3000:]
    assert "changed=yes" in demo_outcome(enforce.guest_log, "legal")
    for command in ILLEGAL_COMMANDS:
        assert "changed=no" in demo_outcome(enforce.guest_log, command), command
    denied = hvlog.find(enforce.records, "isolation.write", verdict="denied", action="skip")
    assert len(denied) == ILLEGAL_STORES, denied
    for record in denied:
        assert record["rip"].startswith("chariot_demo+0x") and record["domain"] == "1"
        assert int(record["target"], 16) >= 0xffff800000000000 and int(record["size"]) > 0
    assert "W: hostname=(none)" in enforce.guest_log and "Xnone" not in enforce.guest_log


def test_enforce_allows_the_drivers_own_memory(enforce):
    created = hvlog.find(enforce.records, "isolation.domain_created", module="chariot_demo", policy="enforce")
    assert created
    destroyed = hvlog.find(enforce.records, "isolation.domain_destroyed", module="chariot_demo")[0]
    assert int(destroyed["allowed"]) > 0 and destroyed["emulated"] == destroyed["allowed"]
    assert int(destroyed["violations"]) == ILLEGAL_STORES


def test_guest_and_hypervisor_carry_on(enforce, audit):
    for run in (enforce, audit):
        assert run.status == "hv_shutdown" and run.shutdown_reason == "guest powered off"
        assert not [r for r in run.records if r["lvl"] in ("fatal", "error")]
        assert "Oops" not in run.guest_log and "Kernel panic" not in run.guest_log


def test_audit_lets_illegal_writes_through_and_logs_them(audit):
    assert "W: WORKLOAD-END result=PASS" in audit.guest_log, audit.guest_log[-3000:]
    for command in ILLEGAL_COMMANDS:
        assert "changed=yes" in demo_outcome(audit.guest_log, command), command
    violations = hvlog.find(audit.records, "isolation.write", verdict="denied", action="emulate")
    assert len(violations) == ILLEGAL_STORES
    assert not hvlog.find(audit.records, "isolation.write", action="skip")


def test_without_isolation_the_same_writes_corrupt_the_guest():
    bare = bare_boot("none")
    assert "W: WORKLOAD-END result=PASS" in bare.guest_log, bare.guest_log[-3000:]
    for command in ILLEGAL_COMMANDS:
        assert "changed=yes" in demo_outcome(bare.guest_log, command), command
    # the kernel_data write really reached the kernel: user space sees a different hostname
    assert any(l.startswith("W: demo kernel_data ") and "Xnone" in l for l in w_lines(bare.guest_log)), \
        w_lines(bare.guest_log)
