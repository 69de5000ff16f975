#!/usr/bin/env python3
"""Fault-injection campaign: random faults in a driver's code, its workload run in two environments.

For each driver and seed, tools/faultgen.py makes one fault in the driver's .ko; the guest (workload=campaign,
guest/workloads/campaign.sh) arms it, loads the driver stack, runs the driver's workload and unloads the stack,
once under the hypervisor with isolation off (env plain) and once with the faulted module isolated from load in
enforce mode with recovery and one reload (env isolated). One boot runs several entries: the plan (a no-fault
baseline, then the faults) is a cpio archive appended to the initramfs. A boot ends early on a crash (panic, oops,
a console silent for --stall seconds, a reboot, a hypervisor shutdown) or when an entry leaves the driver broken;
the runner records what happened and boots again for the entries left.

  campaign.py --drivers e1000,ata_piix --seeds 1-50 --env plain,isolated --out build/campaign/results.jsonl

Results: one JSON line per entry (see campaign_report.py and the README for the fields), appended as each entry
ends; a run resumes by skipping the (driver, seed, env) already in --out. --shard i/N takes every N-th
(driver, seed) pair starting at i, so several machines split a campaign and their outputs merge by concatenation
(with their run directories, which the lines name relative to the output file).
"""
import argparse
import concurrent.futures
import dataclasses
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bochs_run  # noqa: E402
import campaign_logs  # noqa: E402
import faultgen  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SCHEMA = 1


@dataclasses.dataclass(frozen=True)
class Driver:
    module: str  # the module the faults go into (and that is isolated), as /proc/modules names it
    ko: str  # its file under lib/modules/<release>/
    stack: str  # what modprobe loads, in order (MOD:PARAM=V,...); the module is among them
    workload: str  # net SYSFS_DRIVER | disk ata|usb | sound (campaign.sh)
    devices: tuple  # the Bochs devices it needs (bochs_run options)


DRIVERS = {
    "e1000": Driver("e1000", "kernel/drivers/net/ethernet/intel/e1000/e1000.ko", "e1000", "net e1000", ("e1000",)),
    "ne2k-pci": Driver("ne2k_pci", "kernel/drivers/net/ethernet/8390/ne2k-pci.ko", "ne2k-pci", "net ne2k-pci",
                       ("ne2k",)),
    "snd-ens1370": Driver("snd_ens1370", "kernel/sound/pci/snd-ens1370.ko", "snd-ens1370", "sound", ("es1370",)),
    "ata_piix": Driver("ata_piix", "kernel/drivers/ata/ata_piix.ko", "ata_piix sd_mod", "disk ata", ("ata_disk",)),
    "usb-storage": Driver("usb_storage", "kernel/drivers/usb/storage/usb-storage.ko",
                          "uhci-hcd usb-storage:delay_use=0 sd_mod", "disk usb", ("usb_disk",)),
    "sd_mod": Driver("sd_mod", "kernel/drivers/scsi/sd_mod.ko", "ata_piix sd_mod", "disk ata", ("ata_disk",)),
}
ENVS = ("plain", "isolated")
# An oops becomes a panic and a panic stops the kernel (no reboot): a crash never leaves a half-dead kernel behind.
# loglevel=6 keeps the boot's info messages off the serial console, which sends 11.5 KB a guest second.
GUEST_CMDLINE = "console=ttyS0,115200 loglevel=6 workload=campaign oops=panic panic=0"
HV_CMDLINE = "log=com2 loglevel=info guest=linux -- " + GUEST_CMDLINE
# Guest seconds a step may take (campaign.sh's limits): load the stack, run the workload, end a recovery, unload.
LIMITS = (30, 60, 30, 30)
TFTP_FILE, TFTP_BYTES = "campaign.bin", 256 * 1024
TFTP_DIRS = ("tftp", "tftp-ne2k")  # what bochs_run's e1000 and ne2k serve
DISK_MB = 8
# The ES1370's output is dropped: recorded to a file (bochs_run's wavemode=2), it passes through a mixer that Bochs
# drains in host time, and playback then failed now and then without any fault (WRITEI_FRAMES: EIO, one interrupt).
BOCHS_LINES = ("es1370: enabled=1, wavemode=0",)
STOP_GRACE_SECONDS = 3  # after a crash marker: the rest of the oops and the panic line
BOOT_SECONDS, ENTRY_SECONDS = 300, 600  # backstop time limit of a boot (stalls end it much earlier)
MAX_FUTILE_BOOTS = 3  # boots in a row that ran no fault entry: the task gives up


def kernel_dir():
    out = subprocess.run([os.path.join(ROOT, "guest", "build-linux.sh"), "--print-path"], capture_output=True,
                         text=True, check=True).stdout
    return out.strip().splitlines()[-1]


