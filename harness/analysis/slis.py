"""SLIs per phase and endpoint, and per second, from the arrays of `rundir`.

Definitions (units as in harness.spec.catalogue: seconds, fractions, per second):

    requests       ok + error + rate_limited responses
    availability   ok / requests: every attempt counts, so a 429 or a connection failure is
                   a failed attempt (the reliability R = successful / total attempts)
    availability.excluding_rate_limited
                   ok / (ok + error): a 429 is neither a success nor a failure. An availability
                   SLO with `count_rate_limited: false` is judged on this one, for contracts
                   in which a 429 is a correct answer.
    error_rate     error / (ok + error) (429s are `rate_limited`, not errors)
    rate_limited   rate_limited / requests
    throughput     requests / seconds of the phase (completed responses per second)
    offered_rate   requests the generator intended to send / seconds (whole run only)
    latency.pN     nearest-rank percentile over ok and error responses; 429s are left out
                   because a fast rejection would flatter the latency. mean and max likewise.
    apdex(T)       (ok with latency <= T + ok with latency <= 4T, halved) / (ok + error):
                   errors count as frustrated, whatever their latency
    correctness    correct / checked (responses whose body the profile checked); None unchecked
    events.*       over events *produced* in the phase (ledger): produced, lost (never consumed,
                   or consumed after load end + grace), duplicated (extra deliveries),
                   e2e_latency.pN/mean/max (first delivery - production) of delivered events.
                   An event still in flight when a fault starts (produced before it, delivered
                   after its start or never) belongs to that fault, not to the phase it was
                   produced in: the fault is what delayed or lost it (`in_flight_times`).

A value is None when it has no data (no requests, nothing checked, nothing produced);
a verdict on None is `no-data`. Endpoint "*" is all endpoints together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.hist import matrix_percentiles
from harness.analysis.latency import LatencyTables, latency_tables
from harness.analysis.phases import Phases, Window, second_mask, seconds_in, time_mask
from harness.analysis.rundir import Ledger, Samples
from harness.durations import format_duration
from harness.spec.models import Slo

ALL = "*"
AVAILABILITY_EXCLUDING_429 = "availability.excluding_rate_limited"
DEFAULT_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
DEFAULT_GRACE_S = 10.0
Value = float | int | None


def pct_name(family: str, p: float) -> str:
    """'latency.p99', 'latency.p99.9', 'events.e2e_latency.p50'."""
    return f"{family}.p{p:g}"


def apdex_name(t: float) -> str:
    """The canonical SLI name of apdex with T seconds, e.g. 'apdex(300ms)'."""
    return f"apdex({format_duration(t)})"


def sli_column(slo: Slo) -> str:
    """The SLI column an SLO is judged on: apdex with its T, availability with or without 429s."""
    if slo.apdex_t is not None:
        return apdex_name(slo.apdex_t)
    if slo.sli == "availability" and not slo.count_rate_limited:
        return AVAILABILITY_EXCLUDING_429
    return slo.sli


@dataclass(frozen=True)
class PhaseSlis:
    """SLIs of one phase: `endpoints[endpoint][sli]`, and the evidence every verdict cites."""

    phase: str
    windows: tuple[Window, ...]
    seconds: int
    generator_bound_seconds: int
    endpoints: dict[str, dict[str, Value]]

    @property
    def generator_bound(self) -> bool:
        """More than 10% of the phase's seconds had the load generator behind schedule or CPU-bound."""
        return self.seconds > 0 and self.generator_bound_seconds > 0.1 * self.seconds


@dataclass(frozen=True)
class Request:
    """Which parametrised SLIs to compute beyond the defaults."""

    percentiles: tuple[float, ...] = DEFAULT_PERCENTILES
    apdex_ts: tuple[float, ...] = ()
    grace: float = DEFAULT_GRACE_S


def latencies(samples: Samples, phases: Phases, request: Request = Request()) -> LatencyTables:
    """The latency histograms `phase_slis` and `per_second` read, built once for both."""
    limits = sorted({limit for t in request.apdex_ts for limit in _apdex_limits(t)})
    return latency_tables(samples, phases, request.percentiles, limits)


