"""Read a run directory into arrays the analysis can work on quickly.

    read_events(run_dir)  -> list[Event], sorted by ts (torn or malformed lines skipped)
    read_samples(run_dir) -> Samples: request rows, their histograms as flat arrays, generator seconds
    read_ledger(run_dir)  -> Ledger: first produced/consumed time and delivery count per event id

Histograms are not decoded into one object per row. Every row's buckets go into
flat arrays (`hist_lengths`, `hist_bucket`, `hist_count`), so merging any set of
rows is a numpy selection and percentiles are computed for many groups at once
(`harness.analysis.hist`, `harness.analysis.latency`). That keeps an hour x 20
endpoints under a few seconds. The encoding read here is
`harness.histogram.Histogram.encode`'s, decoded in bulk by `histdecode`.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import events
from harness.analysis import rowcodec
from harness.analysis.histdecode import decode_raws
from harness.load.ledger import LedgerRow
from harness.load.ledger import read_rows as read_ledger_rows
from harness.samples import GENERATOR, samples_path

DECODE_CHUNK = 20_000  # sample lines read, decoded and dropped at a time
REQUEST_COLUMNS = ("ts", "endpoint", "outcome", "count", "sum_ms", "max_ms", "checked", "correct", "variant")


read_events = events.read  # the run's timeline (see harness.events.read)


@dataclass(frozen=True)
class Samples:
    """Request rows (one per line read, not merged) and their histograms; generator rows merged per second.

    `requests` columns: ts, endpoint, outcome, count, sum_ms, max_ms, checked, correct, variant
    (None for rows without one: runs without `load.variant_header`, and older runs).
    Row i's histogram is the next `hist_lengths[i]` entries of `hist_bucket` and
    `hist_count` (row 0's first); `hist_row[k]` is the `requests` row (positional) that
    entry k belongs to. Buckets are `harness.histogram`'s, values microseconds.
    `generator` columns: ts, offered, behind, cpu_warning, lag_ms_p99, users (one row per second).
    `short_seconds` are the seconds in which fewer workers reported than the run's peak
    (a Locust worker went missing): the generator, not the target, fell short there.
    `errors` maps (endpoint, message) to a count over the whole run.
    """

    requests: pd.DataFrame
    hist_lengths: np.ndarray
    hist_bucket: np.ndarray
    hist_count: np.ndarray
    generator: pd.DataFrame
    errors: pd.DataFrame
    short_seconds: frozenset[int] = frozenset()

    @cached_property
    def hist_row(self) -> np.ndarray:
        """int32 row of each entry (built on first use: an hour of entries takes 70 MB)."""
        return np.repeat(np.arange(len(self.hist_lengths), dtype=np.int32), self.hist_lengths)


def read_samples(run_dir: str | Path) -> Samples:
    """Every sample row of the run directory (a missing file gives empty tables).

    Rows that are not JSON objects with a numeric ts, or request rows missing a field
    or holding one of the wrong type, are skipped (a torn line, a foreign writer).
    """
    path = samples_path(run_dir)
    chunks: list[_Chunk] = []
    generator: list[dict] = []
    # Entries go straight into two arrays sized for the file (pages never written cost no memory).
    entries = _Entries(path.stat().st_size // 2 if path.exists() else 0)
    if path.exists():
        with path.open("rb") as handle:
            # In chunks of rows, so the Python objects of an hour of rows never exist at once.
            while lines := list(islice(handle, DECODE_CHUNK)):
                chunk, buckets, counts = _read_chunk(lines, generator)
                entries.add(buckets, counts)
                del buckets, counts  # copied into `entries`; not kept while the next chunk is read
                chunks.append(chunk)
    frames = [chunk.requests for chunk in chunks if len(chunk.requests)]
    requests = pd.concat(frames, ignore_index=True) if frames else _requests_frame([])
    errors = pd.DataFrame([e for chunk in chunks for e in chunk.errors], columns=["ts", "endpoint", "message", "count"])
    lengths = np.concatenate([np.zeros(0, np.int64), *(chunk.lengths for chunk in chunks)])
    return Samples(requests, lengths, *entries.arrays(), _generator_frame(generator), errors, _short_seconds(generator))


class _Entries:
    """Histogram entries of every chunk, appended into arrays that grow (by doubling) when full.

    An entry takes at least 2.6 bytes of the file, so the file size over 2 holds them all;
    the arrays grow only if that ever fails to hold.
    """

    def __init__(self, capacity: int) -> None:
        self.buckets = np.empty(capacity, dtype=np.int32)
        self.counts = np.empty(capacity, dtype=np.int32)
        self.size = 0

    def add(self, buckets: np.ndarray, counts: np.ndarray) -> None:
        end = self.size + len(buckets)
        if end > len(self.buckets):
            self.buckets, self.counts = (
                np.concatenate([a[: self.size], np.empty(max(end, 2 * len(a)) - self.size, dtype=np.int32)])
                for a in (self.buckets, self.counts)
            )
        self.buckets[self.size : end], self.counts[self.size : end] = buckets, counts
        self.size = end

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.buckets[: self.size], self.counts[: self.size]


@dataclass(frozen=True)
class _Chunk:
    requests: pd.DataFrame
    errors: list[tuple]
    lengths: np.ndarray


def _read_chunk(lines: list[bytes], generator: list[dict]) -> tuple[_Chunk, np.ndarray, np.ndarray]:
    """A chunk of lines: its request rows, and their histograms' buckets and counts; generator
    rows go to `generator`."""
    requests: list[rowcodec.RequestFields] = []
    decoded = rowcodec.decode_all(lines)
    if decoded is not None:  # every line decoded: only generator rows take the lenient path
        requests = [fields for fields in decoded if fields.outcome != GENERATOR]
        for line, fields in zip(lines, decoded):
            if fields.outcome == GENERATOR:
                _slow_line(line, [], generator)
    else:  # rows keep file order either way
        for line, maybe in zip(lines, rowcodec.decode_each(lines)):
            if maybe is None or maybe.outcome == GENERATOR:
                _slow_line(line, requests, generator)
            else:
                requests.append(maybe)
    errors = [
        (r.ts, r.endpoint, str(message), int(count))
        for r in requests
        if r.errors
        for message, count in r.errors.items()
    ]
    lengths, buckets, counts = decode_raws([r.hist or b"" for r in requests])
    return _Chunk(_requests_frame(requests), errors, lengths), buckets, counts


def _slow_line(line: bytes, requests: list[rowcodec.RequestFields], generator: list[dict]) -> None:
    for text in io.StringIO(line.decode("utf-8", errors="replace"), newline=None):
        _slow_row(text, requests, generator)


def _slow_row(line: str, requests: list[rowcodec.RequestFields], generator: list[dict]) -> None:
    """The lenient path, for lines the typed decoder refused and for generator rows.

    The file is split on b"\\n" only; `line` is one piece of that split as a text-mode
    reader would see it (a lone \\r also ends a line), so both read the same rows.
    """
    row = _json(line)
    if not isinstance(row, dict) or not isinstance(row.get("ts"), (int, float)):
        return
    if row.get("outcome") == GENERATOR:
        generator.append(row)
        return
    fields = _request_fields(row)
    if fields is not None:
        requests.append(fields)


def _request_fields(row: dict) -> rowcodec.RequestFields | None:
    hist = row.get("hist") or ""
    try:
        return rowcodec.RequestFields(
            ts=int(row["ts"]),
            endpoint=str(row["endpoint"]),
            outcome=str(row["outcome"]),
            count=int(row.get("count", 0)),
            hist=_unbase64(hist) if isinstance(hist, str) else b"",
            sum_ms=float(row.get("sum_ms", 0.0)),
            max_ms=float(row.get("max_ms", 0.0)),
            checked=int(row.get("checked", 0)),
            correct=int(row.get("correct", 0)),
            errors={str(m): int(c) for m, c in (row.get("errors") or {}).items()},
            variant=str(row["variant"]) if isinstance(row.get("variant"), str) else None,
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _requests_frame(rows: list[rowcodec.RequestFields]) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for name in REQUEST_COLUMNS:
        values = list(map(attrgetter(name), rows))
        columns[name] = np.array(values, dtype=_DTYPES[name]) if name in _DTYPES else values
    return pd.DataFrame(columns)


_DTYPES = {
    "ts": np.int64,
    "count": np.int64,
    "sum_ms": np.float64,
    "max_ms": np.float64,
    "checked": np.int64,
    "correct": np.int64,
}


def _short_seconds(rows: list[dict]) -> frozenset[int]:
    """Seconds with fewer reporting workers than the run's peak (see Samples)."""
    per_second: dict[int, int] = {}
    for row in rows:
        workers = row.get("workers")
        if isinstance(workers, int) and not isinstance(workers, bool) and isinstance(row.get("ts"), (int, float)):
            per_second[int(row["ts"])] = per_second.get(int(row["ts"]), 0) + workers
    peak = max(per_second.values(), default=0)
    return frozenset(ts for ts, n in per_second.items() if 0 < n < peak)


def _generator_frame(rows: list[dict]) -> pd.DataFrame:
    columns = ["ts", "offered", "behind", "cpu_warning", "lag_ms_p99", "users"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    frame = pd.DataFrame([{c: row.get(c, 0) for c in columns} for row in rows])
    frame = frame.fillna(0).astype(
        {
            "ts": "int64",
            "offered": "int64",
            "behind": bool,
            "cpu_warning": bool,
            "lag_ms_p99": "float64",
            "users": "int64",
        }
    )
    # Rows sharing a second come from different workers: add offers, OR the flags.
    return frame.groupby("ts", as_index=False).agg(
        offered=("offered", "sum"),
        behind=("behind", "any"),
        cpu_warning=("cpu_warning", "any"),
        lag_ms_p99=("lag_ms_p99", "max"),
        users=("users", "sum"),
    )


def _unbase64(text: str) -> bytes:
    """The bytes under a histogram's base64, read as leniently as `Histogram.decode`; b"" if it is not base64."""
    if not text:
        return b""
    try:
        return base64.b64decode(text)
    except ValueError:
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
    # with no consumed rows at all the joined column is object-typed; make it NaN floats
    events["consumed"] = pd.to_numeric(events["consumed"], errors="coerce").astype("float64")
    unexpected = int((~seen.index.isin(sent.index)).sum())
    return Ledger(events.reset_index(drop=True), unexpected, produced.bad_lines + consumed.bad_lines)


def _first_seen(rows: Iterable[LedgerRow]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=["id", "ts"])
    return frame.groupby("id")["ts"].min().to_frame("produced")


def _json(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None
