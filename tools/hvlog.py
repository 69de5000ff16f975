#!/usr/bin/env python3
"""Parse the hypervisor's logfmt log (one record a line: ts=<tsc> lvl=<level> ev=<event> key=value ...).

As a module: records(text) -> list of dicts (values are strings; quoted values unescaped), find(records, ev, **kv).
As a command: hvlog.py LOG [--ev EVENT] prints matching records as JSON lines; --check validates every line.
"""
import argparse
import json
import re
import sys

TOKEN = re.compile(r'([A-Za-z0-9_.]+)=("(?:[^"\\]|\\.)*"|\S*)')
UNESCAPE = re.compile(r'\\(x[0-9a-fA-F]{2}|.)')


class LogFormatError(ValueError):
    pass


def _unquote(value):
    if not value.startswith('"'):
        return value
    return UNESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "x" else m.group(1), value[1:-1])


def parse_line(line):
    """One record as a dict; raises LogFormatError for a line that is not a well-formed record."""
    pos, record = 0, {}
    line = line.rstrip("\r\n")
    while pos < len(line):
        if line[pos] == " ":
            pos += 1
            continue
        m = TOKEN.match(line, pos)
        if not m:
            raise LogFormatError(f"not logfmt at column {pos}: {line!r}")
        record[m.group(1)] = _unquote(m.group(2))
        pos = m.end()
    for key in ("ts", "lvl", "ev"):
        if key not in record:
            raise LogFormatError(f"record without {key}: {line!r}")
    return record


def records(text, strict=True):
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            out.append(parse_line(line))
        except LogFormatError:
            if strict:
                raise
    return out


def find(recs, ev, **kv):
    """Records with event `ev` whose fields equal the given values."""
    return [r for r in recs if r["ev"] == ev and all(r.get(k) == str(v) for k, v in kv.items())]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log")
    p.add_argument("--ev", help="only records of this event")
    p.add_argument("--check", action="store_true", help="fail on any malformed line")
    args = p.parse_args()
    with open(args.log, errors="replace") as f:
        recs = records(f.read(), strict=args.check)
    for r in recs:
        if not args.ev or r["ev"] == args.ev:
            print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
