"""One run directory per test started in the web UI, each judged and reported like `gameday run`'s.

    runs = UiRuns(recorder, spec_file, ledger)
    runs.begin()          at test start: a fresh directory if the current one was used; run-start;
                          the data-flow sink reader (when the target has one) starts reading into it
    test = runs.detach()  at test stop, synchronously: the test's run leaves `runs`, so a test started
                          while this one is still closing gets a run of its own
    runs.end(test, status) later: sink reader stopped after a grace, run-end with the run's status
    runs.report(run_dir)  `gameday report RUN_DIR` in a child process; the tab links to report.html
    runs.discard_unused() at quit: remove the directory no test ever ran in

The load plugin's recorder (and the profile's produced-events ledger, when it has
one) writes into `current`; `begin` points them at the new directory before the
plugin records `test_start`. Each directory gets the session's gameday.yaml, so
the analysis judges the session's SLOs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from harness.events import EventKind
from harness.load.ledger import PRODUCED, LedgerWriter, ledger_dir
from harness.load.rundir import RunDirWriter, resolve_run_dir
from harness.load.sink import SinkProcess
from harness.run.orchestrator import new_run_dir
from harness.run.timeline import Timeline
from harness.status import RunStatus

REPORT_TIMEOUT_S = 180.0
SINK_GRACE_S = 5.0  # events still in the pipeline when the load stops count (as in `gameday run`)
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ReportState(TypedDict):
    run: str  # the run directory's name (the key the report URL uses)
    run_dir: str
    state: str  # recording | building | ready | failed
    status: str  # the run status written in run-end
    message: str


@dataclass
class OpenRun:
    """One test's run while it records: where, its timeline, its sink reader."""

    run_dir: Path
    timeline: Timeline
    sink: SinkProcess | None = None


class UiRuns:
    """The UI session's run directories (see the module docstring)."""

    def __init__(
        self, recorder: Any, spec_file: Path | None, name: str, ledger: Any = None, sink_argv: list[str] | None = None
    ):
        self.recorder, self.spec_file, self.name, self.ledger = recorder, spec_file, name, ledger
        self.sink_argv = sink_argv
        self.current = Path(recorder.writer.run_dir)
        self.root = self.current.parent
        self.used = False
        self.open: OpenRun | None = None
        self.runs: dict[str, ReportState] = {}

    def begin(self) -> Path:
        """Prepare the directory for a test that starts now and record run-start; returns it."""
        if self.used:
            self._switch_to(new_run_dir(self.root, self.name))
        self.used = True
        if self.spec_file is not None and not (self.current / "gameday.yaml").exists():
            shutil.copyfile(self.spec_file, self.current / "gameday.yaml")
        timeline = Timeline(self.current)
        timeline.emit("harness", EventKind.RUN_START, self.name, run_dir=str(self.current), via="ui")
        self.open = OpenRun(self.current, timeline, self._start_sink(timeline))
        self.runs[self.current.name] = ReportState(
            run=self.current.name, run_dir=str(self.current), state="recording", status="", message=""
        )
        return self.current

    def detach(self) -> OpenRun | None:
        """Take the open test's run out of `runs` (at test stop); None when no test is open."""
        run, self.open = self.open, None
        return run

    def end(self, run: OpenRun, status: RunStatus = RunStatus.COMPLETED) -> Path:
        """Record run-end for a detached test's run; returns its directory."""
        if run.sink is not None:
            time.sleep(SINK_GRACE_S)
            run.sink.stop()
            run.timeline.emit("harness", EventKind.SINK_STOP, "")
        run.timeline.emit("harness", EventKind.RUN_END, self.name, status=status)
        run.timeline.close()
        state = self.runs[run.run_dir.name]
        state["status"], state["state"] = status, "building"
        return run.run_dir

    def emit(self, source: str, kind: str, name: str = "", **detail: Any) -> None:
        """An event on the open test's timeline (dropped when no test is open)."""
        if self.open is not None:
            self.open.timeline.emit(source, kind, name, **detail)

    def report(self, run_dir: Path) -> ReportState:
        """Build every report of `run_dir` with `gameday report` in a child process."""
        state = self.runs[run_dir.name]
        try:
            done = subprocess.run(
                [sys.executable, "-m", "harness.cli", "report", str(run_dir), "--quiet"],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                timeout=REPORT_TIMEOUT_S,
                check=False,
            )
            message = (done.stdout + done.stderr).strip().splitlines()
        except subprocess.TimeoutExpired:
            message = [f"`gameday report` took over {REPORT_TIMEOUT_S:g}s"]
        ok = (run_dir / "report.html").exists()
        state["state"], state["message"] = ("ready" if ok else "failed"), (message[-1] if message else "")
        return state

    def report_file(self, run: str) -> Path | None:
        """report.html of a run this session recorded and reported; None for any other name."""
        state = self.runs.get(run)
        return Path(state["run_dir"]) / "report.html" if state and state["state"] == "ready" else None

    def discard_unused(self) -> None:
        """Remove `current` when no test ran in it (the directory made for a test that never came)."""
        if not self.used and self.current.is_dir():
            shutil.rmtree(self.current, ignore_errors=True)

    def _start_sink(self, timeline: Timeline) -> SinkProcess | None:
        if not self.sink_argv:
            return None
        sink = SinkProcess(self.current, self.sink_argv)
        try:
            sink.wait_ready()
        except RuntimeError as exc:  # the run goes on; its events.* SLIs will say no-data
            timeline.emit("harness", EventKind.ERROR, "sink-start", message=str(exc))
            return None
        timeline.emit("harness", EventKind.SINK_START, " ".join(self.sink_argv))
        return sink

    def _switch_to(self, run_dir: Path) -> None:
        old = self.recorder.writer
        self.recorder.writer = RunDirWriter(resolve_run_dir(str(run_dir)))
        if old is not None:
            old.close()
        writer = getattr(self.ledger, "writer", None)
        if writer is not None:
            writer.flush()
            self.ledger.writer = LedgerWriter(ledger_dir(run_dir) / f"{PRODUCED}.jsonl")
            writer.close()
        self.current = run_dir
