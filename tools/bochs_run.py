#!/usr/bin/env python3
"""Boot an ISO in Bochs (headless) and follow its two serial ports.

COM1 is the guest's console and COM2 the hypervisor's log; both are shown live, each line marked with its source.
The run ends when the hypervisor logs its shutdown, when Bochs exits, when a --stop-on pattern appears (after
--stop-grace seconds more of output), when the guest console fell silent for --stall seconds, or at the time
limit. Exit status: 0 when the run ended as expected (see --expect), 1 otherwise.

Used by `make run`, the integration tests (import run_bochs) and the benchmarks.
"""
import argparse
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time

BIOS = "/usr/share/bochs/BIOS-bochs-latest"
VGABIOS = "/usr/share/vgabios/vgabios.bin"
HV_SHUTDOWN = re.compile(r"ev=hv\.shutdown reason=\"([^\"]*)\"")
# The Bochs processes running now (several threads may run Bochs): kill_all() ends them when the caller is stopped.
RUNNING = set()
# What the ES1370 played (--es1370), created by Bochs when the guest first starts a playback: a 44-byte WAV header
# (16-bit stereo, 44100 Hz: Bochs 2.7 resamples other rates) and the samples as its mixer thread wrote them, in
# packets of 0.1 s; a packet that ran out of queued audio is filled up with zeros. The mixer writes one packet per
# 0.1 s of host time, and what is still queued when Bochs exits is lost.
ES1370_WAVE = "es1370.wav"


@dataclasses.dataclass
class RunResult:
    status: str  # "hv_shutdown", "bochs_exit", "stop_pattern", "stalled", "timeout"
    shutdown_reason: str
    elapsed: float
    guest_log: str
    hv_log: str
    run_dir: str

    def ok(self, expect):
        if expect == "bochs-exit":
            return self.status in ("bochs_exit", "hv_shutdown")
        if expect == "stop-pattern":
            return self.status == "stop_pattern"
        return self.status == "hv_shutdown" and self.shutdown_reason == expect


def bochsrc(opts, run_dir):
    lines = [
        "config_interface: textconfig",
        'display_library: rfb, options="timeout=0"',
        f"memory: guest={opts.mem}, host={opts.mem}",
        f"cpu: model={opts.cpu}, count=1, ips={opts.ips}, reset_on_triple_fault=0, ignore_bad_msrs=1",
        f"romimage: file={BIOS}, options=fastboot",
        f"vgaromimage: file={VGABIOS}",
        "ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14",
        f"ata0-master: type=cdrom, path={os.path.abspath(opts.iso)}, status=inserted",
        "boot: cdrom",
        "clock: sync=none, time0=946684800",
        f"com1: enabled=1, mode=file, dev={run_dir}/com1.log",
        f"com2: enabled=1, mode=file, dev={run_dir}/com2.log",
        f"log: {run_dir}/bochs.log",
        "panic: action=fatal",
        "error: action=report",
        "info: action=report",
        "debug: action=ignore",
        "mouse: enabled=0",
        "sound: driver=dummy, waveoutdrv=dummy",
        "speaker: enabled=0",
    ]
    slots = []
    if opts.ata_disk:
        lines.append(f"ata0-slave: type=disk, mode=flat, path={os.path.abspath(opts.ata_disk)}")
    if opts.usb_disk:
        lines.append(f'usb_uhci: enabled=1, port1=disk, options1="path:{os.path.abspath(opts.usb_disk)}"')
    if opts.e1000:
        tftp = os.path.join(run_dir, "tftp")
        os.makedirs(tftp, exist_ok=True)
        lines.append(f"e1000: enabled=1, mac=52:54:00:12:34:56, ethmod=vnet, ethdev={tftp}")
        slots.append("e1000")
    if opts.es1370:
        # wavemode=2: the card's output goes to a file through Bochs' file sound driver, never to a host audio
        # device (sound: driver=dummy above stays: ALSA once crashed Bochs at exit)
        lines.append(f'es1370: enabled=1, wavemode=2, wavefile="{run_dir}/{ES1370_WAVE}"')
        slots.append("es1370")
    if opts.ne2k:
        tftp = os.path.join(run_dir, "tftp-ne2k")
        os.makedirs(tftp, exist_ok=True)
        lines.append(f"ne2k: enabled=1, type=pci, mac=52:54:00:12:34:57, ethmod=vnet, ethdev={tftp}")
        slots.append("ne2k")
    if slots:
        assignment = ", ".join(f"slot{i + 1}={name}" for i, name in enumerate(slots))
        lines.append(f"pci: enabled=1, chipset=i440fx, {assignment}")
    else:
        lines.append("pci: enabled=1, chipset=i440fx")
    lines.extend(opts.bochs_line or [])
    return "\n".join(lines) + "\n"