def module_path(kdir, driver):
    with open(os.path.join(kdir, "kernel.release")) as f:
        release = f.read().strip()
    return os.path.join(kdir, "modroot", "lib", "modules", release, DRIVERS[driver].ko)


def faults(ko, seeds):
    """{seed: fault} as `faultgen.py KO --seed N` prints them, from one analysis of the .ko (a few seconds each)."""
    module, sites = faultgen.analyze(ko)
    out = {}
    for seed in seeds:
        record = faultgen.choose(module, sites, seed).record(module)
        out[seed] = {"module": module, "seed": seed, **{k: v for k, v in record.items() if k != "module"}}
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def newc(files):
    """An uncompressed cpio (newc) archive of {path: bytes} (and the directories they need), with its trailer."""
    out, ino = bytearray(), 1

    def member(name, mode, data):
        nonlocal ino
        name_b = name.encode() + b"\0"
        out.extend(b"070701" + b"".join(b"%08X" % v for v in (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0,
                                                                 len(name_b), 0)))
        out.extend(name_b + b"\0" * (-(110 + len(name_b)) % 4))
        out.extend(data + b"\0" * (-len(data) % 4))
        ino += 1

    dirs = sorted({os.path.dirname(p) for p in files if os.path.dirname(p)})
    for d in dirs:
        member(d, 0o40755, b"")
    for path, data in sorted(files.items()):
        member(path, 0o100644, data)
    member("TRAILER!!!", 0, b"")
    return bytes(out)


def initrd_with_plan(base, plan, out):
    """The initramfs followed by the plan's archive (Linux unpacks concatenated archives; a new one must start on
    a 4-byte boundary). Uncompressed: GRUB's module2 gunzips a gzip file (and loads nothing when data follows it),
    and its gunzip of the whole archive took 3 guest seconds a boot, reading the uncompressed file 0.6."""
    with gzip.open(base, "rb") as f:
        data = f.read()
    with open(out, "wb") as f:
        f.write(data + b"\0" * (-len(data) % 4) + newc({"campaign/plan": plan.encode()}))


def tftp_payload():
    return random.Random(TFTP_FILE).randbytes(TFTP_BYTES)


def plan_text(driver, env, entries):
    d = DRIVERS[driver]
    lines = [f"driver {driver}", f"env {env}", f"module {d.module}", f"stack {d.stack}", f"workload {d.workload}",
             f"tftp {TFTP_FILE} {TFTP_BYTES} {hashlib.md5(tftp_payload()).hexdigest()}",
             "limits " + " ".join(map(str, LIMITS))]
    for n, kind, seed, fault in entries:
        if kind == "fault":
            lines.append(f"fault {n} {seed} {fault['symbol']} {fault['offset']} {fault['orig']} {fault['new']} "
                         f"{fault['type']}")
        else:
            lines.append(f"{kind} {n}")
    return "\n".join(lines) + "\n"


