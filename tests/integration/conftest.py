"""Helpers for integration tests: build ISOs with tools/mkiso.py and boot them with tools/bochs_run.py."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")
RUNS = os.path.join(BUILD, "test-runs")
sys.path.insert(0, os.path.join(ROOT, "tools"))

import bochs_run  # noqa: E402
import hvlog  # noqa: E402


def make_iso(name, cmdline, modules=(), hv=None):
    """An ISO booting the hypervisor with `cmdline` and multiboot2 modules [(path, name)]."""
    out = os.path.join(RUNS, name + ".iso")
    os.makedirs(RUNS, exist_ok=True)
    cmd = [sys.executable, os.path.join(ROOT, "tools", "mkiso.py"), "--out", out, "--hv", hv or os.path.join(BUILD, "hv.elf"),
           "--cmdline", cmdline]
    for path, mod_name in modules:
        cmd += ["--module", f"{path}:{mod_name}"]
    subprocess.run(cmd, check=True)
    return out


def boot(iso, name, timeout=120, **kw):
    """Boot `iso` in Bochs; returns the RunResult with parsed hypervisor records in .records."""
    result = bochs_run.run_bochs(iso, os.path.join(RUNS, name), timeout=timeout, **kw)
    result.records = hvlog.records(result.hv_log, strict=False)  # strictness is test_foundation's own check
    return result


@pytest.fixture(scope="session")
def testguest_bin():
    path = os.path.join(BUILD, "testguest.bin")
    assert os.path.isfile(path), "build/testguest.bin missing: run the tests through `make test`"
    return path
