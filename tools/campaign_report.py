#!/usr/bin/env python3
"""The report of a fault-injection campaign, computed from its JSON lines alone (tools/campaign.py writes them).

  campaign_report.py results.jsonl [more.jsonl ...] --md report.md --png report.png --json summary.json

Markdown: the outcomes per driver like the Chariot papers' Figure 10 (each fault's class from its plain run:
crash, non-fatal or silent; what isolation made of the same fault: isolated, captured, missed, no effect) with the
isolation rate per class and driver, the false positives (writes denied in no-fault baseline runs), the
hypervisor's own failures, the performance of each driver's workload plain against isolated like their Table 3,
and the time an injection takes. PNG: the Figure 10 chart. JSON: the same numbers, for tests and other tools.
"""
import argparse
import json
import os
import statistics
import sys

from campaign_logs import ISOLATED_OUTCOMES, PLAIN_OUTCOMES, POWERED_OFF

GUEST_HZ = 50_000_000  # Bochs' ips (tools/bochs_run.py): guest TSC cycles per guest second
PAPER = {"crash": (318, 266, 83.64), "non_fatal": (687, 519, 75.54), "silent": (195, 151, 77.43)}
# The papers' Table 3 (KVM, Core2 E8400): benchmark, throughput (MB/s; playback: seconds) and CPU use (%), plain
# then isolated, for the driver here that is the same or nearest (ne2k-pci: rtl8139, the other PCI NIC they tested).
PAPER_TABLE3 = {
    "e1000": [("e1000 TCP send", 93.94, 82.96, 28.10, 46.78), ("e1000 TCP receive", 92.90, 91.06, 49.45, 73.84)],
    "ne2k-pci": [("rtl8139 TCP send", 93.95, 78.92, 50.19, 58.05), ("rtl8139 TCP receive", 94.09, 93.44, 46.01, 48.45)],
    "usb-storage": [("usb-storage untar", 0.93, 0.88, 14.26, 37.69)],
    "sd_mod": [("sd_mod untar", 2.20, 2.15, 40.00, 45.00)],
    "snd-ens1370": [("ens1370 mplayer (time)", 79.47, 79.49, 0.09, 0.17)],
}
CLASS_NAMES = {"crash": "crash", "non_fatal": "non-fatal", "silent": "silent"}
# A fault's plain run, traced by the injector (facts "executed"): it ran, it never ran, or not known (not traced:
# campaigns before the tracing, or a site kprobes refused).
RAN = {True: "ran", False: "never_ran", None: "unknown"}


def load(paths):
    lines = []
    for path in paths:
        with open(path) as f:
            lines += [json.loads(line) for line in f if line.strip()]
    return lines


def pct(part, whole):
    return round(100.0 * part / whole, 2) if whole else None


def isolation_rates(classes):
    """Per plain class: isolated / faults of the class, from its cell of isolated outcomes."""
    return {c: pct(cell["isolated"], sum(cell.values())) for c, cell in classes.items()}


def fmt_pct(value):
    return "-" if value is None else f"{value:.2f}%"


def median(values):
    return statistics.median(values) if values else None


def hv_failures(line):
    """The hypervisor's own failures in this entry's part of the log: error/fatal records, and a shutdown other
    than the guest's power-off."""
    hv = line["facts"]["hv"]
    out = [r.get("ev", "?") for r in hv["error_sample"]]
    out += ["(more error records)"] * max(0, hv["errors"] - len(hv["error_sample"]))
    if hv["shutdown"] not in (None, POWERED_OFF):
        out.append(f"hv.shutdown reason={hv['shutdown']}")
    return out


def measured(line):
    """An entry whose first workload run measures the driver: it passed, and nothing was denied (nor recovered)
    while it ran; what happened when the stack unloaded afterwards does not matter here."""
    f = line["facts"]
    return bool(f["runs"]) and f["runs"][0]["verdict"] == "PASS" and f["hv"]["denied"] == f["hv"]["denied_at_unload"]


