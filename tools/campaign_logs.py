"""One campaign boot's serial logs -> the facts of each entry it ran, and their classification.

Pure functions of the logs (the guest console, COM1, and the hypervisor log, COM2) and of how the boot ended, so
tools/campaign.py records them and tests/integration/test_campaign.py recomputes them from the same files.
guest/workloads/campaign.sh prints the `C: ` lines parsed here.
"""
import re

import hvlog

# A console line is the guest's own (C: lines) or the kernel's ("[    1.234567] ..."): a kernel message printed
# while a C: line was being written lands inside it and pushes the rest of the C: line to the next line.
KMSG = re.compile(r"\[\s*\d+\.\d{6}\] ")
TOKEN = re.compile(r"(\w+)=(\S*)")
# What ends a boot as a crash, as the kernel prints it (oops=panic turns every oops into a panic), by precedence:
# a page fault prints "BUG: ..." then "Oops: ...", BUG() "kernel BUG at" then "invalid opcode:", and all of them
# end in "Kernel panic".
CRASH_MARKERS = (("oops", "Oops:"), ("gpf", "general protection fault"), ("bug", "kernel BUG at"),
                 ("bug", "invalid opcode:"), ("bug", "BUG:"), ("panic", "Kernel panic"))
CRASH_STOP_PATTERNS = [re.escape(text) for _, text in CRASH_MARKERS]
RECOVERY = re.compile(r"CHARIOT: recovery module=(\S+) step=(\w+) result=(\S+)")
# The injector's own message: what became of the fault when the module loaded (a crash may come before C: inject).
INJECTED = re.compile(r"chariot_inject: (applied|mismatch|nosymbol|error) module=(\S+)")
# Traced faults (plain runs): the injector's kprobe on the faulted instruction, and its first execution.
EXECUTION = re.compile(r"chariot_inject: (traced|untraced|executed) module=(\S+)")
EXCERPT_LINES, EXCERPT_BEFORE = 40, 10
SAMPLE_RECORDS = 5
POWERED_OFF = "guest powered off"

PLAIN_OUTCOMES = ("crash", "non_fatal", "silent")
ISOLATED_OUTCOMES = ("isolated", "captured", "missed", "no_effect")


def console_lines(text):
    """The console's lines with C: lines that a kernel message split put back together."""
    out, carry = [], ""
    for line in text.splitlines():
        if carry and not KMSG.match(line):
            line, carry = carry + line, ""
        m = KMSG.search(line)
        if line.startswith("C: ") and m and m.start() > 0:
            carry = line[:m.start()]
            line = line[m.start():]
        out.append(line)
    if carry:
        out.append(carry)
    return out


def tokens(text):
    return dict(TOKEN.findall(text))


def number(kv, key, default=None):
    """kv[key] as an int; default when it is missing or cut short (the last line of a killed run may be)."""
    value = kv.get(key, "")
    return int(value) if value.isdigit() else default


def c_line(line):
    """`C: tag k=v ...` -> (tag, rest) or None."""
    if not line.startswith("C: "):
        return None
    tag, _, rest = line[3:].partition(" ")
    return tag, rest


def split_entries(lines):
    """Boot-level C: lines and, per entry number, the console lines from its `C: start` to the next one."""
    boot, entries, current = {}, {}, None
    for line in lines:
        parsed = c_line(line)
        if parsed and parsed[0] == "start" and number(tokens(parsed[1]), "n") is not None:
            current = number(tokens(parsed[1]), "n")
            entries[current] = []
        if parsed and parsed[0] in ("boot", "stop", "done"):
            boot[parsed[0]] = tokens(parsed[1])
        if current is not None:
            entries[current].append(line)
    return boot, entries


