"""The fault injector in the guest (workload=inject, under the hypervisor, isolation off): chariot_inject.ko applies
faults tools/faultgen.py chose for e1000, at load (twice: e1000 is reloaded) and into the live module, and reports
where and what it wrote; each fault has its visible effect, a reload runs clean code, a wrong fault is refused.

The load fault is the alloc_fail of e1000_probe's alloc_etherdev_mqs call (the first seed that chooses it): the
probe fails with -ENOMEM, so e1000 loads but drives nothing. The init fault inverts the `copybreak !=
COPYBREAK_DEFAULT` test of e1000_init_module (.init.text, so found in the full symbol table the module has until it
is live): the reloaded e1000 says "copybreak enabled" where it says nothing, and works. The live fault is a
delete_insn in e1000_get_regs (ethtool only: never run here) whose bytes cross a page boundary once loaded (module
text starts page-aligned with .text), so the write goes through a two-page alias. The init and live faults are
traced: the injector's kprobe sees the init fault run once and the live one never."""
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, boot, make_iso
from test_faultgen import e1000_ko
from test_isolation import INITRAMFS, bzimage

import faultgen  # noqa: E402  (tools/ is on sys.path: conftest)

PAGE = 4096


def load_fault(ko, module, sites):
    """faultgen's own output for the first seed whose alloc_fail is e1000_probe's alloc_etherdev_mqs call."""
    def chosen(seed):
        site = faultgen.choose(module, sites, seed, "alloc_fail")
        return site.symbol == "e1000_probe" and site.insn == "call alloc_etherdev_mqs"

    seed = next(seed for seed in range(1000) if chosen(seed))
    out = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "faultgen.py"), ko, "--seed", str(seed),
                          "--type", "alloc_fail"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def live_fault(ko, module, sites):
    """A delete_insn in e1000_get_regs whose bytes cross a page boundary (offsets in .text are offsets from the
    page-aligned start of the module's text)."""
    start = {name: (section, value) for section, funcs in faultgen.functions(faultgen.Elf(ko)).items()
             for value, _, name in funcs}
    for site in sites:
        section, value = start[site.symbol]
        first, last = value + site.offset, value + site.offset + len(site.new) - 1
        if site.symbol == "e1000_get_regs" and site.type == "delete_insn" and section == ".text" and \
                first // PAGE != last // PAGE:
            return site.record(module)
    raise AssertionError("no delete_insn in e1000_get_regs crosses a page boundary: choose another live fault")


def init_fault(sites, module):
    return next(s for s in sites if s.symbol == "e1000_init_module" and s.type == "branch_invert" and
                s.insn.startswith("je ")).record(module)


def cmdline_value(fault):
    return ",".join(str(fault[k]) for k in ("module", "symbol", "offset", "orig", "new", "type"))


@pytest.fixture(scope="module")
def run():
    assert os.path.isfile(INITRAMFS), "initramfs-isolation missing: run the tests through `make test`"
    ko = e1000_ko()
    module, sites = faultgen.analyze(ko)
    faults = {"load": load_fault(ko, module, sites), "init": init_fault(sites, module),
              "live": live_fault(ko, module, sites)}
    guest = "console=ttyS0,115200 workload=inject " + " ".join(f"inject_{kind}={cmdline_value(fault)}"
                                                                for kind, fault in faults.items())
    iso = make_iso("fault-inject", f"log=com2 loglevel=info guest=linux -- {guest}",
                   [(bzimage(), "linux"), (INITRAMFS, "initrd")])
    result = boot(iso, "fault-inject", timeout=600, e1000=True)
    assert "W: WORKLOAD-END result=PASS" in result.guest_log, result.guest_log[-4000:]
    return result, faults


