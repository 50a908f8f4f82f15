"""The orchestrator's writer of the run's timeline, `events.jsonl` (see harness/events.py).

Sources harness|target|guardrail; it keeps one O_APPEND descriptor open for the run.
A write the disk refuses never raises into the orchestrator (whose teardown must
still run): the event waits in memory, is written first once the disk takes it,
and `error` says what went wrong (harness.files.JsonlAppender).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from harness.clock import SYSTEM, Clock
from harness.events import EVENTS_FILE, Event, encode
from harness.files import JsonlAppender


class Timeline:
    """Appends events to <run_dir>/events.jsonl; safe to share between threads."""

    def __init__(self, run_dir: str | Path, clock: Clock = SYSTEM):
        self.path = Path(run_dir) / EVENTS_FILE
        self.clock = clock
        self._appender = JsonlAppender(self.path)
        self._lock = threading.Lock()

    @property
    def error(self) -> OSError | None:
        """The last write the disk refused, None while every event is on disk."""
        return self._appender.error

    def emit(self, source: str, kind: str, name: str = "", **detail: Any) -> Event:
        """Record one event now and return it (it waits in memory if the disk refuses it)."""
        event: Event = {"ts": self.clock.now(), "source": source, "kind": kind, "name": name, "detail": detail}
        with self._lock:
            self._appender.append_lines([encode(event)])
        return event

    def close(self) -> None:
        with self._lock:
            self._appender.close()
