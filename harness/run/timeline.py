"""The orchestrator's writer of the run's timeline, `events.jsonl` (see harness/events.py).

Sources harness|target|guardrail; it keeps one O_APPEND descriptor open for the run.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from harness.events import EVENTS_FILE, Event, encode


class Timeline:
    """Appends events to <run_dir>/events.jsonl; safe to share between threads."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / EVENTS_FILE
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()

    def emit(self, source: str, kind: str, name: str = "", **detail: Any) -> Event:
        """Record one event now and return it."""
        event: Event = {"ts": time.time(), "source": source, "kind": kind, "name": name, "detail": detail}
        with self._lock:
            os.write(self._fd, encode(event))
        return event

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