def w_line(log, prefix):
    lines = [line for line in log.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, (prefix, lines, log[-4000:])
    return lines[0]


def applied_records(log):
    """key=value dicts of the injector's `applied` console lines, in order."""
    return [dict(kv.split("=", 1) for kv in m.group(1).split())
            for m in re.finditer(r"^\[[ 0-9.]+\] chariot_inject: applied (.*)$", log, re.M)]


def orig_matches(orig, found):
    return len(orig) == len(found) and all(o == "." or o == f for o, f in zip(orig, found))


def test_load_fault_is_applied_before_the_probe_and_makes_it_fail(run):
    result, faults = run
    log, fault = result.guest_log, faults["load"]
    assert fault["type"] == "alloc_fail" and fault["new"] == "31c00f1f00"
    state = w_line(log, "W: inject arm-load state=")
    assert state.startswith("W: inject arm-load state=armed module=e1000 symbol=e1000_probe ")
    first = applied_records(log)[0]
    assert (first["module"], first["symbol"], first["offset"], first["type"]) == \
        ("e1000", "e1000_probe", str(fault["offset"]), "alloc_fail")
    assert orig_matches(fault["orig"], first["before"]) and first["before"] != first["after"] == fault["new"]
    assert int(first["addr"], 16) >= 0xffff800000000000
    after = w_line(log, "W: inject after-load state=")
    # not traced (`trace on` comes later)
    assert after == (f"W: inject after-load state=applied module=e1000 symbol=e1000_probe offset={fault['offset']} "
                     f"addr={first['addr']} executed=-")
    assert "chariot_inject: traced module=e1000 symbol=e1000_probe " not in log
    # the visible effect: alloc_etherdev returned NULL, the probe failed, e1000 drives nothing
    assert re.search(r"e1000: probe of \S+ failed with error -12", log), log[-4000:]
    assert w_line(log, "W: inject modprobe rc=") == "W: inject modprobe rc=0"
    assert w_line(log, "W: inject after-load bound=") == "W: inject after-load bound=none ifaces=lo"


def test_a_reload_runs_a_clean_probe_and_the_fault_armed_for_its_init(run):
    result, faults = run
    log, fault = result.guest_log, faults["init"]
    bound = w_line(log, "W: inject after-reload bound=")
    assert re.fullmatch(r"W: inject after-reload bound=\S+ ifaces=eth0 lo", bound)
    assert "3 packets transmitted, 3 packets received, 0% packet loss" in w_line(log, "W: inject ping ")
    # the load fault once, the init fault, then the live one: the load fault was not applied again
    records = applied_records(log)
    assert [r["symbol"] for r in records] == ["e1000_probe", "e1000_init_module", "e1000_get_regs"], records
    init = records[1]
    assert (init["offset"], init["before"], init["after"], init["type"]) == \
        (str(fault["offset"]), fault["orig"], fault["new"], "branch_invert")
    # traced: e1000_init_module ran once (its probe went with the init code, the count stays)
    assert w_line(log, "W: inject after-reload state=") == (
        f"W: inject after-reload state=applied module=e1000 symbol=e1000_init_module offset={fault['offset']} "
        f"addr={init['addr']} executed=1")
    where = f"module=e1000 symbol=e1000_init_module offset={fault['offset']} addr={init['addr']} type=branch_invert"
    assert log.index(f"chariot_inject: traced {where}\n") < log.index(f"chariot_inject: executed {where}\n")
    assert w_line(log, "W: inject copybreak-messages=") == "W: inject copybreak-messages=1"


def test_live_fault_is_applied_at_once_across_a_page_boundary(run):
    result, faults = run
    log, fault = result.guest_log, faults["live"]
    assert w_line(log, "W: inject arm-live rc=") == "W: inject arm-live rc=0"
    live = applied_records(log)[2]
    assert (live["symbol"], live["offset"], live["type"]) == ("e1000_get_regs", str(fault["offset"]), "delete_insn")
    assert live["before"] == fault["orig"] and live["after"] == fault["new"]
    addr, length = int(live["addr"], 16), len(fault["new"]) // 2
    assert addr // PAGE != (addr + length - 1) // PAGE, live
    # traced, never run (ethtool only)
    assert w_line(log, "W: inject arm-live state=") == (
        f"W: inject arm-live state=applied module=e1000 symbol=e1000_get_regs offset={fault['offset']} "
        f"addr={live['addr']} executed=0")
    assert f"chariot_inject: traced module=e1000 symbol=e1000_get_regs offset={fault['offset']} " in log
    assert "chariot_inject: executed module=e1000 symbol=e1000_get_regs " not in log


def test_a_fault_that_does_not_fit_is_refused(run):
    result, faults = run
    log, fault = result.guest_log, faults["live"]
    # its original bytes are gone: the live fault armed again finds its own replacement
    assert w_line(log, "W: inject arm-live-again rc=") == "W: inject arm-live-again rc=1 err=sh: write error: " \
        "Invalid or incomplete multibyte or wide character"  # EILSEQ
    assert w_line(log, "W: inject arm-live-again state=").startswith("W: inject arm-live-again state=mismatch ")
    assert re.search(rf"chariot_inject: mismatch module=e1000 symbol=e1000_get_regs offset={fault['offset']} "
                     rf"addr=0x[0-9a-f]+ expected={fault['orig']} found={fault['new']} type=delete_insn$", log, re.M)
    assert w_line(log, "W: inject arm-nosymbol rc=").endswith("err=sh: write error: No such file or directory")
    assert w_line(log, "W: inject arm-nosymbol state=").startswith(
        "W: inject arm-nosymbol state=nosymbol module=e1000 symbol=chariot_no_such_function ")
    assert w_line(log, "W: inject arm-malformed rc=").endswith("err=sh: write error: Invalid argument")
    # a malformed command leaves the last fault as it was
    assert w_line(log, "W: inject arm-malformed state=").startswith("W: inject arm-malformed state=idle ")
    assert w_line(log, "W: inject trace-malformed rc=").endswith("err=sh: write error: Invalid argument")


def test_arm_and_disarm_a_module_not_loaded(run):
    result, _ = run
    log = result.guest_log
    assert w_line(log, "W: inject start state=") == \
        "W: inject start state=idle module=- symbol=- offset=0 addr=0x0 executed=-"
    assert w_line(log, "W: inject arm-unloaded state=") == \
        "W: inject arm-unloaded state=armed module=ne2k_pci symbol=ne2k_pci_init_one offset=0 addr=0x0 executed=-"
    assert w_line(log, "W: inject disarm state=") == \
        "W: inject disarm state=idle module=ne2k_pci symbol=ne2k_pci_init_one offset=0 addr=0x0 executed=-"


def test_guest_and_hypervisor_carry_on(run):
    result, _ = run
    assert result.status == "hv_shutdown" and result.shutdown_reason == "guest powered off"
    assert not [r for r in result.records if r["lvl"] in ("fatal", "error")]
    for bad in ("Oops", "Kernel panic", "BUG:", "WARNING:"):
        assert bad not in result.guest_log, bad
