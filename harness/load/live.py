"""Live SLIs: the last 5 s and 30 s of load, as a JSON file readers poll without gevent.

The writing process (the master, or a standalone Locust) replaces `<run dir>/live.json`
every second, atomically (write a temp file, then rename), so a reader never sees a
half-written file. When the web UI runs, the same document is served at
`GET /gameday/live`. Shape (`LiveDoc`):

    {"ts": 1767000000.2,              when it was written (epoch seconds)
     "window_end": 1766999999,        last complete second included
     "windows": {"5s": Window, "30s": Window}}

    Window = {"seconds": 5, "overall": Stats, "endpoints": {"POST /v1/score": Stats, ...}}
    Stats  = {"requests", "ok", "errors", "rate_limited",          counts
              "error_rate", "rate_limited_rate",                    shares of requests (0 when none)
              "throughput",                                         requests per second of window
              "p50_ms", "p95_ms", "p99_ms"}                         null when no requests

In distributed runs the newest second may still be missing a worker's last report
(workers push every second); the guardrail should treat `window_end` as "as of".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TypedDict

from harness.files import atomic_write
from harness.histogram import Histogram
from harness.load.aggregate import Cell, CellEntry
from harness.samples import ERROR, OK, RATE_LIMITED

WINDOWS = (5, 30)
LIVE_FILE = "live.json"


class Stats(TypedDict):
    requests: int
    ok: int
    errors: int
    rate_limited: int
    error_rate: float
    rate_limited_rate: float
    throughput: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class Window(TypedDict):
    seconds: int
    overall: Stats
    endpoints: dict[str, Stats]


class LiveDoc(TypedDict):
    ts: float
    window_end: int
    windows: dict[str, Window]


class _Totals:
    def __init__(self) -> None:
        self.by_outcome = {OK: 0, ERROR: 0, RATE_LIMITED: 0}
        self.hist = Histogram()

    def add(self, outcome: str, cell: Cell) -> None:
        self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + cell.count
        self.hist.add(cell.hist)

    def stats(self, seconds: int) -> Stats:
        total = sum(self.by_outcome.values())
        p50, p95, p99 = (None, None, None)
        if total:
            p50, p95, p99 = (round(v / 1000.0, 3) for v in self.hist.percentiles([50, 95, 99]))
        return Stats(
            requests=total,
            ok=self.by_outcome[OK],
            errors=self.by_outcome[ERROR],
            rate_limited=self.by_outcome[RATE_LIMITED],
            error_rate=self.by_outcome[ERROR] / total if total else 0.0,
            rate_limited_rate=self.by_outcome[RATE_LIMITED] / total if total else 0.0,
            throughput=total / seconds,
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
        )


def window(cells: Iterable[CellEntry], end: int, seconds: int) -> Window:
    """Stats over the seconds (end - seconds, end] of `cells`, overall and per endpoint."""
    overall = _Totals()
    endpoints: dict[str, _Totals] = {}
    for ts, endpoint, outcome, cell in cells:
        if end - seconds < ts <= end:
            overall.add(outcome, cell)
            endpoints.setdefault(endpoint, _Totals()).add(outcome, cell)
    return Window(
        seconds=seconds,
        overall=overall.stats(seconds),
        endpoints={name: totals.stats(seconds) for name, totals in sorted(endpoints.items())},
    )


def live_document(cells: list[CellEntry], end: int, now: float) -> LiveDoc:
    """The live.json document for the windows in WINDOWS ending at second `end`."""
    return LiveDoc(ts=round(now, 3), window_end=end, windows={f"{s}s": window(cells, end, s) for s in WINDOWS})


def write_atomic(path: Path, document: object) -> None:
    """Replace `path` with `document` as JSON so readers never see a partial file.

    Not fsynced: live.json is rewritten every second and read only while the run goes."""
    atomic_write(path, json.dumps(document), durable=False)


def read_live(run_dir: str | Path) -> LiveDoc | None:
    """The run directory's current live SLIs, or None before the first write."""
    try:
        return json.loads((Path(run_dir) / LIVE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
