"""e1000 isolated in audit mode under load (workload=e1000-audit): every trapped driver write is emulated,
including device-register writes through ioremap'd memory (one access of the instruction's exact width), so ping
loses nothing.

Isolated from load (e1000_isolation=load, the default) the agent authorizes what the driver legitimately writes:
its heap, vmalloc and kvmalloc memory, its net_device and private area, its ioremap'd registers, its DMA-coherent
rings and the skbs it holds; the violations left are counted against a bound measured when this was written.
Isolated after it loaded (e1000_isolation=late) the agent never saw most of that memory (it adopts only the
net_device the driver registered): its register writes are violations (audit mode lets them happen)."""
import hashlib
import os

from conftest import RUNS, boot, hvlog, make_iso
from test_isolation import INITRAMFS, bzimage

# Measured (ping, isolated from load): 8035 violations with heap tracking alone, 6378 once vmalloc/kvmalloc and
# net_devices were tracked, then (see guest-agent/README.md) fewer at each step down to 0 with I/O mappings, DMA
# buffers, skbs and the bound device's fields. Any violation now is a write the agent should explain.
MAX_VIOLATIONS_AT_LOAD = 0
# Isolated late: 2701 before; 667 measured once the agent adopts the net_device it registered (its registers, 595,
# and its ring structs are still unknown).
MAX_VIOLATIONS_LATE = 1000


def run(when):
    name = f"e1000-audit-{when}"
    iso = make_iso(name, "log=com2 loglevel=info guest=linux -- console=ttyS0,115200 workload=e1000-audit "
                   f"e1000_isolation={when}", [(bzimage(), "linux"), (INITRAMFS, "initrd")])
    r = boot(iso, name, timeout=300, e1000=True)
    assert "W: WORKLOAD-END result=PASS" in r.guest_log, r.guest_log[-3000:]
    assert f"W: e1000-audit when={when} 10 packets transmitted, 10 packets received, 0% packet loss" in r.guest_log
    assert hvlog.find(r.records, "isolation.domain_created", module="e1000", policy="audit")
    assert not [x for x in r.records if x["lvl"] in ("fatal", "error")]
    assert r.shutdown_reason == "guest powered off"
    writes = hvlog.find(r.records, "isolation.write")
    assert all(w["action"] == "emulate" for w in writes), {w["action"] for w in writes}
    return r, writes


def test_e1000_isolated_from_load_few_violations():
    r, writes = run("load")
    denied = [w for w in writes if w["verdict"] == "denied"]
    assert len(denied) <= MAX_VIOLATIONS_AT_LOAD, (len(denied), denied[:20])
    # Its registers (ioremap'd, whole pages authorized) are writable in its view: no register write traps.
    assert not [w for w in denied if w["target"].startswith("0xffffc9")], denied[:20]
    assert "module=e1000 policy=audit" in r.guest_log


def test_e1000_isolated_late_keeps_working():
    r, writes = run("late")
    assert writes, "no driver write trapped: the driver view is not protecting anything"
    device_writes = [w for w in writes if w["target"].startswith("0xffffc9")]
    assert device_writes, "no write to the ioremap'd registers was trapped"
    denied = [w for w in writes if w["verdict"] == "denied"]
    assert len(denied) <= MAX_VIOLATIONS_LATE, len(denied)


def test_e1000_enforced_under_ping_flood_and_tftp():
    """Enforce mode (illegal writes would be skipped): a ping flood alongside four TFTP fetches of 256 KiB; the
    file arrives intact, no echo is lost, and the hypervisor denies nothing."""
    name = "e1000-enforce-flood"
    iso = make_iso(name, "log=com2 loglevel=info guest=linux -- console=ttyS0,115200 workload=e1000-bench "
                   "isolation=enforce e1000_flood=1 bench_rounds=4", [(bzimage(), "linux"), (INITRAMFS, "initrd")])
    tftp = os.path.join(RUNS, name, "tftp")
    os.makedirs(tftp, exist_ok=True)
    data = bytes((i * 131 + 7) & 0xff for i in range(256 * 1024))
    with open(os.path.join(tftp, "bench.bin"), "wb") as f:
        f.write(data)
    r = boot(iso, name, timeout=600, e1000=True)
    assert "W: WORKLOAD-END result=PASS" in r.guest_log, r.guest_log[-3000:]
    assert f"W: e1000-bench scenario=enforce md5={hashlib.md5(data).hexdigest()}" in r.guest_log
    assert "W: e1000-bench flood 300 packets transmitted, 300 packets received, 0% packet loss" in r.guest_log
    summary = hvlog.find(r.records, "isolation.summary", module="e1000")[0]
    assert int(summary["violations"]) == 0 and int(summary["entries"]) > 1000, summary
    assert not hvlog.find(r.records, "isolation.write", verdict="denied")
    assert not [x for x in r.records if x["lvl"] in ("fatal", "error")]
