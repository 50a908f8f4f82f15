"""Exec a stack process so that it dies with its supervisor.

supervisord runs every program as `python -m stack.launch -- CMD...`. This sets
the Linux parent-death signal to SIGKILL and then execs CMD, so a `kill -9` of
supervisord (or of the machine's process tree above it) cannot leave an orphan
replica, scorer or broker behind: the kernel kills each child when its parent
goes. The setting survives exec, so it also covers the Tansu binary.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent exits (Linux only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        sys.exit("usage: python -m stack.launch -- COMMAND [ARGS...]")
    parent = os.getppid()
    set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(1)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