class Follower:
    """Reads whole new lines from a file that another process is appending to."""

    def __init__(self, path, tag, echo):
        self.path, self.tag, self.echo = path, tag, echo
        self.offset, self.partial, self.text = 0, b"", []

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        lines = [l.decode("utf-8", "replace").rstrip("\r") for l in complete]
        self.text.extend(lines)
        if self.echo:
            for l in lines:
                print(f"[{self.tag}] {l}", flush=True)
        return lines

    def flush_partial(self):
        """The unterminated last line, if any (a machine that stopped mid-line)."""
        if not self.partial:
            return []
        line = self.partial.decode("utf-8", "replace").rstrip("\r")
        self.text.append(line)
        if self.echo:
            print(f"[{self.tag}] {line}", flush=True)
        self.partial = b""
        return [line]

    def content(self):
        return "\n".join(self.text) + ("\n" if self.text else "")


def run_bochs(iso, run_dir, timeout=120, stop_on=None, echo=False, on_guest_line=None, **kw):
    """Run Bochs on `iso`; keyword arguments are the command-line options (ata_disk, usb_disk, e1000, stall, ...).
    on_guest_line(line, seconds_since_start) is called for every console line as it arrives; a true result stops
    the run like a --stop-on pattern."""
    opts = parser().parse_args(["--iso", iso, "--run-dir", run_dir])
    opts.timeout, opts.stop_on = timeout, stop_on or []
    for k, v in kw.items():
        setattr(opts, k, v)
    return run(opts, echo, on_guest_line)


