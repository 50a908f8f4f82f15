"""The run's status from its timeline, and the process exit code from status and verdicts.

Status (`harness.status.RunStatus`; the orchestrator writes it as `run-end` detail `status`):

    completed      the run went to the end
    aborted        a guardrail aborted the chaos (an `abort` event, or run-end says so)
    interrupted    SIGINT/SIGTERM
    target-failed  the target failed (did not start, went away)
    crashed        the harness failed, or there is no `run-end` at all

A directory that Locust recorded alone (the plugin injected into a user's own
`locust` command: no harness `run-start`) is completed when Locust recorded its
`test-stop`, crashed otherwise.

Exit codes (`harness.status.ExitCode`): 0 every SLO passed and every experiment ran as
written (harness.analysis.experiment_checks); 1 one of them failed or had no data; 3 aborted or
interrupted; 4 the target or the harness failed. (2, invalid input, is raised before any
run directory exists.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from harness.events import EventKind, kind_of
from harness.status import ExitCode, RunStatus


def run_status(events: Iterable[dict[str, Any]]) -> RunStatus:
    """The run's status, read from the harness's run-end and abort events."""
    events = list(events)
    ends = [e for e in events if e.get("source") == "harness" and e.get("kind") == "run-end"]
    status = (ends[-1].get("detail") or {}).get("status") if ends else None
    if status in tuple(RunStatus):
        return RunStatus(status)
    if any(e.get("kind") == "abort" for e in events):
        return RunStatus.ABORTED
    if not any(e.get("source") == "harness" and e.get("kind") == "run-start" for e in events):
        stopped = any(e.get("source") == "load" and kind_of(e) == EventKind.TEST_STOP for e in events)
        return RunStatus.COMPLETED if stopped else RunStatus.CRASHED
    return RunStatus.COMPLETED if ends else RunStatus.CRASHED


def outcome(status: str, states: Sequence[str]) -> str:
    """pass | fail | inconclusive for a completed run, else the status itself.

    inconclusive: nothing failed, but a verdict rested on generator-bound seconds."""
    if status != RunStatus.COMPLETED:
        return status
    if all(s == "pass" for s in states):
        return "pass"
    return "inconclusive" if all(s in ("pass", "inconclusive") for s in states) else "fail"


def exit_code(status: str, states: Sequence[str]) -> ExitCode:
    """The process exit code for a run with `status` and verdict `states` (module docstring)."""
    if status in (RunStatus.ABORTED, RunStatus.INTERRUPTED):
        return ExitCode.INTERRUPTED
    if status in (RunStatus.TARGET_FAILED, RunStatus.CRASHED):
        return ExitCode.ERROR
    return ExitCode.OK if all(s == "pass" for s in states) else ExitCode.FAILED
