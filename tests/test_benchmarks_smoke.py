"""The benchmark harness in its quick mode, so it does not rot: every
metric must come back with numbers. Timing itself is never asserted."""

import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(REPO, "benchmarks", "run.py")
METRICS = ["signal_latency", "reaping", "exit_codes", "relay", "idle", "memory",
           "startup", "spawn_rate", "scale", "restart_latency", "services", "log_throughput",
           "log_memory_dead_sink", "live", "ctl_latency", "ctl_logs", "ctl_idle", "reexec"]


pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="the C helpers need gcc")


def _numbers(row):
    return [v for k, v in row.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)]


def test_quick_run_reports_every_metric(tmp_path):
    out = tmp_path / "results.json"
    # generous: a machine without the peers installs them first (setup.sh)
    done = subprocess.run([sys.executable, RUN, "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["meta"]["quick"] is True
    assert sorted(results["metrics"]) == sorted(METRICS)
    for name in METRICS:
        metric = results["metrics"][name]
        assert metric["rows"], name
        for row in metric["rows"]:
            assert "error" not in row, (name, row)
            assert _numbers(row), (name, row)
        for target in metric["targets"]:
            assert isinstance(target["met"], bool), (name, target)
    # the tables are printed too, one per metric
    assert done.stdout.count("### ") == len(METRICS) + 1
    # the supervision metrics measured what they say: the peers took part,
    # every service was gone after the SIGTERM, the tcp probes reached the port
    subjects = {r["subject"] for r in results["metrics"]["restart_latency"]["rows"]}
    assert {"supervisord", "s6-supervise", "runsv"} <= subjects
    services = results["metrics"]["services"]["rows"]
    assert [r["left"] for r in services] == [0] * len(services)
    assert [r["accepted"] > 0 for r in services if "tcp" in r["subject"]] == [True]
    # the log benchmarks: the peers took part, and only a sink that drops
    # when full (luasup's default) lost lines
    logged = results["metrics"]["log_throughput"]["rows"]
    assert {"s6-log, one per writer", "svlogd -tt, one for all", "supervisord",
            "cat"} <= {r["subject"] for r in logged}
    assert [r["subject"] for r in logged
            if (r["lost"] or r["extra"]) and "drop" not in r["subject"]] == []
    dead = results["metrics"]["log_memory_dead_sink"]["rows"]
    assert [r["lost"] for r in dead] == [0] * len(dead)
    # the control benchmarks: supervisorctl took part beside every luasup
    # command, the followers measured idle were still following afterwards,
    # and each logs -f follower received lines, and was told of every line
    # it did not receive
    latency = {r["subject"]: r for r in results["metrics"]["ctl_latency"]["rows"]}
    assert {"supervisorctl status", "supervisord getAllProcessInfo"} <= set(latency)
    assert all(r["ratio"] > 0 for r in latency.values() if r.get("peer"))
    assert sum(1 for r in latency.values() if r.get("peer")) == 7
    idle = [r for r in results["metrics"]["ctl_idle"]["rows"] if " + " in r["subject"]]
    assert len(idle) == 3 and all(r["connected"] for r in idle)
    follow = [r for r in results["metrics"]["ctl_logs"]["rows"] if r["subject"].startswith("ring")]
    assert len(follow) == 3 and all(r["got"] > 0 and r["lost"] == 0 for r in follow)
    # the re-exec benchmark: the four ways took part; luasup's re-exec kept
    # every service's pid, lost no line, and no client attempt failed
    rx = {r["subject"]: r for r in results["metrics"]["reexec"]["rows"]}
    assert set(rx) == {"luasup ctl reexec", "luasup stopped and started", "supervisorctl reload",
                       "supervisord stopped and started"}
    kept = rx.pop("luasup ctl reexec")
    assert kept["kept"] == 10 and kept["lost"] == 0
    assert kept["socket_failed"] == 0 and kept["ctl_failed"] == 0, kept
    assert [r["kept"] for r in rx.values()] == [0, 0, 0]
