"""The shipped `gamedays/canary-under-fault.yaml`, unchanged, end to end on a reference stack of its own.

Traffic shifts to the canary model in steps while the canary replica is killed
mid-rollout: users must keep a good experience. About 1.5 minutes, in a file of its
own so xdist runs it beside the rest.
"""

from __future__ import annotations

import pytest

from e2e_support import gameday, result_of, verdicts
from support import free_base_port

pytestmark = pytest.mark.slow


def test_canary_under_fault_passes_on_a_healthy_stack(tmp_path):
    reports = tmp_path / "runs"
    done = gameday("run", "gamedays/canary-under-fault.yaml", "--reports", str(reports), "--base-port", str(free_base_port()),
                   home=tmp_path / "home", timeout=420)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir, result = result_of(reports)
    assert result["run"]["status"] == "completed"
    assert set(verdicts(result).values()) == {"pass"}, verdicts(result)
    assert len(result["phases"]["fault"]["windows"]) == 1
    assert {v["sli"] for v in result["verdicts"]} >= {"availability", "correctness", "recovery_time"}
    assert (run_dir / "report.html").exists() and (run_dir / "junit.xml").exists()
    down = gameday("stack", "status", home=tmp_path / "home")   # it started the stack, so it stopped it
    assert down.returncode == 4 and "not running" in down.stdout + down.stderr
