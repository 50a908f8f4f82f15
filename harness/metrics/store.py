"""The run directory's metrics/ folder: one JSON-lines file per metrics source.

    metrics/<source>.jsonl

A `scrape` source writes one line per scrape:

    {"ts": 1800000001.02, "samples": [["scorer_consumer_lag", {"partition": "0", ...}, 12.0], ...]}
    {"ts": 1800000002.02, "error": "URLError: [Errno 111] Connection refused"}

(`ts` when the scrape was answered; a NaN value is written as null.) A `prometheus`
source writes one line per PromQL expression, fetched when the run ends:

    {"ts": ..., "expr": "sum(scorer_consumer_lag)", "start": ..., "end": ..., "step": 1.0,
     "result": [{"metric": {...}, "values": [[1800000001, "12"], ...]}]}      (or "error": "...")

`series(run_dir, source, expression)` is the one reader: the time series an SLI or a
chart uses. Several series matching an expression at one time are added up (as PromQL's
`sum`), so `scorer_consumer_lag` is the lag of every partition together; select one
series with its labels. Torn or foreign lines are skipped, as everywhere in a run directory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.files import timestamped_lines
from harness.metrics.selector import parse_selector

METRICS_DIR = "metrics"
SCRAPE, PROMETHEUS = "scrape", "prometheus"


def source_path(run_dir: str | Path, name: str) -> Path:
    return Path(run_dir) / METRICS_DIR / f"{name}.jsonl"


@dataclass(frozen=True)
class Series:
    """Values of one expression over time (`ts` ascending, seconds); `reads` lines or queries read,
    `errors` those that failed; `note` says why the series is empty when it is."""

    ts: np.ndarray
    values: np.ndarray
    reads: int = 0
    errors: int = 0
    note: str = ""

    @property
    def empty(self) -> bool:
        return not np.isfinite(self.values).any() if len(self.values) else True


def series(run_dir: str | Path, source_name: str, kind: str, expression: str) -> Series:
    """The time series of `expression` in source `source_name` (a selector for scrape, PromQL for prometheus)."""
    path = source_path(run_dir, source_name)
    if not path.exists():
        return Series(np.zeros(0), np.zeros(0), note=f"no metrics were recorded from source {source_name!r}")
    if kind == PROMETHEUS:
        return _promql_series(timestamped_lines(path), expression)
    return _scrape_series(timestamped_lines(path), expression)


def _scrape_series(rows: Iterator[dict[str, Any]], expression: str) -> Series:
    selector = parse_selector(expression)
    ts, values, reads, errors, names = [], [], 0, 0, set()
    for row in rows:
        reads += 1
        samples = row.get("samples")
        if not isinstance(samples, list):
            errors += 1
            continue
        matched = []
        for sample in samples:
            if not (isinstance(sample, list) and len(sample) == 3 and isinstance(sample[1], dict)):
                continue
            names.add(sample[0])
            if selector.matches(sample[0], sample[1]):
                matched.append(_number(sample[2]))
        if matched:
            ts.append(float(row["ts"]))
            values.append(_sum(matched))
    note = "" if ts else _unmatched(expression, reads, errors, names)
    return _sorted(ts, values, reads, errors, note)


def _unmatched(expression: str, reads: int, errors: int, names: set[str]) -> str:
    if not reads:
        return "no scrape was recorded"
    if errors == reads:
        return f"all {reads} scrapes failed (see metrics/ in the run directory)"
    near = sorted(n for n in names if expression.split("{")[0].split("_")[0] in n)[:8]
    hint = f"; names scraped include {', '.join(near)}" if near else ""
    return f"no sample matched {expression!r} in {reads - errors} scrapes{hint}"


def _promql_series(rows: Iterator[dict[str, Any]], expression: str) -> Series:
    ts: dict[float, list[float]] = {}
    reads = errors = 0
    problem = ""
    for row in rows:
        if row.get("expr") != expression:
            continue
        reads += 1
        if "error" in row or not isinstance(row.get("result"), list):
            errors += 1
            problem = str(row.get("error", "no result"))
            continue
        for result in row["result"]:
            for point in (result.get("values") or []) if isinstance(result, dict) else []:
                if isinstance(point, list) and len(point) == 2 and isinstance(point[0], (int, float)):
                    ts.setdefault(float(point[0]), []).append(_number(point[1]))
    note = (
        ""
        if ts
        else (
            f"the query failed: {problem}"
            if problem
            else "the query returned no data"
            if reads
            else f"{expression!r} was not queried"
        )
    )
    times = sorted(ts)
    return _sorted(times, [_sum(ts[t]) for t in times], reads, errors, note)


def _number(value: Any) -> float:
    try:
        return float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _sum(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(sum(finite)) if finite else math.nan


def _sorted(ts: list[float], values: list[float], reads: int, errors: int, note: str) -> Series:
    order = np.argsort(np.asarray(ts, dtype=float), kind="stable")
    return Series(np.asarray(ts, dtype=float)[order], np.asarray(values, dtype=float)[order], reads, errors, note)
