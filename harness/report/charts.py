"""The data behind the report's timeline charts: one shared time axis, phases and markers.

    chart_data(analysis, max_points=MAX_POINTS) -> ChartData   JSON-ready

Every series is aligned on `t` (UTC epoch seconds, one point per `step` seconds) and
holds None where nothing was measured, so a chart shows a gap instead of a made-up line.
Series (all endpoints together):

    latency.p50|p95|p99     ms, from the per-second histograms (429s left out, as in the SLIs)
    generator.lag.p99       ms, the load generator's own schedule lag (open model: how late it sent
                            what it meant to send), drawn beside the target's latency so a late
                            generator is never read as a slow target
    ok, error, rate_limited responses per second
    error_rate              % of ok + error
    e2e.p50, e2e.p99        ms, Kafka end-to-end latency of events *produced* in that second
    lost, duplicated        events produced in that second that never came out (or came out
                            after load end + grace), and extra deliveries; None when 0,
                            so the chart marks only the seconds that lost or duplicated
    variant:<v>:latency.p99, variant:<v>:correctness
                            ms and %, one pair per variant the load recorded (load.variant_header),
                            so the variants' latency and correctness are drawn side by side
    metric:<source>:<expression>
                            each metric series an SLO or a chart names (harness.analysis.metric_slis),
                            one value per second (the second's last sample, held across a late scrape)

A run longer than `max_points` seconds is downsampled into buckets of `step` seconds:
latency and error rate take the bucket's worst second (a one-second spike must stay
visible), correctness its lowest, rates and metrics the bucket's mean, lost/duplicated the bucket's sum. That keeps the
report of a one-hour run far below 5 MB.
"""

from __future__ import annotations

import math
from typing import NotRequired, TypedDict

import numpy as np
import pandas as pd

from harness.analysis.metric_slis import hold_of, per_second_values
from harness.analysis.result import Analysis
from harness.analysis.slis import ALL, DEFAULT_GRACE_S
from harness.analysis.variants import NO_VARIANT
from harness.events import EventKind, detail_of, kind_of

MAX_POINTS = 1800
LATENCY = ("latency.p50", "latency.p95", "latency.p99")
GENERATOR_LAG = "generator.lag.p99"
WORST = (*LATENCY, GENERATOR_LAG, "error_rate", "e2e.p50", "e2e.p99")
SUMMED = ("lost", "duplicated")
SHADED = ("warmup", "baseline", "fault", "recovery")


class PhaseBand(TypedDict):
    name: str
    start: float
    end: float


class Marker(TypedDict):
    ts: float
    kind: str  # chaos | abort | error | generator
    label: str
    detected: NotRequired[float]  # generator only: when Locust marked the worker missing (ts: when the gap began)
    back: NotRequired[float]  # generator only: when the worker heartbeat again (absent: lost for the rest of the run)


class ChartData(TypedDict):
    t: list[float]
    step: int
    series: dict[str, list[float | None]]
    phases: list[PhaseBand]
    markers: list[Marker]
    has_events: bool


def chart_data(analysis: Analysis, max_points: int = MAX_POINTS) -> ChartData:
    """The charts' data for `analysis` (a harness.analysis.result.Analysis)."""
    start, end = _span(analysis)
    frame = _request_series(analysis.per_second, start, end)
    frame = frame.join(_event_series(analysis.ledger.events, start, end, _load_end(analysis)))
    frame = frame.join(variant_series(analysis, start, end)).join(metric_series(analysis, start, end))
    step = max(1, math.ceil(len(frame) / max_points))
    frame = _downsample(frame, step)
    return ChartData(
        t=[float(t) for t in frame.index],
        step=step,
        series={name: _json_list(frame[name], zero_is_gap=name in SUMMED) for name in frame.columns},
        phases=phase_bands(analysis.phases),
        markers=back_to_gap_start(markers(analysis.events), analysis.per_second),
        has_events=not analysis.ledger.events.empty,
    )


def _span(analysis: Analysis) -> tuple[int, int]:
    """Integer seconds [start, end) covering the load (warmup included), else the samples."""
    windows = [w for name in ("warmup", "run") for w in analysis.phases.get(name, ())]
    if windows:
        return math.floor(min(w.start for w in windows)), math.ceil(max(w.end for w in windows))
    ts = analysis.per_second["ts"] if "ts" in analysis.per_second else pd.Series(dtype="int64")
    return (int(ts.min()), int(ts.max()) + 1) if len(ts) else (0, 0)


