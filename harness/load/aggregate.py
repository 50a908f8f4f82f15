"""Per-second aggregation of Locust requests into mergeable cells, and back into rows.

A `Cell` holds one (second, endpoint, outcome, variant); a `GeneratorCell` one second of
the generator's own health. The variant is an extra dimension, present only when the
game day names a `load.variant_header` (e.g. `x-model-version`): each response's value of
that header ("" when it has none) is recorded with it, and the rows carry `variant`.
Without it the header is never read and rows are as before. `Aggregator.on_request` is the hot path (one call per
request, about 1-2 us); `take()` turns finished seconds into JSON rows
(`harness.samples`), and `add_row()` merges rows from other processes back in,
so workers and master share one code path and merging is histogram addition.
"""

from __future__ import annotations

import time
from typing import Any

from harness.histogram import Histogram
from harness.samples import (
    ALL_ENDPOINTS,
    ERROR,
    GENERATOR,
    OK,
    RATE_LIMITED,
    GeneratorRow,
    Outcome,
    SampleRow,
)

INTENDED = "gameday.intended"
CORRECT = "gameday.correct"
MAX_ERROR_KEYS = 20  # distinct messages kept per cell; the rest count as "(other)"
TOP_ERRORS = 5  # messages written per row


def classify(status: int | None, exception: BaseException | None) -> Outcome:
    """ok, error or rate_limited: 429 -> rate_limited; exception or status >= 400 -> error."""
    if status == 429:
        return RATE_LIMITED
    if exception is not None or (status or 0) >= 400:
        return ERROR
    return OK


def error_message(status: int | None, exception: BaseException | None) -> str:
    """A short, stable message for the errors table."""
    if exception is None:
        return f"HTTP {status}"
    return f"{type(exception).__name__}: {exception}"[:200]


class Cell:
    """One (second, endpoint, outcome): counts, latency histogram (us) and checks."""

    __slots__ = ("count", "hist", "sum_ms", "max_ms", "checked", "correct", "errors", "variant")

    def __init__(self, variant: str | None = None) -> None:
        self.variant = variant  # None: the run records no variants
        self.count = 0
        self.hist = Histogram()
        self.sum_ms = 0.0
        self.max_ms = 0.0
        self.checked = 0
        self.correct = 0
        self.errors: dict[str, int] = {}

    def add_error(self, message: str, count: int = 1) -> None:
        errors = self.errors
        if message not in errors and len(errors) >= MAX_ERROR_KEYS:
            message = "(other)"
        errors[message] = errors.get(message, 0) + count

    def to_row(self, ts: int, endpoint: str, outcome: Outcome, worker: str | None) -> SampleRow:
        top = sorted(self.errors.items(), key=lambda kv: -kv[1])
        errors = dict(top[:TOP_ERRORS])
        if len(top) > TOP_ERRORS:
            errors["(other)"] = errors.get("(other)", 0) + sum(c for _, c in top[TOP_ERRORS:])
        row = SampleRow(
            ts=ts,
            endpoint=endpoint,
            outcome=outcome,
            count=self.count,
            hist=self.hist.encode(),
            sum_ms=round(self.sum_ms, 3),
            max_ms=round(self.max_ms, 3),
            checked=self.checked,
            correct=self.correct,
            errors=errors,
            worker=worker,
        )
        if self.variant is not None:
            row["variant"] = self.variant
        return row

    def add_row(self, row: SampleRow) -> None:
        self.count += row["count"]
        self.hist.add(Histogram.decode(row["hist"]))
        self.sum_ms += row["sum_ms"]
        self.max_ms = max(self.max_ms, row["max_ms"])
        self.checked += row["checked"]
        self.correct += row["correct"]
        for message, count in row["errors"].items():
            self.add_error(message, count)


CellEntry = tuple[int, str, Outcome, Cell]  # (second, endpoint, outcome, its cell)


class GeneratorCell:
    """One second of generator health: offered load, schedule lag, CPU, users."""

    __slots__ = ("offered", "lag", "lag_max_ms", "backlog_ms", "cpu_warning", "users", "workers")

    def __init__(self) -> None:
        self.offered = 0
        self.lag = Histogram()
        self.lag_max_ms = 0.0
        self.backlog_ms = 0.0
        self.cpu_warning = False
        self.users = 0
        self.workers = 0

    def to_row(self, ts: int, behind_ms: float, worker: str | None) -> GeneratorRow:
        p99_ms = 0.0 if not self.lag.counts else self.lag.percentile(99) / 1000.0
        lag_max = max(self.lag_max_ms, self.backlog_ms)
        behind = p99_ms > behind_ms or self.backlog_ms > behind_ms
        row = GeneratorRow(
            ts=ts,
            endpoint=ALL_ENDPOINTS,
            outcome=GENERATOR,
            offered=self.offered,
            lag_ms_max=round(lag_max, 3),
            lag_ms_p99=round(p99_ms, 3),
            behind=behind,
            cpu_warning=self.cpu_warning,
            users=self.users,
            workers=self.workers,
            hist=self.lag.encode(),
            worker=worker,
        )
        row["backlog_ms"] = round(self.backlog_ms, 3)
        return row

    def add_row(self, row: GeneratorRow) -> None:
        self.offered += row["offered"]
        self.lag.add(Histogram.decode(row["hist"]))
        self.lag_max_ms = max(self.lag_max_ms, row["lag_ms_max"])
        self.backlog_ms = max(self.backlog_ms, row.get("backlog_ms", 0.0))
        self.cpu_warning = self.cpu_warning or row["cpu_warning"]
        self.users += row["users"]
        self.workers += row["workers"]


