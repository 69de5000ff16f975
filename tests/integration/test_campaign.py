"""Fault-injection campaign (issue 5): a small campaign end to end, a few seeds per driver in both environments,
then its report. Every result line must come from a real run (its run directory's serial logs, whose digests it
carries, show the entry, the plan holds the fault faultgen gives for that seed, the injector applied it, and
parsing the logs again gives the line's facts and outcome), and the report must be computed from those lines."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT, hvlog

sys.path.insert(0, os.path.join(ROOT, "tools"))
import campaign  # noqa: E402
import campaign_logs  # noqa: E402
import campaign_report  # noqa: E402

DIR = os.path.join(BUILD, "test-runs", "campaign")
RESULTS = os.path.join(DIR, "results.jsonl")
SEEDS = (1, 2)
DRIVERS = tuple(campaign.DRIVERS)
TOOL = [sys.executable, os.path.join(ROOT, "tools", "campaign.py")]


def report(*extra):
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "campaign_report.py"), RESULTS, *extra], check=True)


@pytest.fixture(scope="module")
def lines():
    for path in (os.path.join(BUILD, "hv.elf"), os.path.join(BUILD, "guest", "initramfs-isolation.cpio.gz")):
        assert os.path.isfile(path), f"{path} missing: run the tests through `make test`"
    shutil.rmtree(DIR, ignore_errors=True)
    subprocess.run(TOOL + ["--drivers", ",".join(DRIVERS), "--seeds", f"{SEEDS[0]}-{SEEDS[-1]}", "--out", RESULTS,
                           "--jobs", "2"], check=True, timeout=7200)
    report("--md", os.path.join(DIR, "report.md"), "--png", os.path.join(DIR, "report.png"), "--json",
           os.path.join(DIR, "summary.json"))
    with open(RESULTS) as f:
        return [json.loads(line) for line in f]


def tokens_of(text):
    return dict(re.findall(r"(\w+)=(\S*)", text or ""))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_every_fault_ran_once_in_each_environment(lines):
    faults = sorted((l["driver"], l["seed"], l["env"]) for l in lines if l["kind"] == "fault")
    assert faults == sorted((d, s, e) for d in DRIVERS for s in SEEDS for e in campaign.ENVS)


def test_every_line_comes_from_its_run(lines):
    kdir = campaign.kernel_dir()
    for line in lines:
        run = line["run"]
        run_dir = os.path.join(DIR, run["dir"])
        com1, com2 = os.path.join(run_dir, "com1.log"), os.path.join(run_dir, "com2.log")
        assert sha256(com1) == run["com1_sha256"] and sha256(com2) == run["com2_sha256"], run["dir"]
        with open(com1, errors="replace") as f:
            console = f.read()
        with open(com2, errors="replace") as f:
            hv = f.read()
        with open(os.path.join(run_dir, "boot.json")) as f:
            boot = json.load(f)
        assert (boot["status"], boot["shutdown_reason"]) == (run["status"], run["shutdown_reason"])
        n = run["entry"]
        assert re.search(rf"^C: start n={n} kind={line['kind']} ", console, re.M), (run["dir"], n)
        with open(os.path.join(run_dir, "plan")) as f:
            plan = f.read()
        assert f"driver {line['driver']}\nenv {line['env']}\n" in plan
        if line["kind"] == "fault":
            fault = line["fault"]
            assert f"\nfault {n} {line['seed']} {fault['symbol']} {fault['offset']} {fault['orig']} {fault['new']} " \
                   in plan
            # the fault is the one the fault generator gives for this module and seed
            ko = campaign.module_path(kdir, line["driver"])
            cli = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "faultgen.py"), ko, "--seed",
                                  str(line["seed"])], capture_output=True, text=True, check=True).stdout
            assert json.loads(cli) == fault
            if line["outcome"] != "not_injected":
                assert f"chariot_inject: applied module={line['module']} symbol={fault['symbol']} " \
                       f"offset={fault['offset']} " in console
            # plain runs trace the fault (whether it ran), isolated ones must not (the probe runs it as kernel code)
            traced = re.search(rf"chariot_inject: (un)?traced module={line['module']} symbol={fault['symbol']} "
                               rf"offset={fault['offset']} ", console)
            if line["outcome"] != "not_injected":
                assert bool(traced) == (line["env"] == "plain"), (run["dir"], n)
            # the injector's count after the workload agrees with its first-execution message
            count = tokens_of(line["facts"]["inject_line"]).get("executed")
            if line["env"] == "plain" and count not in (None, "-"):
                assert (int(count) > 0) is line["facts"]["executed"], (run["dir"], n)
        # the facts and the outcome are what the logs say
        facts = campaign_logs.parse_boot(console, hv, line["module"], run["status"], run["shutdown_reason"])
        assert facts[n] == line["facts"], (run["dir"], n)
        assert campaign_logs.classify(line["kind"], line["env"], facts[n]) == line["outcome"]


def test_isolated_runs_isolate_the_faulted_module(lines):
    for line in lines:
        run_dir = os.path.join(DIR, line["run"]["dir"])
        with open(os.path.join(run_dir, "com2.log"), errors="replace") as f:
            created = hvlog.find(hvlog.records(f.read(), strict=False), "isolation.domain_created")
        modules = {r["module"] for r in created}
        if line["env"] == "plain":
            assert not modules, line["run"]["dir"]
        else:
            assert modules <= {line["module"]}, (line["run"]["dir"], modules)
            if line["facts"]["load"] == "ok":
                assert line["facts"]["hv"]["domains"] or line["facts"]["crash"], line["run"]["dir"]


def run_fault(driver, seed, out_dir, envs=("isolated",)):
    """One fault of the campaign in each of `envs`, each in a boot of its own: {env: (result line, guest console)}."""
    shutil.rmtree(out_dir, ignore_errors=True)
    results = os.path.join(out_dir, "results.jsonl")
    subprocess.run(TOOL + ["--drivers", driver, "--seeds", str(seed), "--env", ",".join(envs), "--out", results,
                           "--jobs", "1"], check=True, timeout=1800)
    runs = {}
    with open(results) as f:
        for line in (rec for rec in map(json.loads, f) if rec["kind"] == "fault"):
            with open(os.path.join(out_dir, line["run"]["dir"], "com1.log"), errors="replace") as log:
                runs[line["env"]] = (line, log.read())
    assert sorted(runs) == sorted(envs), runs.keys()
    return runs


@pytest.fixture(scope="module")
def aborted_probe():
    """usb-storage's fault 37, isolated: a store through the wrong register in usb_stor_probe1, just after its
    scsi_host_alloc, is denied and the probe aborted (EIO); recovery unloads and reloads the driver. The line and
    the guest console of its boot."""
    return run_fault("usb-storage", 37, os.path.join(BUILD, "test-runs", "campaign-aborted-probe"))["isolated"]


def test_a_scsi_host_an_aborted_probe_allocated_is_released(aborted_probe):
    """The aborted probe never reached the code that frees its Scsi_Host: left, its /proc/scsi/usb-storage entry made
    the reload WARN ("already registered"). The resource ledger records hosts by their template's module and puts
    the ones never added (or still running) when the module goes."""
    line, log = aborted_probe
    assert line["fault"]["symbol"] == "usb_stor_probe1", line["fault"]
    assert "usb-storage: probe of 1-1:1.0 failed with error -5" in log, log[-3000:]
    assert re.search(r"CHARIOT: recovery module=usb_storage step=resource result=released kind=scsi_host ", log), log
    assert "already registered" not in log and "WARNING:" not in log, log[-5000:]
    assert line["outcome"] == "isolated", line["outcome"]


def test_a_class_device_an_aborted_probe_added_is_deleted_before_the_unload():
    """sd_mod's fault 31, isolated: a store through the wrong register in sd_probe, after its device_add of the
    scsi_disk class device, is denied and the probe aborted. No remove deletes that device, and sd's exit function
    unregisters its class: left, its class directory made the reload's probe fail (-EEXIST) and the disk stayed
    missing. Recovery deletes it before the unload."""
    line, log = run_fault("sd_mod", 31, os.path.join(BUILD, "test-runs", "campaign-orphan-device"))["isolated"]
    assert line["fault"]["symbol"] == "sd_probe", line["fault"]
    assert "sd: probe of 0:0:1:0 failed with error -5" in log, log[-3000:]
    released = log.index("CHARIOT: recovery module=sd_mod step=resource result=released kind=device ")
    assert re.match(r"[^\r\n]* pass=orphans\r?\n", log[released:]), log[released:released + 300]
    assert released < log.index("CHARIOT: recovery module=sd_mod step=unload result=ok"), log[-3000:]
    assert "cannot create duplicate filename" not in log, log[-5000:]
    assert line["outcome"] == "isolated", line["outcome"]


# Faults whose driver fails in a way only the kernel declares: no write denied, no call aborted.
DECLARED_FAILURES = [
    # snd_audiopci_interrupt's inverted branch stops acknowledging periods: ALSA's write times out with EIO
    ("snd-ens1370", 32, "snd_audiopci_interrupt", "pcm-timeout"),
    # usb_stor_bulk_srb loses a transfer length: every command fails, the SCSI scan finds no disk
    ("usb-storage", 10, "usb_stor_bulk_srb", "scan-empty"),
    # ne2k_pci_init_one never stores the IRQ number: request_irq in ndo_open fails, `ip link set up` with it
    ("ne2k-pci", 11, "ne2k_pci_init_one", "open"),
]


@pytest.mark.parametrize("driver,seed,symbol,kind", DECLARED_FAILURES, ids=[c[3] for c in DECLARED_FAILURES])
def test_a_failure_the_kernel_declares_recovers_the_driver(driver, seed, symbol, kind):
    """Plain, the fault breaks the workload and nothing notices; isolated, the agent takes the kernel's report as
    the driver's fault and reloads it, and the workload passes (the first run too, when the reload came while it
    waited for its device)."""
    runs = run_fault(driver, seed, os.path.join(BUILD, "test-runs", "campaign-failure-" + kind),
                    campaign.ENVS)
    plain, _ = runs["plain"]
    assert plain["outcome"] == "non_fatal", plain["facts"]["runs"]
    line, log = runs["isolated"]
    module = line["module"]
    assert line["fault"]["symbol"] == symbol, line["fault"]
    detect = re.findall(r"CHARIOT: recovery module=%s step=detect result=ok domain=\d+ failure=([\w-]+) " % module,
                        log)
    assert detect == [kind], (detect, log[-3000:])
    assert line["facts"]["hv"]["denied"] == 0 and line["facts"]["hv"]["aborted"] == 0, line["facts"]["hv"]
    assert line["facts"]["runs"][-1]["verdict"] == "PASS", line["facts"]["runs"]
    assert line["facts"]["agent"]["failures"] == "1" and line["facts"]["agent"]["state"] == "recovered"
    assert line["outcome"] == "isolated", line["outcome"]


def test_each_driver_works_without_a_fault(lines):
    for driver in DRIVERS:
        plain = [l for l in lines if l["driver"] == driver and l["env"] == "plain" and l["kind"] == "baseline"]
        assert plain and all(l["outcome"] == "pass" for l in plain), driver
        for l in plain:
            run = l["facts"]["runs"][0]
            assert run["verdict"] == "PASS" and run["cycles"] > 0 and run["bytes"] > 0 and run["tsc"] > 0


def test_report_is_computed_from_the_lines(lines):
    with open(os.path.join(DIR, "summary.json")) as f:
        summary = json.load(f)
    assert summary == json.loads(json.dumps(campaign_report.summarize(lines)))
    pairs = {}
    by_key = {(l["driver"], l["seed"], l["env"]): l for l in lines if l["kind"] == "fault"}
    for (driver, seed, env), plain in by_key.items():
        isolated = by_key[(driver, seed, "isolated")]
        if env != "plain" or "not_injected" in (plain["outcome"], isolated["outcome"]):
            continue
        cell = pairs.setdefault(driver, {}).setdefault(plain["outcome"], {})
        cell[isolated["outcome"]] = cell.get(isolated["outcome"], 0) + 1
    assert {d: {c: {o: n for o, n in cell.items() if n} for c, cell in classes.items()}
            for d, classes in summary["pairs"].items()} == pairs
    with open(os.path.join(DIR, "report.md")) as f:
        text = f.read()
    for driver, classes in pairs.items():
        for c, cell in classes.items():
            row = [sum(cell.values())] + [cell.get(o, 0) for o in campaign_logs.ISOLATED_OUTCOMES]
            assert f"| {driver} | {campaign_report.CLASS_NAMES[c]} | " + " | ".join(map(str, row)) + " | " in text
    assert text == campaign_report.markdown(campaign_report.summarize(lines), [RESULTS])
    with open(os.path.join(DIR, "report.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_no_hypervisor_failure(lines):
    with open(os.path.join(DIR, "summary.json")) as f:
        assert json.load(f)["hv_failures"] == []


def test_isolated_baselines_deny_nothing(lines):
    """False positives: writes denied with no fault injected, while the stack loads, works or unloads (the trial
    campaign had e1000's and usb_storage's exit paths and ne2k_pci's probe; guest-agent/README.md)."""
    baselines = [l for l in lines if l["env"] == "isolated" and l["kind"] == "baseline"]
    assert {l["driver"] for l in baselines} == set(DRIVERS)
    assert [(l["driver"], l["run"]["dir"], l["facts"]["hv"]["denied_sample"]) for l in baselines
            if l["facts"]["hv"]["denied"] or l["facts"]["hv"]["denied_at_unload"] or l["facts"]["hv"]["aborted"]] == []


def dry_run(*args):
    out = subprocess.run(TOOL + ["--drivers", ",".join(DRIVERS), "--seeds", "1-7", "--out", RESULTS, "--dry-run",
                                 *args], capture_output=True, text=True, check=True).stdout
    return [tuple(l.split()) for l in out.splitlines() if not l.startswith("campaign: ")]


def test_resume_skips_what_ran_and_shards_split_the_rest(lines):
    left = dry_run()
    ran = {(l["driver"], str(l["seed"]), l["env"]) for l in lines if l["kind"] == "fault"}
    assert sorted(left) == sorted((d, str(s), e) for d in DRIVERS for s in range(1, 8) for e in campaign.ENVS
                                  if (d, str(s), e) not in ran)
    shards = [dry_run("--shard", f"{i}/3") for i in range(3)]
    assert sorted(sum(shards, [])) == sorted(left)
    for i, shard in enumerate(shards):  # both environments of a (driver, seed) in the same shard
        for j, other in enumerate(shards):
            if i != j:
                assert not {(d, s) for d, s, _ in shard} & {(d, s) for d, s, _ in other}


def test_split_console_lines_are_joined():
    text = "C: workload n=3 run=1 verd[    8.109004] e1000: link down\nict=PASS bytes=1\nC: end n=3\n"
    assert campaign_logs.console_lines(text) == ["[    8.109004] e1000: link down", "C: workload n=3 run=1 "
                                                 "verdict=PASS bytes=1", "C: end n=3"]


def test_plan_archive_is_a_cpio_linux_can_unpack(tmp_path):
    data = campaign.newc({"campaign/plan": b"driver e1000\n"})
    listing = subprocess.run(["cpio", "-it", "--quiet"], input=data, capture_output=True, check=True).stdout
    assert listing.decode().split() == ["campaign", "campaign/plan"]
    subprocess.run(["cpio", "-id", "--quiet"], input=data, cwd=tmp_path, check=True)
    assert (tmp_path / "campaign" / "plan").read_bytes() == b"driver e1000\n"


def test_classification_rules():
    """classify() on facts built by hand: the rules the report states (no trial campaign so far had a recovered
    driver pass its workload again, so this is where the isolated outcome is checked)."""
    def facts(verdicts=("PASS",), load="ok", unload="ok", inject="applied", agent=None, denied=0, crash=None):
        return {"load": load, "unload": unload, "inject": inject, "agent": agent, "crash": crash,
                "runs": [{"verdict": v} for v in verdicts], "hv": {"denied": denied}}

    recovered = {"state": "recovered", "violations": "0", "faults": "1", "notified": "2"}
    classify = campaign_logs.classify
    assert classify("fault", "plain", facts(crash={"kind": "oops"})) == "crash"
    assert classify("fault", "plain", facts(verdicts=("FAIL",))) == "non_fatal"
    assert classify("fault", "plain", facts(load="fail")) == "non_fatal"
    assert classify("fault", "plain", facts(unload="timeout")) == "non_fatal"
    assert classify("fault", "plain", facts()) == "silent"
    assert classify("fault", "plain", facts(inject="mismatch")) == "not_injected"
    assert classify("fault", "isolated", facts(("FAIL", "PASS"), agent=recovered, denied=2)) == "isolated"
    assert classify("fault", "isolated", facts(("FAIL", "FAIL"), agent=recovered, denied=2)) == "captured"
    assert classify("fault", "isolated", facts(("FAIL",), agent=dict(recovered, state="failed"))) == "captured"
    assert classify("fault", "isolated", facts(denied=1, crash={"kind": "bug"})) == "captured"
    assert classify("fault", "isolated", facts(crash={"kind": "oops"})) == "missed"
    assert classify("fault", "isolated", facts(("FAIL",))) == "missed"
    assert classify("fault", "isolated", facts(agent={"state": "running", "violations": "0", "faults": "0",
                                                      "notified": "0"})) == "no_effect"
    assert classify("baseline", "isolated", facts(denied=3)) == "pass"
    assert classify("check", "plain", facts(verdicts=("FAIL",))) == "fail"


def test_whether_a_traced_fault_ran_comes_from_the_injector_lines():
    """entry_facts() on console lines built by hand: the first execution can be logged before the probe's own
    `traced` line (the probe is live once registered), a refused probe is unknown, older logs carry no key."""
    where = "module=e1000 symbol=e1000_clean offset=12 addr=0xffffffffa0001000"

    def executed(*messages):
        lines = [f"[    5.{i:06d}] chariot_inject: {m.partition(' ')[0]} {where} {m.partition(' ')[2]}type=pointer"
                 for i, m in enumerate(messages)]
        return campaign_logs.entry_facts(["C: start n=2 kind=fault seed=7 tsc=1"] + lines, "e1000").get("executed", "-")

    assert executed("applied") == "-"
    assert executed("applied", "traced") is False
    assert executed("applied", "traced", "executed") is True
    assert executed("applied", "executed", "traced") is True
    assert executed("applied", "untraced reason=cannot-probe(-22) ") is None
    assert campaign_logs.entry_facts([f"[    5.000001] chariot_inject: traced {where}"], "ne2k_pci") == \
        campaign_logs.entry_facts([], "ne2k_pci")
