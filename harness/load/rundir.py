"""Where the plugin records, and the append-only files it writes there.

The run directory is `--gameday-run-dir`, else $GAMEDAY_RUN_DIR, else (plain
`locust -f ...`) a new `reports/runs/<UTC YYYYmmddTHHMMSSZ>-adhoc/` under the current
directory, whose path is logged. Files (see docs/architecture.md, "Run directory"):

    samples/samples.jsonl   sample rows (harness.samples), appended and flushed every second
    events.jsonl            {ts, source: "load", kind, name, detail} lines, flushed per line
    live.json               live SLIs, replaced every second (harness.load.live)

Appends go straight to the file (no buffer), so a crashed Locust keeps every second it
had already written; on a full disk the writers keep what the disk refused and never
leave a torn line anywhere but at the end of a file (harness.files.JsonlAppender).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from harness.events import EVENTS_FILE, Event
from harness.files import JsonlAppender
from harness.samples import SAMPLES_FILE

logger = logging.getLogger(__name__)


def resolve_run_dir(option: str | None, cwd: Path | None = None, now: float | None = None) -> Path:
    """The run directory to record into (created if missing); see the module docstring."""
    if option:
        path = Path(option)
    else:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
        path = (cwd or Path.cwd()) / "reports" / "runs" / f"{stamp}-adhoc"
        logger.info("gameday: recording to %s", path)
    (path / "samples").mkdir(parents=True, exist_ok=True)
    return path


class RunDirWriter:
    """The plugin's handle on a run directory: samples, events and live SLIs."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.samples = JsonlAppender(run_dir / SAMPLES_FILE)
        self.events = JsonlAppender(run_dir / EVENTS_FILE)

    def event(self, kind: str, name: str, **detail: Any) -> None:
        """Append one timeline event with source "load"."""
        self.events.append([Event(ts=round(time.time(), 3), source="load", kind=kind, name=name, detail=detail)])

    def close(self) -> None:
        self.samples.close()
        self.events.close()
