"""The committed campaigns (campaigns/<date>/): every result line comes from the boot logs committed with it
(runs.tar.xz: the digests match, parsing the logs again gives the line's facts and outcome) and the committed
report, summary and chart are computed from those lines. No Bochs: it reads what was committed."""
import glob
import hashlib
import json
import os
import sys
import tarfile

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import campaign_logs  # noqa: E402
import campaign_report  # noqa: E402

CAMPAIGNS = sorted(glob.glob(os.path.join(ROOT, "campaigns", "*", "results.jsonl")))


@pytest.fixture(scope="module", params=CAMPAIGNS, ids=lambda p: os.path.basename(os.path.dirname(p)))
def campaign(request, tmp_path_factory):
    directory = os.path.dirname(request.param)
    logs = tmp_path_factory.mktemp("runs")
    with tarfile.open(os.path.join(directory, "runs.tar.xz")) as tar:
        members = tar.getmembers()
        for m in members:  # plain files under runs/ only (Python 3.11.2 has no extraction filter)
            assert m.isfile() or m.isdir(), m.name
            assert m.name.startswith("runs/") and ".." not in m.name.split("/"), m.name
        tar.extractall(logs, members=members)
    with open(request.param) as f:
        return directory, str(logs), [json.loads(line) for line in f]


def test_there_is_a_committed_campaign():
    assert CAMPAIGNS, "no campaigns/*/results.jsonl"


def test_every_line_comes_from_its_committed_logs(campaign):
    _, logs, lines = campaign
    boots = {}
    for line in lines:
        run = line["run"]
        paths = [os.path.join(logs, run["dir"], name) for name in ("com1.log", "com2.log")]
        texts = []
        for path, digest in zip(paths, (run["com1_sha256"], run["com2_sha256"])):
            with open(path, "rb") as f:
                data = f.read()
            assert hashlib.sha256(data).hexdigest() == digest, path
            texts.append(data.decode(errors="replace"))
        key = (run["dir"], line["module"])
        if key not in boots:
            boots[key] = campaign_logs.parse_boot(texts[0], texts[1], line["module"], run["status"],
                                                  run["shutdown_reason"])
        facts = boots[key][run["entry"]]
        assert facts == line["facts"], (run["dir"], run["entry"])
        assert campaign_logs.classify(line["kind"], line["env"], facts) == line["outcome"]


def test_report_summary_and_chart_are_computed_from_the_lines(campaign):
    directory, _, lines = campaign
    results = os.path.join(directory, "results.jsonl")
    summary = campaign_report.summarize(lines)
    with open(os.path.join(directory, "summary.json")) as f:
        assert json.load(f) == json.loads(json.dumps(summary))
    with open(os.path.join(directory, "report.md")) as f:
        assert f.read() == campaign_report.markdown(summary, [results])
    with open(os.path.join(directory, "report.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_fifty_faults_per_driver_in_each_environment(campaign):
    _, _, lines = campaign
    counts = {}
    for line in lines:
        if line["kind"] == "fault":
            counts[(line["driver"], line["env"])] = counts.get((line["driver"], line["env"]), 0) + 1
    drivers = {d for d, _ in counts}
    assert len(drivers) >= 4 and all(counts.get((d, e), 0) >= 50 for d in drivers for e in ("plain", "isolated"))


def test_throughput_ranges_are_runs_of_the_driver(campaign):
    """The report's slowest and fastest transfer of a driver and environment are runs in its lines, around the
    median: a transfer with two speeds shows them there."""
    _, _, lines = campaign
    performance = campaign_report.summarize(lines)["performance"]
    for driver, perf in performance.items():
        for env in ("plain", "isolated"):
            p = perf[env]
            if p["throughput_kib_s"] is None:
                continue
            speeds = {round(r["bytes"] / 1024 / (r["tsc"] / campaign_report.GUEST_HZ), 1)
                      for line in lines if line["driver"] == driver and line["env"] == env
                      for r in line["facts"]["runs"] if r["bytes"] and r["tsc"]}
            low, high = p["throughput_range_kib_s"]
            assert low in speeds and high in speeds, (driver, env)
            assert low <= p["throughput_kib_s"] <= high, (driver, env)
