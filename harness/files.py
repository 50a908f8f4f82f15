"""File-system helpers every stage shares: whole-file writes, append-only JSONL, free space.

    atomic_write(path, data, durable=True)       bytes or str (UTF-8), whole or absent
    JsonlAppender(path)                          append-only JSON lines that survive a full disk
    disk_free(path), mount_point(path)           how much room is left, and where to free it

atomic_write:
The data goes to a temporary file with a unique name in the same directory (so the
rename stays on one filesystem, and two writers of one path never share a temporary
file), is flushed to disk (unless `durable=False`), and is renamed over `path`. A crash, a kill or a full disk
leaves the old file or the new one, never half of either, and no temporary file behind
when Python is still running to remove it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def gameday_home() -> Path:
    """Where gameday keeps state on this machine: $GAMEDAY_HOME, default ~/.gameday (stack/config.py
    reads the same variable on its own: the reference stack never imports the harness)."""
    return Path(os.environ.get("GAMEDAY_HOME") or os.path.expanduser("~/.gameday")).absolute()


def atomic_write(path: str | Path, data: bytes | str, durable: bool = True) -> Path:
    """Replace `path` with `data` atomically (see the module docstring); returns `path`.

    The file keeps the mode of the one it replaces (a new one gets 0644, not mkstemp's
    0600). `durable=False` skips the fsync: for a file rewritten every second that only
    matters while its writer runs (live.json), where a blocking fsync would stall the
    writer and a crash loses nothing anyone reads later."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), _mode_of(path))
            handle.write(payload)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _mode_of(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o644


logger = logging.getLogger(__name__)


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


def timestamped_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects with a numeric `ts` in a JSON-lines file, in file order (nothing when it
    is missing); other lines, and one a writer is still writing, are skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("ts"), (int, float)):
                yield row


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
        self._pending = b""  # unwritten bytes, from the start of a line
        self._torn = 0  # bytes of _pending's first line already on disk
        self._torn_at = -1  # the file's size right after them
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
            self._torn = 0  # someone appended after our torn line: write that line again, whole
        prefix = b"" if self._torn or not size or os.pread(self._fd, 1, size - 1) == b"\n" else b"\n"
        data = prefix + self._pending[self._torn :]
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
            logger.error(
                "gameday: cannot write %s (%s); what is not written waits in memory for the disk",
                self.path,
                exc.strerror or exc,
            )
        self.error = exc
        if written < 0:  # not even the closing newline went out
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
