"""`kill -9` of `gameday run` mid-fault: the fault is rolled back, no child is orphaned,
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
import sys
import time
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_support import GAMEDAY, ROOT, gameday, write_spec  # noqa: E402

pytestmark = pytest.mark.slow


def children_of_run(run_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(run_dir) in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def toxics(stack) -> list[str]:
    doc = stack.status()
    return [t for p in doc["proxies"] for t in p.get("toxics", [])]


def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_kill_9_mid_fault_rolls_back_leaves_no_orphan_and_keeps_the_record(healthy_stack, tmp_path):
    spec = write_spec(tmp_path / "gd.yaml", name="killed", target={"kind": "local", "stack": healthy_stack.name},
                      load={"profile": "loadprofiles/inference.py", "shape": "constant_rate", "rate": 30,
                            "duration": "60s"},
                      chaos={"experiment": "experiments/partition-kafka.json", "start_after": "4s"}, warmup="1s",
                      slos=[{"sli": "availability", "phase": "run", "objective": ">= 99%"}])
    env = {**os.environ, "GAMEDAY_HOME": str(healthy_stack.home)}
    proc = subprocess.Popen([*GAMEDAY, "run", str(spec), "--reports", str(tmp_path / "runs")], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: bool(toxics(healthy_stack)), 60), "the partition never started"
    run_dir = next((tmp_path / "runs").iterdir())
    assert children_of_run(run_dir), "expected Locust, chaos and the sink reader to be running"
    time.sleep(2)  # a few seconds of fault on record

    proc.send_signal(signal.SIGKILL)
    proc.wait(10)

    assert wait_until(lambda: not toxics(healthy_stack), 20), "the partition outlived the harness"
    assert wait_until(lambda: not children_of_run(run_dir), 20), \
        f"orphans: {[p.info['cmdline'][:3] for p in children_of_run(run_dir)]}"
    assert all(p["state"] == "RUNNING" for p in healthy_stack.status()["processes"]), "the stack was taken down"

    rows = [json.loads(line) for line in (run_dir / "samples" / "samples.jsonl").read_text().splitlines()]
    assert len({r["ts"] for r in rows}) >= 4, "the samples written before the kill are gone"
    report = gameday("report", str(run_dir), home=healthy_stack.home)
    assert report.returncode == 4, report.stdout + report.stderr
    assert json.loads((run_dir / "result.json").read_text())["run"]["status"] == "crashed"
    assert (run_dir / "report.html").exists()
