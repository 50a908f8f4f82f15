"""SLIs on the target's own metrics (`metric:<expression>`), read from the run directory's metrics/.

    read_metrics(run_dir, gameday) -> MetricData     every series the SLOs and charts name
    judge_metric(slo, data, table, faults) -> Verdict
    recovery_rules(slos, data) -> (criteria, per-second frame)   baseline metric SLOs as recovery criteria
    per_second_values(series, seconds, hold) -> values            what one second's value is

A metric SLO aggregates the samples that fall in its phase's windows (exact times) with
its `agg`:

    max, min, avg, first, last, pN   of the sample values (NaN samples left out)
    increase                         a counter's growth: the sum of the rises between
                                     consecutive samples in each window (a drop is a counter
                                     reset, and the value after it counts whole)
    rate                             increase per second of the windows' sampled span

No sample in the phase is no-data (a failure), with the reason the series is empty
(nothing scraped, every scrape failed, no sample matched the selector, the query failed).

**Within** (`{sli: "metric:scorer_consumer_lag", within: 20s, objective: "< 50"}`, phase
recovery): for each fault, the seconds from its removal (harness.analysis.phases.Fault)
to the first of CONSECUTIVE_S seconds in a row in which the metric meets the objective,
inside the fault's recovery window: how soon lag returns under its bound after the heal,
and stays there. observed is the worst fault's time (never: infinite); the SLO passes
when it is at most `within`. A second's value is the last sample taken in it, else the
last one before it if at most `hold` seconds old (2 x interval + 1 s), else none: a
scrape that failed or was late leaves a gap, and a gap is not healthy.

Baseline metric SLOs whose agg is a plain reading (max, min, avg, first, last) are also
recovery criteria (harness.analysis.recovery): after a fault the metric must be back
within its baseline objective, second by second, as the request SLIs must.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.phases import Fault, Window, time_mask
from harness.analysis.recovery import CONSECUTIVE_S, Criterion
from harness.analysis.slis import PhaseSlis
from harness.analysis.verdicts import FAIL, NO_DATA, PASS, Verdict, evidence_of
from harness.metrics.store import Series, series
from harness.spec import catalogue
from harness.spec.models import GameDay, MetricSource, Slo


@dataclass(frozen=True)
class MetricData:
    """The metrics sources of a game day and the series of every expression they chart or an SLO names."""

    sources: dict[str, MetricSource]
    series: dict[tuple[str, str], Series]

    def source_of(self, slo: Slo) -> MetricSource | None:
        """The source an SLO's metric comes from (its `source`, else the only one)."""
        if slo.source is not None:
            return self.sources.get(slo.source)
        return next(iter(self.sources.values())) if len(self.sources) == 1 else None

    def series_of(self, slo: Slo) -> Series | None:
        source = self.source_of(slo)
        return self.series.get((source.name, catalogue.metric_expression(slo.sli))) if source else None


def read_metrics(run_dir: str | Path, gameday: GameDay | None) -> MetricData:
    """Every series the game day's metric SLOs and charts name, read from `run_dir`/metrics."""
    sources = {s.name: s for s in (gameday.metrics if gameday else ())}
    wanted: dict[tuple[str, str], MetricSource] = {}
    for source in sources.values():
        for expression in source.chart:
            wanted[(source.name, expression)] = source
    data = MetricData(sources, {})
    for slo in gameday.slos if gameday else ():
        judged_on = data.source_of(slo) if slo.is_metric else None
        if judged_on is not None:
            wanted[(judged_on.name, catalogue.metric_expression(slo.sli))] = judged_on
    return MetricData(sources, {key: _read(run_dir, source, key[1]) for key, source in wanted.items()})


def _read(run_dir: str | Path, source: MetricSource, expression: str) -> Series:
    try:
        return series(run_dir, source.name, source.kind, expression)
    except ValueError as exc:  # a stored spec edited by hand: the selector no longer reads
        return Series(np.zeros(0), np.zeros(0), note=str(exc))


def hold_of(source: MetricSource | None) -> float:
    """How long a sample stands for the seconds after it when no newer one came."""
    return 2 * (source.interval if source else 1.0) + 1.0


# ---- verdicts ---------------------------------------------------------------------------


