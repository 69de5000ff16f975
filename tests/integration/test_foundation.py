"""Foundation (issue 2): the hypervisor boots from GRUB, launches the test guest and handles each exit path.

The test guest (tests/guest/testguest.c) reports every step on COM1 ("TG: ..."); the hypervisor logs its side on
COM2. Each test asserts on what the two printed.
"""
import os
import re

import pytest

from conftest import BUILD, RUNS, boot, hvlog, make_iso


def guest_line(result, prefix):
    lines = [l for l in result.guest_log.splitlines() if l.startswith(prefix)]
    assert lines, f"guest never printed {prefix!r}:\n{result.guest_log}"
    return lines[0]


def field(line, key):
    m = re.search(rf"\b{key}=(\S+)", line)
    assert m, f"{key}= missing in {line!r}"
    return m.group(1)


@pytest.fixture(scope="module")
def run(testguest_bin):
    iso = make_iso("foundation", "log=com2 loglevel=debug guest=testguest -- bench=200",
                   [(testguest_bin, "testguest")])
    return boot(iso, "foundation", timeout=90)


def test_boot_and_vmx_launch_logged(run):
    for ev in ("hv.start", "boot.memory", "pmem.pool", "vmx.caps", "vmx.controls", "vmx.on", "guest.loaded",
               "vmx.launch"):
        assert hvlog.find(run.records, ev), f"no {ev} record"
    caps = hvlog.find(run.records, "vmx.caps")[0]
    assert caps["revision"] != "0x0"
    assert hvlog.find(run.records, "guest.loaded")[0]["cmdline"] == "bench=200"


def test_every_log_line_is_a_whole_logfmt_record(run):
    lines = [l for l in run.hv_log.splitlines() if l.strip()]
    assert len(lines) > 20
    for line in lines:
        hvlog.parse_line(line)  # raises on a malformed or interleaved line
    assert {r["lvl"] for r in run.records} <= {"fatal", "error", "warn", "info", "debug"}


def test_cpuid_is_filtered_and_has_hypervisor_leaf(run):
    line = guest_line(run, "TG: cpuid")
    assert field(line, "signature") == "ChariotHV"
    assert field(line, "vmx") == "0"
    assert field(line, "hypervisor_bit") == "1"
    assert hvlog.find(run.records, "guest.cpuid", leaf="0x40000000")


def test_valid_vmcall(run):
    line = guest_line(run, "TG: vmcall version")
    assert field(line, "status") == "0" and field(line, "abi") == "1"
    assert hvlog.find(run.records, "hypercall", nr=0, name="version", status=0)


def test_unknown_vmcall_returns_enosys(run):
    assert field(guest_line(run, "TG: vmcall unknown"), "status") == "-2"  # -HV_ENOSYS
    assert hvlog.find(run.records, "hypercall.unknown", nr="0xdead", status=-2)


def test_ring3_vmcall_gets_ud_and_guest_survives(run):
    line = guest_line(run, "TG: ring3 vmcall")
    assert field(line, "vector") == "6" and field(line, "at_vmcall") == "1"
    denied = hvlog.find(run.records, "hypercall.denied", cpl=3, action="inject_ud")
    assert denied and denied[0]["rip"] == field(line, "rip")
    assert "TG: bench" in run.guest_log  # the guest went on after the #UD


@pytest.mark.parametrize("name,vector,ev", [("cr4_vmxe", "13", "guest.cr_write"), ("rdmsr_vmx_basic", "13", "guest.rdmsr"),
                                            ("vmxon", "6", "guest.vmx_instruction"),
                                            ("xsetbv_invalid", "13", "guest.xsetbv")])
def test_vmx_stays_hidden(run, name, vector, ev):
    assert field(guest_line(run, f"TG: forbidden {name}"), "vector") == vector
    assert hvlog.find(run.records, ev)


def test_io_to_hypervisor_uart_is_denied(run):
    assert field(guest_line(run, "TG: io"), "hv_uart_lsr") == "0xff"
    assert hvlog.find(run.records, "io.denied", port="0x2f8", dir="out", value="0x58", action="drop")
    assert hvlog.find(run.records, "io.denied", port="0x2fd", dir="in", action="read_ones")