def run(opts, echo, on_guest_line=None):
    run_dir = os.path.abspath(opts.run_dir)
    os.makedirs(run_dir, exist_ok=True)
    for name in ("com1.log", "com2.log", "bochs.log", ES1370_WAVE):
        try:
            os.unlink(os.path.join(run_dir, name))
        except FileNotFoundError:
            pass
    with open(os.path.join(run_dir, "bochsrc"), "w") as f:
        f.write(bochsrc(opts, run_dir))
    with open(os.path.join(run_dir, "rc"), "w") as f:
        f.write("continue\nquit\n")
    stops = [re.compile(p) for p in opts.stop_on]
    guest = Follower(os.path.join(run_dir, "com1.log"), "guest", echo)
    hv = Follower(os.path.join(run_dir, "com2.log"), "hv", echo)

    start = time.monotonic()
    last_guest_line = None  # the stall watch starts with the first console line: firmware and loaders print none
    proc = subprocess.Popen(
        ["bochs", "-q", "-f", os.path.join(run_dir, "bochsrc"), "-rc", os.path.join(run_dir, "rc"), "-unlock"],
        stdin=subprocess.DEVNULL, stdout=open(os.path.join(run_dir, "bochs.out"), "w"), stderr=subprocess.STDOUT,
        cwd=run_dir, start_new_session=True)
    RUNNING.add(proc)
    status, reason, grace_deadline = None, "", None
    def scan(lines):
        nonlocal status, reason, grace_deadline
        for line in lines:
            m = HV_SHUTDOWN.search(line)
            if m and status is None:
                status, reason = "hv_shutdown", m.group(1)
                grace_deadline = time.monotonic() + 3  # let Bochs power off and flush by itself
            if status is None and any(p.search(line) for p in stops):
                status = "stop_pattern"
                grace_deadline = time.monotonic() + opts.stop_grace

    while True:
        exited = proc.poll() is not None
        now = time.monotonic()
        guest_lines = guest.poll()
        if guest_lines:
            last_guest_line = now
        for line in guest_lines if on_guest_line else []:
            if on_guest_line(line, now - start) and status is None:
                status, grace_deadline = "stop_pattern", now + opts.stop_grace
        scan(guest_lines + hv.poll())
        if exited:
            break
        if grace_deadline and now > grace_deadline:
            break
        if opts.stall and status is None and last_guest_line and now - last_guest_line > opts.stall:
            status = "stalled"
            break
        if now - start > opts.timeout:
            status = status or "timeout"
            break
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    RUNNING.discard(proc)
    scan(guest.poll() + hv.poll() + guest.flush_partial() + hv.flush_partial())
    status = status or "bochs_exit"
    result = RunResult(status, reason, round(time.monotonic() - start, 2), guest.content(), hv.content(), run_dir)
    with open(os.path.join(run_dir, "result.json"), "w") as f:
        json.dump({"status": result.status, "shutdown_reason": result.shutdown_reason, "elapsed": result.elapsed}, f)
    return result


def kill_all():
    """Kill every Bochs this process started (its own session: Bochs and anything it started)."""
    for proc in list(RUNNING):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iso", required=True)
    p.add_argument("--run-dir", required=True, help="bochsrc, serial logs and Bochs' own log go here")
    p.add_argument("--timeout", type=float, default=120, help="host seconds before the run is stopped")
    p.add_argument("--mem", type=int, default=512, help="guest RAM in MiB")
    p.add_argument("--cpu", default="corei7_haswell_4770", help="Bochs CPU model")
    p.add_argument("--ips", type=int, default=50000000, help="emulated instructions per second (guest time base)")
    p.add_argument("--ata-disk", help="flat image attached as ata0-slave")
    p.add_argument("--usb-disk", help="image attached to a UHCI USB port")
    p.add_argument("--e1000", action="store_true", help="Intel e1000 NIC on the vnet back end (host 192.168.10.1)")
    p.add_argument("--es1370", action="store_true",
                   help=f"Ensoniq ES1370 sound card; what it plays is recorded in RUN_DIR/{ES1370_WAVE}")
    p.add_argument("--ne2k", action="store_true", help="NE2000 PCI NIC on the vnet back end")
    p.add_argument("--stop-on", action="append", default=[], help="stop when a serial line matches this regex")
    p.add_argument("--stop-grace", type=float, default=0,
                   help="seconds of output still collected after a --stop-on match (e.g. an oops' last lines)")
    p.add_argument("--stall", type=float,
                   help="stop when the guest console, once it printed, printed nothing for this many seconds")
    p.add_argument("--bochs-line", action="append", help="extra bochsrc line (overrides earlier ones)")
    p.add_argument("--expect", default="guest powered off",
                   help='success condition: a hypervisor shutdown reason, "bochs-exit" (bare guest) or "stop-pattern"')
    p.add_argument("--quiet", action="store_true", help="do not echo the serial logs")
    return p


def main():
    opts = parser().parse_args()
    result = run(opts, echo=not opts.quiet)
    verdict = "ok" if result.ok(opts.expect) else "FAILED"
    print(f"bochs_run: {verdict}: status={result.status} shutdown_reason=\"{result.shutdown_reason}\" "
          f"elapsed={result.elapsed}s logs={result.run_dir}", file=sys.stderr)
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
