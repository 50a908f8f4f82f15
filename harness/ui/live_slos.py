"""Live verdicts of a game day's SLOs, from the load plugin's live.json (last 5 s and 30 s).

    live_rows(slos, live) -> list[SloRow]

A live verdict is an early look, not the verdict: the report judges each SLO over
its phase. SLIs that live.json does not carry (correctness, recovery_time, apdex,
p99.9...) read `state: "in report"`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

from harness.run.guardrail import LIVE_SLIS, live_value
from harness.spec.models import Slo

LIVE_WINDOW_S = 5.0


class SloRow(TypedDict):
    slo: str          # the SLO's label, e.g. "latency.p99@run < 250ms"
    sli: str
    endpoint: str
    phase: str
    objective: str
    value: str        # the live value for people, e.g. "99.82%", "41.3 ms", "-"
    state: str        # pass | fail | no-data | in report
    window: str


def live_rows(slos: tuple[Slo, ...] | list[Slo], live: Mapping[str, Any] | None) -> list[SloRow]:
    """One row per SLO, judged on the last LIVE_WINDOW_S seconds of `live` (None: no data yet)."""
    return [_row(slo, live or {}) for slo in slos]


def _row(slo: Slo, live: Mapping[str, Any]) -> SloRow:
    row = SloRow(slo=slo.label, sli=slo.sli, endpoint=slo.endpoint or "all", phase=slo.phase,
                 objective=slo.objective.text, value="-", state="in report", window=f"last {LIVE_WINDOW_S:g}s")
    if slo.sli not in LIVE_SLIS:
        return row
    value = live_value(live, slo.sli, LIVE_WINDOW_S, slo.endpoint)
    if value is None:
        return SloRow(**{**row, "state": "no-data"})
    state = "pass" if slo.objective.holds(value) else "fail"
    return SloRow(**{**row, "value": format_value(slo.sli, value), "state": state})


def format_value(sli: str, value: float) -> str:
    """`value` (in the objective grammar's units) as people read it."""
    if sli.startswith("latency."):
        return f"{value * 1000:.1f} ms"
    if sli in ("availability", "error_rate", "rate_limited"):
        return f"{value * 100:.2f}%"
    return f"{value:.1f} rps"