def entry_facts(lines, module):
    """What the guest printed about one entry."""
    f = {"started": False, "start_tsc": None, "unload_tsc": None, "end_tsc": None, "load": None, "load_tsc": None,
         "runs": [], "inject": None, "inject_line": None, "agent": None, "agent_line": None, "unload": None,
         "clean": None, "errors": [], "recovery_steps": [], "warnings": 0}
    for line in lines:
        m = RECOVERY.search(line)
        if m and m.group(1) == module:
            f["recovery_steps"].append(f"{m.group(2)}={m.group(3)}")
        m = INJECTED.search(line)
        if m and m.group(2) == module and f["inject"] is None:
            f["inject"] = m.group(1)
        m = EXECUTION.search(line)
        if m and m.group(2) == module and f.get("executed") is not True:
            # only for a traced fault (older logs have no such line): ran, never ran, or None when not probed
            f["executed"] = {"executed": True, "traced": False, "untraced": None}[m.group(1)]
        if "WARNING:" in line:
            f["warnings"] += 1
        parsed = c_line(line)
        if not parsed:
            continue
        tag, rest = parsed
        kv = tokens(rest)
        if tag == "start":
            f["started"], f["start_tsc"], f["kind"] = True, number(kv, "tsc"), kv.get("kind")
        elif tag == "load":
            f["load"], f["load_tsc"] = kv.get("result"), number(kv, "tsc_delta")
        elif tag == "workload":
            f["runs"].append({"verdict": kv.get("verdict"), "bytes": number(kv, "bytes", 0),
                              "tsc": number(kv, "tsc", 0), "cycles": number(kv, "cycles", 0),
                              "detail": kv.get("detail", "")})
        elif tag == "inject":
            f["inject"], f["inject_line"] = kv.get("state") if kv.get("module") == module else None, rest
        elif tag == "agent":
            f["agent"] = {k: kv[k] for k in ("domain", "state", "violations", "faults", "recoveries", "notified",
                                              "failures", "reason") if k in kv}
            f["agent_line"] = rest
        elif tag == "unload" and f["unload_tsc"] is None:  # the first: faults at unload are counted from there
            f["unload_tsc"] = number(kv, "tsc")
        elif tag == "end":
            f["unload"], f["clean"], f["end_tsc"] = kv.get("unload"), kv.get("clean") == "1", number(kv, "tsc")
        elif tag == "error":
            f["errors"].append(rest)
    f["entry_tsc"] = f["end_tsc"] - f["start_tsc"] if None not in (f["end_tsc"], f["start_tsc"]) else None
    return f


def crash_kind(lines):
    """What crashed the kernel, from the markers in these console lines (the first by precedence), or None."""
    for kind, text in CRASH_MARKERS:
        if any(text in line for line in lines):
            return kind
    return None


def excerpt(lines):
    """The console around the first crash marker (from a few lines before it), or its last lines."""
    first = next((i for i, line in enumerate(lines) if crash_kind([line])), None)
    if first is None:
        return lines[-EXCERPT_LINES:]
    start = max(0, first - EXCERPT_BEFORE)
    return lines[start:start + EXCERPT_LINES]


def hv_facts(records, module, ts_from, ts_to, ts_unload):
    """The hypervisor's decisions and failures between two guest TSC values (None: open); denied_at_unload: the
    denied writes from ts_unload on (the driver's exit path); aborted: the driver's calls the hypervisor ended because
    it faulted or hung (isolation.fault action=abort_call)."""
    window = [r for r in records if (ts_from is None or int(r["ts"]) >= ts_from)
              and (ts_to is None or int(r["ts"]) < ts_to)]
    domains = {r["domain"] for r in hvlog.find(window, "isolation.domain_created", module=module)}
    denied = [r for r in hvlog.find(window, "isolation.write", verdict="denied") if r["domain"] in domains]
    aborted = [r for r in hvlog.find(window, "isolation.fault", action="abort_call") if r["domain"] in domains]
    errors = [r for r in window if r["lvl"] in ("error", "fatal")]
    shutdown = hvlog.find(window, "hv.shutdown")
    return {
        "domains": sorted(domains, key=int),
        "denied": len(denied),
        "denied_at_unload": sum(1 for r in denied if ts_unload is not None and int(r["ts"]) >= ts_unload),
        "denied_sample": [{k: r[k] for k in ("rip", "target", "size", "action") if k in r}
                          for r in denied[:SAMPLE_RECORDS]],
        "aborted": len(aborted),
        "aborted_sample": [{k: r[k] for k in ("rip", "in", "vector", "address") if k in r}
                           for r in aborted[:SAMPLE_RECORDS]],
        "errors": len(errors),
        "error_sample": [{k: v for k, v in r.items() if k not in ("ts",)} for r in errors[:SAMPLE_RECORDS]],
        "shutdown": shutdown[0]["reason"] if shutdown else None,
    }


