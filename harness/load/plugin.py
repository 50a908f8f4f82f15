"""The harness's Locust plugin: records every request into per-second histograms.

Activate it by importing this module at the top of a locustfile (`import
harness.load.plugin`), or, for a locustfile you do not own, with
`locust -f harness/load/inject.py,your_locustfile.py`. It runs inside the Locust
process (gevent monkey-patched); the orchestrator never imports it.

Roles, by Locust runner:

    standalone (LocalRunner)  records requests, writes samples, events and live.json
    worker (WorkerRunner)     records requests; every second pushes all its cells to the
                              master (custom message "gameday_rows"); whatever is left is
                              attached to Locust's own report (`report_to_master`,
                              data["gameday"]) and sent once more at test stop
    master (MasterRunner)     merges worker rows (histogram addition), writes the files

Flushing: a second's request rows are written once the second is GRACE_S (3 s,
4 s on the master to cover the 1 s worker push) behind the clock, because a
request is filed under the second it was due to start and may complete later.
Anything arriving after that is written as an extra row for the same key (readers
sum them; see harness.samples). Every row is flushed to the file when written.

Open model: when `--gameday-shape` is a rate shape, every user class becomes a
member of a fixed pool that keeps the schedule (harness.load.pool); each
process runs rate x share, share = 1/workers (the master broadcasts the worker
count at test start; --processes N children start at 1/N).

The produced side of the data-flow ledger (`harness.load.record_event`) is
`harness.load.produced`, installed here at init with the same run directory.

Events written to events.jsonl (source "load", harness.events.EventKind): test-start,
spawning-complete, test-stop, cpu-warning, worker-missing, worker-back. The schedule ends
when Locust begins to stop the users (`test_stopping`), not at test stop; test-stop's
`schedule_end` says when the stop began (None on the master, which counts no seconds).

A lost worker (`--processes N`, one child killed): Locust's master marks it missing
after about 4 s without a heartbeat and the run goes on. The survivors keep their
own share of the rate (no rebalancing, see harness.load.child), so from the
loss on every second offers less load and its generator row counts fewer `workers`
than the run's peak; the analysis counts those seconds as generator-bound.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any

import gevent
from locust import events
from locust.runners import CPU_MONITOR_INTERVAL, STATE_MISSING, MasterRunner, WorkerRunner

from harness.events import EventKind
from harness.load import keepalive, produced
from harness.load.aggregate import Aggregator, CellEntry, rows_of
from harness.load.collector import PacedCollector
from harness.load.live import LIVE_FILE, LiveDoc, live_document, write_atomic
from harness.load.locust_shape import current_spec
from harness.load.options import add_options, behind_threshold_ms, variant_header
from harness.load.pool import Pool, make_open_model
from harness.load.rundir import RunDirWriter, resolve_run_dir
from harness.load.schedule import Schedule
from harness.load.shapes import ShapeSpec
from harness.load.sink import add_locust_arguments as add_sink_options
from harness.status import ExitCode

logger = logging.getLogger(__name__)

GRACE_S = 3
MASTER_GRACE_S = 4
LIVE_KEEP_S = 31  # seconds of flushed cells kept for the 30 s live window
ROWS_MESSAGE = "gameday_rows"
SHARE_MESSAGE = "gameday_share"


class Recorder:
    """Per-process plugin state; one per Locust Environment (see module docstring)."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        runner = environment.runner
        self.role = (
            "master" if isinstance(runner, MasterRunner) else "worker" if isinstance(runner, WorkerRunner) else "local"
        )
        self.spec: ShapeSpec | None = _spec_or_exit(environment)
        self.open_model = bool(self.spec and self.spec.is_open)
        worker_id = getattr(runner, "client_id", None) if self.role == "worker" else None
        self.aggregator = Aggregator(
            worker=worker_id, open_model=self.open_model, variant_header=variant_header(environment.parsed_options)
        )
        self.behind_ms = behind_threshold_ms(environment.parsed_options)
        self.share = _initial_share(environment, self.role)
        self.schedule: Schedule | None = None
        self.pool = Pool()
        self.collector = PacedCollector()
        self.running = False
        self.closed: int | None = None  # the last second whose generator cell was closed
        self.schedule_end: float | None = None  # when the test began to stop (test_stopping)
        self.recent: list[CellEntry] = []
        self.live: LiveDoc | None = None
        self.missing: set[str] = set()
        self.writer = self._open_writer()
        self.ticker = gevent.spawn(self._tick_forever)

    # --- set-up -----------------------------------------------------------------
    def _open_writer(self) -> RunDirWriter | None:
        if self.role == "worker":
            return None
        option = (
            getattr(self.environment.parsed_options, "gameday_run_dir", "") if self.environment.parsed_options else ""
        )
        return RunDirWriter(resolve_run_dir(option))

    def install(self, web_ui: Any) -> None:
        """Hook the recorder into the environment's events (and web UI, if any)."""
        ev = self.environment.events
        runner = self.environment.runner
        if self.role != "master":
            ev.request.add_listener(self.aggregator.on_request)
        if self.open_model:
            make_open_model(list(self.environment.user_classes), self.pool)
        if self.role == "worker":
            ev.report_to_master.add_listener(self.on_report_to_master)
            runner.register_message(SHARE_MESSAGE, self.on_share)
        if self.role == "master":
            ev.worker_report.add_listener(self.on_worker_report)
            runner.register_message(ROWS_MESSAGE, self.on_rows_message)
        ev.test_start.add_listener(self.on_test_start)
        ev.test_stopping.add_listener(self.on_test_stopping)
        ev.test_stop.add_listener(self.on_test_stop)
        ev.spawning_complete.add_listener(self.on_spawning_complete)
        ev.cpu_warning.add_listener(self.on_cpu_warning)
        ev.quitting.add_listener(self.on_quitting)
        if web_ui is not None and self.role != "worker":
            web_ui.app.add_url_rule("/gameday/live", "gameday_live", self.serve_live)

    # --- Locust events ------------------------------------------------------------
    def on_test_start(self, **_: Any) -> None:
        if self.open_model and self.role != "master":
            self.collector.hold()  # not while Locust spawns the pool (see harness.load.collector)
        self.running = True
        self.closed = None
        self.schedule_end = None
        if self.role == "master":
            self.environment.runner.send_message(SHARE_MESSAGE, {"workers": self.environment.runner.worker_count})
        self._start_schedule(fresh=True)
        self._event(
            EventKind.TEST_START, self.spec.kind if self.spec else "locust", role=self.role, shape=self._shape_detail()
        )

    def on_test_stopping(self, **_: Any) -> None:
        """Locust is about to stop the users: the schedule ends here, not at test stop.

        Stopping the users takes a while (waiting members are killed, running ones get
        --stop-timeout), long on a busy machine; slots that fall due meanwhile are cut off by
        the stop, not late, and counting them made the last second offered-but-unsent and
        `behind` (seen: 318 ms of such "backlog" at 100 req/s in CI)."""
        self._end_schedule(time.time())

    def on_test_stop(self, **_: Any) -> None:
        self._end_schedule(time.time())  # a no-op after test_stopping
        self.collector.stop()
        if self.role == "worker":
            self._push_rows()
        elif self.role == "local":
            self._flush(before=math.inf)
        self._event(EventKind.TEST_STOP, "load", role=self.role, schedule_end=self.schedule_end)

    def on_spawning_complete(self, user_count: int, **_: Any) -> None:
        if self.open_model and self.role != "master":
            self.collector.start(time.time())
        self._event(EventKind.SPAWNING_COMPLETE, "load", users=user_count)

    def on_cpu_warning(self, cpu_usage: float, **_: Any) -> None:
        # Locust samples its CPU once per CPU_MONITOR_INTERVAL (10 s in 2.47) and warns
        # about the whole interval since the last sample, so every second of it is flagged.
        now = int(time.time())
        for ts in range(now - math.ceil(CPU_MONITOR_INTERVAL) + 1, now + 1):
            self.aggregator.generator_cell(ts).cpu_warning = True
        self._event(EventKind.CPU_WARNING, "load", cpu_usage=cpu_usage, role=self.role)

    def on_quitting(self, **_: Any) -> None:
        self.ticker.kill(block=False)
        if self.role == "worker":
            self._push_rows()
            return
        self._flush(before=math.inf)
        if self.writer:
            self.writer.close()
            self.writer = None

    def on_report_to_master(self, client_id: str, data: dict, **_: Any) -> None:
        data["gameday"] = self.aggregator.take(math.inf, self.behind_ms)

    def on_worker_report(self, client_id: str, data: dict, **_: Any) -> None:
        for row in data.get("gameday") or ():
            self.aggregator.add_row(row)

    def on_rows_message(self, environment: Any, msg: Any, **_: Any) -> None:
        for row in (msg.data or {}).get("rows", ()):
            self.aggregator.add_row(row)

    def on_share(self, environment: Any, msg: Any, **_: Any) -> None:
        workers = int((msg.data or {}).get("workers") or 1)
        self.share = 1.0 / max(workers, 1)
        if self.running:
            self._start_schedule()

    def serve_live(self) -> Any:
        from flask import jsonify

        return jsonify(self.live or {})

    # --- every second ---------------------------------------------------------------
    def _tick_forever(self) -> None:
        while True:
            now = time.time()
            gevent.sleep(math.floor(now) + 1.05 - now)
            try:
                self.collector.tick(time.time())
                self.tick(time.time())
            except Exception:
                logger.exception("gameday: recording tick failed; recording continues")

    def tick(self, now: float) -> None:
        """Close the second that just ended, then push (worker) or write (others)."""
        second = int(now)
        if self.running and self.role != "master":
            self._close_seconds_before(second, now)
        if self.role == "worker":
            self._push_rows()
            return
        if self.role == "master":
            self._note_missing_workers()
        grace = MASTER_GRACE_S if self.role == "master" else GRACE_S
        self._flush(before=second - grace)
        self._write_live(second - 1, now)

    def close_last(self, now: float) -> None:
        """At test stop: the seconds the tick has not closed yet (a stop just after a second ends
        comes before that second's tick), then the partial last one; each slot counts in its second."""
        self._close_seconds_before(int(now), now)
        self._close_second(int(now), now, until=now)

    def _close_seconds_before(self, second: int, now: float) -> None:
        """Close every second before `second` not closed yet, not only the one that just ended:
        a starved process can wake late, and a skipped second would leave a hole."""
        first = second - 1 if self.closed is None else self.closed + 1
        for ts in range(first, second):
            self._close_second(ts, now, until=ts + 1)
        if self.closed is None or self.closed < second - 1:
            self.closed = second - 1

    def _close_second(self, ts: int, now: float, until: float) -> None:
        gen = self.aggregator.generator_cell(ts)
        gen.users += self.environment.runner.user_count
        gen.workers += 1
        if self.schedule is not None:
            gen.offered += self.schedule.offered_until(until)
            gen.backlog_ms = max(gen.backlog_ms, self.schedule.backlog(now) * 1000.0)

    def _end_schedule(self, now: float) -> None:
        """Close the seconds up to `now` and hand out nothing more (once per test)."""
        if self.running and self.role != "master":
            self.close_last(now)
            self.schedule_end = now
        self.running = False
        self.pool.stop()

    def _push_rows(self) -> None:
        rows = self.aggregator.take(math.inf, self.behind_ms)
        if rows:
            self.environment.runner.send_message(ROWS_MESSAGE, {"rows": rows})

    def _flush(self, before: float) -> None:
        cells, gens = self.aggregator.pop_before(before)
        if self.writer:
            self.writer.samples.append(rows_of(cells, gens, self.behind_ms, None))
        self.recent.extend(cells)

    def _write_live(self, end: int, now: float) -> None:
        self.recent = [entry for entry in self.recent if entry[0] > end - LIVE_KEEP_S]
        self.live = live_document(self.recent + self.aggregator.entries(), end, now)
        if self.writer:
            write_atomic(self.writer.run_dir / LIVE_FILE, self.live)

    def _note_missing_workers(self) -> None:
        """worker-missing when Locust's master marks a worker missing (about 4 s of missed
        heartbeats), worker-back if it heartbeats again; `remaining` is the live worker count."""
        runner = self.environment.runner
        for client in runner.clients.all:
            if client.state == STATE_MISSING and client.id not in self.missing:
                self.missing.add(client.id)
                self._event(EventKind.WORKER_MISSING, client.id, remaining=runner.worker_count)
                # Locust logs this at INFO, below the run's --loglevel WARNING: say it in locust.log
                logger.warning(
                    "gameday: load worker %s went missing; %d left, the load is short of it from here",
                    client.id,
                    runner.worker_count,
                )
            elif client.state != STATE_MISSING and client.id in self.missing:
                self.missing.discard(client.id)
                self._event(EventKind.WORKER_BACK, client.id, remaining=runner.worker_count)

    # --- helpers ----------------------------------------------------------------------
    def _start_schedule(self, fresh: bool = False) -> None:
        """A new schedule at this process's share of the rate, from when the pool has settled
        (harness.load.pool.Pool.begin); `fresh` (test start): nothing is handed out meanwhile."""
        if not self.open_model or self.role == "master":
            return
        spec = self.spec
        assert spec is not None
        if fresh:
            self.schedule = None
            self.pool.use(None)

        def make(now: float) -> Schedule:
            self.schedule = Schedule(spec.rate_at, now, self.share, spec.steady_until)
            self._event(EventKind.SCHEDULE_START, spec.kind, at=now, share=self.share)
            return self.schedule

        self.pool.begin(make)

    def _shape_detail(self) -> dict:
        if not self.spec:
            return {}
        return {
            "kind": self.spec.kind,
            "params": self.spec.params,
            "duration": self.spec.duration,
            "pool": self.spec.pool,
            "share": self.share,
        }

    def _event(self, kind: str, name: str, **detail: Any) -> None:
        if self.writer:
            self.writer.event(kind, name, **detail)


def _spec_or_exit(environment: Any) -> ShapeSpec | None:
    try:
        return current_spec(environment)
    except ValueError as exc:
        sys.stderr.write(f"gameday: {exc}\n")
        sys.exit(ExitCode.INVALID_INPUT)


def _initial_share(environment: Any, role: str) -> float:
    processes = getattr(environment.parsed_options, "processes", None) if environment.parsed_options else None
    if role == "worker" and processes and processes > 0:
        return 1.0 / processes
    return 1.0


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    add_options(parser)
    add_sink_options(parser)


@events.init.add_listener
def _on_init(environment: Any, web_ui: Any = None, **_: Any) -> None:
    if getattr(environment, "_gameday_recorder", None) is not None:
        return
    keepalive.install()  # FastHttpUser pools past 1024 sockets reconnected on every request
    recorder = Recorder(environment)
    environment._gameday_recorder = recorder
    recorder.install(web_ui)
    # the data-flow ledger's produced side: harness.load.record_event lands there
    produced.install(environment, recorder.writer.run_dir if recorder.writer else None)
