"""The chaos child: `chaos run` in its own session, stopped with SIGINT so rollbacks run.

Facts this relies on (docs/architecture.md, "Process model"): with
`--rollback-strategy=always`, SIGINT stops the method and plays the rollbacks;
SIGTERM only fails the current activity. The child is started by harness.proc:
default signal handlers (a child of a non-interactive shell inherits SIGINT as
ignored), SIGINT as its parent-death signal (a `kill -9` of `gameday run` still
plays the rollbacks), and its own process group, so that a signal reaches any
`process` provider it started too.

The experiment gets the gameday control (events.jsonl) either from its own
`controls` block or, when it has none, from a `--control-file` the driver writes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from harness import events
from harness.chaos import redact
from harness.events import EventKind
from harness.proc import Child

CONTROL_MODULE = "harness.chaos.control"
RESIGNAL_AFTER_S = 5.0
CONTROL_FILE = "chaos-controls.json"


def chaos_argv(experiment: Path, run_dir: Path, control_file: Path | None, journal: str = "journal.json") -> list[str]:
    """The `chaos` command line the driver runs."""
    argv = [
        *_chaos_command(),
        "--no-version-check",
        "--log-file",
        str(run_dir / "chaos.log"),
        "run",
        "--rollback-strategy=always",
        "--journal-path",
        str(run_dir / journal),
    ]
    if control_file is not None:
        argv += ["--control-file", str(control_file)]
    return argv + [str(experiment)]


def _chaos_command() -> list[str]:
    """`chaos` from this interpreter's environment, so the child sees the same packages."""
    beside = Path(sys.executable).with_name("chaos")
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-m", "chaostoolkit"]


def declares_control(experiment: Path) -> bool:
    """True when the experiment file lists harness.chaos.control among its controls."""
    text = experiment.read_text()
    try:
        doc = json.loads(text) if experiment.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError):
        return False  # `chaos run` reports the syntax error itself
    controls = doc.get("controls", []) if isinstance(doc, dict) else []
    return any((c.get("provider") or {}).get("module") == CONTROL_MODULE for c in controls if isinstance(c, dict))


