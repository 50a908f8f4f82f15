"""Whether each chaos experiment of a run did what it was written to do, from the timeline.

A Chaos Toolkit experiment whose steady-state hypothesis does not hold *before* its method
never runs the method, yet `chaos run` ends it `completed`, not deviated, with exit 0
(chaostoolkit-lib 1.44). Its fault was never injected, so the game day's fault and
recovery verdicts say nothing about it, and with other experiments in the run they can
all pass. An unmet hypothesis before is also a finding in itself: the stack was not back
in its steady state (a breaker left open by the experiment before it, say). So each
experiment is judged, and a failed one fails the run like a failed SLO:

    pass   the hypothesis held before and after the method (or none is declared), and
           the experiment completed
    fail   the hypothesis did not hold before the method (its fault was never injected),
           it did not hold after it (Chaos Toolkit's "deviated"), or an activity failed
           (status `failed`)

An experiment that ended `aborted` or `interrupted` is not judged here: the run's status
says so. One with no `chaos-end` (the harness crashed) is not judged either.

Events used: the harness's `chaos-start`/`chaos-end` (detail `status`, `deviated`) and,
between them, the chaos control's `hypothesis-end` (detail `met`, `unmet` probes) and
`method-start`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.events import EventKind

PASS, FAIL = "pass", "fail"


@dataclass(frozen=True)
class ExperimentCheck:
    """One chaos block's experiment: `experiment` is the file as the spec names it."""

    experiment: str
    state: str  # pass | fail
    reason: str
    start: float
    end: float


def experiment_checks(events: Iterable[Mapping[str, Any]]) -> tuple[ExperimentCheck, ...]:
    """A check per experiment that ran to its end (completed, failed or deviated), in run order."""
    out = []
    current: list[Mapping[str, Any]] | None = None
    # by time: the chaos control writes from its own process, the harness from the run's
    for event in sorted(events, key=lambda e: float(e.get("ts") or 0.0)):
        source, kind = event.get("source"), event.get("kind")
        if source == "harness" and kind == EventKind.CHAOS_START:
            current = [event]
        elif source == "harness" and kind == EventKind.CHAOS_END and current is not None:
            check = _check(current[0], current[1:], event)
            if check is not None:
                out.append(check)
            current = None
        elif current is not None and source == "chaos":
            current.append(event)
    return tuple(out)


def _check(start: Mapping[str, Any], chaos: list[Mapping[str, Any]], end: Mapping[str, Any]) -> ExperimentCheck | None:
    detail = end.get("detail") or {}
    status, name = detail.get("status"), str(start.get("name", ""))

    def made(state: str, reason: str) -> ExperimentCheck:
        return ExperimentCheck(name, state, reason, float(start["ts"]), float(end["ts"]))

    before = _hypothesis_before_method(chaos)
    if before is not None and before.get("met") is False:
        return made(
            FAIL,
            "the steady-state hypothesis did not hold before the method"
            f"{_unmet(before)}, so the method never ran and its fault was never injected",
        )
    if detail.get("deviated"):
        return made(FAIL, f"the steady-state hypothesis did not hold after the method{_unmet(_last_hypothesis(chaos))}")
    if status == "failed":
        return made(FAIL, "an activity of the experiment failed (its journal says which)")
    if status == "completed":
        return made(PASS, "ran its method; the steady-state hypothesis held before and after")
    return None  # aborted, interrupted or no journal: the run's status tells


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
