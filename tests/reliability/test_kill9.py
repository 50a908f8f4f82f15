"""`kill -9` of `gameday run` in each phase: any fault is rolled back, no child is orphaned,
and what was recorded is still readable and reported as `crashed`.

The children are tied to the orchestrator with the kernel's parent-death signal:
`chaos run` gets SIGINT (so its rollbacks run), Locust gets SIGTERM, and the sink
reader notices it was orphaned. A stack started separately keeps running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from e2e_support import GAMEDAY, ROOT, gameday, write_spec
from reliability_support import (
    events_of,
    partition_experiment,
    processes_naming,
    toxics,
    wait_until,
)

pytestmark = pytest.mark.slow












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
        return bool(toxics(stack))
    return "chaos-end" in kinds


@pytest.mark.parametrize("phase", ["warmup", "baseline", "fault", "recovery"])
def test_kill_9_in_each_phase_rolls_back_leaves_no_orphan_and_keeps_the_record(healthy_stack, tmp_path, phase):
    experiment = tmp_path / "short-partition.json"
    experiment.write_text(json.dumps(partition_experiment(healthy_stack.name, 6, "short partition")))
    spec = write_spec(tmp_path / "gd.yaml", name="killed", target={"kind": "local", "stack": healthy_stack.name},
                      load={"profile": "loadprofiles/inference.py", "shape": "constant_rate", "rate": 30,
                            "duration": "40s"},
                      chaos={"experiment": str(experiment), "start_after": "8s"}, warmup="4s",
                      slos=[{"sli": "availability", "phase": "run", "objective": ">= 99%"}])
    env = {**os.environ, "GAMEDAY_HOME": str(healthy_stack.home)}
    proc = subprocess.Popen([*GAMEDAY, "run", str(spec), "--reports", str(tmp_path / "runs")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = tmp_path / "runs"
    run_dir = lambda: next(runs.iterdir(), None) if runs.exists() else None  # noqa: E731
    assert wait_until(lambda: reached(run_dir(), healthy_stack, phase), 60), f"the run never reached {phase}"
    assert wait_until(lambda: (run_dir() / "samples" / "samples.jsonl").exists(), 10), "no samples recorded yet"
    time.sleep(1.5)  # something recorded in this phase
    run_dir = run_dir()
    assert processes_naming(run_dir), "expected Locust, the sink reader (and chaos in the fault) to be running"

    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    assert wait_until(lambda: not toxics(healthy_stack), 20), "a fault outlived the harness"
    assert wait_until(lambda: not processes_naming(run_dir), 20), \
        f"orphans: {[p.info['cmdline'][:3] for p in processes_naming(run_dir)]}"
    assert all(p["state"] == "RUNNING" for p in healthy_stack.status()["processes"]), "the stack was taken down"

    rows = [json.loads(line) for line in (run_dir / "samples" / "samples.jsonl").read_text().splitlines()]
    assert rows, "the samples written before the kill are gone"
    report = gameday("report", str(run_dir), home=healthy_stack.home)
    assert report.returncode == 4, report.stdout + report.stderr
    assert json.loads((run_dir / "result.json").read_text())["run"]["status"] == "crashed"
    assert (run_dir / "report.html").exists()
