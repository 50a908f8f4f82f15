"""Sample rows: what the load plugin writes to `<run dir>/samples/samples.jsonl`.

One JSON object per line. Two kinds of row:

`SampleRow`, one per (second, endpoint, outcome) that saw requests:
    ts        int, UTC epoch second the request was *intended* to start (open model) or
              started (closed model)
    endpoint  request_type + " " + name, e.g. "POST /v1/score"
    outcome   "ok" | "error" | "rate_limited" (429 -> rate_limited; an exception, a
              status >= 400 or a timeout -> error; else ok)
    count     requests
    hist      latency histogram in microseconds, `harness.histogram.Histogram.encode()`
    sum_ms    sum of latencies (mean = sum_ms / count)     max_ms  the largest latency
    checked   responses whose body the profile checked      correct  those that passed
    errors    {message: count}, the most frequent few       worker   None (merged) or a worker id
    variant   only with `load.variant_header`: the response's value of that header (which
              version answered: "stable", "canary"...; "" when the response had none).
              Rows of one (ts, endpoint, outcome) then come one per variant.

`GeneratorRow`, one per second (endpoint "*", outcome "generator"), about the load
generator itself:
    offered   requests the schedule intended to start in that second (closed model:
              requests started)
    lag_ms_max, lag_ms_p99   schedule lag (actual start - intended) in that second
    backlog_ms   how overdue the oldest slot not yet handed out was, at most, in that second
                 (absent from older rows)
    behind    lag_ms_p99 over the threshold (--gameday-behind-ms, 50 ms): the generator,
              not the target, is the bottleneck in that second
    cpu_warning  Locust reported CPU over 90% in that second (any worker)
    users, workers  Locust users running, and worker processes (1 when standalone)
    hist      lag histogram in microseconds (same encoding)

Readers must *sum* rows sharing (ts, endpoint, outcome): a worker report that arrives
after its second was flushed is written as an extra row rather than dropped, and with
variants a (ts, endpoint, outcome) has a row per variant. Summing them all gives the
aggregate; summing those of one variant gives that variant's share.
Latency is measured from the intended send time when the open model set one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal, NotRequired, TypedDict

from harness.histogram import Histogram

# Final, so that mypy reads each as its literal and narrows a row's type on its outcome
Outcome = Literal["ok", "error", "rate_limited"]
OK: Final = "ok"
ERROR: Final = "error"
RATE_LIMITED: Final = "rate_limited"
GENERATOR: Final = "generator"
OUTCOMES: tuple[Outcome, ...] = (OK, ERROR, RATE_LIMITED)
ALL_ENDPOINTS: Final = "*"
SAMPLES_FILE = "samples/samples.jsonl"


class SampleRow(TypedDict):
    ts: int
    endpoint: str
    outcome: Outcome
    count: int
    hist: str
    sum_ms: float
    max_ms: float
    checked: int
    correct: int
    errors: dict[str, int]
    worker: str | None
    variant: NotRequired[str]


class GeneratorRow(TypedDict):
    ts: int
    endpoint: Literal["*"]
    outcome: Literal["generator"]
    offered: int
    lag_ms_max: float
    lag_ms_p99: float
    behind: bool
    cpu_warning: bool
    users: int
    workers: int
    hist: str
    worker: str | None
    backlog_ms: NotRequired[float]


def samples_path(run_dir: str | Path) -> Path:
    """Where a run directory keeps its sample rows."""
    return Path(run_dir) / SAMPLES_FILE


def read_rows(run_dir: str | Path) -> Iterator[SampleRow | GeneratorRow]:
    """Every row in the run directory's samples file, in file order.

    A torn last line (the writer was killed mid-write) is skipped; a missing file
    yields nothing.
    """
    path = samples_path(run_dir)
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def request_rows(run_dir: str | Path) -> Iterator[SampleRow]:
    """Only the per-endpoint request rows (no generator rows)."""
    for row in read_rows(run_dir):
        if row["outcome"] != GENERATOR:
            yield row


def generator_rows(run_dir: str | Path) -> Iterator[GeneratorRow]:
    """Only the generator rows."""
    for row in read_rows(run_dir):
        if row["outcome"] == GENERATOR:
            yield row


def histogram(row: SampleRow | GeneratorRow) -> Histogram:
    """The row's decoded histogram (microseconds)."""
    return Histogram.decode(row.get("hist", ""))
