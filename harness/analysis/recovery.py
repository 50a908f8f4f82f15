"""recovery_time: how long after each fault the SLIs were back within their baseline objectives.

For each fault window, the clock starts at its end. The run has recovered at the
first second `s` of the recovery window such that `s .. s+4` (5 consecutive
seconds, all inside the recovery window) each meet every criterion; recovery_time
= s - fault end (at least 0). A second without requests meets nothing. If no such
run of seconds exists before the recovery window ends (load end, or the next
experiment's method), recovery is `never` (seconds None, reported as infinity to SLOs).

Criteria are the game day's baseline SLOs that can be judged one second at a time
(catalogue.per_second: availability, error_rate, latency.*, apdex, ...), plus its
baseline SLOs on the data flow's `events.e2e_latency.*`, judged per second of
*production*: the events produced in second s must have come out within the
objective (an event never delivered counts as infinitely late). A second in
which no event was produced does not block recovery on those criteria; request
traffic is judged by the others. Without any request criterion,
the run's own baseline is the reference, on all endpoints together:
error_rate <= baseline error_rate + 1 point, and latency.p50 <= max(1.5 x baseline
p50, baseline p50 + 10 ms) (the median: a single second's p99 is its maximum, too noisy
to say "back to normal").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from harness.analysis.phases import Window
from harness.analysis.rundir import Ledger
from harness.analysis.slis import ALL, PhaseSlis, apdex_name
from harness.spec import catalogue
from harness.spec.models import Slo
from harness.spec.slo_expr import Objective

CONSECUTIVE_S = 5


@dataclass(frozen=True)
class Criterion:
    """`sli` on `endpoint` must meet `objective` in a second; `source` says where it came from."""

    sli: str
    endpoint: str
    objective: Objective
    source: str


@dataclass(frozen=True)
class Recovery:
    """One fault's recovery. `seconds` None means never; `proof` is the 5-second window that showed it."""

    fault: Window
    seconds: float | None
    proof: Window | None
    criteria: tuple[Criterion, ...]


def criteria(slos: Iterable[Slo], baseline: PhaseSlis | None) -> tuple[Criterion, ...]:
    """Baseline SLOs judged per second, else defaults from the measured baseline (module docstring)."""
    slos = list(slos)
    chosen = tuple(Criterion(_column(s), s.endpoint or ALL, s.objective, s.label) for s in slos
                   if s.phase == "baseline" and (catalogue.per_second(s.sli) or _is_event_latency(s.sli)))
    if any(not _is_event_latency(c.sli) for c in chosen):
        return chosen
    events_only = chosen
    if baseline is None:
        return events_only
    measured = baseline.endpoints.get(ALL, {})
    defaults = []
    if measured.get("error_rate") is not None:
        limit = measured["error_rate"] + 0.01
        defaults.append(Criterion("error_rate", ALL, Objective("<=", limit, None, f"<= {limit:.4f}"), "baseline+1%"))
    if measured.get("latency.p50") is not None:
        # the median, not p99: one second holds tens of requests, so its p99 is its max and noisy
        p50 = measured["latency.p50"]
        limit = max(1.5 * p50, p50 + 0.010)
        defaults.append(Criterion("latency.p50", ALL, Objective("<=", limit, "s", f"<= {limit * 1000:.1f}ms"),
                                  "baseline p50 x1.5"))
    return (*events_only, *defaults)


def _is_event_latency(sli: str) -> bool:
    return sli.startswith("events.e2e_latency.")


def _column(slo: Slo) -> str:
    return apdex_name(slo.apdex_t) if slo.apdex_t is not None else slo.sli


def recoveries(per_second: pd.DataFrame, faults: Sequence[Window], recovery_windows: Sequence[Window],
               rules: Sequence[Criterion], ledger: Ledger | None = None) -> list[Recovery]:
    """One Recovery per fault window, in order."""
    request_rules = [r for r in rules if not _is_event_latency(r.sli)]
    good = _good_seconds(per_second, request_rules)
    event_rules = [r for r in rules if _is_event_latency(r.sli)]
    if event_rules and ledger is not None:
        good -= _late_event_seconds(ledger, event_rules)
    out = []
    for fault in faults:
        window = next((w for w in recovery_windows if abs(w.start - fault.end) < 1e-6), None)
        out.append(_recover(fault, window, good, tuple(rules)))
    return out


def _good_seconds(per_second: pd.DataFrame, rules: Sequence[Criterion]) -> set[int]:
    """The seconds in which every criterion holds (no rules: every second with requests)."""
    if per_second.empty:
        return set()
    ok = None
    for rule in rules:
        rows = per_second[per_second["endpoint"] == rule.endpoint]
        values = rows[rule.sli] if rule.sli in rows else pd.Series([None] * len(rows), index=rows.index)
        passing = {int(ts) for ts, v in zip(rows["ts"], values) if rule.objective.holds(_number(v))}
        ok = passing if ok is None else ok & passing
    if ok is None:
        ok = {int(ts) for ts in per_second.loc[per_second["endpoint"] == ALL, "ts"]}
    return ok


def _late_event_seconds(ledger: Ledger, rules: Sequence[Criterion]) -> set[int]:
    """Production seconds whose events miss an e2e latency objective (undelivered = infinitely late)."""
    events = ledger.events
    if events.empty:
        return set()
    second = np.floor(events["produced"].to_numpy()).astype(np.int64)
    latency = events["consumed"].to_numpy() - events["produced"].to_numpy()
    latency = np.where(np.isnan(latency), np.inf, latency)
    late: set[int] = set()
    for rule in rules:
        stat = rule.sli.removeprefix("events.e2e_latency.")
        for ts in np.unique(second):
            values = latency[second == ts]
            if not rule.objective.holds(_statistic(values, stat)):
                late.add(int(ts))
    return late


def _statistic(values: np.ndarray, stat: str) -> float:
    if stat == "max":
        return float(values.max())
    if stat == "mean":
        return float(values.mean())
    return float(np.percentile(values, float(stat.removeprefix("p")), method="inverted_cdf"))


def _number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _recover(fault: Window, window: Window | None, good: set[int], rules: tuple[Criterion, ...]) -> Recovery:
    if window is None:
        return Recovery(fault, None, None, rules)
    seconds = list(window.seconds())
    streak = 0
    for i, second in enumerate(seconds):
        streak = streak + 1 if second in good else 0
        if streak == CONSECUTIVE_S:
            first = seconds[i - CONSECUTIVE_S + 1]
            return Recovery(fault, max(0.0, first - fault.end), Window(first, second + 1), rules)
    return Recovery(fault, None, None, rules)
