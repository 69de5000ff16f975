#!/usr/bin/env python3
"""Benchmarks measured inside the guest, in guest TSC cycles (Bochs: one tick per emulated instruction), so the
host's load cannot skew them. Results are printed and written to <build>/bench/results.json.

Benchmarks:
  vmcall   round trip of one hypercall (VM exit, dispatch, VM entry) measured by the test guest: median of N.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bochs_run  # noqa: E402

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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--iterations", type=int, default=5000)
    args = p.parse_args()
    os.makedirs(os.path.join(args.build, "bench"), exist_ok=True)
    results = {"vmcall": bench_vmcall(args.build, args.runs, args.iterations)}
    v = results["vmcall"]
    print(f"vmcall round trip: median {v['vmcall_roundtrip_cycles_median']} guest TSC cycles "
          f"(medians of {v['runs']} runs x {v['iterations_per_run']} calls: {v['per_run_medians']})")
    with open(os.path.join(args.build, "bench", "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