def _load_end(analysis: Analysis) -> float:
    return max((w.end for w in analysis.phases.get("run", ())), default=math.inf)


def _request_series(per_second: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
    index = pd.RangeIndex(start, end, name="t")
    columns = [*LATENCY, GENERATOR_LAG, "ok", "error", "rate_limited", "error_rate"]
    if per_second.empty or "endpoint" not in per_second:
        return pd.DataFrame(np.nan, index=index, columns=columns)
    rows = per_second[per_second["endpoint"] == ALL].set_index("ts")
    out = pd.DataFrame(index=index)
    for name in LATENCY:
        out[name] = rows[name].astype(float) * 1000.0 if name in rows else np.nan
    out[GENERATOR_LAG] = rows["generator_lag_ms_p99"].astype(float) if "generator_lag_ms_p99" in rows else np.nan
    out["ok"], out["error"] = rows["requests.ok"].astype(float), rows["requests.error"].astype(float)
    out["rate_limited"] = rows["requests.rate_limited"].astype(float)
    out["error_rate"] = rows["error_rate"].astype(float) * 100.0
    return out.reindex(index)


def variant_series(analysis: Analysis, start: int, end: int) -> pd.DataFrame:
    """Per variant (NO_VARIANT left out): its per-second p99 (ms) and correctness (%), on the chart's seconds."""
    index = pd.RangeIndex(start, end, name="t")
    out = pd.DataFrame(index=index)
    for name, found in getattr(analysis, "variants", {}).items():
        rows = found.per_second
        if name == NO_VARIANT or rows.empty:
            continue
        rows = rows[rows["endpoint"] == ALL].set_index("ts")
        out[variant_key(name, "latency.p99")] = (rows["latency.p99"].astype(float) * 1000.0).reindex(index)
        out[variant_key(name, "correctness")] = (rows["correctness"].astype(float) * 100.0).reindex(index)
    return out


def variant_key(variant: str, sli: str) -> str:
    return f"variant:{variant}:{sli}"


def metric_series(analysis: Analysis, start: int, end: int) -> pd.DataFrame:
    """Every metric series the analysis read, one value per chart second."""
    index = pd.RangeIndex(start, end, name="t")
    out = pd.DataFrame(index=index)
    metrics = analysis.metrics
    for (source, expression), found in metrics.series.items():
        seconds = np.arange(start, end, dtype=np.int64)
        out[metric_key(source, expression)] = per_second_values(found, seconds, hold_of(metrics.sources.get(source)))
    return out


def metric_key(source: str, expression: str) -> str:
    return f"metric:{source}:{expression}"


def _event_series(events: pd.DataFrame, start: int, end: int, load_end: float) -> pd.DataFrame:
    return event_seconds(events, load_end).reindex(pd.RangeIndex(start, end, name="t"))


def event_seconds(events: pd.DataFrame, load_end: float) -> pd.DataFrame:
    """Per production second (index t): e2e.p50, e2e.p99 (ms), lost and duplicated events (ledger rows)."""
    if events.empty:
        return pd.DataFrame(columns=["e2e.p50", "e2e.p99", *SUMMED], index=pd.Index([], name="t"), dtype=float)
    second = np.floor(events["produced"].to_numpy()).astype(np.int64)
    consumed = events["consumed"].to_numpy(dtype=float)
    delivered = ~np.isnan(consumed) & (consumed <= load_end + DEFAULT_GRACE_S)
    frame = pd.DataFrame(
        {
            "t": second,
            "latency": np.where(delivered, (consumed - events["produced"]) * 1000, np.nan),
            "lost": (~delivered).astype(int),
            "duplicated": np.maximum(events["deliveries"].to_numpy() - 1, 0),
        }
    )
    grouped = frame.groupby("t")
    out = pd.DataFrame(
        {
            "e2e.p50": grouped["latency"].quantile(0.5),
            "e2e.p99": grouped["latency"].quantile(0.99),
            "lost": grouped["lost"].sum(),
            "duplicated": grouped["duplicated"].sum(),
        }
    )
    return out


def _downsample(frame: pd.DataFrame, step: int) -> pd.DataFrame:
    if step == 1 or frame.empty:
        return frame
    buckets = frame.groupby((frame.index - frame.index[0]) // step)
    rules = {
        c: (
            "max"
            if c in WORST or c.endswith(":latency.p99")
            else "min"
            if c.endswith(":correctness")
            else "sum"
            if c in SUMMED
            else "mean"
        )
        for c in frame.columns
    }
    out = buckets.agg(rules)
    # a bucket with no measured second stays a gap, not a zero
    out[list(SUMMED)] = out[list(SUMMED)].where(buckets[list(SUMMED)].count() > 0)
    out.index = frame.index[0] + out.index * step
    return out


def _json_list(series: pd.Series, zero_is_gap: bool = False) -> list[float | None]:
    """Rounded floats, None for gaps; with `zero_is_gap` zeros too, so only real losses get a marker."""
    return [
        None if (math.isnan(v) or (zero_is_gap and v == 0)) else round(float(v), 3)
        for v in series.to_numpy(dtype=float)
    ]


def phase_bands(phases: dict[str, tuple]) -> list[PhaseBand]:
    """Every window of the shaded phases, in time order."""
    bands = [PhaseBand(name=name, start=w.start, end=w.end) for name in SHADED for w in phases.get(name, ())]
    return sorted(bands, key=lambda b: b["start"])


def markers(events: tuple[dict, ...]) -> list[Marker]:
    """A labelled vertical line for each chaos method/rollback activity, guardrail abort, harness error
    and load worker the Locust master marked missing. A worker that heartbeat again later (a process
    starved of CPU for a few seconds, not a dead one) carries `back`: the load was short of it only
    until then, so it is no loss for the rest of the run."""
    out = []
    for event in events:
        detail = detail_of(event)
        if event.get("kind") == "activity-start" and detail.get("phase") in ("method", "rollback"):
            out.append(Marker(ts=event["ts"], kind="chaos", label=f"{detail['phase']}: {event.get('name', '')}"))
        elif event.get("kind") == "abort":
            out.append(Marker(ts=event["ts"], kind="abort", label=f"abort: {event.get('name', '')}"))
        elif event.get("source") == "harness" and event.get("kind") == "error":
            out.append(Marker(ts=event["ts"], kind="error", label=f"error: {event.get('name', '')}"))
        elif event.get("source") == "load" and kind_of(event) == EventKind.WORKER_MISSING:
            out.append(_worker_missing_marker(event, detail, events))
    return out


def _worker_missing_marker(event: dict, detail: dict, events: tuple[dict, ...]) -> Marker:
    name = str(event.get("name", ""))[:60]
    left = detail.get("remaining")
    suffix = f" ({left} left)" if isinstance(left, int) and not isinstance(left, bool) else ""
    back = next(
        (
            later["ts"]
            for later in events
            if later.get("source") == "load"
            and kind_of(later) == EventKind.WORKER_BACK
            and later.get("name") == event.get("name")
            and later["ts"] > event["ts"]
        ),
        None,
    )
    if back is None:
        return Marker(ts=event["ts"], kind="generator", label=f"load worker lost: {name}{suffix}")
    label = (
        f"load worker missed heartbeats: {name}{suffix}, back {back - event['ts']:.1f} s after it was marked missing"
    )
    return Marker(ts=event["ts"], kind="generator", label=label, back=back)


def back_to_gap_start(marks: list[Marker], per_second: pd.DataFrame) -> list[Marker]:
    """Generator markers moved back to where the load fell short, the detection time kept in `detected`.

    Locust marks a worker missing only after about 4 s of missed heartbeats; the
    seconds short of it began at the loss, which is the first of the unbroken run of
    generator-bound seconds that ends at the detection. Other markers are unchanged.
    """
    bound = _bound_seconds(per_second)
    out = []
    for mark in marks:
        second = int(mark["ts"])
        if mark["kind"] != "generator" or second not in bound:
            out.append(mark)
            continue
        while second - 1 in bound:
            second -= 1
        moved = mark.copy()
        moved["ts"], moved["detected"] = float(min(second, mark["ts"])), mark["ts"]
        out.append(moved)
    return sorted(out, key=lambda m: m["ts"])


def _bound_seconds(per_second: pd.DataFrame) -> set[int]:
    if per_second.empty or "generator_bound" not in per_second:
        return set()
    rows = per_second[(per_second["endpoint"] == ALL) & (per_second["generator_bound"] == True)]  # noqa: E712 (NaN)
    return {int(ts) for ts in rows["ts"]}
