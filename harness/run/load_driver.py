"""The Locust child: `locust --headless` with the gameday plugin injected.

The orchestrator never imports locust (its gevent monkey-patching would change
the orchestrator's threads and sockets); it runs Locust as a child in its own
session and talks to it through files in the run directory: samples/ and
events.jsonl (appended by the plugin) and live.json (rewritten every second).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any, Mapping, Protocol

import harness.load
from harness.events import EVENTS_FILE, EventKind, kind_of
from harness.proc import Child

INJECT = Path(harness.load.__file__).with_name("inject.py")


class LoadDriver(Protocol):
    """What the orchestrator needs from a load generator."""

    def start(self) -> None: ...
    @property
    def running(self) -> bool: ...
    @property
    def sending(self) -> bool: ...   # the generator has started its test (requests are going out)
    def stop(self, timeout: float = 15.0) -> int | None: ...
    def live(self) -> Mapping[str, Any] | None: ...


def locust_argv(profile: Path, host: str, run_dir: Path, shape: str, duration: float,
                params: Mapping[str, float], processes: int | None, options: Mapping[str, Any],
                master_port: int | None = None) -> list[str]:
    """The locust command line: plugin first, then the profile, shape options as --gameday-*.

    With `processes` > 1 Locust forks that many workers under its master. No
    `--enable-rebalancing`, on purpose: if a worker dies the survivors keep their
    own users and their own share of the rate, so the load drops honestly, and the
    seconds short of a worker are counted as generator-bound (the `workers` count in
    the generator rows). Rebalancing would move the users but not the rate share of
    the open model, and the run would still be short of load while looking whole.

    The master listens on 127.0.0.1 at `master_port` (a free port when None), never
    Locust's default *:5557: two runs on one machine sharing 5557 swap workers (seen:
    a worker of another run reporting into this one, 3 workers for --processes 2).
    """
    argv = [sys.executable, "-m", "locust", "-f", f"{INJECT},{profile}", "--headless", "--host", host,
            "--gameday-run-dir", str(Path(run_dir).resolve()), *shape_argv(shape, duration, params),
            # a backstop only: the shape ends the test at `duration`
            "--run-time", f"{int(duration) + 30}s", "--stop-timeout", "5", "--only-summary",
            "--loglevel", "WARNING"]
    if processes and processes > 1:
        port = str(master_port or free_local_port())
        argv += ["--processes", str(processes), "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                 "--master-host", "127.0.0.1", "--master-port", port]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def shape_argv(shape: str, duration: float, params: Mapping[str, float]) -> list[str]:
    """The `--gameday-*` options that make the plugin's GamedayShape serve `shape` for `duration` s."""
    argv = ["--gameday-shape", shape, "--gameday-duration", f"{duration:g}"]
    for key, value in params.items():
        argv += [f"--gameday-{key.replace('_', '-')}", f"{value:g}" if isinstance(value, float) else str(value)]
    return argv


def free_local_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS's pick; taken again only by a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocustDriver:
    """Runs one Locust child for one run; output goes to <run_dir>/locust.log."""

    def __init__(self, argv: list[str], run_dir: Path, env: Mapping[str, str] | None = None):
        self.argv, self.run_dir = argv, Path(run_dir).resolve()
        self.env = {**(os.environ if env is None else env), "GAMEDAY_RUN_DIR": str(self.run_dir)}
        self._child: Child | None = None
        self._sending = False

    def start(self) -> None:
        """Start Locust; SIGINT reaches it if the harness dies, so it shuts down cleanly and
        writes what it recorded instead of running on as an orphan."""
        with open(self.run_dir / "locust.log", "ab") as log:
            self._child = Child.start(self.argv, parent_death=signal.SIGINT, env=self.env, cwd=self.run_dir,
                                      stdout=log, stderr=log)

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    @property
    def sending(self) -> bool:
        """True once the plugin recorded Locust's test start (the test's clock starts there)."""
        self._sending = self._sending or test_started(self.run_dir)
        return self._sending

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.running

    @property
    def returncode(self) -> int | None:
        return self._child.returncode if self._child else None

    def wait(self, timeout: float | None = None) -> int | None:
        return self._child.wait(timeout) if self._child else None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT the Locust group (it stops users and writes its last seconds), SIGKILL if it hangs.

        SIGINT, not SIGTERM: measured with locust 2.47, a SIGTERM to a headless run
        here ended the process by the signal's default action (exit -15) before the
        `quitting` event, so the plugin's last seconds were lost; SIGINT goes
        through Locust's KeyboardInterrupt shutdown and fires `quitting`.
        """
        return self._child.stop(signal.SIGINT, timeout, kill_wait=5) if self._child else None

    def live(self) -> Mapping[str, Any] | None:
        from harness.load.live import read_live

        try:
            return read_live(self.run_dir)
        except ValueError:  # a torn read cannot happen (atomic rename), but a bad file must not kill the run
            return None


def test_started(run_dir: Path) -> bool:
    """Whether the load plugin's `test-start` is in `run_dir`'s events.jsonl (read at the start of a
    run, when the file holds a few lines)."""
    try:
        text = (Path(run_dir) / EVENTS_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(_is_test_start(line) for line in text.splitlines())


def _is_test_start(line: str) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False   # a line being written right now
    return isinstance(event, dict) and event.get("source") == "load" and kind_of(event) == EventKind.TEST_START
