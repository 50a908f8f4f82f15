"""Processes that tests start, found by a token in their environment and stopped whole.

A process that daemonizes (supervisord), starts a session of its own (Locust, `chaos run`,
a reaper) or outlives its parent leaves the process group and the process tree of the
test that started it, so neither can find it again. Its environment still carries what
it inherited: every process a test starts gets `GAMEDAY_TEST_SESSION`, a colon-separated
chain of tokens (the pytest session's, then one per command started through `run()` or
`Owned`). `carrying(token)` finds them all, wherever they went; the session-end check in
`leftovers.py` and the cleanups below rely on it.

Cleanups are written to survive pytest-timeout's signal method: its SIGALRM raises
`Failed` wherever the test is, once. The graceful part (SIGINT, so a `gameday` command
rolls back and stops what it started) may be cut short by it; the hard part that follows
in a `finally` (SIGKILL everything carrying the token) takes milliseconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

import psutil

TOKEN_ENV = "GAMEDAY_TEST_SESSION"


def new_token() -> str:
    return uuid.uuid4().hex[:16]


def with_token(token: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's environment) with `token` appended to the chain."""
    env = dict(os.environ if env is None else env)
    chain = [t for t in env.get(TOKEN_ENV, "").split(":") if t]
    env[TOKEN_ENV] = ":".join([*chain, token])
    return env


def carrying(token: str) -> list[psutil.Process]:
    """Live processes (other than this one) whose initial environment carries `token`.

    /proc/<pid>/environ is the environment a process was started with, so a pytest
    process that adds a token to its own os.environ is not found by it; its children are.
    """
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            chain = proc.environ().get(TOKEN_ENV, "")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if token in chain.split(":"):
            found.append(proc)
    return found


def describe(proc: psutil.Process) -> str:
    """One line naming a process: pid, age, command line and the stack it belongs to."""
    try:
        cmdline = " ".join(proc.cmdline()) or proc.name()
        age = time.time() - proc.create_time()
        stack = proc.environ().get("GAMEDAY_STACK")
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return f"pid {proc.pid} (gone)"
    where = f" [stack {stack}]" if stack else ""
    return f"pid {proc.pid}, {age:.0f}s old{where}: {cmdline[:300]}"


def kill_all(procs: Sequence[psutil.Process], grace: float = 10.0) -> None:
    """SIGTERM each (supervisord then stops its children), SIGKILL what is left after `grace`."""
    for proc in procs:
        _send(proc, signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        _send(proc, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=5)


def kill_carrying(token: str) -> list[str]:
    """SIGKILL every process carrying `token` (repeating for what they spawned meanwhile);
    returns what was killed."""
    killed: list[str] = []
    for _ in range(5):
        procs = carrying(token)
        if not procs:
            break
        killed += [describe(p) for p in procs]
        for proc in procs:
            _send(proc, signal.SIGKILL)
        psutil.wait_procs(procs, timeout=5)
    return killed


def _send(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Owned:
    """A long-lived command in a session of its own under a fresh token.

    `stop()` sends `first` (SIGINT: what a terminal's Ctrl-C sends) to its group, waits up
    to `grace` seconds, then kills its group and everything else that carries its token,
    so a stack or Locust it started cannot outlive the test, even on a timeout.
    """

    def __init__(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | Path | None = None, **popen
    ):
        self.token = new_token()
        self.proc = subprocess.Popen(
            list(argv), env=with_token(self.token, env), cwd=cwd, start_new_session=True, **popen
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, grace: float = 90.0, first: int = signal.SIGINT) -> int | None:
        """Stop it as a user would, then make sure nothing it started is left; its exit code."""
        try:
            if self.proc.poll() is None:
                _signal_group(self.proc.pid, first)
                try:
                    self.proc.wait(grace)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            self.kill()
        return self.proc.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """On an exception (a failed assertion, a test timeout) or while it still runs: `stop()`.
        A command that ended by itself on a passing path is left alone: what it left running
        is then a finding of the session-end check (tests/leftovers.py), not tidied away."""
        if exc_type is not None or self.proc.poll() is None:
            self.stop()

    def kill(self) -> list[str]:
        """SIGKILL its group and everything carrying its token; what was killed (the command
        itself too, if it was still running). Its process group id cannot have been reused: Linux
        gives no new process a pid still in use as a group id."""
        _signal_group(self.proc.pid, signal.SIGKILL)
        killed = kill_carrying(self.token)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        return killed


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float,
    grace: float = 90.0,
) -> subprocess.CompletedProcess:
    """`subprocess.run(argv, capture_output=True, text=True)` for commands that start daemons.

    On a timeout, a test timeout or any other exception, the command gets SIGINT (a
    `gameday` command rolls back and stops what it started), then everything it started
    is killed, and the exception goes on. Output read so far is kept on TimeoutExpired.
    A daemon the command leaves running on success (`gameday stack up`) is left running.
    """
    owned = Owned(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = owned.proc.communicate(timeout=timeout)
    except BaseException:
        try:
            if owned.proc.poll() is None:
                _signal_group(owned.pid, signal.SIGINT)
                owned.proc.communicate(timeout=grace)
        except BaseException:  # noqa: BLE001, S110 - a second timeout must not skip the kill below
            pass
        finally:
            owned.kill()
        raise
    return subprocess.CompletedProcess(owned.proc.args, owned.proc.returncode, out, err)
