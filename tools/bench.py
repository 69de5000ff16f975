#!/usr/bin/env python3
"""Benchmarks measured inside the guest, in guest TSC cycles (Bochs: one tick per emulated instruction), so the
host's load cannot skew them. Results are printed and written to <build>/bench/results.json.

Benchmarks:
  vmcall   round trip of one hypercall (VM exit, dispatch, VM entry) measured by the test guest: median of N.
  e1000    TFTP throughput through the e1000 driver, not isolated and isolated (enforce), in guest TSC per
           byte, and the VM exits per KiB; with 512-byte blocks (TFTP's default) and with blocks that fill a
           1500-byte frame.
  ne2k     the same through ne2k-pci (NE2000 PCI: port I/O), not isolated and isolated.
  drivers  the basic workload's device phases with e1000, snd-ens1370, ata_piix, usb-storage and sd_mod isolated from
           load (enforce) against the same image not isolated: guest TSC per phase and their ratio (the network
           phase pings through e1000; the disk phase writes and reads back 256 KiB on the ATA and the USB disk; the
           sound playback plays 64 KiB), VM exits, and each domain's entries and trapped writes per operation.
  linux    the Linux guest's boot-to-init and basic-workload times (guest TSC) under the hypervisor and on bare
           Bochs, their ratios, per-phase figures, and VM exits per guest second by reason with the hypervisor's
           own cycles per exit.
"""
import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bochs_run  # noqa: E402
import hvlog  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def bench_vmcall(build, runs, iterations):
    iso = os.path.join(build, "bench", "vmcall.iso")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "mkiso.py"), "--out", iso, "--hv",
                    os.path.join(build, "hv.elf"), "--cmdline",
                    f"log=com2 loglevel=info guest=testguest -- bench={iterations} end=poweroff",
                    "--module", os.path.join(build, "testguest.bin") + ":testguest"], check=True)
    medians = []
    for i in range(runs):
        r = bochs_run.run_bochs(iso, os.path.join(build, "bench", f"vmcall-{i}"), timeout=120)
        m = re.search(r"TG: bench vmcall_roundtrip_cycles median=(\d+) min=(\d+) p90=(\d+) n=(\d+)", r.guest_log)
        if not m or r.shutdown_reason != "guest powered off":
            raise SystemExit(f"bench vmcall: run {i} failed ({r.status}, {r.shutdown_reason}); logs in {r.run_dir}")
        medians.append(int(m.group(1)))
        exits = re.search(r"ev=hv\.summary exits=(\d+)", r.hv_log)
    return {"vmcall_roundtrip_cycles_median": int(statistics.median(medians)), "runs": runs,
            "iterations_per_run": iterations, "per_run_medians": medians,
            "exits_last_run": int(exits.group(1)) if exits else None}


GUEST_IPS = 50_000_000  # bochs_run's ips: guest seconds = TSC / GUEST_IPS


def guest_timings(guest_log):
    """TSC at INIT-START, per-phase and whole-workload TSC deltas from the guest's T: lines."""
    init = re.search(r"^T: init-start .*tsc=(\d+)", guest_log, re.M)
    phases = {m.group(1): int(m.group(2))
              for m in re.finditer(r"^T: phase=(\w+) .*tsc_delta=(\d+)", guest_log, re.M)}
    total = re.search(r"^T: workload \w+ .*tsc_delta=(\d+)", guest_log, re.M)
    if not init or not total or "W: WORKLOAD-END result=PASS" not in guest_log:
        return None
    return {"init_tsc": int(init.group(1)), "workload_tsc": int(total.group(1)), "phases": phases}


def boot_linux(build, iso, name, expect):
    run_dir = os.path.join(build, "bench", name)
    os.makedirs(run_dir, exist_ok=True)
    for disk in ("ata.img", "usb.img"):
        subprocess.run(["cp", os.path.join(build, "guest", disk), run_dir], check=True)
    r = bochs_run.run_bochs(iso, run_dir, timeout=600, ata_disk=os.path.join(run_dir, "ata.img"),
                            usb_disk=os.path.join(run_dir, "usb.img"), e1000=True, es1370=True, expect=expect)
    t = guest_timings(r.guest_log)
    if t is None:
        raise SystemExit(f"bench linux: {name} run failed ({r.status}); logs in {r.run_dir}")
    return r, t


