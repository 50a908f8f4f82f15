"""The timeline record shared by every writer of `events.jsonl`, and its vocabulary.

Three processes append to the same file: the orchestrator (harness.run.timeline),
the Chaos Toolkit control in the chaos child (harness.chaos.control) and the
Locust plugin (harness.load.rundir). Each line is one complete JSON object
written with a single `write` on an O_APPEND descriptor, so lines from different
processes never interleave and a crash loses at most the line being written.

Every kind is an `EventKind`, in one style: lowercase words joined by `-`. The load
plugin once wrote Locust's own names (`test_start`, `cpu_warning`, ...); `kind_of`
and `normalized` read those as today's names, so old run directories stay readable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, TypedDict

from harness.files import timestamped_lines

EVENTS_FILE = "events.jsonl"


class Source(StrEnum):
    """Who wrote an event."""

    LOAD = "load"
    CHAOS = "chaos"
    TARGET = "target"
    GUARDRAIL = "guardrail"
    HARNESS = "harness"


SOURCES = tuple(Source)


class EventKind(StrEnum):
    """Every kind of event, by the source that writes it."""

    # harness (the orchestrator, and `gameday ui`)
    RUN_START = "run-start"
    RUN_END = "run-end"
    METRICS_START = "metrics-start"
    METRICS_STOP = "metrics-stop"
    SINK_START = "sink-start"
    SINK_STOP = "sink-stop"
    LOAD_START = "load-start"
    LOAD_STOP = "load-stop"
    WARMUP_END = "warmup-end"
    CHAOS_START = "chaos-start"
    CHAOS_ABORT = "chaos-abort"
    CHAOS_END = "chaos-end"
    CHAOS_ROLLBACK = "chaos-rollback"
    ERROR = "error"
    # guardrail
    ABORT = "abort"
    # target
    UP = "up"
    DOWN = "down"
    # load (the plugin, on Locust's events)
    TEST_START = "test-start"
    SPAWNING_COMPLETE = "spawning-complete"
    SCHEDULE_START = "schedule-start"  # the open model's clock: its first slot (after the pool spawned)
    TEST_STOP = "test-stop"
    CPU_WARNING = "cpu-warning"
    WORKER_MISSING = "worker-missing"
    WORKER_BACK = "worker-back"
    # chaos (the Chaos Toolkit control)
    EXPERIMENT_START = "experiment-start"
    EXPERIMENT_END = "experiment-end"
    EXPERIMENT_INTERRUPTED = "experiment-interrupted"
    HYPOTHESIS_START = "hypothesis-start"
    HYPOTHESIS_END = "hypothesis-end"
    METHOD_START = "method-start"
    METHOD_END = "method-end"
    ROLLBACK_START = "rollback-start"
    ROLLBACK_END = "rollback-end"
    ACTIVITY_START = "activity-start"
    ACTIVITY_END = "activity-end"


def kind_of(event: Mapping[str, Any]) -> str:
    """The event's kind in today's style (`test_start` in an old run directory reads `test-start`)."""
    kind = event.get("kind")
    return kind.replace("_", "-") if isinstance(kind, str) else ""


def detail_of(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event's detail ({} when a foreign or torn line has none, or not a mapping)."""
    detail = event.get("detail")
    return detail if isinstance(detail, dict) else {}


def normalized(event: dict[str, Any]) -> dict[str, Any]:
    """`event` with its kind in today's style (the same dict when it already is)."""
    kind = kind_of(event)
    return event if event.get("kind") == kind else {**event, "kind": kind}


class Event(TypedDict):
    ts: float  # UTC epoch seconds
    source: str  # a Source
    kind: str  # an EventKind
    name: str
    detail: dict[str, Any]


def encode(event: Event) -> bytes:
    """One events.jsonl line for `event`."""
    return (json.dumps(event, default=str) + "\n").encode()


def read(run_dir: str | Path) -> list[dict[str, Any]]:
    """The run's timeline, sorted by ts, every kind in today's style (`normalized`: old run
    directories stay readable); lines that are not JSON objects with a numeric ts (one being
    written right now) are skipped."""
    events = [normalized(event) for event in timestamped_lines(Path(run_dir) / EVENTS_FILE)]
    return sorted(events, key=lambda e: e["ts"])


def append(run_dir: str | Path, *events: Event) -> None:
    """Append `events` to <run_dir>/events.jsonl in one write."""
    fd = os.open(Path(run_dir) / EVENTS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, b"".join(encode(e) for e in events))
    finally:
        os.close(fd)