def test_unhandled_exit_logged_and_clean_shutdown(run):
    unhandled = hvlog.find(run.records, "vmexit.unhandled")
    assert unhandled and unhandled[0]["reason"] == "13" and unhandled[0]["name"] == "invd"
    assert "TG: FAIL" not in run.guest_log
    assert run.status == "hv_shutdown" and run.shutdown_reason == "unhandled VM exit"
    counts = hvlog.find(run.records, "hv.exit_counts")[0]
    assert int(counts["vmcall"]) >= 200 and counts["invd"] == "1"


def test_hypercall_fuzz_never_harms_the_hypervisor(testguest_bin):
    iso = make_iso("fuzz", "log=com2 loglevel=info guest=testguest -- bench=0 fuzz=20000 end=poweroff",
                   [(testguest_bin, "testguest")])
    r = boot(iso, "fuzz", timeout=180)
    line = guest_line(r, "TG: fuzz")
    assert field(line, "calls") == "20000"
    assert int(field(line, "errors")) > 10000 and int(field(line, "ok")) > 0
    assert "TG: FAIL" not in r.guest_log
    assert r.status == "hv_shutdown" and r.shutdown_reason == "guest powered off"
    assert not hvlog.find(r.records, "hv.exception")
    assert not [x for x in r.records if x["lvl"] == "fatal"]


def test_guest_poweroff_is_intercepted(testguest_bin):
    iso = make_iso("poweroff", "guest=testguest -- bench=0 end=poweroff", [(testguest_bin, "testguest")])
    r = boot(iso, "poweroff", timeout=60)
    assert hvlog.find(r.records, "guest.poweroff", via="acpi_pm1_control", port="0xb004")
    assert r.status == "hv_shutdown" and r.shutdown_reason == "guest powered off"


def test_log_on_com1(testguest_bin):
    iso = make_iso("log-com1", "log=com1 guest=testguest -- bench=0 end=poweroff", [(testguest_bin, "testguest")])
    r = boot(iso, "log-com1", timeout=60)
    assert "ev=hv.start" in r.guest_log and "ev=hv.start" not in r.hv_log
    # COM1 is now the hypervisor's: the guest's console writes there are denied, never interleaved into the log
    assert "TG:" not in r.guest_log
    com1_records = hvlog.records(r.guest_log, strict=False)  # firmware may leave a stray byte on COM1
    assert hvlog.find(com1_records, "io.denied", port="0x3f8", dir="out")
    assert r.shutdown_reason == "guest powered off"


def test_missing_guest_module(testguest_bin):
    iso = make_iso("no-module", "guest=testguest")
    r = boot(iso, "no-module", timeout=60)
    assert hvlog.find(r.records, "guest.missing_module", lvl="fatal")
    assert r.status == "hv_shutdown" and r.shutdown_reason == "guest module missing"


def test_oversized_guest_module(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(2 << 20))
    iso = make_iso("big-module", "guest=testguest", [(str(junk), "testguest")])
    r = boot(iso, "big-module", timeout=60)
    assert hvlog.find(r.records, "guest.load_failed")
    assert r.status == "hv_shutdown" and r.shutdown_reason == "guest could not be loaded"


def test_bad_options_are_reported_not_fatal(testguest_bin):
    iso = make_iso("bad-options", "bogus=1 loglevel=loud hvmem=1 guest=testguest -- bench=0 end=poweroff",
                   [(testguest_bin, "testguest")])
    r = boot(iso, "bad-options", timeout=60)
    assert hvlog.find(r.records, "hv.bad_option", option="loglevel", value="loud")
    assert hvlog.find(r.records, "hv.bad_option", count=2, first="bogus=1")
    assert r.shutdown_reason == "guest powered off"


@pytest.mark.parametrize("cpu,extra,reason", [
    ("bx_generic", ["cpuid: vmx=0"], "CPUID.1:ECX.VMX is 0"),
    ("bx_generic", [], "required VMX controls not allowed"),
])
def test_refuses_to_start_without_vmx_or_controls(testguest_bin, cpu, extra, reason):
    iso = make_iso("novmx", "guest=testguest", [(testguest_bin, "testguest")])
    r = boot(iso, f"novmx-{len(extra)}", timeout=60, cpu=cpu, bochs_line=extra)
    fatal = hvlog.find(r.records, "vmx.unsupported", lvl="fatal")
    assert fatal and reason in fatal[0]["reason"]
    assert r.shutdown_reason == "VMX unavailable"
