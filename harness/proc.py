"""Child processes: the one place gameday starts, signals, waits for and kills them.

    child = Child.start(argv, parent_death=signal.SIGINT, cwd=..., env=..., stdout=log)
    child.running / child.returncode / child.pid
    child.signal(signal.SIGINT)              to the child's whole process group
    child.wait(timeout)                      its exit code, None if still running after `timeout`
    child.stop(signal.SIGINT, timeout)       signal the group, wait, then SIGKILL the group
    child.kill()                             SIGKILL the group and reap it
    listening(host, port)                    whether something accepts TCP connections there (a child up yet?)

Every child is started the same way, because each of these was once missing somewhere:

- **its own session** (`start_new_session`): a Ctrl-C meant for gameday reaches the
  child only through gameday, in the order the teardown wants (chaos rollbacks first,
  the last flush of the load), and a signal to the group also reaches what the child
  started itself (Locust's workers, a `process` provider of `chaos run`);
- **the parent-death signal** (Linux `PR_SET_PDEATHSIG`, set before exec): when gameday
  dies, even by `kill -9`, the kernel sends the child `parent_death`, so it stops (SIGINT
  lets `chaos run` play its rollbacks and Locust write its last seconds) instead of running
  on as an orphan. The kernel counts the *thread* that started the child as its parent, so
  children are started from a thread that outlives them (the main thread, or a greenlet
  on it);
- **default signal handlers and an empty signal mask**: a child of a non-interactive shell
  inherits SIGINT (and SIGQUIT) ignored, and an ignored signal stays ignored across exec,
  so without this the documented SIGINT stop would do nothing.

`stack/` does not import the harness (the reference stack stands alone); its processes get
the parent-death signal from `stack/launch.py`, and its supervisord is started through
this module by `harness.targets.local` when a run owns the stack.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, overload

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the child between fork and exec should do little
# Every signal a process may handle: SIGKILL and SIGSTOP cannot be caught or ignored.
_RESETTABLE = tuple(s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))


def set_parent_death_signal(sig: int) -> None:
    """Ask the kernel to send `sig` to this process when its parent (thread) exits (Linux)."""
    if _LIBC.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def restore_default_signals() -> None:
    """Every catchable signal at its default action and none blocked, as a fresh process has them."""
    for sig in _RESETTABLE:
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # a signal number the kernel does not let us set
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def default_sigint() -> None:
    """For a command run from a non-interactive shell, which inherits SIGINT ignored: Python's
    own handler (KeyboardInterrupt) instead, so SIGINT (Ctrl-C) stops it as documented."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def signal_group(pid: int, sig: int) -> bool:
    """Send `sig` to the process group led by `pid`; False (and nothing sent) if it is gone already."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _in_child(parent_death: int, parent: int) -> Callable[[], None]:
    """What runs in the child between fork and exec (see the module docstring)."""

    def prepare() -> None:
        restore_default_signals()
        set_parent_death_signal(parent_death)
        if os.getppid() != parent:  # the parent died before prctl took effect: no one would stop us
            raise ChildProcessError("the parent exited while the child started")

    return prepare


class Child:
    """One child process in a session of its own (see the module docstring)."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen

    @classmethod
    def start(
        cls,
        argv: Sequence[str | os.PathLike[str]],
        *,
        parent_death: int,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        stdout: int | IO[Any] | None = None,
        stderr: int | IO[Any] | None = None,
    ) -> Child:
        """Start `argv` with stdin from /dev/null; `parent_death` is the signal it gets if gameday dies.

        stdout/stderr as for subprocess.Popen (None: gameday's own)."""
        popen = subprocess.Popen(  # noqa: S603 - argv is built by gameday, never by a shell
            [str(a) for a in argv],
            env=None if env is None else dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=_in_child(parent_death, os.getpid()),
        )  # noqa: PLW1509 - must run between fork and exec
        return cls(popen)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: killed by that signal), None while it runs."""
        return self.popen.poll()

    @overload
    def wait(self, timeout: None = None) -> int: ...
    @overload
    def wait(self, timeout: float | None) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, waiting up to `timeout` seconds (None: as long as it takes); None if still running."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, sig: int) -> bool:
        """`sig` to the child's process group, if it still runs; whether it was sent."""
        return self.running and signal_group(self.pid, sig)

    def stop(self, first: int, timeout: float, kill_wait: float = 10.0) -> int | None:
        """`first` to the group, up to `timeout` s for it to exit, then SIGKILL the group; the exit code."""
        if not self.running:
            return self.returncode
        signal_group(self.pid, first)
        code = self.wait(timeout)
        return code if code is not None else self.kill(kill_wait)

    def kill(self, wait: float | None = 10.0) -> int | None:
        """SIGKILL the whole group and reap the child; its exit code (None if it would not die in `wait`)."""
        signal_group(self.pid, signal.SIGKILL)
        return self.wait(wait)


def listening(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts a TCP connection on `host`:`port` within `timeout` s: the test for
    a child that serves (Locust's web UI, the calibration's hello server) or a port-forward being up."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True