def boot_ended_normally(boot, status, shutdown_reason):
    return status == "hv_shutdown" and shutdown_reason == POWERED_OFF and ("done" in boot or "stop" in boot)


def parse_boot(com1, com2, module, status, shutdown_reason):
    """Per entry number: the facts of the entries this boot ran. The entry that crashed the boot is the first one
    whose console shows a crash marker or, without one, the last one started if the boot did not end by powering
    off after `C: done`/`C: stop`; entries started after it (the runner lets a crash print for a moment) ran on a
    crashed kernel and are left out."""
    boot, entries = split_entries(console_lines(com1))
    records = hvlog.records(com2, strict=False)
    numbers = sorted(entries)
    marked = [n for n in numbers if crash_kind(entries[n])]
    crashed = marked[0] if marked else None
    if crashed is None and numbers and not boot_ended_normally(boot, status, shutdown_reason):
        crashed = numbers[-1]
    out = {}
    for i, n in enumerate(numbers):
        if crashed is not None and n > crashed:
            break
        f = entry_facts(entries[n], module)
        next_start = entry_facts(entries[numbers[i + 1]], module)["start_tsc"] if i + 1 < len(numbers) else None
        f["hv"] = hv_facts(records, module, f["start_tsc"] if i else None, None if n == crashed else next_start,
                           f["unload_tsc"])
        f["crash"] = None
        if n == crashed:
            kind = crash_kind(entries[n]) or {"stalled": "hang", "timeout": "hang"}.get(status, status)
            f["crash"] = {"kind": kind, "status": status, "shutdown_reason": shutdown_reason,
                          "excerpt": excerpt(entries[n])}
        out[n] = f
    return out


def visibly_failed(f):
    run = f["runs"][0] if f["runs"] else None
    return f["load"] != "ok" or not run or run["verdict"] != "PASS" or f["unload"] != "ok"


def detected(f):
    agent = f["agent"] or {}
    counts = [agent.get(k, "0") for k in ("violations", "faults", "notified")]
    return f["hv"]["denied"] > 0 or f["hv"].get("aborted", 0) > 0 or any(c not in ("0", "?") for c in counts)


def classify(kind, env, f):
    """The outcome of one entry from its facts (see the report for what each means)."""
    if kind in ("baseline", "check"):
        if f["crash"]:
            return "crash"
        return "fail" if visibly_failed(f) else "pass"
    if f["inject"] != "applied":
        return "not_injected"
    if env == "plain":
        if f["crash"]:
            return "crash"
        return "non_fatal" if visibly_failed(f) else "silent"
    if detected(f):
        reloaded_ok = len(f["runs"]) > 1 and f["runs"][1]["verdict"] == "PASS"
        agent = f["agent"] or {}
        # unloaded and loaded again: by the agent's recovery, or (a fault in its exit function, met while the stack
        # unloaded) gone as asked and loaded again by the campaign
        unloaded = agent.get("state") == "recovered" or (
            agent.get("state") == "unloaded" and agent.get("reason") == "fault-at-unload")
        return "isolated" if unloaded and reloaded_ok and not f["crash"] else "captured"
    return "missed" if f["crash"] or visibly_failed(f) else "no_effect"
