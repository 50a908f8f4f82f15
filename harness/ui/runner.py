"""One experiment at a time as a `chaos run` child, for the web UI's Run and Abort buttons.

    runner = ExperimentRunner(env)
    runner.start(experiment, run_dir)   ExperimentBusy if one is still going (its rollbacks included)
    runner.abort()                      SIGINT to its process group: the method stops, rollbacks run
    runner.poll()                       call every second: records chaos-end once it is over
    runner.finish(timeout)              abort and wait (kill after `timeout`): for test stop and quit
    runner.view()                       what the tab shows: name, state, current activity

Each experiment writes into the run directory of the test it started in: its
journal (journal.json, then journal-2.json, ...) and, through the gameday
control, its activities in events.jsonl, beside the harness events chaos-start,
chaos-end and chaos-rollback that this runner adds (the orchestrator's names).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from gevent.event import Event

from harness import events
from harness.errors import ExperimentBusy
from harness.events import EventKind
from harness.run.chaos_driver import RESIGNAL_AFTER_S, STATUS_NOTES, ChaosDriver
from harness.run.timeline import Timeline
from harness.ui.catalog import Experiment

ROLLBACK_TIMEOUT_S = 120.0


class RunnerView(TypedDict):
    name: str | None
    title: str | None
    state: str  # idle | running | aborting | <journal status: completed, not-run, interrupted, ...>
    note: str | None  # what a refined status means (harness.run.chaos_driver.STATUS_NOTES)
    activity: str | None  # e.g. "kill-one-replica (method)"
    started: float | None
    journal: str | None
    run_dir: str | None


@dataclass
class _Started:
    """The experiment started last, its `chaos run` child and the timeline it records to."""

    experiment: Experiment
    driver: ChaosDriver
    timeline: Timeline


class ExperimentRunner:
    """The UI's handle on at most one `chaos run` child (see the module docstring)."""

    def __init__(self, env: Mapping[str, str] | None = None):
        self.env = env
        self.last: _Started | None = None
        self.ended = True  # poll() has begun recording the end of the last experiment
        self.recorded = True  # ... and has finished: only then does the tab show it as over
        self.starting: str | None = None  # the experiment whose `chaos run` is being started
        self.abort_when_started: str | None = None  # the reason of an abort asked for meanwhile
        self.start_done = Event()  # cleared while an experiment starts: finish() waits for it
        self.start_done.set()

    @property
    def running(self) -> bool:
        return self.last is not None and self.last.driver.running

    def start(self, experiment: Experiment, run_dir: Path) -> RunnerView:
        """Start `experiment` recording into `run_dir`; ExperimentBusy if another is still going."""
        if self.starting is not None:
            raise ExperimentBusy(f"experiment '{self.starting}' is starting; abort it or wait for it to end")
        if self.last is not None and self.last.driver.running:
            raise ExperimentBusy(
                f"experiment '{self.last.experiment.name}' is still running; abort it or wait for it to end"
            )
        # Published only once its child exists. Under gevent the fork waits for the exec
        # cooperatively, and the tab's ticker polls meanwhile: a driver published before it
        # started looked like one that had exited, and its end was "recorded" (half-way, with
        # an error) before it began, so the tab showed it running forever. Seen in the suite.
        self.starting = experiment.name
        self.start_done.clear()
        started = False
        try:
            self.poll()
            journal = next_journal(run_dir)
            driver = ChaosDriver(experiment.path, run_dir, env=self.env, journal=journal)
            driver.start()
            self.last, self.ended, self.recorded = _Started(experiment, driver, Timeline(run_dir)), False, False
            self.last.timeline.emit(
                "harness", EventKind.CHAOS_START, str(experiment.path), pid=driver.pid, via="ui", journal=journal
            )
            started = True
        finally:
            # A failed start drops an abort asked for meanwhile: it must not hit the next experiment.
            reason, self.abort_when_started, self.starting = self.abort_when_started, None, None
            self.start_done.set()
        if started and reason is not None:
            self.abort(reason)
        return self.view()

    def abort(self, reason: str = "user") -> bool:
        """Interrupt the running experiment so its rollbacks run; False when none runs or it is already aborting.
        One that is still starting is interrupted as soon as it has started."""
        if self.starting is not None:
            first, self.abort_when_started = self.abort_when_started is None, self.abort_when_started or reason
            return first
        last = self.last
        if last is None or not last.driver.running or last.driver.interrupted:
            return False
        last.driver.interrupt()
        last.timeline.emit(
            "harness", EventKind.CHAOS_ABORT, last.experiment.name, reason=reason, signalled=last.driver.signalled
        )
        return True

    def poll(self, now: float | None = None) -> None:
        """Record the end of a finished experiment, once; re-send an abort `chaos run` never saw."""
        last = self.last
        if last is not None and last.driver.resend_unseen_interrupt(time.time() if now is None else now):
            last.timeline.emit(
                "harness",
                EventKind.ERROR,
                "chaos-abort",
                message=f"chaos run showed no sign of the interrupt after {RESIGNAL_AFTER_S:g}s; SIGINT sent again",
                signalled=last.driver.signalled,
            )
        if last is None or self.ended or last.driver.running:
            return
        self.ended = True  # first: greenlets of the tick, the API and test stop may all get here
        journal = last.driver.journal() or {}
        last.timeline.emit(
            "harness",
            EventKind.CHAOS_END,
            str(last.experiment.path),
            returncode=last.driver.wait(0),
            status=journal.get("status"),
            deviated=journal.get("deviated"),
        )
        if last.driver.interrupted:
            last.timeline.emit("harness", EventKind.CHAOS_ROLLBACK, "", returncode=last.driver.wait(0))
        last.timeline.close()
        self.recorded = True

    def finish(self, timeout: float = ROLLBACK_TIMEOUT_S, reason: str = "test stopped") -> None:
        """Abort any running experiment and wait for its rollbacks; SIGKILL it after `timeout` s.
        One still starting is waited for first (up to `timeout` s), so the abort reaches its child."""
        self.start_done.wait(timeout)
        self.abort(reason)
        last = self.last
        if last is not None and last.driver.running and last.driver.wait(timeout) is None:
            last.timeline.emit("harness", EventKind.ERROR, "chaos-rollback", message="rollbacks hung; killed chaos run")
            last.driver.kill()  # faults still expire by their TTL
        self.poll()

    def view(self) -> RunnerView:
        """The current or last experiment, for the tab (an ended experiment is recorded first)."""
        self.poll()
        if self.last is None:
            return RunnerView(
                name=None, title=None, state="idle", note=None, activity=None, started=None, journal=None, run_dir=None
            )
        experiment, driver = self.last.experiment, self.last.driver
        # Until its end is in events.jsonl, an experiment is not over: poll() yields to other
        # greenlets (the child's exit status, the journal) between `ended` and `recorded`.
        over = not driver.running and self.recorded
        state = (
            (driver.status or f"exited {driver.returncode}")
            if over
            else ("aborting" if driver.interrupted else "running")
        )
        return RunnerView(
            name=experiment.name,
            title=experiment.title,
            state=state,
            note=STATUS_NOTES.get(state),
            activity=current_activity(driver.run_dir, driver.started_at or 0.0) if driver.running else None,
            started=driver.started_at,
            journal=driver.journal_name,
            run_dir=str(driver.run_dir),
        )


