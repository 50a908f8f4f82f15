"""The run's timeline: `events.jsonl`, appended and flushed line by line.

Several writers share the file: the orchestrator (source harness|target|guardrail),
the Chaos Toolkit control in the chaos child (source chaos) and the Locust
plugin (source load). Each line is one `os.write` of a complete JSON object on an
O_APPEND descriptor, so lines from different processes never interleave and a
crash loses at most the line being written.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, TypedDict

EVENTS_FILE = "events.jsonl"


class Event(TypedDict):
    ts: float            # UTC epoch seconds
    source: str          # load | chaos | target | guardrail | harness
    kind: str
    name: str
    detail: dict[str, Any]


class Timeline:
    """Appends events to <run_dir>/events.jsonl; safe to share between threads."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / EVENTS_FILE
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()

    def emit(self, source: str, kind: str, name: str = "", **detail: Any) -> Event:
        """Record one event now and return it."""
        event: Event = {"ts": time.time(), "source": source, "kind": kind, "name": name, "detail": detail}
        line = (json.dumps(event, default=str) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
        return event

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
