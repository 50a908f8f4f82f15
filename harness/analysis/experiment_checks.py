"""Whether each chaos experiment of a run did what it was written to do, from the timeline.

A Chaos Toolkit experiment whose steady-state hypothesis does not hold *before* its method
never runs the method, yet `chaos run` ends it `completed`, not deviated, with exit 0
(chaostoolkit-lib 1.44). Its fault was never injected, so the game day's fault and
recovery verdicts say nothing about it, and with other experiments in the run they can
all pass. An unmet hypothesis before is also a finding in itself: the stack was not back
in its steady state (a breaker left open by the experiment before it, say). So each
experiment is judged, and a failed one fails the run like a failed SLO:

    pass   the hypothesis held before and after the method (or none is declared), no
           activity failed and every method probe answered within its tolerance
    fail   the hypothesis did not hold before the method (its fault was never injected);
           or a method activity failed (an action that may not have injected its fault:
           Chaos Toolkit records it and goes on, still `completed`), or a method probe
           answered outside its tolerance (the stack was not as the experiment expected
           mid-fault); or a rollback failed (a fault may be left behind); or the
           hypothesis did not hold after the method ("deviated"); or Chaos Toolkit
           ended it `failed`

An experiment that ended `aborted` or `interrupted`, or without a journal, fails too when
it did so by itself (an unexpected error in the method, a control that interrupted it, a
`chaos run` that crashed). One the harness stopped (a guardrail's `abort`, the web UI's
`chaos-abort`) is not judged: the run's status says so. Under `gameday run` a stopped
experiment has no `chaos-end` at all (the teardown writes `chaos-rollback`), and neither
has one whose harness crashed.

Events used: the harness's `chaos-start`/`chaos-end` (detail `status`, `deviated`) and,
between them, the chaos control's `hypothesis-end` (detail `met`, `unmet` probes),
`method-start` and `activity-end` (detail `phase`, `type`, `status`, `error`, and for a
method probe with a tolerance `tolerance_met`, which the chaos control checks because
Chaos Toolkit does not).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.analysis.verdicts import FAIL, PASS
from harness.events import EventKind

PASSED = (
    "ran as written: the steady-state hypothesis (if any) held before and after the method, "
    "and every activity succeeded within its tolerance"
)


@dataclass(frozen=True)
class ExperimentCheck:
    """One chaos block's experiment: `block` is its place in the run (1, 2, ...: a spec may run
    the same file twice), `experiment` the file as the spec names it."""

    block: int
    experiment: str
    state: str  # pass | fail
    reason: str
    start: float
    end: float


def experiment_checks(events: Iterable[Mapping[str, Any]]) -> tuple[ExperimentCheck, ...]:
    """A check per experiment that ended by itself, in run order (module docstring)."""
    out = []
    block, current = 0, None
    # by time: the chaos control writes from its own process, the harness from the run's
    for event in sorted(events, key=lambda e: float(e.get("ts") or 0.0)):
        source, kind = event.get("source"), event.get("kind")
        if source == "harness" and kind == EventKind.CHAOS_START:
            block, current = block + 1, [event]
        elif source == "harness" and kind == EventKind.CHAOS_END and current is not None:
            check = _check(block, current[0], current[1:], event)
            if check is not None:
                out.append(check)
            current = None
        elif current is not None:
            current.append(event)
    return tuple(out)


def _check(
    block: int, start: Mapping[str, Any], inside: list[Mapping[str, Any]], end: Mapping[str, Any]
) -> ExperimentCheck | None:
    detail = end.get("detail") or {}
    status = detail.get("status")
    chaos = [e for e in inside if e.get("source") == "chaos"]
    if status not in ("completed", "failed"):
        if any(e.get("kind") in (EventKind.CHAOS_ABORT, EventKind.ABORT) for e in inside):
            return None  # stopped on the harness's own request (a guardrail, the UI's Abort)
        reasons = [
            f"Chaos Toolkit ended it {status!r} by itself (chaos.log says why)"
            if status
            else f"chaos run exited {detail.get('returncode')} without a journal (chaos.out says why)"
        ]
    else:
        reasons = _reasons(chaos, status, bool(detail.get("deviated")))
    state, reason = (FAIL, "; ".join(reasons)) if reasons else (PASS, PASSED)
    return ExperimentCheck(block, str(start.get("name", "")), state, reason, float(start["ts"]), float(end["ts"]))


def _reasons(chaos: list[Mapping[str, Any]], status: str, deviated: bool) -> list[str]:
    before = _hypothesis_before_method(chaos)
    if before is not None and before.get("met") is False:
        return [
            "the steady-state hypothesis did not hold before the method"
            f"{_unmet(before)}, so the method never ran and its fault was never injected"
        ]
    reasons = [*_failed_activities(chaos, "method"), *_failed_activities(chaos, "rollback")]
    if deviated:
        reasons.append(f"the steady-state hypothesis did not hold after the method{_unmet(_last_hypothesis(chaos))}")
    if status == "failed" and not reasons:
        reasons.append("Chaos Toolkit ended it 'failed' (its journal says why)")
    return reasons


def _failed_activities(chaos: list[Mapping[str, Any]], phase: str) -> list[str]:
    """A method action that failed may not have injected its fault, a method probe out of its
    tolerance found the stack not as the experiment expected, and a failed rollback may have left
    a fault behind."""
    out = []
    for event in chaos:
        detail = event.get("detail") or {}
        if event.get("kind") != EventKind.ACTIVITY_END or detail.get("phase") != phase:
            continue
        what = f"{phase} {detail.get('type') or 'activity'} {event.get('name', '?')}"
        if detail.get("status") == "failed":
            error = str(detail.get("error") or "").strip().splitlines()
            out.append(f"{what} failed" + (f": {error[-1][:200]}" if error else ""))
        elif detail.get("tolerance_met") is False:  # checked by the chaos control; Chaos Toolkit does not
            out.append(f"{what} answered {detail.get('output')}, outside its tolerance")
    return out


def _hypothesis_before_method(chaos: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    for event in chaos:
        if event.get("kind") == EventKind.METHOD_START:
            return None
        if event.get("kind") == EventKind.HYPOTHESIS_END:
            return event.get("detail") or {}
    return None


def _last_hypothesis(chaos: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    ends = [e for e in chaos if e.get("kind") == EventKind.HYPOTHESIS_END]
    return (ends[-1].get("detail") or {}) if ends else {}


def _unmet(hypothesis: Mapping[str, Any] | None) -> str:
    probes = (hypothesis or {}).get("unmet") or []
    said = [f"{p.get('probe')} answered {p.get('output')}" for p in probes if isinstance(p, Mapping)]
    return f" ({'; '.join(said)})" if said else ""
