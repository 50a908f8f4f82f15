"""Writing a file so that readers see it whole or not at all.

    atomic_write(path, data, durable=True)       bytes or str (UTF-8)

The data goes to a temporary file with a unique name in the same directory (so the
rename stays on one filesystem, and two writers of one path never share a temporary
file), is flushed to disk (unless `durable=False`), and is renamed over `path`. A crash, a kill or a full disk
leaves the old file or the new one, never half of either, and no temporary file behind
when Python is still running to remove it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


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
