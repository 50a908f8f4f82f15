"""The Locust child: `locust --headless` with the gameday plugin injected.

The orchestrator never imports locust (its gevent monkey-patching would change
the orchestrator's threads and sockets); it runs Locust as a child in its own
session and talks to it through files in the run directory: samples/ and
events.jsonl (appended by the plugin) and live.json (rewritten every second).
Its command line and start detection are harness.load.child's.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.load.child import test_started
from harness.load.live import read_live
from harness.proc import Child


class LocustDriver:
    """Runs one Locust child for one run (a harness.run.seams.LoadDriver); output goes to <run_dir>/locust.log."""

    def __init__(self, argv: list[str], run_dir: Path, env: Mapping[str, str] | None = None):
        self.argv, self.run_dir = argv, Path(run_dir).resolve()
        self.env = {**(os.environ if env is None else env), "GAMEDAY_RUN_DIR": str(self.run_dir)}
        self._child: Child | None = None
        self._sending = False

    def start(self) -> None:
        """Start Locust; SIGINT reaches it if the harness dies, so it shuts down cleanly and
        writes what it recorded instead of running on as an orphan."""
        with open(self.run_dir / "locust.log", "ab") as log:
            self._child = Child.start(
                self.argv, parent_death=signal.SIGINT, env=self.env, cwd=self.run_dir, stdout=log, stderr=log
            )

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
        try:
            return read_live(self.run_dir)
        except ValueError:  # a torn read cannot happen (atomic rename), but a bad file must not kill the run
            return None
