"""The produced side of the data-flow ledger, inside the Locust process.

A profile calls `harness.load.record_event(self.environment, event_id)` once the
system under test has acknowledged an event; everything else happens here:

    local   (LocalRunner)   writes ledger/produced.jsonl itself, flushed every second
    worker  (WorkerRunner)  keeps its rows and ships them to the master every second, at
                            test stop and at quitting (message "gameday_ledger"), as the
                            recording plugin ships its sample rows
    master  (MasterRunner)  the single writer of ledger/produced.jsonl: what workers
                            ship is appended as it arrives, flushed every second

This works for `--processes N` and for workers on other machines alike. The file is
flushed at test stop and closed when Locust quits.

Under `gameday run` the orchestrator runs the sink reader. A plain `locust -f` run can
start one itself with the `--gameday-sink*` options (harness.load.sink): the master (or
the local process) starts it at test start and, when Locust quits, lets it read for
`--gameday-sink-drain` seconds more before stopping it, so that events acknowledged
just before the stop, still inside the pipeline, are not counted as lost.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gevent
from locust.runners import MasterRunner, WorkerRunner

from harness.load.ledger import PRODUCED, LedgerWriter, ledger_dir
from harness.load.sink import SinkProcess, argv_from_locust_options

logger = logging.getLogger(__name__)

LEDGER_MESSAGE = "gameday_ledger"
SHIP_EVERY_S = 1.0  # Locust's report_to_master (3 s) would leave up to 3 s of ids behind a master that quits


class ProducedLedger:
    """This process's produced ids: written to the run directory, or shipped to the master."""

    def __init__(self, environment: Any, run_dir: Path | None) -> None:
        self.environment = environment
        runner = environment.runner
        self.role = (
            "master" if isinstance(runner, MasterRunner) else "worker" if isinstance(runner, WorkerRunner) else "local"
        )
        self.run_dir = run_dir
        self.rows: list[tuple[str, float]] = []  # worker: not yet shipped
        self.writer: LedgerWriter | None = None
        if self.role != "worker":  # a worker ships its ids to the master instead
            if run_dir is None:
                raise ValueError(f"a {self.role} Locust writes its produced ids into a run directory; none was given")
            self.writer = LedgerWriter(ledger_dir(run_dir) / f"{PRODUCED}.jsonl")
        self.sink: SinkProcess | None = None
        self.flusher = (
            gevent.spawn(self._flush_every_second, self.writer)
            if self.writer
            else gevent.spawn(self._ship_every_second)
        )

    def record(self, event_id: str, ts: float) -> None:
        if self.writer is None:
            self.rows.append((event_id, ts))
        else:
            self.writer.record(event_id, ts)

    def take(self) -> list[tuple[str, float]]:
        rows, self.rows = self.rows, []
        return rows

    def _flush_every_second(self, writer: LedgerWriter) -> None:
        while True:
            gevent.sleep(1.0)
            writer.flush()

    def _ship_every_second(self) -> None:
        while True:
            gevent.sleep(SHIP_EVERY_S)
            try:
                self.ship()
            except Exception as exc:  # noqa: BLE001 - the master may be gone; the rows are kept for the next try
                logger.warning("gameday: could not ship produced ids to the master: %s", exc)

    def ship(self) -> None:
        """Worker: send the rows recorded since the last call to the master."""
        if self.rows:
            self.environment.runner.send_message(LEDGER_MESSAGE, self.rows)
            self.rows = []

    # --- Locust events ------------------------------------------------------------
    def install(self) -> None:
        events, runner = self.environment.events, self.environment.runner
        if self.role == "master":
            runner.register_message(LEDGER_MESSAGE, self.on_ledger_message)
        events.test_start.add_listener(self.on_test_start)
        events.test_stop.add_listener(self.on_test_stop)
        events.quitting.add_listener(self.on_quitting)

    def on_ledger_message(self, environment: Any, msg: Any, **_: Any) -> None:
        assert self.writer is not None  # only the master listens for these, and it writes
        self.writer.record_many(msg.data or ())

    def on_test_start(self, **_: Any) -> None:
        options = self.environment.parsed_options
        if self.run_dir is None or self.sink is not None or not getattr(options, "gameday_sink", ""):
            return  # a worker (no run directory): the master reads the sink
        self.sink = SinkProcess(self.run_dir, argv_from_locust_options(options))
        self.sink.wait_ready()

    def on_test_stop(self, **_: Any) -> None:
        if self.role == "worker":
            self.ship()
        elif self.writer is not None:
            self.writer.flush()

    def on_quitting(self, **_: Any) -> None:
        if self.role == "worker":
            self.ship()  # ids of requests that completed after test_stop
        self.flusher.kill(block=False)
        if self.sink is not None:
            # Events acknowledged just before the stop may still be in the pipeline.
            gevent.sleep(float(getattr(self.environment.parsed_options, "gameday_sink_drain", 3.0)))
            self.sink.stop()
        if self.writer is not None:
            self.writer.close()


def install(environment: Any, run_dir: Path | None) -> ProducedLedger:
    """Give `environment` its produced ledger (`environment._gameday_produced`); the plugin calls this at init."""
    ledger = environment._gameday_produced = ProducedLedger(environment, run_dir)
    ledger.install()
    return ledger
