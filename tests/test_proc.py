"""harness.proc: children in their own session, with default signals, dying with their parent.

Real processes and real signals; the state of a child's signals is read from the kernel
(/proc/<pid>/status), not from anything the child reports about itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import processes
import pytest

from harness.clock import wait_until
from harness.proc import Child, default_sigint


def signal_masks(pid: int) -> dict[str, int]:
    """The kernel's SigIgn / SigBlk / SigCgt bit masks of process `pid`."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("SigIgn", "SigBlk", "SigCgt"):
            fields[key] = int(value.strip(), 16)
    return fields


def bit(sig: int) -> int:
    return 1 << (int(sig) - 1)


@pytest.fixture
def ignoring_sigint_and_blocking_usr1():
    """The parent as a non-interactive shell leaves it: SIGINT ignored (and SIGUSR1 blocked)."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
        signal.signal(signal.SIGINT, previous)


def test_a_child_gets_default_signals_even_when_its_parent_ignores_and_blocks_them(ignoring_sigint_and_blocking_usr1):
    child = Child.start(["sleep", "60"], parent_death=signal.SIGTERM)
    try:
        masks = signal_masks(child.pid)
        assert masks["SigIgn"] & bit(signal.SIGINT) == 0, "SIGINT is still ignored in the child"
        assert masks["SigBlk"] == 0, "the parent's blocked signals reached the child"
        assert os.getpgid(child.pid) == child.pid and os.getsid(child.pid) == child.pid, "not its own session"
        child.signal(signal.SIGINT)
        assert child.wait(10) == -signal.SIGINT
    finally:
        child.kill()


# A child that records the signal it gets and exits; and a parent that starts it through
# harness.proc with SIGINT as the parent-death signal, prints its pid and waits.
CHILD = """
import signal, sys, time
def got(signum, frame):
    open(sys.argv[1], "w").write(signal.Signals(signum).name)
    sys.exit(0)
signal.signal(signal.SIGINT, got)
open(sys.argv[1] + ".ready", "w").write("")
time.sleep(120)
"""
PARENT = """
import signal, sys, time
from harness.proc import Child
child = Child.start([sys.executable, "-c", sys.argv[1], sys.argv[2]], parent_death=signal.SIGINT)
print(child.pid, flush=True)
time.sleep(120)
"""


def test_kill_9_of_the_parent_sends_the_child_its_parent_death_signal(tmp_path):
    record = tmp_path / "signal"
    parent = processes.Owned(
        [sys.executable, "-c", PARENT, CHILD, str(record)],
        cwd=Path(__file__).parents[1],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        child_pid = int(parent.proc.stdout.readline())
        assert wait_until(Path(f"{record}.ready").exists, 30), "the child never started"
        parent.proc.send_signal(signal.SIGKILL)
        assert wait_until(record.exists, 30), "the child did not get a signal when its parent died"
        assert record.read_text() == "SIGINT"
        assert wait_until(lambda: not _alive(child_pid), 30), "the child outlived its parent"
    finally:
        parent.kill()


def test_stop_kills_the_whole_group_when_the_first_signal_is_ignored(tmp_path):
    # the leader ignores SIGTERM and has started a grandchild in its group
    script = (
        "import signal, subprocess, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "p = subprocess.Popen(['sleep', '120']); print(p.pid, flush=True); time.sleep(120)"
    )
    child = Child.start([sys.executable, "-c", script], parent_death=signal.SIGTERM, stdout=subprocess.PIPE)
    grandchild = int(child.popen.stdout.readline())
    started = time.monotonic()
    assert child.stop(signal.SIGTERM, timeout=1.0) == -signal.SIGKILL
    assert time.monotonic() - started >= 1.0, "SIGKILL came before the grace period"
    assert wait_until(lambda: not _alive(grandchild), 10), "the grandchild outlived the group's SIGKILL"


def test_stop_of_a_child_that_already_exited_returns_its_code():
    child = Child.start([sys.executable, "-c", "raise SystemExit(7)"], parent_death=signal.SIGTERM)
    assert child.wait(30) == 7
    assert child.stop(signal.SIGINT, timeout=1.0) == 7 and not child.running


def test_default_sigint_restores_keyboard_interrupt_only_where_sigint_was_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        default_sigint()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        custom = lambda *_: None  # noqa: E731
        signal.signal(signal.SIGINT, custom)
        default_sigint()
        assert signal.getsignal(signal.SIGINT) is custom, "a handler someone installed was replaced"
    finally:
        signal.signal(signal.SIGINT, previous)


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_listening_says_whether_something_accepts_connections_on_the_port():
    import socket

    from harness.proc import listening

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert listening("127.0.0.1", port)
    assert not listening("127.0.0.1", port)  # closed: refused