def phase_slis(
    samples: Samples, ledger: Ledger, phases: Phases, request: Request = Request(), tables: LatencyTables | None = None
) -> dict[str, PhaseSlis]:
    """PhaseSlis for every phase that has windows (warmup included, for the reports only).

    `tables` is `latencies(samples, phases, request)` when the caller already has it.
    """
    codes, names = pd.factorize(samples.requests["endpoint"], sort=True)
    load_end = max((w.end for w in phases.get("run", ())), default=math.inf)
    live = {phase: windows for phase, windows in phases.items() if windows}
    tables = latencies(samples, live, request) if tables is None else _checked(tables, request)
    cols = _columns(samples, tables)
    faults = phases.get("fault", ())
    return {
        phase: _one_phase(
            samples,
            cols,
            ledger,
            phase,
            windows,
            codes,
            list(names),
            request,
            load_end,
            _phase_percentiles(tables, phase, request),
            faults,
        )
        for phase, windows in live.items()
    }


def _one_phase(
    samples: Samples,
    cols: _Columns,
    ledger: Ledger,
    phase: str,
    windows: tuple[Window, ...],
    codes: np.ndarray,
    names: list[str],
    request: Request,
    load_end: float,
    hists: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
    faults: Sequence[Window] = (),
) -> PhaseSlis:
    seconds = seconds_in(windows)
    in_phase = second_mask(cols.ts, windows)
    per_endpoint = _derive(
        _aggregate(cols, np.where(in_phase, codes, -1), len(names), request) | hists[0], seconds, request
    )
    everything = _derive(_aggregate(cols, np.where(in_phase, 0, -1), 1, request) | hists[1], seconds, request)
    table = {name: _column(per_endpoint, i) for i, name in enumerate(names)}
    table[ALL] = _column(everything, 0)
    table[ALL].update(generator_slis(samples.generator, windows, seconds))
    table[ALL].update(event_slis(ledger, windows, load_end + request.grace, request.percentiles, faults))
    bound = _bound_seconds(samples, windows)
    return PhaseSlis(phase, windows, seconds, bound, table)


