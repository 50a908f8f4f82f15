"""The shipped `gamedays/nightly.yaml`, unchanged, end to end on a reference stack of its own.

Three experiments in sequence (replica loss, tripped breakers, a Kafka partition),
each its own fault window with a recovery after it: the scheduled game day SREs run
every night. About 3.5 minutes, so it sits in a file of its own and xdist runs it
beside the rest.
"""

from __future__ import annotations

import pytest

from e2e_support import gameday, result_of, verdicts
from support import free_base_port

pytestmark = pytest.mark.slow


def test_nightly_passes_on_a_healthy_stack_with_one_fault_window_per_experiment(tmp_path):
    reports = tmp_path / "runs"
    done = gameday("run", "gamedays/nightly.yaml", "--reports", str(reports), "--base-port", str(free_base_port()),
                   home=tmp_path / "home", timeout=420)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir, result = result_of(reports)
    assert result["run"]["status"] == "completed"
    assert set(verdicts(result).values()) == {"pass"}, verdicts(result)
    assert len(result["phases"]["fault"]["windows"]) == 3
    assert len(result["phases"]["recovery"]["windows"]) == 3
    assert (run_dir / "report.html").exists() and (run_dir / "junit.xml").exists()
    down = gameday("stack", "status", home=tmp_path / "home")   # it started the stack, so it stopped it
    assert down.returncode == 4 and "not running" in down.stdout + down.stderr
