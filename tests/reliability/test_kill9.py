"""`kill -9` of `gameday run` in each phase: any fault is rolled back, no child is orphaned,
and what was recorded is still readable and reported as `crashed`.

The children are tied to the orchestrator with the kernel's parent-death signal:
`chaos run` gets SIGINT (so its rollbacks run), Locust gets SIGTERM, and the sink
reader notices it was orphaned. A stack started separately keeps running.

The faults (a partition and a forced-open breaker, TTL 600 s) are removed by nothing
but the experiment's rollbacks, so a clean stack before their TTL, and the journal the
chaos child writes after the kill, prove that the rollbacks ran.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import processes
import pytest
from e2e_support import (
    GAMEDAY,
    HELD_ROLLBACKS,
    ROOT,
    faults_on,
    gameday,
    held_fault_experiment,
    rollbacks_of,
    write_spec,
)
from reliability_support import events_of, processes_naming, wait_until

pytestmark = pytest.mark.slow

# How long the faults hold before the rollbacks: past the test's kill in the fault phase,
# a few seconds when the test waits for the recovery phase.
HOLD_S = {"warmup": 300, "baseline": 300, "fault": 300, "recovery": 3}


def reached(run_dir: Path | None, stack, phase: str) -> bool:
    """True once the run is inside `phase`."""
    if run_dir is None:
        return False
    kinds = {e["kind"] for e in events_of(run_dir) if e["source"] == "harness"}
    if phase == "warmup":
        return "load-start" in kinds
    if phase == "baseline":
        return "warmup-end" in kinds
    if phase == "fault":
        return len(faults_on(stack)) >= 2
    return "chaos-end" in kinds


def sampled_since(run_dir: Path, since: float) -> bool:
    """True once the load recorded a second that began at or after `since`."""
    path = run_dir / "samples" / "samples.jsonl"
    if not path.exists():
        return False
    return any(json.loads(line)["ts"] >= int(since) for line in path.read_text().splitlines() if line.strip())


def journal_of(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "journal.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


@pytest.mark.parametrize("phase", ["warmup", "baseline", "fault", "recovery"])
def test_kill_9_in_each_phase_rolls_back_leaves_no_orphan_and_keeps_the_record(healthy_stack, tmp_path, phase):
    experiment = tmp_path / "held.json"
    experiment.write_text(json.dumps(held_fault_experiment(healthy_stack.name, hold_s=HOLD_S[phase])))
    spec = write_spec(tmp_path / "gd.yaml", name="killed", target={"kind": "local", "stack": healthy_stack.name},
                      load={"profile": "loadprofiles/inference.py", "shape": "constant_rate", "rate": 30,
                            "duration": "60s"},
                      chaos={"experiment": str(experiment), "start_after": "8s"}, warmup="4s",
                      slos=[{"sli": "availability", "phase": "run", "objective": ">= 99%"}])
    runs = tmp_path / "runs"
    run = processes.Owned([*GAMEDAY, "run", str(spec), "--reports", str(runs)], cwd=ROOT,
                          env={**os.environ, "GAMEDAY_HOME": str(healthy_stack.home)},
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_dir = lambda: next(runs.iterdir(), None) if runs.exists() else None
        assert wait_until(lambda: reached(run_dir(), healthy_stack, phase), 90), f"the run never reached {phase}"
        entered, run_dir = time.time(), run_dir()
        assert wait_until(lambda: sampled_since(run_dir, entered), 30), f"nothing recorded in the {phase}"
        assert processes_naming(run_dir), "expected Locust, the sink reader (and chaos in the fault) to be running"

        run.proc.send_signal(signal.SIGKILL)   # the orchestrator alone, as `kill -9 <pid>` does
        run.proc.wait(10)

        chaos_started = phase in ("fault", "recovery")
        if chaos_started:
            # the chaos child, SIGINTed by the kernel at its parent's death, plays the rollbacks and
            # writes its journal; before that the journal does not exist (or still says running)
            assert wait_until(lambda: (journal_of(run_dir) or {}).get("rollbacks"), 60), \
                f"no rollback in the journal: {journal_of(run_dir)}"
            journal = journal_of(run_dir)
            assert journal["status"] == ("interrupted" if phase == "fault" else "completed"), journal["status"]
            assert rollbacks_of(journal) == [(name, "succeeded") for name in HELD_ROLLBACKS]
        else:
            assert journal_of(run_dir) is None, "chaos ran before its start_after"
        assert wait_until(lambda: not faults_on(healthy_stack), 20), \
            f"faults outlived the harness (their TTL is 600 s): {faults_on(healthy_stack)}"
        assert wait_until(lambda: not processes_naming(run_dir), 30), \
            f"orphans: {[p.info['cmdline'][:3] for p in processes_naming(run_dir)]}"
        assert processes.carrying(run.token) == [], "a process of the killed run is still running"
    finally:
        run.stop()
    assert all(p["state"] == "RUNNING" for p in healthy_stack.status()["processes"]), "the stack was taken down"

    rows = [json.loads(line) for line in (run_dir / "samples" / "samples.jsonl").read_text().splitlines()]
    assert rows, "the samples written before the kill are gone"
    report = gameday("report", str(run_dir), home=healthy_stack.home)
    assert report.returncode == 4, report.stdout + report.stderr
    assert json.loads((run_dir / "result.json").read_text())["run"]["status"] == "crashed"
    assert (run_dir / "report.html").exists()
