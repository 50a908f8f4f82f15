"""A real `gameday run` whose reports disk fills while a fault is in place and Locust writes samples.

The run directory lives on a tmpfs with room to spare. Once the fault is active (the
stack reports a toxic) and a few seconds of samples are on disk, the test fills the
tmpfs to the last byte, snapshots the samples written so far, and times how long the
run takes to end. What the test then checks is in test_bad_input.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bad_input_support import GAMEDAY, ROOT, Result, fill
from e2e_support import write_spec
from reliability_support import partition_experiment, toxics


@dataclass(frozen=True)
class Outcome:
    result: Result
    run_dir: Path
    samples_before_fill: bytes  # complete lines only
    toxics_after: list
    elapsed_s: float  # from the disk filling to the run's exit


def run_until_disk_fills(stack, mnt: Path, tmp_path: Path) -> Outcome:
    experiment = tmp_path / "partition.json"
    experiment.write_text(json.dumps(partition_experiment(stack.name, 40, "partition to outlive a full disk")))
    spec = write_spec(
        tmp_path / "gd.yaml",
        name="disk-fills",
        target={"kind": "local", "stack": stack.name},
        load={"profile": "loadprofiles/inference.py", "shape": "constant_rate", "rate": 30, "duration": "70s"},
        chaos={"experiment": str(experiment), "start_after": "5s"},
        warmup="2s",
        slos=[{"sli": "availability", "phase": "run", "objective": ">= 99%"}],
    )
    reports = mnt / "runs"
    proc = subprocess.Popen(
        [*GAMEDAY, "run", str(spec), "--reports", str(reports)],
        cwd=ROOT,
        text=True,
        env={**os.environ, "GAMEDAY_HOME": str(stack.home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        run_dir = _wait_for_fault_and_samples(proc, stack, reports)
        samples = run_dir / "samples" / "samples.jsonl"
        fill(mnt)
        filled = time.monotonic()
        before = samples.read_bytes()
        before = before[: before.rindex(b"\n") + 1]
        output, _ = proc.communicate(timeout=180)
        elapsed = time.monotonic() - filled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Outcome(Result(proc.returncode, output), run_dir, before, toxics(stack), elapsed)


def _wait_for_fault_and_samples(proc: subprocess.Popen, stack, reports: Path, timeout: float = 90) -> Path:
    """The run directory, once the fault is in and at least 3 sample lines are on disk."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended early (exit {proc.returncode}): {proc.stdout.read()[-3000:]}"
        runs = sorted(reports.glob("*-disk-fills")) if reports.exists() else []
        samples = runs[-1] / "samples" / "samples.jsonl" if runs else None
        if samples and samples.exists() and samples.read_bytes().count(b"\n") >= 3 and toxics(stack):
            return runs[-1]
        time.sleep(0.5)
    raise AssertionError("the fault never became active with samples on disk")
