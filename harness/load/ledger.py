"""The data-flow ledger: which event ids went in, which came out, and when.

Layout inside a run directory (`ledger/`):

    produced.jsonl    {"id": str, "ts": float}  one row per event the load generator
                                                 got acknowledged; ts = epoch seconds at
                                                 which the request was sent
    consumed.jsonl    {"id": str, "ts": float}  one row per event id a sink reader saw
                                                 come out of the pipeline; ts = epoch
                                                 seconds at which the reader saw it

Every `produced*.jsonl` and `consumed*.jsonl` file is read, so several writers can
each keep their own file. Under Locust, only the master (or the single local
process) writes `produced.jsonl`: workers ship their rows to it with
`report_to_master` (see `harness/load/produced.py`, behind `record_event`), which
works for `--processes` and for workers on other machines alike.

Writers buffer rows and append them on `flush()`; a writer killed mid-write
leaves a torn last line, which `read_rows` skips and counts. `reconcile` is a
pure function of the directory, for the analysis stage.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

PRODUCED = "produced"
CONSUMED = "consumed"


class LedgerRow(TypedDict):
    """One line of a ledger file."""

    id: str
    ts: float


class LedgerWriter:
    """Buffered appender of ledger rows to one file.

    `record` only appends to memory; `flush` writes whole lines and is what a
    caller runs once a second and at exit. Opening a file whose last line was
    torn by a crash first ends that line, so the next row is not glued to it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._buffer: list[str] = []
        self._file = open(self.path, "a", encoding="utf-8")
        if self._file.tell() > 0 and not _ends_with_newline(self.path):
            self._file.write("\n")

    def record(self, event_id: str, ts: float | None = None) -> None:
        """Remember that `event_id` was seen at `ts` (default: now)."""
        row = {"id": event_id, "ts": time.time() if ts is None else ts}
        self._buffer.append(json.dumps(row, separators=(",", ":")))

    def record_many(self, rows: Iterable[tuple[str, float]]) -> None:
        """Remember several (id, ts) pairs, e.g. rows shipped from a Locust worker."""
        for event_id, ts in rows:
            self.record(event_id, ts)

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def flush(self) -> int:
        """Append buffered rows to the file in one write and hand them to the OS; returns how many.

        No fsync: the ledger must survive the writer dying, not the machine.
        """
        if not self._buffer:
            return 0
        count, text = len(self._buffer), "\n".join(self._buffer) + "\n"
        self._buffer.clear()
        self._file.write(text)
        self._file.flush()
        return count

    def close(self) -> None:
        """Flush what is buffered and close the file; safe to call twice."""
        if not self._file.closed:
            self.flush()
            self._file.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def ledger_dir(run_dir: str | Path) -> Path:
    """The `ledger/` directory of a run directory."""
    return Path(run_dir) / "ledger"


# ---- reading ------------------------------------------------------------------


@dataclass(frozen=True)
class ReadResult:
    rows: tuple[LedgerRow, ...]
    bad_lines: int  # torn or unparsable lines that were skipped


def read_rows(paths: Iterable[Path]) -> ReadResult:
    """Every valid row of `paths`, in file order; torn or malformed lines are skipped and counted."""
    rows: list[LedgerRow] = []
    bad = 0
    for path in sorted(paths):
        for row in _parse_lines(path):
            if row is None:
                bad += 1
            else:
                rows.append(row)
    return ReadResult(tuple(rows), bad)


def _parse_lines(path: Path) -> Iterator[LedgerRow | None]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                yield _parse_row(line)


def _parse_row(line: str) -> LedgerRow | None:
    try:
        data = _loads(line)
        return LedgerRow(id=str(data["id"]), ts=float(data["ts"]))
    except (ValueError, KeyError, TypeError):
        return None


def _json_loads() -> Callable[[str], Any]:
    """msgspec's decoder when installed (about 3x faster on the analysis's hot path), else json's."""
    try:
        import msgspec
    except ImportError:
        return json.loads
    decode = msgspec.json.Decoder().decode

    def loads(line: str) -> Any:
        try:
            return decode(line)
        except msgspec.DecodeError as exc:
            raise ValueError(str(exc)) from None

    return loads


_loads = _json_loads()


# ---- reconciling -------------------------------------------------------------


@dataclass(frozen=True)
class LedgerSummary:
    """What came of every produced event.

    - `lost`: (id, produced ts) of events produced but never consumed, by produced ts.
    - `duplicated`: extra deliveries (an id consumed 3 times counts 2); `duplicated_ids` names them.
    - `unexpected`: distinct consumed ids that no producer recorded (an earlier run,
      or a request the client gave up on that still reached the pipeline).
    - `e2e`: (produced ts, seconds to first consumption) per delivered event, by produced ts.
    - `bad_lines`: torn or malformed lines skipped while reading.
    """

    produced: int
    consumed: int
    lost: tuple[tuple[str, float], ...]
    duplicated: int
    duplicated_ids: tuple[str, ...]
    unexpected: int
    e2e: tuple[tuple[float, float], ...]
    bad_lines: int

    @property
    def e2e_latency_s(self) -> tuple[float, ...]:
        """End-to-end latency samples in seconds, in produced order."""
        return tuple(latency for _, latency in self.e2e)


def reconcile(directory: str | Path) -> LedgerSummary:
    """Match produced against consumed ids in a `ledger/` directory (or a run directory holding one).

    A missing file counts as empty, so a run without a sink reports every event
    lost rather than failing. An id produced twice keeps its first produced ts.
    """
    directory = Path(directory)
    if (directory / "ledger").is_dir():
        directory = directory / "ledger"
    produced = read_rows(directory.glob(f"{PRODUCED}*.jsonl"))
    consumed = read_rows(directory.glob(f"{CONSUMED}*.jsonl"))
    sent = _first_ts(produced.rows)
    seen = _first_ts(consumed.rows)
    counts = Counter(row["id"] for row in consumed.rows)
    return LedgerSummary(
        produced=len(sent),
        consumed=len(seen),
        lost=tuple(sorted(((i, ts) for i, ts in sent.items() if i not in seen), key=lambda r: r[1])),
        duplicated=sum(n - 1 for n in counts.values()),
        duplicated_ids=tuple(sorted(i for i, n in counts.items() if n > 1)),
        unexpected=sum(1 for i in seen if i not in sent),
        e2e=tuple(sorted((ts, seen[i] - ts) for i, ts in sent.items() if i in seen)),
        bad_lines=produced.bad_lines + consumed.bad_lines,
    )


def _first_ts(rows: Iterable[LedgerRow]) -> dict[str, float]:
    first: dict[str, float] = {}
    for row in rows:
        if row["id"] not in first or row["ts"] < first[row["id"]]:
            first[row["id"]] = row["ts"]
    return first