class Aggregator:
    """Cells keyed by second; fed by requests (`on_request`) or by rows (`add_row`)."""

    def __init__(self, worker: str | None = None, open_model: bool = False, variant_header: str | None = None) -> None:
        self.worker = worker
        self.open_model = open_model
        self.variant_header = variant_header or None
        self.cells: dict[tuple[int, str, Outcome, str | None], Cell] = {}
        self.generator: dict[int, GeneratorCell] = {}

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response: Any = None,
        context: dict | None = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        """Locust `request` listener: count one request in its second."""
        if start_time is None:
            start_time = time.time() - response_time / 1000.0
        intended = context.get(INTENDED) if context else None
        latency_ms = response_time
        if intended is not None:
            lag_s = start_time - intended
            ts = int(intended)
            if lag_s > 0:
                latency_ms += lag_s * 1000.0
            self._record_lag(ts, lag_s)
        else:
            ts = int(start_time)
            if not self.open_model:
                self.generator_cell(ts).offered += 1
        status = getattr(response, "status_code", None)
        outcome = classify(status, exception)
        variant = self._variant(response) if self.variant_header else None
        key = (ts, f"{request_type} {name}", outcome, variant)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell(variant)
        cell.count += 1
        cell.hist.record(int(latency_ms * 1000.0))
        cell.sum_ms += latency_ms
        if latency_ms > cell.max_ms:
            cell.max_ms = latency_ms
        if outcome == ERROR:
            cell.add_error(error_message(status, exception))
        elif outcome == OK and context:
            verdict = context.get(CORRECT)
            if verdict is not None:
                cell.checked += 1
                cell.correct += 1 if verdict else 0

    def _variant(self, response: Any) -> str:
        """The response's variant header ("" without a response or the header)."""
        headers = getattr(response, "headers", None)
        value = headers.get(self.variant_header) if headers is not None else None
        return str(value)[:64] if value else ""

    def _record_lag(self, ts: int, lag_s: float) -> None:
        gen = self.generator_cell(ts)
        lag_ms = max(lag_s, 0.0) * 1000.0
        gen.lag.record(int(lag_ms * 1000.0))
        if lag_ms > gen.lag_max_ms:
            gen.lag_max_ms = lag_ms

    def generator_cell(self, ts: int) -> GeneratorCell:
        """The generator cell for second `ts`, created when missing."""
        gen = self.generator.get(ts)
        if gen is None:
            gen = self.generator[ts] = GeneratorCell()
        return gen

    def pop_before(self, before: float) -> tuple[list[CellEntry], list[tuple[int, GeneratorCell]]]:
        """Remove and return every cell of a second earlier than `before`, in time order."""
        cells = [
            (key[0], key[1], key[2], self.cells.pop(key))
            for key in sorted((k for k in self.cells if k[0] < before), key=_order)
        ]
        gens = [(ts, self.generator.pop(ts)) for ts in sorted(t for t in self.generator if t < before)]
        return cells, gens

    def entries(self) -> list[CellEntry]:
        """Every request cell still held, as (ts, endpoint, outcome, cell), without removing it."""
        return [(key[0], key[1], key[2], cell) for key, cell in self.cells.items()]

    def take(self, before: float, behind_ms: float) -> list[SampleRow | GeneratorRow]:
        """Remove and return, as rows, every cell of a second earlier than `before`."""
        cells, gens = self.pop_before(before)
        return rows_of(cells, gens, behind_ms, self.worker)

    def add_row(self, row: SampleRow | GeneratorRow) -> None:
        """Merge a row (e.g. from a worker) into this aggregator's cells."""
        if row["outcome"] == GENERATOR:
            self.generator_cell(row["ts"]).add_row(row)
            return
        variant = row.get("variant")
        key = (row["ts"], row["endpoint"], row["outcome"], variant)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell(variant)
        cell.add_row(row)


def _order(key: tuple[int, str, str, str | None]) -> tuple[int, str, str, str]:
    return key[0], key[1], key[2], key[3] or ""


def rows_of(
    cells: list[CellEntry], gens: list[tuple[int, GeneratorCell]], behind_ms: float, worker: str | None
) -> list[SampleRow | GeneratorRow]:
    """Rows for popped cells: request rows first, then generator rows."""
    rows: list[SampleRow | GeneratorRow] = [cell.to_row(ts, ep, outcome, worker) for ts, ep, outcome, cell in cells]
    rows.extend(gen.to_row(ts, behind_ms, worker) for ts, gen in gens)
    return rows