class Results:
    """The output file: which (driver, seed, env) it has, and appending lines (several workers, one lock)."""

    def __init__(self, path):
        self.path, self.lock, self.done = path, threading.Lock(), set()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if not os.path.exists(path):
            return
        with open(path, "rb") as f:
            data = f.read()
        if data and not data.endswith(b"\n"):  # an interrupted write: drop the partial line
            data = data[:data.rfind(b"\n") + 1]
            with open(path, "wb") as f:
                f.write(data)
        for line in data.decode().splitlines():
            r = json.loads(line)
            if r["kind"] == "fault":
                self.done.add((r["driver"], r["seed"], r["env"]))

    def append(self, record):
        with self.lock:
            with open(self.path, "a") as f:
                f.write(json.dumps(record, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())


@dataclasses.dataclass
class Task:
    driver: str
    env: str
    seeds: list


class Runner:
    def __init__(self, args):
        self.args, self.results = args, Results(args.out)
        self.out_dir = os.path.dirname(os.path.abspath(args.out))
        self.work = os.path.abspath(args.work or os.path.join(self.out_dir, "runs"))
        self.kdir = kernel_dir()
        self.faults = {}  # (driver, seed): fault
        self.print_lock = threading.Lock()

    def say(self, text):
        with self.print_lock:
            print(f"campaign: {text}", flush=True)

    def make_faults(self, driver, seeds):
        for seed, fault in faults(module_path(self.kdir, driver), seeds).items():
            self.faults[(driver, seed)] = fault

    def plan_entries(self, task, with_baseline):
        """(n, kind, seed, fault): an optional baseline, then the faults, a check after each entry but the last."""
        kinds = (["baseline"] if with_baseline else []) + ["fault"] * len(task.seeds)
        entries, seeds = [], iter(task.seeds)
        for kind in kinds:
            if entries:  # runs only if the entry before failed (campaign.sh)
                entries.append((len(entries), "check", None, None))
            seed = next(seeds) if kind == "fault" else None
            entries.append((len(entries), kind, seed, self.faults[(task.driver, seed)] if seed is not None else None))
        return entries

    def prepare(self, task, entries):
        """A new run directory with the plan, the ISO, fresh disks and the TFTP file; the bochs_run devices."""
        run_dir = os.path.join(self.work, f"{task.driver}-{task.env}-{task.seeds[0]}-{uuid.uuid4().hex[:8]}")
        os.makedirs(run_dir)
        plan = plan_text(task.driver, task.env, entries)
        with open(os.path.join(run_dir, "plan"), "w") as f:
            f.write(plan)
        initrd = os.path.join(run_dir, "initrd")
        initrd_with_plan(self.args.initramfs, plan, initrd)
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "mkiso.py"), "--out",
                        os.path.join(run_dir, "hv.iso"), "--hv", self.args.hv, "--cmdline", HV_CMDLINE,
                        "--module", os.path.join(self.kdir, "bzImage") + ":linux", "--module", initrd + ":initrd"],
                       check=True)
        devices = {name: True for name in DRIVERS[task.driver].devices}
        devices["bochs_line"] = list(BOCHS_LINES)
        for disk in ("ata_disk", "usb_disk"):
            if disk in devices:
                devices[disk] = os.path.join(run_dir, disk.replace("_disk", ".img"))
                with open(devices[disk], "wb") as f:
                    f.truncate(DISK_MB << 20)
        for tftp in TFTP_DIRS:
            os.makedirs(os.path.join(run_dir, tftp))
            with open(os.path.join(run_dir, tftp, TFTP_FILE), "wb") as f:
                f.write(tftp_payload())
        return run_dir, devices

    @staticmethod
    def clean_up(run_dir):
        """Only the logs, the plan and boot.json stay: the rest is large and made again from the plan."""
        for name in ("hv.iso", "initrd", "ata.img", "usb.img", bochs_run.ES1370_WAVE):
            if os.path.exists(os.path.join(run_dir, name)):
                os.unlink(os.path.join(run_dir, name))
        for tftp in TFTP_DIRS:
            shutil.rmtree(os.path.join(run_dir, tftp))

    def boot(self, task, with_baseline):
        """One boot over the task's seeds; returns the records of the entries it ran."""
        d = DRIVERS[task.driver]
        entries = self.plan_entries(task, with_baseline)
        run_dir, devices = self.prepare(task, entries)
        starts, kernels, gap = {}, [], {"last": None, "max": 0.0}

        def on_line(line, t):
            m = re.match(r"C: start n=(\d+)", line)
            if m:
                starts[int(m.group(1))] = t
            if "Linux version" in line:
                kernels.append(t)
            if gap["last"] is not None:  # the longest silence once the campaign runs: what --stall must exceed
                gap["max"] = max(gap["max"], t - gap["last"])
            if gap["last"] is not None or line.startswith("C: boot "):
                gap["last"] = t
            return len(kernels) > 1  # the machine reset and booted again

        r = bochs_run.run_bochs(os.path.join(run_dir, "hv.iso"), run_dir,
                                timeout=BOOT_SECONDS + ENTRY_SECONDS * len(entries),
                                stop_on=campaign_logs.CRASH_STOP_PATTERNS, stop_grace=STOP_GRACE_SECONDS,
                                stall=self.args.stall_isolated if task.env == "isolated" else self.args.stall,
                                on_guest_line=on_line, **devices)
        status = "reboot" if len(kernels) > 1 else r.status
        with open(os.path.join(run_dir, "boot.json"), "w") as f:
            json.dump({"status": status, "shutdown_reason": r.shutdown_reason, "elapsed": r.elapsed,
                       "entry_wall_starts": starts, "max_console_gap_s": round(gap["max"], 2)}, f)
        self.clean_up(run_dir)

        facts = campaign_logs.parse_boot(r.guest_log, r.hv_log, d.module, status, r.shutdown_reason)
        run = {"dir": os.path.relpath(run_dir, self.out_dir), "status": status, "shutdown_reason": r.shutdown_reason,
               "com1_sha256": sha256_file(os.path.join(run_dir, "com1.log")),
               "com2_sha256": sha256_file(os.path.join(run_dir, "com2.log")), "boot_wall_s": r.elapsed}
        ordered = sorted(starts)
        records = []
        for n, kind, seed, fault in entries:
            if n not in facts:
                continue
            later = [starts[m] for m in ordered if m > n]
            wall = (later[0] if later else r.elapsed) - starts[n] if n in starts else None
            records.append({
                "v": SCHEMA, "kind": kind, "driver": task.driver, "module": d.module, "env": task.env,
                "seed": seed, "fault": fault, "outcome": campaign_logs.classify(kind, task.env, facts[n]),
                "facts": facts[n], "run": dict(run, entry=n, wall_s=round(wall, 2) if wall is not None else None),
            })
        return records

    def run_task(self, task):
        """Boots until every seed of the task ran. A baseline starts each boot until one does not pass (the
        environment is broken without any fault: repeating it costs time and says nothing new)."""
        futile, with_baseline = 0, True
        while task.seeds:
            records = self.boot(task, with_baseline)
            if any(rec["kind"] == "baseline" and rec["outcome"] != "pass" for rec in records):
                with_baseline = False
            for rec in records:
                self.results.append(rec)
                crash = rec["facts"]["crash"]
                self.say(f"{task.driver} {task.env} {rec['kind']} seed={rec['seed']} -> {rec['outcome']}"
                         f"{' (' + crash['kind'] + ')' if crash else ''} wall={rec['run']['wall_s']}s "
                         f"guest_tsc={rec['facts']['entry_tsc']}")
            ran = {rec["seed"] for rec in records if rec["kind"] == "fault"}
            task.seeds = [s for s in task.seeds if s not in ran]
            if ran:
                futile = 0
                continue
            futile += 1  # the boot stopped before its first fault: give up rather than boot forever
            if futile >= MAX_FUTILE_BOOTS:
                self.say(f"{task.driver} {task.env}: {futile} boots in a row ran no fault; giving up on seeds "
                         f"{task.seeds}")
                return False
        return True


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        seeds += list(range(int(a), int(b or a) + 1))
    return seeds


