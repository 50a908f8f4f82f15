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
import io
import json
import zlib
from binascii import a2b_base64
from zlib import decompress
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis import rowcodec
from harness.load.ledger import read_rows as read_ledger_rows
from harness.events import EVENTS_FILE
from harness.samples import GENERATOR, samples_path

DECODE_CHUNK = 20_000  # sample lines read, decoded and dropped at a time
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
    `short_seconds` are the seconds in which fewer workers reported than the run's peak
    (a Locust worker went missing): the generator, not the target, fell short there.
    `errors` maps (endpoint, message) to a count over the whole run.
    """

    requests: pd.DataFrame
    hist_row: np.ndarray
    hist_bucket: np.ndarray
    hist_count: np.ndarray
    generator: pd.DataFrame
    errors: pd.DataFrame
    short_seconds: frozenset[int] = frozenset()


def read_samples(run_dir: str | Path) -> Samples:
    """Every sample row of the run directory (a missing file gives empty tables).

    Rows that are not JSON objects with a numeric ts, or request rows missing a field
    or holding one of the wrong type, are skipped (a torn line, a foreign writer).
    """
    path = samples_path(run_dir)
    chunks: list[_Chunk] = []
    generator: list[dict] = []
    if path.exists():
        with path.open("rb") as handle:
            # In chunks of rows, so the Python objects of an hour of rows never exist at once.
            while lines := list(islice(handle, DECODE_CHUNK)):
                chunks.append(_read_chunk(lines, generator))
    frames = [chunk.requests for chunk in chunks if len(chunk.requests)]
    requests = pd.concat(frames, ignore_index=True) if frames else _requests_frame([])
    errors = pd.DataFrame([e for chunk in chunks for e in chunk.errors], columns=["ts", "endpoint", "message", "count"])
    lengths = np.concatenate([np.zeros(0, np.int64), *(chunk.lengths for chunk in chunks)])
    rows = np.repeat(np.arange(len(requests), dtype=np.int32), lengths)
    buckets = _concatenate([chunk.buckets for chunk in chunks])
    counts = _concatenate([chunk.counts for chunk in chunks])
    return Samples(requests, rows, buckets, counts, _generator_frame(generator), errors, _short_seconds(generator))


@dataclass(frozen=True)
class _Chunk:
    requests: pd.DataFrame
    errors: list[tuple]
    lengths: np.ndarray
    buckets: np.ndarray
    counts: np.ndarray


def _read_chunk(lines: list[bytes], generator: list[dict]) -> _Chunk:
    """A chunk of lines: its request rows and their histograms; generator rows go to `generator`."""
    requests: list[Any] = []
    for line, fields in zip(lines, rowcodec.decode_lines(lines)):
        if fields is None or fields.outcome == GENERATOR:
            for text in io.StringIO(line.decode("utf-8", errors="replace"), newline=None):
                _slow_row(text, requests, generator)
        else:
            requests.append(fields)
    errors = [(r.ts, r.endpoint, str(message), int(count))
              for r in requests if r.errors for message, count in r.errors.items()]
    return _Chunk(_requests_frame(requests), errors, *_decode_chunk([r.hist or "" for r in requests]))


def _slow_row(line: str, requests: list, generator: list) -> None:
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
            ts=int(row["ts"]), endpoint=str(row["endpoint"]), outcome=str(row["outcome"]),
            count=int(row.get("count", 0)), hist=hist if isinstance(hist, str) else "",
            sum_ms=float(row.get("sum_ms", 0.0)), max_ms=float(row.get("max_ms", 0.0)),
            checked=int(row.get("checked", 0)), correct=int(row.get("correct", 0)),
            errors={str(m): int(c) for m, c in (row.get("errors") or {}).items()})
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def _requests_frame(rows: list[rowcodec.RequestFields]) -> pd.DataFrame:
    frame = pd.DataFrame({name: [getattr(r, name) for r in rows] for name in REQUEST_COLUMNS})
    return frame.astype({"ts": "int64", "count": "int64", "sum_ms": "float64", "max_ms": "float64",
                         "checked": "int64", "correct": "int64"})


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
    frame = frame.fillna(0).astype({"ts": "int64", "offered": "int64", "behind": bool, "cpu_warning": bool,
                                    "lag_ms_p99": "float64", "users": "int64"})
    # Rows sharing a second come from different workers: add offers, OR the flags.
    return frame.groupby("ts", as_index=False).agg(
        offered=("offered", "sum"), behind=("behind", "any"), cpu_warning=("cpu_warning", "any"),
        lag_ms_p99=("lag_ms_p99", "max"), users=("users", "sum"))


def decode_many(encoded: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, bucket, count) int32 arrays for every encoded histogram; row i is encoded[i].

    Undecodable text counts as an empty histogram, like a torn row. Counts keep
    their low 32 bits (no second of one endpoint reaches 2**31 requests).
    """
    lengths, buckets, counts = _decode_chunk(encoded)
    return np.repeat(np.arange(len(encoded), dtype=np.int32), lengths), buckets, counts


def _concatenate(parts: list[np.ndarray]) -> np.ndarray:
    """One int32 array of the parts (an empty one without parts)."""
    return np.concatenate([np.zeros(0, np.int32), *parts])


def _decode_chunk(encoded: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(entries per histogram, buckets, counts) of a list of encoded histograms."""
    raws = _raws(encoded)
    lengths = np.fromiter((len(raw) // 12 for raw in raws), dtype=np.int64, count=len(raws))
    # Each raw is n uint32 bucket deltas then n uint64 counts; split them without a Python loop per value.
    diffs = b"".join([raw[: 4 * n] for raw, n in zip(raws, lengths.tolist())])
    counts = b"".join([raw[4 * n: 12 * n] for raw, n in zip(raws, lengths.tolist())])
    del raws
    # Buckets are delta-encoded per row: a running sum minus the sum before each row. uint32
    # arithmetic wraps, but the difference is exact because every bucket fits in 32 bits.
    total = np.cumsum(np.frombuffer(diffs, dtype=np.uint32), dtype=np.uint32)
    ends = np.cumsum(lengths)
    before = np.zeros(len(lengths), dtype=np.uint32)
    if len(total):
        before[1:] = np.where(ends[:-1] > 0, total[np.maximum(ends[:-1] - 1, 0)], 0)
    buckets = (total - np.repeat(before, lengths)).view(np.int32)
    # The low half of each little-endian uint64 count, as narrowing to int32 keeps.
    count = np.frombuffer(counts, dtype=np.uint32)[0::2].view(np.int32)
    return lengths, buckets, np.ascontiguousarray(count)


def _raws(encoded: list[str]) -> list[bytes]:
    """The decompressed bytes of each histogram; b"" for empty or undecodable text."""
    try:
        return [decompress(a2b_base64(text)) if text else b"" for text in encoded]
    except (ValueError, zlib.error):
        return [_raw(text) for text in encoded]


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
    # with no consumed rows at all the joined column is object-typed; make it NaN floats
    events["consumed"] = pd.to_numeric(events["consumed"], errors="coerce").astype("float64")
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
