"""The stress harness's quick mode (benchmarks/stress.py --quick): a few of
each attack that once found a defect, at small counts. Any hang, wrong exit
code, process left behind, traceback or growth fails the test; the times it
measures are never asserted."""

import json
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRESS = os.path.join(REPO, "benchmarks", "stress.py")
SCENARIOS = ["signal flood", "early signal as PID 1", "orphans", "output", "long line",
             "crash-restarts", "pid reuse", "stalled reader", "full fd table"]

pytestmark = [pytest.mark.skipif(shutil.which("gcc") is None, reason="the C helpers need gcc"),
              pytest.mark.xdist_group("stress")]  # one worker runs the harness, once


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("stress") / "stress.json"
    # bounded inside (each run has its deadline); this is the backstop
    done = subprocess.run([sys.executable, STRESS, "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert out.exists(), done.stderr[-3000:]
    return json.loads(out.read_text()), done


def test_every_scenario_ran(report):
    results, _ = report
    assert results["meta"]["quick"] is True
    assert sorted({r["scenario"] for r in results["rows"]}) == sorted(SCENARIOS)
    for row in results["rows"]:
        assert row["runs"] > 0, row


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_problems(report, scenario):
    results, _ = report
    rows = [r for r in results["rows"] if r["scenario"] == scenario]
    assert rows
    bad = [(r["case"], {k: r[k] for k in ("hangs", "wrong", "left", "tracebacks", "growth",
                                          "error") if r[k]}, r["figures_text"], r["notes"])
           for r in rows if r["problems"]]
    assert bad == []


def test_exit_code_says_whether_there_were_problems(report):
    results, done = report
    assert done.returncode == (1 if any(r["problems"] for r in results["rows"]) else 0)
    assert "| scenario" in done.stdout  # the table is printed
