"""Factory functions that write synthetic run directories for the analysis tests.

Each call builds a fresh directory from plain arguments, in the formats the real
producers write (harness.samples rows, harness.chaos.control events, ledger rows),
so the analysis is tested from files on disk, as in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from harness.histogram import Histogram

T0 = 1_800_000_000  # a fixed epoch second, so windows are easy to read in tests


def event(ts: float, kind: str, source: str = "harness", name: str = "", **detail) -> dict:
    return {"ts": ts, "source": source, "kind": kind, "name": name or kind, "detail": detail}


def activity(ts: float, kind: str, phase: str, type_: str = "action", name: str = "act") -> dict:
    return event(ts, kind, source="chaos", name=name, phase=phase, type=type_, status="succeeded")


def timeline(
    load_s: float = 60,
    warmup_s: float = 5,
    faults: Iterable[tuple[float, ...]] = (),
    rollback: bool = True,
    extra: Iterable[dict] = (),
    run_start: dict | None = None,
) -> list[dict]:
    """Events of a run starting at T0: load for `load_s`, and one experiment per (fault start, fault end)
    offset. The method action starts at the fault start; a rollback (or the method) ends at the fault end.
    A third offset (start, end, heal) adds a method action `heal` that removes the fault, ending at `heal`."""
    events = [
        event(T0 - 1, "run-start", **(run_start or {})),
        event(T0, "load-start"),
        event(T0 + warmup_s, "warmup-end"),
    ]
    for start, end, *heal in faults:
        events += [
            event(T0 + start - 1, "experiment-start", "chaos"),
            activity(T0 + start - 0.5, "activity-start", "method", "probe", "probe-before"),
            activity(T0 + start - 0.2, "activity-end", "method", "probe", "probe-before"),
            activity(T0 + start, "activity-start", "method"),
            activity(T0 + start + 0.1, "activity-end", "method"),
        ]
        if heal:
            events += [
                activity(T0 + heal[0] - 0.1, "activity-start", "method", name="heal"),
                {**activity(T0 + heal[0], "activity-end", "method", name="heal")},
            ]
            events[-1]["detail"]["removes_fault"] = True
        if rollback:
            events += [
                activity(T0 + end - 0.1, "activity-start", "rollback"),
                activity(T0 + end, "activity-end", "rollback"),
            ]
        else:
            events[-1] = activity(T0 + end, "activity-end", "method")
        events.append(event(T0 + end + 0.5, "experiment-end", "chaos"))
    events += [event(T0 + load_s, "load-stop"), event(T0 + load_s + 1, "run-end", status="completed"), *extra]
    return events


def request_row(
    ts: int,
    latencies_ms: Iterable[float],
    endpoint: str = "POST /v1/score",
    outcome: str = "ok",
    checked: int = 0,
    correct: int = 0,
    worker: str | None = None,
    errors: dict | None = None,
) -> dict:
    latencies = list(latencies_ms)
    hist = Histogram()
    hist.record_many(int(ms * 1000) for ms in latencies)
    return {
        "ts": ts,
        "endpoint": endpoint,
        "outcome": outcome,
        "count": len(latencies),
        "hist": hist.encode(),
        "sum_ms": float(sum(latencies)),
        "max_ms": float(max(latencies, default=0.0)),
        "checked": checked,
        "correct": correct,
        "errors": errors or {},
        "worker": worker,
    }


def generator_row(ts: int, offered: int, behind: bool = False, cpu_warning: bool = False) -> dict:
    return {
        "ts": ts,
        "endpoint": "*",
        "outcome": "generator",
        "offered": offered,
        "lag_ms_max": 0.0,
        "lag_ms_p99": 0.0,
        "behind": behind,
        "cpu_warning": cpu_warning,
        "users": 10,
        "workers": 1,
        "hist": "",
        "worker": None,
    }


def steady_rows(
    start: int,
    stop: int,
    per_second: int = 10,
    latency_ms: float = 20.0,
    endpoint: str = "POST /v1/score",
    outcome: str = "ok",
    **kwargs,
) -> list[dict]:
    """One row per second in [T0+start, T0+stop), each with `per_second` requests of `latency_ms`."""
    return [request_row(T0 + s, [latency_ms] * per_second, endpoint, outcome, **kwargs) for s in range(start, stop)]


def write_run(
    directory: Path,
    events: Iterable[dict] = (),
    rows: Iterable[dict] = (),
    produced: Iterable[tuple[str, float]] = (),
    consumed: Iterable[tuple[str, float]] = (),
    spec: str | None = None,
) -> Path:
    """A run directory holding exactly the given timeline, sample rows and ledger rows."""
    directory.mkdir(parents=True, exist_ok=True)
    _lines(directory / "events.jsonl", events)
    _lines(directory / "samples" / "samples.jsonl", rows)
    _lines(directory / "ledger" / "produced.jsonl", ({"id": i, "ts": ts} for i, ts in produced))
    _lines(directory / "ledger" / "consumed.jsonl", ({"id": i, "ts": ts} for i, ts in consumed))
    if spec is not None:
        (directory / "gameday.yaml").write_text(spec)
    return directory


def _lines(path: Path, rows: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
