"""Real drivers isolated from load while the basic workload drives their devices (workload=drivers-isolated):
e1000 (ping), snd-ens1370 (64 KiB played and captured by Bochs), ata_piix and usb-storage + sd_mod (256 KiB written,
read back from the device and compared). The workload's deterministic output must be what it is unisolated, and the
hypervisor must deny none of their writes: everything they write is memory the agent authorized (their heap, I/O
mappings, DMA buffers and pool blocks, and the objects their subsystems hand them: skbs, urbs, SCSI commands,
scsi_devices, ATA ports, sound card, PCM runtime, their kthreads' state, the preempt counter; see
guest-agent/README.md). In enforce mode the drivers are unloaded afterwards (their exit paths run isolated), and
ne2k-pci, whose net_device and receive skbs the 8390 library allocates for it, is loaded, used, unloaded, loaded
again and unloaded, isolated too."""
import collections
import re

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
# The enforce run's extra phase (it needs Bochs' ne2k card): ne2k_pci and its library 8390, which is not isolated.
NE2K = "ne2k_pci"
# The hypervisor does not emulate INS yet: ne2k_pci's block_input (rep insl into the receive skb, at +0x20c) is
# allowed but skipped (isolation.write verdict=allowed_unemulatable, an error record), so what it receives is
# garbage and its ping loses everything. Those records are expected until then (test_ne2k_receives says when not).
NE2K_UNEMULATED = {"ev": "isolation.write", "rip": "ne2k_pci+0x20c", "verdict": "allowed_unemulatable"}


def run(name, policy, modules, unload=False, **devices):
    iso = make_iso(name, "log=com2 loglevel=info guest=linux -- console=ttyS0,115200 workload=drivers-isolated "
                   f"isolation={policy} isolate={','.join(modules)} unload={int(unload)}",
                   [(bzimage(), "linux"), (INITRAMFS, "initrd")])
    r = boot_with_disks(iso, name, **devices)
    domains = {x["domain"]: x["module"] for x in hvlog.find(r.records, "isolation.domain_created")}
    denied = collections.Counter(domains.get(w["domain"]) for w in hvlog.find(r.records, "isolation.write")
                                 if w["verdict"] == "denied")
    return r, domains, denied


def ne2k_unemulated(record):
    return all(record.get(k) == v for k, v in NE2K_UNEMULATED.items())


def check_workload(r, modules, policy):
    assert "W: WORKLOAD-END result=PASS" in r.guest_log, r.guest_log[-3000:]
    assert f"W: drivers-isolated policy={policy} armed={len(modules)}" in r.guest_log
    assert "W: sound played frames=16384 bytes=65536" in r.guest_log
    assert len([l for l in r.guest_log.splitlines() if l.startswith("W: disk") and l.endswith(" match")]) == 2
    assert "W: net ping 192.168.10.1: 10 packets transmitted, 10 packets received, 0% packet loss" in r.guest_log
    assert r.status == "hv_shutdown" and r.shutdown_reason == "guest powered off"
    assert not [x for x in r.records if x["lvl"] in ("fatal", "error") and not ne2k_unemulated(x)]
    assert "Oops" not in r.guest_log and "BUG:" not in r.guest_log and "WARNING:" not in r.guest_log


ENFORCED = NO_FALSE_POSITIVES + (NE2K,)


# Bochs runs one vnet instance (e1000's): the ne2k card is on slirp (its host 10.0.2.2)
NE2K_SLIRP = "ne2k: enabled=1, type=pci, mac=52:54:00:12:34:57, ethmod=slirp"


@pytest.fixture(scope="module")
def enforce_run():
    return run("drivers-enforce", "enforce", ENFORCED, unload=True, ne2k=True, bochs_line=[NE2K_SLIRP])