def parse_shard(text):
    i, _, n = text.partition("/")
    i, n = int(i), int(n)
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"shard {text}: need 0 <= i < N")
    return i, n


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--drivers", default=",".join(DRIVERS), help=f"comma-separated, from {', '.join(DRIVERS)}")
    p.add_argument("--seeds", default="1-50", help="A-B[,C-D...]")
    p.add_argument("--env", default=",".join(ENVS), help="plain,isolated")
    p.add_argument("--out", required=True, help="JSON lines, appended (resumed when it exists)")
    p.add_argument("--work", help="run directories (default: runs/ beside --out)")
    p.add_argument("--shard", type=parse_shard, default=(0, 1), metavar="i/N")
    p.add_argument("--jobs", type=int, default=2, help="Bochs instances at once")
    p.add_argument("--boot-entries", type=int, default=10, help="faults per boot at most")
    p.add_argument("--stall", type=float, default=10,
                   help="host seconds without a console line that make a hang (the guest prints every guest second; "
                        "the longest silence seen in a run is in its boot.json)")
    p.add_argument("--stall-isolated", type=float, default=45,
                   help="the same for the isolated environment: the hypervisor aborts a driver call busy for 2 guest "
                        "seconds, which under isolation's exits takes up to ~30 host seconds")
    p.add_argument("--dry-run", action="store_true", help="print the (driver, seed, env) to run and stop")
    p.add_argument("--hv", default=os.path.join(ROOT, "build", "hv.elf"))
    p.add_argument("--initramfs", default=os.path.join(ROOT, "build", "guest", "initramfs-isolation.cpio.gz"))
    args = p.parse_args()
    drivers = args.drivers.split(",")
    envs = args.env.split(",")
    for name in drivers:
        if name not in DRIVERS:
            p.error(f"unknown driver {name}")
    for env in envs:
        if env not in ENVS:
            p.error(f"unknown env {env}")
    runner = Runner(args)

    pairs = [(d, s) for d in drivers for s in parse_seeds(args.seeds)]
    index, count = args.shard
    mine = pairs[index::count]
    tasks = []
    for driver in drivers:
        if not args.dry_run:
            runner.make_faults(driver, [s for d, s in mine if d == driver])
        for env in envs:
            seeds = [s for d, s in mine if d == driver and (d, s, env) not in runner.results.done]
            for i in range(0, len(seeds), args.boot_entries):
                tasks.append((i, Task(driver, env, seeds[i:i + args.boot_entries])))
    tasks = [t for _, t in sorted(tasks, key=lambda x: x[0])]  # every (driver, env) advances together
    runner.say(f"{sum(len(t.seeds) for t in tasks)} entries to run in {len(tasks)} tasks, "
               f"{len(runner.results.done)} already in {args.out}")
    if args.dry_run:
        for t in tasks:
            for seed in t.seeds:
                print(f"{t.driver} {seed} {t.env}")
        return 0
    def stop(signum, _frame):
        # The workers wait in Bochs runs: end those; what finished is in --out already, the rest runs on resume.
        bochs_run.kill_all()
        runner.say(f"stopped by signal {signum}")
        os._exit(128 + signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        ok = all(pool.map(runner.run_task, tasks))
    runner.say(f"done in {time.monotonic() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
