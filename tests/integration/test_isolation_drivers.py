"""Real drivers isolated from load while the basic workload drives their devices (workload=drivers-isolated):
e1000 (ping), snd-ens1370 (64 KiB played and captured by Bochs), ata_piix and usb-storage + sd_mod (256 KiB written,
read back from the device and compared). The workload's deterministic output must be what it is unisolated, and the
hypervisor must deny none of their writes: everything they write is memory the agent authorized (their heap, I/O
mappings, DMA buffers and pool blocks, and the objects their subsystems hand them: skbs, urbs, SCSI commands,
scsi_devices, ATA ports, sound card, PCM runtime; see guest-agent/README.md)."""
import collections

import pytest

from conftest import hvlog, make_iso
from test_isolation import INITRAMFS, bzimage
from test_linux import boot_with_disks

# The drivers the isolation issue names, and sd_mod, which usb-storage and ata_piix need for their disks.
NO_FALSE_POSITIVES = ("e1000", "snd_ens1370", "ata_piix", "usb_storage", "sd_mod")
# uhci_hcd (usb-storage's host controller) isolated too, in audit mode: 17 and 19 writes measured (the root hub is
# polled a varying number of times), all into memory the agent does not know yet: the root hub's control buffer
# (allocated inline by usbcore's rh_call_control), the usbcore global usb_hcds_loaded (its init), a PCI config
# byte. Before the grants it was 196175. A bound, so a regression shows.
UHCI_MAX_VIOLATIONS = 40


def run(name, policy, modules):
    iso = make_iso(name, "log=com2 loglevel=info guest=linux -- console=ttyS0,115200 workload=drivers-isolated "
                   f"isolation={policy} isolate={','.join(modules)}", [(bzimage(), "linux"), (INITRAMFS, "initrd")])
    r = boot_with_disks(iso, name)
    domains = {x["domain"]: x["module"] for x in hvlog.find(r.records, "isolation.domain_created")}
    denied = collections.Counter(domains.get(w["domain"]) for w in hvlog.find(r.records, "isolation.write")
                                 if w["verdict"] == "denied")
    return r, domains, denied


def check_workload(r, modules, policy):
    assert "W: WORKLOAD-END result=PASS" in r.guest_log, r.guest_log[-3000:]
    assert f"W: drivers-isolated policy={policy} armed={len(modules)}" in r.guest_log
    assert "W: sound played frames=16384 bytes=65536" in r.guest_log
    assert len([l for l in r.guest_log.splitlines() if l.startswith("W: disk") and l.endswith(" match")]) == 2
    assert "W: net ping 192.168.10.1: 10 packets transmitted, 10 packets received, 0% packet loss" in r.guest_log
    assert r.status == "hv_shutdown" and r.shutdown_reason == "guest powered off"
    assert not [x for x in r.records if x["lvl"] in ("fatal", "error")]
    assert "Oops" not in r.guest_log and "BUG:" not in r.guest_log


@pytest.fixture(scope="module")
def enforce_run():
    return run("drivers-enforce", "enforce", NO_FALSE_POSITIVES)


def test_named_drivers_enforced_without_false_positives(enforce_run):
    r, domains, denied = enforce_run
    check_workload(r, NO_FALSE_POSITIVES, "enforce")
    assert sorted(domains.values()) == sorted(NO_FALSE_POSITIVES)
    assert not denied, denied
    # Isolation was real: every driver ran in its domain (entries) and its writes to memory shared with the kernel
    # trapped and were judged legal (allowed), none denied (the summary each domain leaves at shutdown).
    summary = {x["module"]: x for x in hvlog.find(r.records, "isolation.summary")}
    for m in NO_FALSE_POSITIVES:
        assert int(summary[m]["violations"]) == 0, summary[m]
        assert int(summary[m]["entries"]) > 0, summary[m]
        assert int(summary[m]["allowed"]) > 0, summary[m]


def test_all_six_audited(enforce_run):
    modules = NO_FALSE_POSITIVES + ("uhci_hcd",)
    r, domains, denied = run("drivers-audit", "audit", modules)
    check_workload(r, modules, "audit")
    assert sorted(domains.values()) == sorted(modules)
    assert not [m for m in NO_FALSE_POSITIVES if denied[m]], denied
    assert denied["uhci_hcd"] <= UHCI_MAX_VIOLATIONS, denied