def _phase_percentiles(
    tables: LatencyTables, phase: str, request: Request
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Latency percentiles of a phase, per endpoint and for all endpoints together."""
    matrix = tables.phase_matrix(phase)
    return (
        {"percentiles": matrix_percentiles(matrix, tables.columns, request.percentiles)},
        {"percentiles": matrix_percentiles(matrix.sum(axis=0, keepdims=True), tables.columns, request.percentiles)},
    )


def _checked(tables: LatencyTables, request: Request) -> LatencyTables:
    if tables.ps != tuple(request.percentiles) or any(t * 1e6 not in tables.at_most for t in request.apdex_ts):
        raise ValueError(
            "these latency tables were built for another Request: pass latencies(samples, phases, "
            "request) with the same request"
        )
    return tables


def _apdex_limits(t: float) -> tuple[float, float]:
    """Satisfied and tolerating latency limits of apdex(T), in microseconds."""
    return t * 1e6, 4 * t * 1e6


@dataclass(frozen=True)
class _Columns:
    """The request rows as numpy arrays (outcomes as masks), extracted once per public call.

    `at_most[limit]` counts each ok row's values at or under `limit` microseconds.
    """

    ts: np.ndarray
    ok: np.ndarray
    error: np.ndarray
    rate_limited: np.ndarray
    timed: np.ndarray
    count: np.ndarray
    sum_ms: np.ndarray
    max_ms: np.ndarray
    checked: np.ndarray
    correct: np.ndarray
    at_most: dict[float, np.ndarray]


def _columns(samples: Samples, tables: LatencyTables) -> _Columns:
    req = samples.requests
    outcome = req["outcome"].to_numpy()
    ok, error = outcome == "ok", outcome == "error"
    return _Columns(
        req["ts"].to_numpy(),
        ok,
        error,
        outcome == "rate_limited",
        ok | error,
        count=req["count"].to_numpy(),
        sum_ms=req["sum_ms"].to_numpy(),
        max_ms=req["max_ms"].to_numpy(),
        checked=req["checked"].to_numpy(),
        correct=req["correct"].to_numpy(),
        at_most=tables.at_most,
    )


def _aggregate(cols: _Columns, groups: np.ndarray, n: int, request: Request) -> dict[str, np.ndarray]:
    """Per-group sums and maxima of the row columns, and apdex counts; rows with group -1 are left out."""
    valid = groups >= 0
    out = {name: _sum(groups, cols.count, valid & getattr(cols, name), n) for name in ("ok", "error", "rate_limited")}
    timed = valid & cols.timed
    out["sum_ms"] = _sum(groups, cols.sum_ms, timed, n)
    out["max_ms"] = np.full(n, np.nan)
    np.fmax.at(out["max_ms"], groups[timed], cols.max_ms[timed])
    out["checked"] = _sum(groups, cols.checked, valid & cols.ok, n)
    out["correct"] = _sum(groups, cols.correct, valid & cols.ok, n)
    for t in request.apdex_ts:
        satisfied, tolerated = _apdex_limits(t)
        out[f"sat:{t}"] = _sum(groups, cols.at_most[satisfied], valid & cols.ok, n)
        out[f"tol:{t}"] = _sum(groups, cols.at_most[tolerated], valid & cols.ok, n)
    return out


def _sum(groups: np.ndarray, values: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(groups[mask], weights=values[mask].astype(np.float64), minlength=n)


def _derive(agg: dict[str, np.ndarray], seconds: int | np.ndarray, request: Request) -> dict[str, np.ndarray]:
    """SLI arrays (NaN = no data) from the per-group aggregates."""
    ok, error, limited = agg["ok"], agg["error"], agg["rate_limited"]
    timed, requests = ok + error, ok + error + limited
    with np.errstate(divide="ignore", invalid="ignore"):
        slis = {
            "requests": requests,
            "requests.ok": ok,
            "requests.error": error,
            "requests.rate_limited": limited,
            "availability": _ratio(ok, requests),
            AVAILABILITY_EXCLUDING_429: _ratio(ok, timed),
            "error_rate": _ratio(error, timed),
            "rate_limited": _ratio(limited, requests),
            "throughput": requests / seconds if np.all(np.asarray(seconds) > 0) else np.full(len(ok), np.nan),
            "latency.mean": _ratio(agg["sum_ms"], timed) / 1000.0,
            "latency.max": agg["max_ms"] / 1000.0,
            "correctness": _ratio(agg["correct"], agg["checked"]),
            "checked": agg["checked"],
        }
        for j, p in enumerate(request.percentiles):
            slis[pct_name("latency", p)] = agg["percentiles"][:, j] / 1e6
        for t in request.apdex_ts:
            sat, tol = agg[f"sat:{t}"], agg[f"tol:{t}"] - agg[f"sat:{t}"]
            slis[apdex_name(t)] = _ratio(sat + tol / 2.0, timed)
    return slis


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def _column(slis: dict[str, np.ndarray], i: int) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for name, values in slis.items():
        value = float(values[i])
        if name == "requests" or name.startswith("requests.") or name == "checked":
            out[name] = int(value)
        else:
            out[name] = None if math.isnan(value) else value
    return out


def generator_slis(generator: pd.DataFrame, windows: Sequence[Window], seconds: int) -> dict[str, Value]:
    """offered_rate over the windows (None without generator rows)."""
    rows = generator[second_mask(generator["ts"].to_numpy(), windows)]
    if rows.empty or seconds <= 0:
        return {"offered_rate": None}
    return {"offered_rate": float(rows["offered"].sum()) / seconds}


def generator_bound_mask(generator: pd.DataFrame, short_seconds: frozenset[int] = frozenset()) -> pd.Series:
    """Seconds the load generator cannot vouch for: behind schedule, CPU-bound, or short of a worker.

    A worker that went missing (a Locust worker pod evicted or killed) leaves seconds
    with fewer workers reporting than the run's peak (`Samples.short_seconds`); those
    seconds measured less load than intended: the generator's failure, not the target's.
    """
    flags = generator["behind"].astype(bool) | generator["cpu_warning"].astype(bool)
    return flags | generator["ts"].isin(short_seconds) if short_seconds else flags


def _bound_seconds(samples: Samples, windows: Sequence[Window]) -> int:
    generator = samples.generator
    mask = generator_bound_mask(generator, samples.short_seconds)[second_mask(generator["ts"].to_numpy(), windows)]
    return int(mask.sum()) if not mask.empty else 0


def in_flight_times(produced: np.ndarray, consumed: np.ndarray, faults: Sequence[Window]) -> np.ndarray:
    """The time each event counts at: its production, or the start of the first fault that
    began while it was in flight (produced before the fault, not delivered before it)."""
    at = produced.astype(np.float64).copy()
    moved = np.zeros(len(at), dtype=bool)
    for fault in sorted(faults, key=lambda w: w.start):
        caught = ~moved & (produced < fault.start) & ~(consumed < fault.start)  # NaN: never delivered
        at[caught] = fault.start
        moved |= caught
    return at


def event_slis(
    ledger: Ledger,
    windows: Sequence[Window],
    deadline: float,
    percentiles: Sequence[float],
    faults: Sequence[Window] = (),
) -> dict[str, Value]:
    """events.* for events produced in `windows` (in-flight ones moved to their fault); all None when none."""
    names = [
        "events.produced",
        "events.lost",
        "events.duplicated",
        "events.e2e_latency.mean",
        "events.e2e_latency.max",
        *(pct_name("events.e2e_latency", p) for p in percentiles),
    ]
    events = ledger.events
    if events.empty:
        return dict.fromkeys(names)
    at = in_flight_times(events["produced"].to_numpy(), events["consumed"].to_numpy(), faults)
    chosen = events[time_mask(at, windows)]
    if chosen.empty:
        return dict.fromkeys(names)
    consumed = chosen["consumed"].to_numpy()
    delivered = ~np.isnan(consumed) & (consumed <= deadline)
    latency = (consumed - chosen["produced"].to_numpy())[delivered]
    out: dict[str, Value] = {
        "events.produced": int(len(chosen)),
        "events.lost": int((~delivered).sum()),
        "events.duplicated": int(np.maximum(chosen["deliveries"].to_numpy() - 1, 0).sum()),
        "events.e2e_latency.mean": float(latency.mean()) if len(latency) else None,
        "events.e2e_latency.max": float(latency.max()) if len(latency) else None,
    }
    for p in percentiles:
        value = np.percentile(latency, p, method="inverted_cdf") if len(latency) else None
        out[pct_name("events.e2e_latency", p)] = None if value is None else float(value)
    return out


def per_second(samples: Samples, request: Request = Request(), tables: LatencyTables | None = None) -> pd.DataFrame:
    """One row per (second, endpoint) with requests, and per second for endpoint "*".

    Columns: ts, endpoint, every SLI of `_derive` (throughput = requests in that second),
    and for "*" rows offered_rate, generator_bound and generator_lag_ms_p99 (the load
    generator's own schedule lag, actual send - intended, worst worker). The timeline charts and
    recovery/degradation read this. `tables` is `latencies(samples, phases, request)` when
    the caller already has it (any phases).
    """
    req = samples.requests
    if req.empty:
        return pd.DataFrame(columns=["ts", "endpoint", "requests"])
    ts = req["ts"].to_numpy()
    t0, span = int(ts.min()), int(ts.max() - ts.min()) + 1
    codes, names = pd.factorize(req["endpoint"], sort=True)
    tables = latencies(samples, {}, request) if tables is None else _checked(tables, request)
    cols = _columns(samples, tables)
    frames = [
        _series(cols, (ts - t0) * len(names) + codes, span * len(names), request, t0, list(names), tables.per_endpoint),
        _series(cols, ts - t0, span, request, t0, [ALL], tables.per_second),
    ]
    return _with_generator(pd.concat(frames, ignore_index=True), samples.generator, samples.short_seconds)


def _series(
    cols: _Columns, groups: np.ndarray, n: int, request: Request, t0: int, names: list[str], percentiles: np.ndarray
) -> pd.DataFrame:
    slis = _derive(_aggregate(cols, groups, n, request) | {"percentiles": percentiles}, 1, request)
    frame = pd.DataFrame(slis)
    index = np.arange(n)
    frame.insert(0, "endpoint", np.array(names, dtype=object)[index % len(names)])
    frame.insert(0, "ts", t0 + index // len(names))
    return frame[frame["requests"] > 0].reset_index(drop=True)


def _with_generator(
    frame: pd.DataFrame, generator: pd.DataFrame, short_seconds: frozenset[int] = frozenset()
) -> pd.DataFrame:
    gen = generator.assign(
        offered_rate=generator["offered"].astype(float),
        generator_bound=generator_bound_mask(generator, short_seconds),
        generator_lag_ms_p99=generator["lag_ms_p99"].astype(float),
        endpoint=ALL,
    )[["ts", "endpoint", "offered_rate", "generator_bound", "generator_lag_ms_p99"]]
    return frame.merge(gen, on=["ts", "endpoint"], how="left")