def test_named_drivers_enforced_without_false_positives(enforce_run):
    """Loaded, used and unloaded isolated in enforce mode: no write denied, from any domain, at any time."""
    r, domains, denied = enforce_run
    check_workload(r, ENFORCED, "enforce")
    assert "W: drivers-isolated unload-end fails=0" in r.guest_log, r.guest_log[-3000:]
    # int3 probes only while the agent is loaded: an optimized probe runs its handler with interrupts on, and the
    # probes an interrupt handler hits meanwhile are skipped (guest-agent/agent_probes.c)
    assert "I: kprobes-optimization agent=loaded value=0" in r.guest_log
    assert "I: kprobes-optimization agent=unloaded value=1" in r.guest_log
    for m in NO_FALSE_POSITIVES:
        assert f"W: unloaded {m}" in r.guest_log
    # ne2k_pci twice, each time loaded isolated from load (a domain each)
    assert sorted(domains.values()) == sorted(NO_FALSE_POSITIVES + (NE2K, NE2K))
    assert not denied, denied
    # Isolation was real: every driver ran in its domain (entries) and its writes to memory shared with the kernel
    # trapped and were judged legal (allowed), none denied; every domain ended with its module (the counts the
    # hypervisor logs as it destroys one), none was left for the shutdown summary.
    assert not hvlog.find(r.records, "isolation.summary")
    destroyed = collections.defaultdict(list)
    for x in hvlog.find(r.records, "isolation.domain_destroyed"):
        destroyed[x["module"]].append(x)
    assert sorted(m for m, xs in destroyed.items() for _ in xs) == sorted(domains.values())
    for m in ENFORCED:
        assert all(int(x["violations"]) == 0 for x in destroyed[m]), destroyed[m]
        assert sum(int(x["entries"]) for x in destroyed[m]) > 0, destroyed[m]
        assert sum(int(x["allowed"]) for x in destroyed[m]) > 0, destroyed[m]


# What each driver acquires that the agent's resource ledger records (guest-agent/agent_resources.c), at least:
# e1000 its PCI driver, net_device, IRQ and 3 delayed works; snd_ens1370 its PCI driver, (devres) IRQ and card;
# sd_mod its SCSI driver; usb_storage its USB driver and scan work; ata_piix its PCI driver (libata requests the
# IRQ with its own handler); ne2k_pci its PCI driver and net_device (its IRQ only while the interface is up).
ACQUIRED_AT_LEAST = {"e1000": 6, "snd_ens1370": 3, "sd_mod": 1, "usb_storage": 2, "ata_piix": 1, "ne2k_pci": 2}


def test_healthy_drivers_leave_nothing_to_release(enforce_run):
    """Unloaded after working, each driver's exit function released what it acquired: the ledger's summary at its
    GOING says clean, nothing released."""
    r, _, _ = enforce_run
    console = [l for l in r.guest_log.splitlines() if not l.startswith("I: ")]
    assert not [l for l in console if "step=resource " in l]
    summaries = collections.defaultdict(list)
    for line in console:
        m = re.search(r"CHARIOT: recovery module=(\w+) step=resources result=(\w+) acquired=(\d+) recorded=\d+ "
                      r"released=(\d+) unrecorded=(\d+)", line)
        if m:
            summaries[m.group(1)].append((m.group(2), int(m.group(3)), int(m.group(4)), int(m.group(5))))
    assert sorted(m for m, xs in summaries.items() for _ in xs) == sorted(NO_FALSE_POSITIVES + (NE2K, NE2K))
    for m, xs in summaries.items():
        assert all(result == "clean" and released == 0 and lost == 0 for result, _, released, lost in xs), xs
        assert max(acquired for _, acquired, _, _ in xs) >= ACQUIRED_AT_LEAST[m], (m, xs)


def test_ne2k_reload_finds_its_ports_free(enforce_run):
    """Its net_device comes from 8390's __alloc_ei_netdev: denied writes to it once left dev->base_addr 0, so its
    remove released no I/O ports and the next load failed with them busy."""
    r, _, _ = enforce_run
    for n in (1, 2):
        assert re.search(rf"^W: ne2k-pci load {n} interface=\w+$", r.guest_log, re.M), r.guest_log[-3000:]
    assert r.guest_log.count("W: unloaded ne2k_pci") == 2 and r.guest_log.count("W: unloaded 8390") == 2
    assert "busy" not in r.guest_log


def test_ne2k_receives(enforce_run):
    """ne2k_pci's rep insl of the receive FIFO into its skb is a legal write the hypervisor emulates (INS)."""
    r, _, _ = enforce_run
    assert not [x for x in r.records if ne2k_unemulated(x)]
    assert "W: ne2k-pci ping 10.0.2.2: 3 packets transmitted, 3 packets received" in r.guest_log


def test_all_six_audited(enforce_run):
    modules = NO_FALSE_POSITIVES + ("uhci_hcd",)
    r, domains, denied = run("drivers-audit", "audit", modules)
    check_workload(r, modules, "audit")
    assert sorted(domains.values()) == sorted(modules)
    assert not [m for m in NO_FALSE_POSITIVES if denied[m]], denied
    assert denied["uhci_hcd"] <= UHCI_MAX_VIOLATIONS, denied
