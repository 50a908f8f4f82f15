"""Read a run directory into arrays the analysis can work on quickly.

    read_events(run_dir)  -> list[Event], sorted by ts (torn or malformed lines skipped)
    read_samples(run_dir) -> Samples: request rows, their histograms as flat arrays, generator seconds
    read_ledger(run_dir)  -> Ledger: first produced/consumed time and delivery count per event id

Histograms are not decoded into one object per row. Every row's buckets go into
three flat arrays (`hist_row`, `hist_bucket`, `hist_count`), so merging any set of
rows is a numpy selection and percentiles are computed for many groups at once
(`harness.analysis.hist`). That keeps an hour x 20 endpoints under a few seconds.
The encoding read here is `harness.load.histogram.Histogram.encode`'s.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.load.ledger import read_rows as read_ledger_rows
from harness.samples import GENERATOR, samples_path

EVENTS_FILE = "events.jsonl"
REQUEST_COLUMNS = ("ts", "endpoint", "outcome", "count", "sum_ms", "max_ms", "checked", "correct")


def read_events(run_dir: str | Path) -> list[dict[str, Any]]:
    """The run's timeline, sorted by ts; lines that are not JSON objects with a numeric ts are skipped."""
    path = Path(run_dir) / EVENTS_FILE
    if not path.exists():
        return []
    events = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            event = _json(line)
            if isinstance(event, dict) and isinstance(event.get("ts"), (int, float)):
                events.append(event)
    return sorted(events, key=lambda e: e["ts"])


@dataclass(frozen=True)
class Samples:
    """Request rows (one per line read, not merged) and their histograms; generator rows merged per second.

    `requests` columns: ts, endpoint, outcome, count, sum_ms, max_ms, checked, correct.
    `hist_row[i]` is the `requests` row (positional) that bucket `hist_bucket[i]` with
    `hist_count[i]` values belongs to; values are microseconds.
    `generator` columns: ts, offered, behind, cpu_warning, lag_ms_p99, users (one row per second).
    `errors` maps (endpoint, message) to a count over the whole run.
    """

    requests: pd.DataFrame
    hist_row: np.ndarray
    hist_bucket: np.ndarray
    hist_count: np.ndarray
    generator: pd.DataFrame
    errors: pd.DataFrame


def read_samples(run_dir: str | Path) -> Samples:
    """Every sample row of the run directory (a missing file gives empty tables)."""
    requests, generator, encoded, errors = [], [], [], []
    path = samples_path(run_dir)
    if path.exists():
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                row = _json(line)
                if not isinstance(row, dict) or not isinstance(row.get("ts"), (int, float)):
                    continue
                if row.get("outcome") == GENERATOR:
                    generator.append(row)
                else:
                    _request_row(row, requests, encoded, errors)
    rows, buckets, counts = decode_many(encoded)
    return Samples(_requests_frame(requests), rows, buckets, counts, _generator_frame(generator),
                   pd.DataFrame(errors, columns=["ts", "endpoint", "message", "count"]))


def _request_row(row: dict, requests: list, encoded: list, errors: list) -> None:
    try:
        values = (int(row["ts"]), str(row["endpoint"]), str(row["outcome"]), int(row.get("count", 0)),
                  float(row.get("sum_ms", 0.0)), float(row.get("max_ms", 0.0)),
                  int(row.get("checked", 0)), int(row.get("correct", 0)))
    except (KeyError, TypeError, ValueError):
        return
    requests.append(values)
    encoded.append(row.get("hist") or "")
    for message, count in (row.get("errors") or {}).items():
        errors.append((values[0], values[1], str(message), int(count)))


def _requests_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(REQUEST_COLUMNS))
    return frame.astype({"ts": "int64", "count": "int64", "sum_ms": "float64", "max_ms": "float64",
                         "checked": "int64", "correct": "int64"})


def _generator_frame(rows: list[dict]) -> pd.DataFrame:
    columns = ["ts", "offered", "behind", "cpu_warning", "lag_ms_p99", "users"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    frame = pd.DataFrame([{c: row.get(c, 0) for c in columns} for row in rows])
    frame = frame.fillna(0).astype({"ts": "int64", "offered": "int64", "behind": bool, "cpu_warning": bool,
                                    "lag_ms_p99": "float64", "users": "int64"})
    # Rows sharing a second come from different workers: add offers, OR the flags.
    return frame.groupby("ts", as_index=False).agg(
        offered=("offered", "sum"), behind=("behind", "any"), cpu_warning=("cpu_warning", "any"),
        lag_ms_p99=("lag_ms_p99", "max"), users=("users", "sum"))


def decode_many(encoded: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, bucket, count) arrays for every encoded histogram; row i is encoded[i].

    Undecodable text counts as an empty histogram, like a torn row.
    """
    diffs, counts, lengths = [], [], []
    for text in encoded:
        raw = _raw(text)
        n = len(raw) // 12
        diffs.append(raw[: 4 * n])
        counts.append(raw[4 * n: 12 * n])
        lengths.append(n)
    lengths_arr = np.array(lengths, dtype=np.int64)
    diff = np.frombuffer(b"".join(diffs), dtype=np.uint32).astype(np.int64)
    count = np.frombuffer(b"".join(counts), dtype=np.uint64).astype(np.int64)
    rows = np.repeat(np.arange(len(encoded), dtype=np.int64), lengths_arr)
    # Buckets are delta-encoded per row: a global cumsum minus the sum before each row.
    total = np.cumsum(diff)
    starts = np.concatenate([[0], np.cumsum(lengths_arr)[:-1]]) if len(encoded) else np.zeros(0, np.int64)
    before = np.where(starts > 0, total[np.maximum(starts - 1, 0)] if len(total) else 0, 0)
    buckets = total - np.repeat(before, lengths_arr)
    # Narrow types: these arrays hold every bucket of every row (millions for an hour).
    return rows.astype(np.int32), buckets.astype(np.int32), count.astype(np.int32)


def _raw(text: str) -> bytes:
    if not text:
        return b""
    try:
        return zlib.decompress(base64.b64decode(text))
    except (ValueError, zlib.error):
        return b""


@dataclass(frozen=True)
class Ledger:
    """One row per produced event id: `produced` ts (first), `consumed` ts of its first delivery
    (NaN if never), `deliveries` (0 if never). `unexpected` counts consumed ids nobody produced."""

    events: pd.DataFrame
    unexpected: int
    bad_lines: int

    @property
    def empty(self) -> bool:
        return self.events.empty


def read_ledger(run_dir: str | Path) -> Ledger:
    """The data-flow ledger of a run (or a `ledger/` directory); missing files give an empty ledger."""
    directory = Path(run_dir)
    if (directory / "ledger").is_dir():
        directory = directory / "ledger"
    produced = read_ledger_rows(directory.glob("produced*.jsonl"))
    consumed = read_ledger_rows(directory.glob("consumed*.jsonl"))
    sent = _first_seen(produced.rows)
    seen = pd.DataFrame(list(consumed.rows), columns=["id", "ts"]).groupby("id")["ts"].agg(["min", "size"])
    events = sent.join(seen, how="left").rename(columns={"min": "consumed", "size": "deliveries"})
    events["deliveries"] = events["deliveries"].fillna(0).astype("int64")
    unexpected = int((~seen.index.isin(sent.index)).sum())
    return Ledger(events.reset_index(drop=True), unexpected, produced.bad_lines + consumed.bad_lines)


def _first_seen(rows) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=["id", "ts"])
    return frame.groupby("id")["ts"].min().to_frame("produced")


def _json(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None