def judge_metric(slo: Slo, data: MetricData, table: dict[str, PhaseSlis], faults: Sequence[Fault]) -> Verdict:
    """The verdict of a metric SLO (see the module docstring)."""
    found = data.series_of(slo)
    phase = table.get(slo.phase)
    if found is None:
        return Verdict(slo, NO_DATA, None, evidence_of(phase, 0), "the game day has no metrics source for this SLI")
    if slo.within is not None:
        return _judge_within(slo, slo.within, found, data.source_of(slo), table.get("recovery"), faults)
    if phase is None:
        return Verdict(slo, NO_DATA, None, evidence_of(None, 0), f"phase {slo.phase!r} did not happen")
    inside = time_mask(found.ts, phase.windows) & np.isfinite(found.values)
    evidence = evidence_of(phase, int(inside.sum()))
    if not inside.any():
        why = found.note or f"no sample of {catalogue.metric_expression(slo.sli)!r} during {slo.phase}"
        return Verdict(slo, NO_DATA, None, evidence, why)
    observed = aggregate(slo.agg or "max", found.ts, found.values, phase.windows)
    if observed is None:
        return Verdict(slo, NO_DATA, None, evidence, f"{slo.agg} needs at least two samples in a window of {slo.phase}")
    return Verdict(slo, PASS if slo.objective.holds(observed) else FAIL, observed, evidence)


def aggregate(agg: str, ts: np.ndarray, values: np.ndarray, windows: Sequence[Window]) -> float | None:
    """`agg` over the finite samples inside `windows` (see the module docstring); None when it has no value."""
    inside = time_mask(ts, windows) & np.isfinite(values)
    chosen = values[inside]
    if not len(chosen):
        return None
    if agg in ("increase", "rate"):
        return _growth(agg, ts, values, windows)
    simple: dict[str, Callable[[np.ndarray], Any]] = {
        "max": np.max,
        "min": np.min,
        "avg": np.mean,
        "first": lambda v: v[0],
        "last": lambda v: v[-1],
    }
    if agg in simple:
        return float(simple[agg](chosen))
    return float(np.percentile(chosen, float(agg[1:]), method="inverted_cdf"))


def _growth(agg: str, ts: np.ndarray, values: np.ndarray, windows: Sequence[Window]) -> float | None:
    total, span, pairs = 0.0, 0.0, 0
    for window in windows:
        inside = time_mask(ts, [window]) & np.isfinite(values)
        v, t = values[inside], ts[inside]
        if len(v) < 2:
            continue
        steps = np.diff(v)
        total += float(np.where(steps >= 0, steps, v[1:]).sum())  # a drop is a reset: the new value is the growth
        span += float(t[-1] - t[0])
        pairs += len(steps)
    if not pairs:
        return None
    if agg == "increase":
        return total
    return total / span if span > 0 else None


def _judge_within(
    slo: Slo,
    within: float,
    found: Series,
    source: MetricSource | None,
    recovery: PhaseSlis | None,
    faults: Sequence[Fault],
) -> Verdict:
    """`slo` with `within` (its slo.within): how soon after each fault's removal the metric met the objective."""
    windows = recovery.windows if recovery is not None else ()
    samples = int((time_mask(found.ts, windows) & np.isfinite(found.values)).sum())
    evidence = evidence_of(recovery, samples)
    if not faults:
        return Verdict(slo, NO_DATA, None, evidence, "no fault was injected, so nothing was removed to count from")
    if not samples:
        return Verdict(
            slo,
            NO_DATA,
            None,
            evidence,
            found.note or f"no sample of {catalogue.metric_expression(slo.sli)!r} after the faults' removal",
        )
    hold = hold_of(source)
    settled = [_settled(slo, found, fault, hold) for fault in faults]
    worst = max(math.inf if s is None else s for s in settled)
    detail = {
        "within": slo.within,
        "bound": slo.objective.text,
        "consecutive_seconds": CONSECUTIVE_S,
        "faults": [{"removal": f.removal, "seconds": s} for f, s in zip(faults, settled)],
    }
    if math.isinf(worst):
        reason = (
            f"{catalogue.metric_expression(slo.sli)} never met {slo.objective.text!r} for {CONSECUTIVE_S} s "
            "in a row after a fault's removal, before the load ended"
        )
        return Verdict(slo, FAIL, worst, evidence, reason, "", detail)
    state = PASS if worst <= within else FAIL
    reason = "" if state == PASS else f"it took {worst:.1f}s, more than the {within:g}s allowed"
    return Verdict(slo, state, worst, evidence, reason, "", detail)