def bench_linux(build, runs):
    """Medians over `runs` pairs of boots: fork/exec scheduling varies between runs (and so do fills and exits)."""
    pairs = []
    for i in range(runs):
        hv_run, hv = boot_linux(build, os.path.join(build, "hv-linux.iso"), f"linux-hv-{i}", "guest powered off")
        _, bare = boot_linux(build, os.path.join(build, "linux-bare.iso"), f"linux-bare-{i}", "bochs-exit")
        pairs.append((hv_run, hv, bare))

    def spread(values):
        return {"median": int(statistics.median(values)), "min": min(values), "max": max(values)}

    def ratio(key):
        return spread([hv[key] / bare[key] for _, hv, bare in pairs]) | {
            "median": round(statistics.median(hv[key] / bare[key] for _, hv, bare in pairs), 3)}

    init_ratio, workload_ratio = ratio("init_tsc"), ratio("workload_tsc")
    for r in (init_ratio, workload_ratio):
        r["min"], r["max"] = round(r["min"], 3), round(r["max"], 3)
    median_run = sorted(pairs, key=lambda p: p[1]["workload_tsc"])[len(pairs) // 2]
    hv_run, hv, bare = median_run
    recs = hvlog.records(hv_run.hv_log, strict=False)
    fields = lambda ev: {k: v for k, v in hvlog.find(recs, ev)[0].items() if k not in ("ts", "lvl", "ev")}
    counts = {k: int(v) for k, v in fields("hv.exit_counts").items()}
    cycles = {k: int(v) for k, v in fields("hv.exit_counts_cycles").items()}
    guest_seconds = int(hvlog.find(recs, "hv.shutdown")[0]["ts"]) / GUEST_IPS
    exits = {reason: {"count": n, "per_guest_second": round(n / guest_seconds, 1),
                      "handler_cycles_per_exit": round(cycles.get(reason, 0) / n) if n else 0}
             for reason, n in sorted(counts.items(), key=lambda kv: -kv[1])}
    return {
        "runs": runs,
        "init_tsc": {"hv": spread([p[1]["init_tsc"] for p in pairs]), "bare": spread([p[2]["init_tsc"] for p in pairs]),
                     "ratio": init_ratio},
        "workload_tsc": {"hv": spread([p[1]["workload_tsc"] for p in pairs]),
                         "bare": spread([p[2]["workload_tsc"] for p in pairs]), "ratio": workload_ratio},
        "phase_ratios_median_run": {p: round(hv["phases"][p] / bare["phases"][p], 3)
                                    for p in bare["phases"] if p in hv["phases"]},
        "exits_median_run": exits,
        "mmu_median_run": fields("mmu.summary"),
    }


E1000_OPEN_PAGES = 16


def nic_transfers(build, nic, configurations, size=256 * 1024, rounds=4):
    """TFTP transfers through `nic` (e1000 or ne2k-pci) in each (name, isolation scenario, extra cmdline)
    configuration: guest TSC and VM exits of the transfers."""
    kernel = subprocess.run([os.path.join(ROOT, "guest", "build-linux.sh"), "--print-path"], capture_output=True,
                            text=True, check=True).stdout.strip().splitlines()[-1]
    initramfs = os.path.join(build, "guest", "initramfs-isolation.cpio.gz")
    tag = nic.replace("-pci", "")
    out = {}
    for name, scenario, extra in configurations:
        iso = os.path.join(build, "bench", f"{tag}-{name}.iso")
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "mkiso.py"), "--out", iso, "--hv",
                        os.path.join(build, "hv.elf"), "--cmdline",
                        f"log=com2 loglevel=error guest=linux -- console=ttyS0,115200 workload=e1000-bench "
                        f"bench_nic={nic} isolation={scenario} bench_rounds={rounds}{extra}",
                        "--module", os.path.join(kernel, "bzImage") + ":linux", "--module", initramfs + ":initrd"],
                       check=True)
        run_dir = os.path.join(build, "bench", f"{tag}-{name}")
        tftp = os.path.join(run_dir, "tftp" if nic == "e1000" else "tftp-ne2k")
        os.makedirs(tftp, exist_ok=True)
        data = bytes((i * 131 + 7) & 0xff for i in range(size))
        with open(os.path.join(tftp, "bench.bin"), "wb") as f:
            f.write(data)
        r = bochs_run.run_bochs(iso, run_dir, timeout=600, e1000=nic == "e1000", ne2k=nic == "ne2k-pci")
        m = re.search(r"^T: e1000-bench scenario=\w+ bytes=(\d+) tsc_delta=(\d+) rx_packets=(\d+)", r.guest_log,
                      re.M)
        if not m or "W: WORKLOAD-END result=PASS" not in r.guest_log:
            raise SystemExit(f"bench {tag}: {name} run failed ({r.status}); logs in {r.run_dir}")
        if f"md5={hashlib.md5(data).hexdigest()}" not in r.guest_log:
            raise SystemExit(f"bench {tag}: {name} fetched other bytes than were served; logs in {r.run_dir}")
        block = int(re.search(r"bench_block=(\d+)", extra).group(1)) if "bench_block=" in extra else 512
        data_packets = rounds * (size // block + 1)  # the last block is short (empty when size is a multiple)
        # Besides the data: each transfer's option acknowledgment, ARP and the like; a server that ignored the
        # block size would have sent 1468 / 512 times the packets.
        if not data_packets <= int(m.group(3)) <= data_packets * 1.1 + 8:
            raise SystemExit(f"bench {tag}: {name} received {m.group(3)} packets, not the {data_packets} data "
                             f"packets {block}-byte blocks take; logs in {r.run_dir}")
        recs = hvlog.records(r.hv_log, strict=False)
        exits = int(hvlog.find(recs, "hv.summary")[0]["exits"])
        out[name] = {"bytes": int(m.group(1)), "tsc": int(m.group(2)), "exits_whole_run": exits}
    return out


def per_byte(run):
    return round(run["tsc"] / run["bytes"], 1)


def extra_exits_per_kib(run, base):
    return round((run["exits_whole_run"] - base["exits_whole_run"]) / (run["bytes"] / 1024), 1)


# TFTP blocks that fill a 1500-byte Ethernet frame (1468 + UDP 8 + IP 20 + TFTP 4): the segment size of the TCP
# streams the papers measured, where 512-byte blocks send three times the packets per byte.
FULL_FRAME_BLOCK = 1468


def bench_e1000(build):
    """TFTP transfers through e1000: guest TSC and VM exits, without isolation, with the agent loaded but nothing
    isolated (its probes' cost alone), isolated, and isolated with an open-page cache (the agent's open=N: fewer
    trapped writes, less precise); then not isolated, isolated and isolated with the cache again with full-frame
    blocks (the last is the papers' own configuration: they kept pages open, and measured TCP streams)."""
    full, open_pages = f" bench_block={FULL_FRAME_BLOCK}", f" e1000_open={E1000_OPEN_PAGES}"
    out = nic_transfers(build, "e1000", (("none", "none", ""), ("agent", "agent", ""), ("enforce", "enforce", ""),
                                         ("open", "enforce", open_pages), ("none-full", "none", full),
                                         ("enforce-full", "enforce", full),
                                         ("open-full", "enforce", full + open_pages)))
    base, agent, iso_, open_ = out["none"], out["agent"], out["enforce"], out["open"]
    base_full, iso_full, open_full = out["none-full"], out["enforce-full"], out["open-full"]
    return {"not_isolated": base, "agent_only": agent, "isolated": iso_,
            "isolated_open_pages": dict(open_, pages=E1000_OPEN_PAGES),
            # The papers' configuration: their open-page cache, their segment size.
            "full_frames": {"block": FULL_FRAME_BLOCK, "not_isolated": base_full, "isolated": iso_full,
                            "isolated_open_pages": open_full,
                            "tsc_per_byte": {"not_isolated": per_byte(base_full), "isolated": per_byte(iso_full),
                                             "isolated_open_pages": per_byte(open_full)},
                            "throughput_ratio": round(base_full["tsc"] / iso_full["tsc"], 3),
                            "throughput_ratio_open_pages": round(base_full["tsc"] / open_full["tsc"], 3),
                            "extra_exits_per_kib": extra_exits_per_kib(iso_full, base_full)},
            "throughput_ratio": round(base["tsc"] / iso_["tsc"], 3),
            "throughput_ratio_agent_only": round(base["tsc"] / agent["tsc"], 3),
            "throughput_ratio_open_pages": round(base["tsc"] / open_["tsc"], 3),
            "tsc_per_byte": {"not_isolated": per_byte(base), "agent_only": per_byte(agent),
                             "isolated": per_byte(iso_), "isolated_open_pages": per_byte(open_)},
            "extra_exits_per_kib": extra_exits_per_kib(iso_, base),
            "extra_exits_per_kib_open_pages": extra_exits_per_kib(open_, base)}


def bench_ne2k(build):
    """TFTP transfers through ne2k-pci (port I/O: its receive copies are string INs), not isolated and isolated."""
    out = nic_transfers(build, "ne2k-pci", (("none", "none", ""), ("enforce", "enforce", "")))
    base, iso_ = out["none"], out["enforce"]
    return {"not_isolated": base, "isolated": iso_, "throughput_ratio": round(base["tsc"] / iso_["tsc"], 3),
            "tsc_per_byte": {"not_isolated": per_byte(base), "isolated": per_byte(iso_)},
            "extra_exits_per_kib": extra_exits_per_kib(iso_, base)}


ISOLATED_DRIVERS = ("e1000", "snd_ens1370", "ata_piix", "usb_storage", "sd_mod")
# What each domain serves in the workload, to express its trapped writes per operation.
DRIVER_OPS = {"e1000": ("ping", 10), "snd_ens1370": ("KiB played", 64), "ata_piix": ("KiB written+read", 512),
              "usb_storage": ("KiB written+read", 512), "sd_mod": ("KiB written+read", 1024)}


def bench_drivers(build):
    kernel = subprocess.run([os.path.join(ROOT, "guest", "build-linux.sh"), "--print-path"], capture_output=True,
                            text=True, check=True).stdout.strip().splitlines()[-1]
    initramfs = os.path.join(build, "guest", "initramfs-isolation.cpio.gz")
    runs = {}
    for scenario, workload in (("not_isolated", "workload=basic"),
                               ("isolated", "workload=drivers-isolated isolation=enforce isolate="
                                + ",".join(ISOLATED_DRIVERS))):
        iso = os.path.join(build, "bench", f"drivers-{scenario}.iso")
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "mkiso.py"), "--out", iso, "--hv",
                        os.path.join(build, "hv.elf"), "--cmdline",
                        f"log=com2 loglevel=info guest=linux -- console=ttyS0,115200 {workload}",
                        "--module", os.path.join(kernel, "bzImage") + ":linux", "--module", initramfs + ":initrd"],
                       check=True)
        r, t = boot_linux(build, iso, f"drivers-{scenario}", "guest powered off")
        sound = re.search(r"^T: sound playback tsc=(\d+)", r.guest_log, re.M)
        t["phases"]["sound_playback"] = int(sound.group(1))
        recs = hvlog.records(r.hv_log, strict=False)
        t["exits"] = int(hvlog.find(recs, "hv.summary")[0]["exits"])
        t["domains"] = {x["module"]: {k: int(x[k]) for k in ("entries", "allowed", "violations")}
                        for x in hvlog.find(recs, "isolation.summary")}
        runs[scenario] = t
    base, iso_ = runs["not_isolated"], runs["isolated"]
    phases = ("network", "disks", "sound_playback")
    return {
        "phase_tsc": {p: {"not_isolated": base["phases"][p], "isolated": iso_["phases"][p],
                          "throughput_ratio": round(base["phases"][p] / iso_["phases"][p], 3)} for p in phases},
        "workload_tsc": {"not_isolated": base["workload_tsc"], "isolated": iso_["workload_tsc"]},
        "exits_whole_run": {"not_isolated": base["exits"], "isolated": iso_["exits"]},
        "domains": {m: d | {"per_op": DRIVER_OPS[m][0],
                            "entries_per_op": round(d["entries"] / DRIVER_OPS[m][1], 1),
                            "trapped_writes_per_op": round((d["allowed"] + d["violations"]) / DRIVER_OPS[m][1], 1)}
                    for m, d in iso_["domains"].items()},
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--iterations", type=int, default=5000)
    p.add_argument("--only", choices=["vmcall", "linux", "e1000", "ne2k", "drivers"], help="run one benchmark")
    args = p.parse_args()
    os.makedirs(os.path.join(args.build, "bench"), exist_ok=True)
    results = {}
    if args.only in (None, "vmcall"):
        results["vmcall"] = v = bench_vmcall(args.build, args.runs, args.iterations)
        print(f"vmcall round trip: median {v['vmcall_roundtrip_cycles_median']} guest TSC cycles "
              f"(medians of {v['runs']} runs x {v['iterations_per_run']} calls: {v['per_run_medians']})")
    if args.only in (None, "linux"):
        results["linux"] = l = bench_linux(args.build, args.runs)
        for key, what in (("init_tsc", "boot to /init"), ("workload_tsc", "basic workload")):
            print(f"linux {what}: median {l[key]['hv']['median']} guest TSC under the hypervisor, "
                  f"{l[key]['bare']['median']} bare; ratio median {l[key]['ratio']['median']} "
                  f"(min {l[key]['ratio']['min']}, max {l[key]['ratio']['max']}, {l['runs']} runs)")
        print(f"per phase (median run): {l['phase_ratios_median_run']}")
        print("exits by reason in the median run (count, per guest second, hypervisor cycles per exit):")
        for reason, e in l["exits_median_run"].items():
            print(f"  {reason:16} {e['count']:>9} {e['per_guest_second']:>10} {e['handler_cycles_per_exit']:>7}")
    if args.only in (None, "e1000"):
        results["e1000"] = e = bench_e1000(args.build)
        print(f"e1000 TFTP: {e['tsc_per_byte']['not_isolated']} guest TSC/byte not isolated, "
              f"{e['tsc_per_byte']['agent_only']} with the agent loaded (nothing isolated: ratio "
              f"{e['throughput_ratio_agent_only']}), {e['tsc_per_byte']['isolated']} isolated (enforce): throughput ratio {e['throughput_ratio']}, "
              f"{e['extra_exits_per_kib']} extra VM exits per KiB; with open={E1000_OPEN_PAGES}: "
              f"{e['tsc_per_byte']['isolated_open_pages']} TSC/byte, ratio {e['throughput_ratio_open_pages']}, "
              f"{e['extra_exits_per_kib_open_pages']} extra VM exits per KiB")
        f = e["full_frames"]
        print(f"e1000 TFTP with {f['block']}-byte blocks (full frames): {f['tsc_per_byte']['not_isolated']} guest "
              f"TSC/byte not isolated, {f['tsc_per_byte']['isolated']} isolated: throughput ratio "
              f"{f['throughput_ratio']}, {f['extra_exits_per_kib']} extra VM exits per KiB; with "
              f"open={E1000_OPEN_PAGES}: {f['tsc_per_byte']['isolated_open_pages']} TSC/byte, ratio "
              f"{f['throughput_ratio_open_pages']}")
    if args.only in (None, "ne2k"):
        results["ne2k"] = n = bench_ne2k(args.build)
        print(f"ne2k-pci TFTP: {n['tsc_per_byte']['not_isolated']} guest TSC/byte not isolated, "
              f"{n['tsc_per_byte']['isolated']} isolated (enforce): throughput ratio {n['throughput_ratio']}, "
              f"{n['extra_exits_per_kib']} extra VM exits per KiB")
    if args.only in (None, "drivers"):
        results["drivers"] = d = bench_drivers(args.build)
        for phase, v in d["phase_tsc"].items():
            print(f"drivers {phase}: {v['not_isolated']} guest TSC not isolated, {v['isolated']} isolated (enforce): "
                  f"throughput ratio {v['throughput_ratio']}")
        print(f"drivers VM exits (whole run): {d['exits_whole_run']}")
        for m, v in d["domains"].items():
            print(f"  {m:12} entries {v['entries']:>7} ({v['entries_per_op']}/{v['per_op']}), trapped writes "
                  f"{v['allowed'] + v['violations']:>7} ({v['trapped_writes_per_op']}/{v['per_op']}), "
                  f"denied {v['violations']}")
    with open(os.path.join(args.build, "bench", "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