def unchanged_code(lines):
    """The entries that ran the driver's own code: baselines, checks, and faults that (traced in their plain run)
    never ran, in both environments (the same fault and workload)."""
    never_ran = {(l["driver"], l["seed"]) for l in lines if l["kind"] == "fault" and l["env"] == "plain"
                 and l["outcome"] == "silent" and l["facts"].get("executed") is False}
    return [l for l in lines if l["kind"] in ("baseline", "check") or (l["driver"], l["seed"]) in never_ran]


def failure_reports(line):
    """The driver failures the agent counted in the entry (those the kernel declared: a failed or empty probe or
    scan, a failed open, a stalled PCM stream; older agents did not report them)."""
    value = (line["facts"]["agent"] or {}).get("failures", "0")
    return int(value) if value.isdigit() else 0


def summarize(lines):
    faults = {}
    duplicates = 0
    for line in lines:
        if line["kind"] == "fault":
            key = (line["driver"], line["seed"], line["env"])
            duplicates += key in faults
            faults[key] = line
    drivers = sorted({line["driver"] for line in lines})
    s = {"lines": len(lines), "duplicates": duplicates, "drivers": drivers, "outcomes": {}, "pairs": {},
         "unpaired": 0, "not_injected": {}, "false_positives": {}, "baselines": {}, "checks": {}, "performance": {},
         "hv_failures": [], "timing": {}, "execution": {c: {r: 0 for r in RAN.values()} for c in PLAIN_OUTCOMES},
         "totals_ran": {c: {o: 0 for o in ISOLATED_OUTCOMES} for c in PLAIN_OUTCOMES},
         "never_ran_failed_isolated": []}

    for (driver, seed, env), line in sorted(faults.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        s["outcomes"].setdefault(driver, {}).setdefault(env, {}).setdefault(line["outcome"], 0)
        s["outcomes"][driver][env][line["outcome"]] += 1
        if env != "plain":
            continue
        iso = faults.get((driver, seed, "isolated"))
        if iso is None:
            s["unpaired"] += 1
            continue
        if "not_injected" in (line["outcome"], iso["outcome"]):
            s["not_injected"][driver] = s["not_injected"].get(driver, 0) + 1
            continue
        cell = s["pairs"].setdefault(driver, {}).setdefault(line["outcome"], {o: 0 for o in ISOLATED_OUTCOMES})
        cell[iso["outcome"]] += 1
        ran = RAN[line["facts"].get("executed")]
        s["execution"][line["outcome"]][ran] += 1
        if ran == "ran":
            s["totals_ran"][line["outcome"]][iso["outcome"]] += 1
        elif ran == "never_ran" and iso["outcome"] in ("missed", "captured"):
            s["never_ran_failed_isolated"].append(f"{driver} {seed}")
    s["unpaired"] += sum(1 for (d, seed, env) in faults if env == "isolated" and (d, seed, "plain") not in faults)
    # detections that rest on writes denied while the stack unloaded, nothing before: where a driver's exit path
    # has false positives (see the baselines), such a fault counts as detected whatever it did
    s["detected_at_unload_only"] = sum(
        1 for (d, seed, env), line in faults.items() if env == "isolated" and line["outcome"] == "captured"
        and 0 < line["facts"]["hv"]["denied"] == line["facts"]["hv"]["denied_at_unload"]
        and (line["facts"]["agent"] or {}).get("state") == "running")
    # detections by a driver failure the kernel reported (a failed or empty probe or scan, a failed open, a stalled
    # PCM stream), no write denied, no call aborted
    s["detected_by_failure_only"] = sum(
        1 for (d, seed, env), line in faults.items()
        if env == "isolated" and line["outcome"] in ("isolated", "captured") and failure_reports(line) > 0
        and line["facts"]["hv"]["denied"] == 0 and line["facts"]["hv"].get("aborted", 0) == 0)

    totals = {c: {o: 0 for o in ISOLATED_OUTCOMES} for c in PLAIN_OUTCOMES}
    for driver, classes in s["pairs"].items():
        for c, cell in classes.items():
            for o, n in cell.items():
                totals[c][o] += n
    s["totals"] = totals
    s["rates"] = {driver: isolation_rates(classes) for driver, classes in s["pairs"].items()}
    s["total_rates"] = isolation_rates(totals)
    s["ran_rates"] = isolation_rates(s["totals_ran"])

    for line in lines:
        driver, env = line["driver"], line["env"]
        if line["kind"] == "check":
            c = s["checks"].setdefault(env, {"pass": 0, "fail": 0, "crash": 0})
            c[line["outcome"]] += 1
        if line["kind"] == "baseline":
            b = s["baselines"].setdefault(driver, {}).setdefault(env, {"runs": 0, "pass": 0, "fail": 0, "crash": 0})
            b["runs"] += 1
            b[line["outcome"]] += 1
            if env == "isolated":
                fp = s["false_positives"].setdefault(driver, {"baselines": 0, "with_denied": 0, "denied": 0,
                                                              "at_unload": 0, "aborted": 0, "failures": 0})
                fp["baselines"] += 1
                fp["failures"] += failure_reports(line)
                fp["denied"] += line["facts"]["hv"]["denied"]
                fp["aborted"] += line["facts"]["hv"].get("aborted", 0)
                fp["at_unload"] += line["facts"]["hv"]["denied_at_unload"]
                fp["with_denied"] += line["facts"]["hv"]["denied"] > 0
        failures = hv_failures(line)
        if failures:
            s["hv_failures"].append({"driver": driver, "env": env, "kind": line["kind"], "seed": line["seed"],
                                     "dir": line["run"]["dir"], "entry": line["run"]["entry"], "what": failures})

    clean = unchanged_code(lines)
    for driver in drivers:
        perf = {}
        for env in ("plain", "isolated"):
            runs = [line["facts"]["runs"][0] for line in clean if line["driver"] == driver and line["env"] == env
                    and measured(line)]
            speeds = [r["bytes"] / 1024 / (r["tsc"] / GUEST_HZ) for r in runs if r["bytes"] and r["tsc"]]
            perf[env] = {
                "runs": len(runs),
                "throughput_kib_s": round(median(speeds), 1) if speeds else None,
                "throughput_range_kib_s": [round(min(speeds), 1), round(max(speeds), 1)] if speeds else None,
                "workload_cycles": median([r["cycles"] for r in runs]),
            }
        p, i = perf["plain"], perf["isolated"]
        perf["throughput_ratio"] = round(i["throughput_kib_s"] / p["throughput_kib_s"], 3) \
            if p["throughput_kib_s"] and i["throughput_kib_s"] else None
        perf["cycles_ratio"] = round(i["workload_cycles"] / p["workload_cycles"], 3) \
            if p["workload_cycles"] and i["workload_cycles"] else None
        s["performance"][driver] = perf

    for env in ("plain", "isolated"):
        mine = [line for line in lines if line["env"] == env and line["kind"] == "fault"]
        boots = {line["run"]["dir"]: line["run"]["boot_wall_s"] for line in lines if line["env"] == env}
        entry_tsc = [line["facts"]["entry_tsc"] for line in mine if line["facts"]["entry_tsc"]]
        walls = [line["run"]["wall_s"] for line in mine if line["run"]["wall_s"] is not None]
        s["timing"][env] = {
            "faults": len(mine), "boots": len(boots),
            "median_entry_guest_s": round(median(entry_tsc) / GUEST_HZ, 2) if entry_tsc else None,
            "median_entry_wall_s": round(median(walls), 2) if walls else None,
            "wall_s_per_fault": round(sum(boots.values()) / len(mine), 1) if mine else None,
            "boot_wall_s_total": round(sum(boots.values()), 1),
        }
    return s


def markdown(s, sources):
    out = ["# Fault-injection campaign", "",
           f"From {s['lines']} result lines ({', '.join(os.path.basename(p) for p in sources)}); drivers: "
           f"{', '.join(s['drivers']) or 'none'}.", ""]
    if s["duplicates"]:
        out += [f"{s['duplicates']} (driver, seed, env) appear more than once: the last line counts.", ""]

    out += ["## Outcomes (like the papers' Figure 10)", "",
            "Each fault's class comes from its plain run (the hypervisor, isolation off): **crash** (panic, oops, "
            "BUG, a hang the watchdog caught, a reboot), **non-fatal** (the workload failed or hung, or the driver "
            "did not load or unload) or **silent** (no visible effect). The same fault isolated (the faulted module "
            "isolated from load, enforce, recovery with one reload) is **isolated** (detected, unloaded, reloaded, "
            "and the workload passes again), **captured** (detected, not recovered), **missed** (not detected, "
            "and the workload failed or the guest crashed) or **no effect** (not detected, nothing visible). "
            "Rate: isolated / faults of the class.", "",
            "| driver | class | faults | isolated | captured | missed | no effect | isolation rate |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for driver in sorted(s["pairs"]):
        for c in PLAIN_OUTCOMES:
            cell = s["pairs"][driver].get(c)
            if cell:
                out.append(f"| {driver} | {CLASS_NAMES[c]} | {sum(cell.values())} | " +
                           " | ".join(str(cell[o]) for o in ISOLATED_OUTCOMES) +
                           f" | {fmt_pct(s['rates'][driver][c])} |")
    for c in PLAIN_OUTCOMES:
        cell = s["totals"][c]
        out.append(f"| **all** | {CLASS_NAMES[c]} | {sum(cell.values())} | " +
                   " | ".join(str(cell[o]) for o in ISOLATED_OUTCOMES) + f" | {fmt_pct(s['total_rates'][c])} |")
    out += ["", "Isolation rate per class (all drivers) against the papers' (6 drivers x 200 faults, KVM):", "",
            "| class | here | papers |", "|---|---:|---:|"]
    for c in PLAIN_OUTCOMES:
        n, isolated, rate = PAPER[c]
        out.append(f"| {CLASS_NAMES[c]} | {fmt_pct(s['total_rates'][c])} | {rate:.2f}% ({isolated}/{n}) |")
    out += ["", f"Pairs left out: {sum(s['not_injected'].values())} whose fault was not applied in one of the two "
            f"runs (the injector's state was not `applied`), {s['unpaired']} with one environment only. Isolated "
            f"runs detected only by writes denied while the stack unloaded: {s['detected_at_unload_only']}; only by a "
            f"driver failure the kernel reported (a probe that failed or left its device without an interface, a "
            f"SCSI scan that found none of its disks, an interface that failed to open, a PCM stream that stalled; no "
            f"write denied, no call aborted): "
            f"{s['detected_by_failure_only']}.", "",
            "Outcomes per environment (every fault line):", "", "| driver | env | outcomes |", "|---|---|---|"]
    for driver in sorted(s["outcomes"]):
        for env in sorted(s["outcomes"][driver]):
            counts = s["outcomes"][driver][env]
            out.append(f"| {driver} | {env} | " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + " |")

    out += ["", "### Did the fault run?", "",
            "In its plain run each fault is traced (the injector's kprobe on the faulted instruction logs its first "
            "execution; not in isolated runs, where the probe would run the driver's instruction as kernel code). "
            "A fault that never ran changed nothing, and isolation has nothing to find: the papers count such "
            "faults as silent, and so does the table above. Here the same pairs by whether the fault ran, with the "
            "isolation rate over the faults that ran (unknown: not traced, as in campaigns before the tracing, or "
            "a site kprobes refused).", "",
            "| class | faults | ran | never ran | unknown | ran: isolated | captured | missed | no effect "
            "| isolation rate of those that ran |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in PLAIN_OUTCOMES:
        e, cell = s["execution"][c], s["totals_ran"][c]
        out.append(f"| {CLASS_NAMES[c]} | {sum(e.values())} | {e['ran']} | {e['never_ran']} | {e['unknown']} | " +
                   " | ".join(str(cell[o]) for o in ISOLATED_OUTCOMES) + f" | {fmt_pct(s['ran_rates'][c])} |")
    failed = s["never_ran_failed_isolated"]
    out += ["", f"Faults that never ran in their plain run whose isolated run failed or was detected anyway (the "
            f"isolated environment's own failures, or code that ran only there): {len(failed)}"
            + (f" ({', '.join(failed)})." if failed else ".")]

    out += ["", "After a fault whose workload failed, the same boot runs the workload again without a fault (a check) "
            "before going on; a check that does not pass ends the boot (the fault damaged more than its driver):", "",
            "| env | checks | pass | fail | crash |", "|---|---:|---:|---:|---:|"]
    for env, c in sorted(s["checks"].items()):
        out.append(f"| {env} | {sum(c.values())} | {c['pass']} | {c['fail']} | {c['crash']} |")

    out += ["", "## False positives", "",
            "Writes the hypervisor denied, driver calls it aborted (a fault or a hang) and driver failures the agent "
            "counted (failures the kernel declared: a failed or empty probe or scan, a failed open, a stalled PCM "
            "stream) in no-fault baseline runs (one at the start of every boot, isolated), "
            "and how the baselines ended. A driver with false positives is recovered or crashes without any fault, so "
            "its isolated outcomes above say little about the faults.", "",
            "| driver | isolated baselines | with denied writes | denied writes | of which unloading | aborted calls "
            "| failure reports | baselines plain (pass/fail/crash) | isolated (pass/fail/crash) |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for driver in s["drivers"]:
        fp = s["false_positives"].get(driver, {"baselines": 0, "with_denied": 0, "denied": 0, "at_unload": 0,
                                               "aborted": 0, "failures": 0})
        b = s["baselines"].get(driver, {})
        triple = lambda env: "/".join(str(b.get(env, {}).get(k, 0)) for k in ("pass", "fail", "crash"))
        out.append(f"| {driver} | {fp['baselines']} | {fp['with_denied']} | {fp['denied']} | {fp['at_unload']} | "
                   f"{fp['aborted']} | {fp['failures']} | {triple('plain')} | {triple('isolated')} |")
    total_fp = sum(fp["denied"] + fp["aborted"] + fp["failures"] for fp in s["false_positives"].values())
    out += ["", "False-positive count (denied writes, aborted calls and failure reports with no fault injected): "
            f"**{total_fp}**.", ""]

    out += ["## The hypervisor's own failures", "",
            "Any hypervisor log record at lvl=error or fatal, or a hypervisor shutdown other than the guest's "
            f"power-off, in any run: **{len(s['hv_failures'])}**.", ""]
    if s["hv_failures"]:
        out += ["| driver | env | entry | seed | run | what |", "|---|---|---|---:|---|---|"]
        for f in s["hv_failures"]:
            out.append(f"| {f['driver']} | {f['env']} | {f['kind']} | {f['seed']} | {f['dir']} #{f['entry']} | "
                       f"{'; '.join(f['what'])} |")
        out.append("")

    out += ["## Performance (like the papers' Table 3)", "",
            "Medians over the entries that ran the driver's unchanged code (no-fault baselines and checks, and "
            "faults whose plain run's trace showed they never ran) whose workload passed with no write denied "
            "while it ran (a denial while unloading afterwards does not count), in guest time (Bochs: 50 M TSC cycles a guest second). "
            "Throughput: the workload's transfer (net: a 256 KiB TFTP fetch; disk: 256 KiB written and read back; "
            "sound: 64 KiB played by /bin/playback, paced by the card). Cycles: the whole workload (net: link up, "
            "ping, fetch). Throughput is shown with its range (slowest-fastest entry): a transfer that runs at one "
            "of two speeds from entry to entry, in both environments, makes the ratio of the medians compare "
            "whichever speed each median fell in (ne2k-pci's TFTP fetch, docs/campaign.md): compare such runs speed "
            "against speed.", "",
            "| driver | runs plain/isolated | throughput plain KiB/s | isolated KiB/s | ratio | cycles plain "
            "| cycles isolated | ratio |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    show = lambda v: "-" if v is None else f"{v:g}"
    with_range = lambda env: "-" if env["throughput_kib_s"] is None else \
        f"{env['throughput_kib_s']:g} ({env['throughput_range_kib_s'][0]:g}-{env['throughput_range_kib_s'][1]:g})"
    mega = lambda v: "-" if v is None else f"{v / 1e6:.1f} M"
    for driver in s["drivers"]:
        p = s["performance"][driver]
        out.append(f"| {driver} | {p['plain']['runs']}/{p['isolated']['runs']} | "
                   f"{with_range(p['plain'])} | {with_range(p['isolated'])} | "
                   f"{show(p['throughput_ratio'])} | {mega(p['plain']['workload_cycles'])} | "
                   f"{mega(p['isolated']['workload_cycles'])} | {show(p['cycles_ratio'])} |")

    out += ["", "Under Bochs a device costs no guest time, so the network and ATA transfers here are bound by the "
            "guest's CPU: their throughput ratio is the inverse of their CPU cost per byte (sound is paced by the "
            "card, usb-storage by the 1 ms UHCI frames). On the papers' hardware the link or the disk bounded "
            "throughput while CPU use rose, so their throughput ratios hide most of the cost: their CPU per unit of "
            "work (CPU use / throughput; playback: CPU use, its time being fixed), isolated against plain, is the "
            "figure to compare with the guest time per byte of the CPU-bound transfers here.", "",
            "| driver | here: throughput ratio | here: guest time per byte, isolated/plain | papers' benchmark | "
            "papers: throughput ratio | papers: CPU per unit of work, isolated/plain |", "|---|---:|---:|---|---:|---:|"]
    for driver in s["drivers"]:
        ratio = s["performance"][driver]["throughput_ratio"]
        cost = round(1 / ratio, 2) if ratio else None
        for name, p_plain, p_iso, cpu_plain, cpu_iso in PAPER_TABLE3.get(driver, [("-", None, None, None, None)]):
            if p_plain is None:
                papers = "- | -"
            elif "time" in name:
                papers = f"{p_plain / p_iso:.3f} | {cpu_iso / cpu_plain:.2f}"
            else:
                papers = f"{p_iso / p_plain:.3f} | {(cpu_iso / p_iso) / (cpu_plain / p_plain):.2f}"
            out.append(f"| {driver} | {show(ratio)} | {show(cost)} | {name} | {papers} |")

    out += ["", "## Time per injection", "",
            "Guest: from an entry's start to its end (arm, load, workload, recovery, unload). Wall: the host seconds "
            "from an entry's start to the next one's; per fault: all boots' wall time (boots included) / faults.",
            "", "| env | faults | boots | median guest s | median wall s | wall s per fault (boots included) |",
            "|---|---:|---:|---:|---:|---:|"]
    for env, t in sorted(s["timing"].items()):
        out.append(f"| {env} | {t['faults']} | {t['boots']} | {show(t['median_entry_guest_s'])} | "
                   f"{show(t['median_entry_wall_s'])} | {show(t['wall_s_per_fault'])} |")
    return "\n".join(out) + "\n"


def chart(s, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"isolated": "#2a9d8f", "captured": "#e9c46a", "missed": "#e76f51", "no_effect": "#bbbbbb"}
    groups = sorted(s["pairs"]) + ["all"]
    fig, ax = plt.subplots(figsize=(max(6, 1.9 * len(groups)), 4.2))
    width = 0.26
    for gi, driver in enumerate(groups):
        classes = s["totals"] if driver == "all" else s["pairs"][driver]
        for ci, c in enumerate(PLAIN_OUTCOMES):
            cell = classes.get(c)
            x = gi + (ci - 1) * width
            total = sum(cell.values()) if cell else 0
            bottom = 0.0
            for o in ISOLATED_OUTCOMES:
                share = 100.0 * cell[o] / total if total else 0.0
                ax.bar(x, share, width * 0.92, bottom=bottom, color=colors[o],
                       label=o.replace("_", " ") if gi == 0 and ci == 0 else None)
                bottom += share
            ax.text(x, 101, f"{CLASS_NAMES[c][0].upper()}\n{total}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylim(0, 118)
    ax.set_ylabel("% of the faults of the class")
    ax.set_title("Isolated outcome by plain class (C crash, N non-fatal, S silent; count above)", fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="+", help="JSON lines from tools/campaign.py")
    p.add_argument("--md", help="write the markdown report here (default: stdout)")
    p.add_argument("--png", help="write the chart here")
    p.add_argument("--json", help="write the numbers here")
    args = p.parse_args()
    s = summarize(load(args.results))
    text = markdown(s, args.results)
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if args.png:
        chart(s, args.png)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(s, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