def _settled(slo: Slo, found: Series, fault: Fault, hold: float) -> float | None:
    """Seconds from the fault's removal to the first of CONSECUTIVE_S seconds meeting the objective (None: never)."""
    window = fault.recovery
    if window is None:
        return None
    seconds = np.arange(math.floor(fault.removal), math.floor(window.end), dtype=np.int64)
    values = per_second_values(found, seconds, hold)
    streak = 0
    for i, value in enumerate(values):
        streak = streak + 1 if slo.objective.holds(None if math.isnan(value) else float(value)) else 0
        if streak == CONSECUTIVE_S:
            return max(0.0, float(seconds[i - CONSECUTIVE_S + 1]) - fault.removal)
    return None


def per_second_values(found: Series, seconds: np.ndarray, hold: float) -> np.ndarray:
    """Each second's value: its last finite sample, else the last earlier one at most `hold` s old, else NaN."""
    finite = np.isfinite(found.values)
    ts, values = found.ts[finite], found.values[finite]
    out = np.full(len(seconds), np.nan)
    if not len(ts):
        return out
    last = np.searchsorted(ts, seconds + 1, side="left") - 1  # the newest sample before the second's end
    ok = last >= 0
    fresh = ok.copy()
    fresh[ok] = (seconds[ok] - ts[last[ok]]) <= hold
    out[fresh] = values[last[fresh]]
    return out


# ---- recovery criteria and the report --------------------------------------------------------


def recovery_rules(slos: Sequence[Slo], data: MetricData) -> tuple[list[Criterion], pd.DataFrame]:
    """Baseline metric SLOs with a plain-reading agg as recovery criteria, and the per-second frame
    (columns ts, endpoint = "source:<name>", one column per SLI) that `recoveries` judges them on."""
    rules, frames = [], []
    for slo in slos:
        if not (slo.is_metric and slo.phase == "baseline" and slo.agg in catalogue.PER_SECOND_AGGS):
            continue
        found, source = data.series_of(slo), data.source_of(slo)
        if found is None or source is None or not len(found.ts):
            continue
        endpoint = f"source:{source.name}"
        seconds = np.arange(math.floor(found.ts.min()), math.floor(found.ts.max()) + 1, dtype=np.int64)
        frames.append(
            pd.DataFrame(
                {"ts": seconds, "endpoint": endpoint, slo.sli: per_second_values(found, seconds, hold_of(source))}
            )
        )
        rules.append(Criterion(slo.sli, endpoint, slo.objective, slo.label))
    if not frames:
        return rules, pd.DataFrame(columns=["ts", "endpoint"])
    merged = frames[0]
    for frame in frames[1:]:
        merged = merged.merge(frame, on=["ts", "endpoint"], how="outer")
    return rules, merged


def summary(data: MetricData, phases: dict[str, tuple[Window, ...]]) -> list[dict[str, Any]]:
    """Per series (source, expression): samples, failed reads and min/max/avg/last per phase (result.json)."""
    out = []
    for (name, expression), found in data.series.items():
        per_phase = {}
        for phase, windows in phases.items():
            inside = time_mask(found.ts, windows) & np.isfinite(found.values)
            v = found.values[inside]
            per_phase[phase] = {
                "samples": int(len(v)),
                "min": _num(v, np.min),
                "max": _num(v, np.max),
                "avg": _num(v, np.mean),
                "last": float(v[-1]) if len(v) else None,
            }
        out.append(
            {
                "source": name,
                "expression": expression,
                "reads": found.reads,
                "failed_reads": found.errors,
                "samples": int(np.isfinite(found.values).sum()),
                "note": found.note,
                "phases": per_phase,
            }
        )
    return out


def _num(values: np.ndarray, func: Callable[[np.ndarray], Any]) -> float | None:
    return float(func(values)) if len(values) else None
