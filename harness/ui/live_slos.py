"""Live verdicts of a game day's SLOs, from the load plugin's live.json (last 5 s and 30 s).

    live_phase(now, started, warmup, chaos_events) -> LivePhase
    live_rows(slos, live, phase) -> list[SloRow]

A live verdict is an early look, not the verdict: the report judges each SLO over
its phase. So a row is judged only while its own phase runs, and only once the phase
has run for the whole live window (LIVE_WINDOW_S), so the window holds nothing of the
phase before: "availability@fault" reads `waiting for fault` until a fault is in, and
`fault over` once it was removed (the report judges it). A `run` SLO is judged from
the end of the warmup on. SLIs that live.json does not carry (correctness,
recovery_time, apdex, p99.9...) read `in report`.

The phases follow harness.analysis.phases, seen from inside the test: the fault starts
at an experiment's first method action and ends at its removal (a method action marked
`removes_fault`, else a rollback's end, else the experiment's end).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from harness.run.guardrail import LIVE_SLIS, live_value
from harness.spec.models import Slo

LIVE_WINDOW_S = 5.0
WARMUP, BASELINE, FAULT, RECOVERY, RUN = "warmup", "baseline", "fault", "recovery", "run"


class SloRow(TypedDict):
    slo: str  # the SLO's label, e.g. "latency.p99@run < 250ms"
    sli: str
    endpoint: str
    phase: str
    objective: str
    value: str  # the live value for people, e.g. "99.82%", "41.3 ms", "-"
    state: str  # pass | fail | no-data | in report | waiting for <phase> | <phase> over
    window: str


@dataclass(frozen=True)
class LivePhase:
    """The phase running now, for how long, the phases that already ended in this test, and
    how long the `run` phase (from the warmup's end) has been going."""

    name: str  # warmup | baseline | fault | recovery
    running_s: float  # seconds since it started
    ended: frozenset[str] = frozenset()
    run_s: float = 0.0


def live_phase(now: float, started: float, warmup: float, chaos: Iterable[Mapping[str, Any]]) -> LivePhase:
    """The phase at `now` of a test that started at `started` with `warmup` seconds of warmup,
    given its chaos events so far (harness.ui.runner.chaos_events; UTC epoch seconds throughout)."""
    warmup_end = started + warmup
    if now < warmup_end:
        return LivePhase(WARMUP, now - started)
    name, since, ended = BASELINE, warmup_end, {WARMUP}
    for event in chaos:
        if name != FAULT and _injects(event):
            ended.add(name)
            name, since = FAULT, event["ts"]
        elif name == FAULT and _removes(event):
            ended.add(FAULT)
            name, since = RECOVERY, event["ts"]
    return LivePhase(name, max(0.0, now - since), frozenset(ended), now - warmup_end)


def _injects(event: Mapping[str, Any]) -> bool:
    detail = event.get("detail") or {}
    return (
        event.get("source") == "chaos"
        and event.get("kind") == "activity-start"
        and detail.get("phase") == "method"
        and detail.get("type") == "action"
    )


def _removes(event: Mapping[str, Any]) -> bool:
    detail, kind = event.get("detail") or {}, event.get("kind")
    if event.get("source") == "harness":
        return kind == "chaos-end"
    return event.get("source") == "chaos" and (
        (kind == "activity-end" and (detail.get("removes_fault") or detail.get("phase") == "rollback"))
        or kind == "experiment-end"
    )


def live_rows(
    slos: tuple[Slo, ...] | list[Slo], live: Mapping[str, Any] | None, phase: LivePhase | None = None
) -> list[SloRow]:
    """One row per SLO; those of the running `phase` judged on the last LIVE_WINDOW_S seconds of
    `live` (None: no data yet). Without `phase` (no test running) nothing is judged."""
    return [_row(slo, live or {}, phase) for slo in slos]


def _row(slo: Slo, live: Mapping[str, Any], phase: LivePhase | None) -> SloRow:
    row = SloRow(
        slo=slo.label,
        sli=slo.sli,
        endpoint=slo.endpoint or "all",
        phase=slo.phase,
        objective=slo.objective.text,
        value="-",
        state="in report",
        window=f"last {LIVE_WINDOW_S:g}s",
    )
    if slo.sli not in LIVE_SLIS:
        return row
    waiting = _waiting(slo.phase, phase)
    if waiting:
        return SloRow(**{**row, "state": waiting})
    value = live_value(live, slo.sli, LIVE_WINDOW_S, slo.endpoint)
    if value is None:
        return SloRow(**{**row, "state": "no-data"})
    state = "pass" if slo.objective.holds(value) else "fail"
    return SloRow(**{**row, "value": format_value(slo.sli, value), "state": state})


def _waiting(slo_phase: str, phase: LivePhase | None) -> str | None:
    """Why the row is not judged now, None when it is."""
    if phase is None:
        return f"waiting for {slo_phase}"
    running, for_s = (
        (phase.name != WARMUP, phase.run_s) if slo_phase == RUN else (phase.name == slo_phase, phase.running_s)
    )
    if running:
        return None if for_s >= LIVE_WINDOW_S else f"{slo_phase}: first {LIVE_WINDOW_S:g}s"
    return f"{slo_phase} over" if slo_phase in phase.ended else f"waiting for {slo_phase}"


def format_value(sli: str, value: float) -> str:
    """`value` (in the objective grammar's units) as people read it."""
    if sli.startswith("latency."):
        return f"{value * 1000:.1f} ms"
    if sli in ("availability", "error_rate", "rate_limited"):
        return f"{value * 100:.2f}%"
    return f"{value:.1f} rps"
