"""Recovery and impact of each fault, measured from the fault's removal.

**The clock** starts at the fault's *removal* (harness.analysis.phases.Fault): the end
of the method action that healed it, else of its rollbacks. Pauses the experiment
takes after the heal are recovery time, seen as such.

**Healthy** is a second in which every criterion holds. The criteria are always, on
all endpoints together, measured against the run's own baseline:

    availability  >= baseline availability - 1 point   (every attempt counts: errors,
                                                         429s, connection failures)
    latency.p50   <= max(1.5 x baseline p50, baseline p50 + 10 ms)   (the median: one
                   second's p99 is its maximum, too noisy to say "back to normal")

plus the game day's own baseline SLOs that can be judged one second at a time
(catalogue.per_second), plus its baseline SLOs on `events.e2e_latency.*`, judged per
second of *production*: the events produced in second s must have come out within
the objective (an event never delivered is infinitely late). The user's SLOs are
added to the defaults, never used instead of them, so a latency-only baseline SLO
cannot hide a stream of fast errors. A second without requests is not healthy.

**Time to recover** = the first second of CONSECUTIVE_S healthy seconds in a row, all
inside the recovery window, minus the removal (so it can be a fraction of a second).
No such streak before the window ends (load end, or the next experiment's method)
is `never`.

**Impact**: whether any second from the fault's start up to that streak was unhealthy:
when the first one was (time to detect, from the fault's start), how many there were,
and the worst value of each criterion over them. A fault after which the SLIs never
left their baseline band has the outcome `no-impact` ("no impact observed"), reported
as such, not as a recovery of 0 s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.phases import Fault, Window
from harness.analysis.rundir import Ledger
from harness.analysis.slis import ALL, PhaseSlis, sli_column
from harness.spec import catalogue
from harness.spec.models import Slo
from harness.spec.slo_expr import Objective

CONSECUTIVE_S = 5
RECOVERED, NO_IMPACT, NEVER = "recovered", "no-impact", "never"


@dataclass(frozen=True)
class Criterion:
    """`sli` on `endpoint` must meet `objective` in a second; `source` says where it came from."""

    sli: str
    endpoint: str
    objective: Objective
    source: str


@dataclass(frozen=True)
class Worst:
    """The worst per-second value of one criterion over the impact (None: no request in those seconds)."""

    criterion: Criterion
    value: float | None


@dataclass(frozen=True)
class Impact:
    """Unhealthy seconds from the fault's start to the recovery (or the window's end)."""

    first_bad: int | None
    bad_seconds: int
    time_to_detect: float | None
    worst: tuple[Worst, ...]

    @property
    def observed(self) -> bool:
        return self.bad_seconds > 0


@dataclass(frozen=True)
class Recovery:
    """One fault's recovery. `seconds` None means never; `proof` is the streak that showed it."""

    fault: Window
    seconds: float | None
    proof: Window | None
    criteria: tuple[Criterion, ...]
    impact: Impact
    recovery_window: Window | None = None

    @property
    def removal(self) -> float:
        return self.fault.end

    @property
    def outcome(self) -> str:
        """recovered | no-impact | never."""
        if self.seconds is None:
            return NEVER
        return RECOVERED if self.impact.observed else NO_IMPACT


def criteria(slos: Iterable[Slo], baseline: PhaseSlis | None) -> tuple[Criterion, ...]:
    """The defaults from the measured baseline, plus the game day's per-second baseline SLOs."""
    chosen = tuple(
        Criterion(sli_column(s), s.endpoint or ALL, s.objective, s.label)
        for s in slos
        if s.phase == "baseline" and (catalogue.per_second(s.sli) or _is_event_latency(s.sli))
    )
    return (*_defaults(baseline), *chosen)


def _defaults(baseline: PhaseSlis | None) -> list[Criterion]:
    measured = baseline.endpoints.get(ALL, {}) if baseline is not None else {}
    defaults = []
    if (availability := measured.get("availability")) is not None:
        floor = max(0.0, availability - 0.01)
        defaults.append(
            Criterion(
                "availability",
                ALL,
                Objective(">=", floor, "%", f">= {floor * 100:.2f}%"),
                "baseline availability -1 point",
            )
        )
    if (p50 := measured.get("latency.p50")) is not None:
        limit = max(1.5 * p50, p50 + 0.010)
        defaults.append(
            Criterion("latency.p50", ALL, Objective("<=", limit, "s", f"<= {limit * 1000:.1f}ms"), "baseline p50 x1.5")
        )
    return defaults


def _is_event_latency(sli: str) -> bool:
    return sli.startswith("events.e2e_latency.")


def recoveries(
    per_second: pd.DataFrame, faults: Sequence[Fault], rules: Sequence[Criterion], ledger: Ledger | None = None
) -> list[Recovery]:
    """One Recovery per fault, in order."""
    request_rules = [r for r in rules if not _is_event_latency(r.sli)]
    good = _good_seconds(per_second, request_rules)
    event_rules = [r for r in rules if _is_event_latency(r.sli)]
    if event_rules and ledger is not None:
        good -= _late_event_seconds(ledger, event_rules)
    return [_recover(fault, good, tuple(rules), per_second) for fault in faults]


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


def _number(value: Any) -> float | None:  # a cell of a frame
    return None if value is None or pd.isna(value) else float(value)


def _recover(fault: Fault, good: set[int], rules: tuple[Criterion, ...], per_second: pd.DataFrame) -> Recovery:
    window = fault.recovery
    proof = _streak(window, good) if window is not None else None
    seconds = max(0.0, proof.start - fault.removal) if proof is not None else None
    until = proof.start if proof is not None else (window.end if window is not None else fault.window.end)
    span = range(int(np.floor(fault.window.start)), int(until))
    impact = _impact(fault.window.start, [s for s in span if s not in good], rules, per_second)
    return Recovery(fault.window, seconds, proof, rules, impact, window)


def _streak(window: Window, good: set[int]) -> Window | None:
    """The first CONSECUTIVE_S healthy seconds in a row inside `window`."""
    seconds = list(window.seconds())
    streak = 0
    for i, second in enumerate(seconds):
        streak = streak + 1 if second in good else 0
        if streak == CONSECUTIVE_S:
            first = seconds[i - CONSECUTIVE_S + 1]
            return Window(first, second + 1)
    return None


def _impact(fault_start: float, bad: list[int], rules: Sequence[Criterion], per_second: pd.DataFrame) -> Impact:
    if not bad:
        return Impact(None, 0, None, ())
    distinct = {(rule.sli, rule.endpoint): rule for rule in reversed(rules) if not _is_event_latency(rule.sli)}
    worst = tuple(Worst(rule, _worst(rule, bad, per_second)) for rule in reversed(distinct.values()))
    return Impact(bad[0], len(bad), max(0.0, bad[0] - fault_start), worst)


def _worst(rule: Criterion, seconds: list[int], per_second: pd.DataFrame) -> float | None:
    """The value of `rule`'s SLI farthest on the wrong side of its objective over `seconds`."""
    if per_second.empty or rule.sli not in per_second:
        return None
    rows = per_second[(per_second["endpoint"] == rule.endpoint) & per_second["ts"].isin(seconds)]
    values = pd.to_numeric(rows[rule.sli], errors="coerce").dropna()
    if values.empty:
        return None
    return float(values.max() if rule.objective.op in ("<", "<=") else values.min())
