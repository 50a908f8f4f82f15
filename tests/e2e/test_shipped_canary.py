"""The shipped `gamedays/canary-under-fault.yaml`, unchanged, end to end on a reference stack of its own.

Traffic shifts to the canary model in steps while the canary replica is killed
mid-rollout: users must keep a good experience. About 1.5 minutes, in a file of its
own so xdist runs it beside the rest.
"""

from __future__ import annotations

import pytest

from e2e_support import run_shipped

pytestmark = pytest.mark.slow


def test_canary_under_fault_passes_on_a_healthy_stack(tmp_path):
    _, result = run_shipped("gamedays/canary-under-fault.yaml", tmp_path)
    assert len(result["phases"]["fault"]["windows"]) == 1
    assert {v["sli"] for v in result["verdicts"]} >= {"availability", "correctness", "recovery_time"}