def next_journal(run_dir: Path) -> str:
    """journal.json for the first experiment of a run, journal-2.json, -3... after it."""
    if not (run_dir / "journal.json").exists():
        return "journal.json"
    n = 2
    while (run_dir / f"journal-{n}.json").exists():
        n += 1
    return f"journal-{n}.json"


def current_activity(run_dir: Path, since: float) -> str | None:
    """What the experiment is doing: the activity that started last and has not ended, e.g.
    "kill-one-replica (method)", else "after <activity> (<phase>)" during a pause, else the last step."""
    open_: dict[str, dict[str, Any]] = {}
    last: dict[str, Any] | None = None
    for event in chaos_events(run_dir, since):
        if event["source"] != "chaos":
            continue
        last = event
        if event["kind"] == "activity-start":
            open_[event["name"]] = event
        elif event["kind"] == "activity-end":
            open_.pop(event["name"], None)
    if open_:
        return _activity_text(max(open_.values(), key=lambda e: e["ts"]))
    if last is None:
        return None
    return f"after {_activity_text(last)}" if last["kind"] == "activity-end" else last["kind"]


def _activity_text(event: dict[str, Any]) -> str:
    return f"{event['name']} ({(event.get('detail') or {}).get('phase', '?')})"


def chaos_events(run_dir: Path, since: float = 0.0) -> list[dict[str, Any]]:
    """Events of source chaos or harness chaos-* in run_dir's events.jsonl from `since`, by time."""
    return [event for event in events.read(run_dir) if _is_chaos(event) and event["ts"] >= since]


def _is_chaos(event: dict[str, Any]) -> bool:
    kind = str(event.get("kind", ""))
    return event.get("source") == "chaos" or (
        event.get("source") in ("harness", "guardrail") and (kind.startswith("chaos-") or kind == "abort")
    )
