"""Where the plugin records, and the append-only files it writes there.

The run directory is `--gameday-run-dir`, else $GAMEDAY_RUN_DIR, else (plain
`locust -f ...`) a new `reports/runs/<UTC YYYYmmddTHHMMSSZ>-adhoc/` under the current
directory, whose path is logged. Files (see docs/architecture.md, "Run directory"):

    samples/samples.jsonl   sample rows (harness.samples), appended and flushed every second
    events.jsonl            {ts, source: "load", kind, name, detail} lines, flushed per line
    live.json               live SLIs, replaced every second (harness.load.live)

Appends go straight to the file (no buffer), so a crashed Locust keeps every second it
had already written; on a full disk the writers keep what the disk refused and never
leave a torn line anywhere but at the end of a file (JsonlAppender).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from harness.events import EVENTS_FILE, Event
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


def disk_free(path: Path) -> int | None:
    """Bytes free for ordinary writers on the filesystem holding `path` (None if it cannot be asked)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def mount_point(path: Path) -> Path:
    """The mount point of the filesystem holding `path`: where a user frees space."""
    path = Path(path).resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


class JsonlAppender:
    """Appends JSON lines to one file through an O_APPEND descriptor, flushed on every append.

    What callers can rely on, even on a full disk:
    - a line is never torn in the middle of the file: bytes the disk refused (ENOSPC, EDQUOT,
      EIO) stay in memory and are written first by the next append, completing the torn
      line where it stopped (or, if another process appended after it, writing the whole
      line again after a newline), so a torn line can only ever be the file's last;
    - a line another writer left torn at the end of a shared file (events.jsonl) is closed
      with a newline before ours, so it never swallows a whole line of ours;
    - `append` does not raise for a refused write: `error` holds the last one (None once
      everything is on disk) and `pending` the bytes still waiting, at most MAX_PENDING
      (newer rows beyond that are dropped and counted in `dropped`).
    """

    MAX_PENDING = 32 * 1024 * 1024

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self._pending = b""        # unwritten bytes, from the start of a line
        self._torn = 0             # bytes of _pending's first line already on disk
        self._torn_at = -1         # the file's size right after them
        self.error: OSError | None = None
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._pending) - self._torn

    def append(self, rows: list[Any]) -> None:
        """Write `rows` as JSON lines now (after anything still pending); see the class docstring."""
        self.append_lines([(json.dumps(row, separators=(",", ":")) + "\n").encode("utf-8") for row in rows])

    def append_lines(self, lines: list[bytes]) -> None:
        """Write complete lines (each ending in a newline), as `append` does."""
        data = b"".join(lines)
        if len(self._pending) + len(data) > self.MAX_PENDING:
            self.dropped += len(lines)
            data = b""
        self._pending += data
        if self._pending:
            self._write()

    def _write(self) -> None:
        size = os.fstat(self._fd).st_size
        if self._torn and size != self._torn_at:
            self._torn = 0         # someone appended after our torn line: write that line again, whole
        prefix = b"" if self._torn or not size or os.pread(self._fd, 1, size - 1) == b"\n" else b"\n"
        data = prefix + self._pending[self._torn:]
        written = 0
        try:
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            self._keep_unwritten(written - len(prefix), exc)
            return
        if self.error is not None:
            logger.warning("gameday: %s is writable again; every waiting line is written", self.path)
        self._pending, self._torn, self.error = b"", 0, None

    def _keep_unwritten(self, written: int, exc: OSError) -> None:
        """After a refused write: keep the bytes from the first unfinished line on, and how much of it is on disk."""
        if self.error is None:
            logger.error("gameday: cannot write %s (%s); what is not written waits in memory for the disk",
                         self.path, exc.strerror or exc)
        self.error = exc
        if written < 0:            # not even the closing newline went out
            return
        done = self._torn + written
        start = self._pending.rfind(b"\n", 0, done) + 1
        self._pending, self._torn = self._pending[start:], done - start
        self._torn_at = os.fstat(self._fd).st_size

    def close(self) -> None:
        """Try once more to write what is pending, then close (what the disk still refuses is lost)."""
        if self._fd < 0:
            return
        if self._pending:
            self._write()
        os.close(self._fd)
        self._fd = -1


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