class ChaosDriver:
    """Runs one experiment as a `chaos run` child; the orchestrator's handle on it.

    `start()` launches it; `running` says it is going; `interrupt()` stops it so
    that its rollbacks run; `wait()` returns its exit code; `journal()` is the
    journal it wrote (None before it wrote one). `interrupted` is True once
    `interrupt()` was called.
    """

    def __init__(
        self,
        experiment: str | Path,
        run_dir: str | Path,
        env: Mapping[str, str] | None = None,
        journal: str = "journal.json",
    ):
        self.experiment = Path(experiment).resolve()
        self.run_dir = Path(run_dir).resolve()
        self.env = dict(os.environ if env is None else env)
        self.env["GAMEDAY_RUN_DIR"] = str(self.run_dir)
        self.journal_name = journal  # one journal per chaos block: journal.json, journal-2.json, ...
        self.interrupted = False
        self.interrupted_at = 0.0
        self.signalled = False  # whether the last SIGINT reached a process group
        self.resignalled = False  # the interrupt was sent a second time (resend_unseen_interrupt)
        self._redacted = False
        self.started_at: float | None = None
        self._child: Child | None = None

    def start(self) -> None:
        """Launch `chaos run`; its output goes to <run_dir>/chaos.out."""
        if self._child is not None:
            raise RuntimeError("this ChaosDriver was already started")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        argv = chaos_argv(self.experiment, self.run_dir, self._control_file(), self.journal_name)
        with open(self.run_dir / "chaos.out", "ab") as out:
            self._child = Child.start(
                argv, parent_death=signal.SIGINT, cwd=self.run_dir, env=self.env, stdout=out, stderr=out
            )
        self.started_at = time.time()

    def _control_file(self) -> Path | None:
        if declares_control(self.experiment):
            return None
        path = self.run_dir / CONTROL_FILE
        path.write_text(json.dumps({"gameday": {"provider": {"type": "python", "module": CONTROL_MODULE}}}))
        return path

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.running

    @property
    def returncode(self) -> int | None:
        return None if self._child is None else self._child.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, waiting up to `timeout` seconds (None: as long as it takes); None if still running."""
        if self._child is None:
            raise RuntimeError("ChaosDriver.wait() before start()")
        code = self._child.wait(timeout)
        if code is not None:
            self._redact_once()
        return code

    def _redact_once(self) -> None:
        """chaos run logs resolved secrets and journals probe outputs: scrub them once it has exited.

        The gameday control already redacts inside the child as it writes (which is what holds
        when `gameday run` is SIGKILLed and this never runs); this pass is the second line, for
        experiments that run without the control and for output that bypasses logging."""
        if self._redacted:
            return
        self._redacted = True

        secrets = redact.secret_values(redact.read_experiment(self.experiment), self.env)
        redact.redact_run_dir(self.run_dir, secrets)

    def interrupt(self) -> None:
        """SIGINT to the child's process group: the method stops and the rollbacks run.

        Only the first call signals. Chaos Toolkit treats a *second* SIGINT as
        "terminate now without running the remaining rollbacks", so a repeated
        interrupt (a guardrail, then the teardown) must not reach it.
        """
        if self.interrupted:
            return
        self.interrupted = True
        self.interrupted_at = time.time()
        if self._child is not None:
            self.signalled = self._child.signal(signal.SIGINT)

    def interrupt_unseen(self) -> bool:
        """True while `chaos run` shows no sign of the interrupt: no experiment-interrupted,
        rollback-start or experiment-end event from its control since it was sent."""
        if not self.interrupted or not self.running:
            return False
        seen = {EventKind.EXPERIMENT_INTERRUPTED, EventKind.ROLLBACK_START, EventKind.EXPERIMENT_END}
        return not any(
            e["source"] == "chaos" and e["kind"] in seen and e["ts"] >= self.interrupted_at
            for e in events.read(self.run_dir)
        )

    def resend_unseen_interrupt(self, now: float) -> bool:
        """SIGINT once more, once, when RESIGNAL_AFTER_S after `interrupt()` the child still shows
        no sign of it; True when it did (`signalled` says whether it reached a process group).

        Seen once in the suite (Nov 2026, cause not found): an abort was recorded, the child ran
        its method to the end as if never signalled, and its journal said completed. A child that
        did see it records experiment-interrupted at once (KeyboardInterrupt stops even a pause),
        and one whose rollbacks started is never signalled again: it would skip them.
        """
        if self.resignalled or not self.interrupted or now - self.interrupted_at < RESIGNAL_AFTER_S:
            return False
        if self._child is None or not self.interrupt_unseen():
            return False
        self.resignalled = True
        self.signalled = self._child.signal(signal.SIGINT)
        return True

    def kill(self) -> None:
        """SIGKILL the whole group: the last resort when rollbacks hang (faults still expire by TTL)."""
        if self._child is not None and self._child.running:
            self._child.kill(wait=None)
            self._redact_once()

    def journal(self) -> dict[str, Any] | None:
        """The Chaos Toolkit journal, once `chaos run` has written it."""
        try:
            return json.loads((self.run_dir / self.journal_name).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    @property
    def status(self) -> str | None:
        """journal_status of the journal, or None while no journal exists."""
        journal = self.journal()
        return None if journal is None else journal_status(journal)


# What journal_status adds to `chaos run`'s own status, for a line of progress.
STATUS_NOTES = {
    "deviated": "the steady state deviated",
    "not-run": "the steady state did not hold before the method: its fault was never injected",
    "activity-failed": "an activity failed, or a method probe answered outside its tolerance",
}


def journal_status(journal: dict) -> str | None:
    """The journal's status ('completed', 'failed', 'interrupted', 'aborted'), refined where Chaos
    Toolkit says 'completed' although the experiment did not run as written: 'deviated', 'not-run'
    (the steady state did not hold before the method, which never ran), 'activity-failed' (a method
    or rollback activity failed, or a method probe answered outside the tolerance the chaos control
    checks). harness.analysis.experiment_checks judges the same from the timeline."""
    if journal.get("deviated"):
        return "deviated"
    status = journal.get("status")
    if status != "completed":
        return status
    if ((journal.get("steady_states") or {}).get("before") or {}).get("steady_state_met") is False:
        return "not-run"
    runs = [*(journal.get("run") or ()), *(journal.get("rollbacks") or ())]
    if any(isinstance(r, dict) and (r.get("status") == "failed" or r.get("tolerance_met") is False) for r in runs):
        return "activity-failed"
    return status
