"""Reading the files a game day names (the spec, its profile, its experiments) without surprises.

    read_text(path) -> str        the UTF-8 text of a regular file, or FileProblem saying what is wrong

Only regular files are opened: a FIFO would block the reader forever and a
directory or device is never what the user meant, so both are refused before
any `open`. Every failure becomes one short sentence for a SpecError line.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from harness.errors import SpecError


class FileProblem(SpecError):
    """Why a named file cannot be used, as a phrase that follows the file's name."""


def read_text(path: Path) -> str:
    """The UTF-8 text of the regular file at `path`; FileProblem otherwise (never OSError)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileProblem("not found") from None
    except OSError as exc:
        raise FileProblem(f"cannot be read ({_reason(exc)})") from None
    if stat.S_ISDIR(mode):
        raise FileProblem("is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise FileProblem("is not a regular file (a FIFO, socket or device); name a file on disk")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileProblem(f"cannot be read ({_reason(exc)})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileProblem(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, offset {exc.start}); save it as UTF-8"
        ) from None


def _reason(exc: OSError) -> str:
    """`permission denied` style text, with a hint for the one case users hit most."""
    reason = (exc.strerror or str(exc)).lower()
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{reason}: the user running gameday (uid {os.getuid()}) needs read access"
    return reason
