"""Run a sink reader and record what comes out of the pipeline in `ledger/consumed.jsonl`.

The reader runs in a process of its own:

    python -m harness.load.sink --run-dir D --kind kafka --bootstrap 127.0.0.1:19103 [--topic scores]
    python -m harness.load.sink --run-dir D --kind http --url http://127.0.0.1:8080/out
    python -m harness.load.sink --run-dir D --kind callable --callable mypkg.taps:scored_ids
    python -m harness.load.sink --run-dir D --kind amqp --url amqp://127.0.0.1:5672 --exchange results

It flushes the ledger each second, and stops on SIGTERM or SIGINT after a last
flush (exit 0). Whoever started it should stop it a few seconds after the load
stops, so events still in flight are not counted as lost.

Why a process and not a greenlet in Locust: the reader must not steal time from
the load generator's schedule, and it must see events whatever Locust is doing
(a worker may be stopping or busy); and librdkafka's blocking poll, called in a
greenlet, would freeze every other greenlet for the whole poll timeout.

Who starts it: the orchestrator in a game day (with `SinkProcess`), or, under
plain `locust -f any_locustfile.py --gameday-sink kafka ...`, the harness plugin
on the master at test start (harness.load.produced; options in `add_locust_arguments`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from harness.clock import wait_until
from harness.load.ledger import CONSUMED, LedgerWriter, ledger_dir
from harness.load.sinks import KINDS, SinkConfigError, Source, open_source
from harness.proc import Child
from harness.status import ExitCode

POLL_TIMEOUT_S = 0.2
FLUSH_EVERY_S = 1.0


def run(source: Source, writer: LedgerWriter, should_stop: Callable[[], bool]) -> int:
    """Poll `source` into `writer` until `should_stop()`; flush each second and at the end.

    Returns how many ids were recorded. The source is closed and the writer
    flushed (not closed) even if polling raises.
    """
    recorded, last_flush = 0, time.monotonic()
    try:
        while not should_stop():
            seen = source.poll(POLL_TIMEOUT_S)
            writer.record_many(seen)
            recorded += len(seen)
            if time.monotonic() - last_flush >= FLUSH_EVERY_S:
                writer.flush()
                last_flush = time.monotonic()
    finally:
        source.close()
        writer.flush()
    return recorded


# ---- command line --------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m harness.load.sink", description=__doc__.split("\n\n")[0])
    p.add_argument("--run-dir", required=True, help="run directory; ids go to <run-dir>/ledger/consumed.jsonl")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--output", default=f"{CONSUMED}.jsonl", help="file name inside ledger/ (default %(default)s)")
    k = p.add_argument_group("kafka")
    k.add_argument("--bootstrap", help="host:port of a broker")
    k.add_argument("--topic", default="scores")
    k.add_argument("--id-field", default="event_id", help="JSON field of a message holding the event id")
    k.add_argument("--start-at", default="start", choices=("start", "earliest", "latest"))
    k.add_argument(
        "--kafka-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra librdkafka setting, repeatable (e.g. security.protocol=SSL)",
    )
    h = p.add_argument_group("http")
    h.add_argument("--url", help="http: the URL to poll; amqp: the broker, amqp://user:password@host:port/vhost")
    h.add_argument("--interval", type=float, default=0.5, help="seconds between polls")
    a = p.add_argument_group("amqp (also --url and --id-field)")
    a.add_argument("--exchange", help="the pipeline's output exchange, read through a queue of the reader's own")
    a.add_argument("--queue", help="instead: a stream queue, read without consuming it")
    a.add_argument("--binding-key", default="#", help="key binding the reader's queue to --exchange (default #)")
    c = p.add_argument_group("callable")
    c.add_argument("--callable", dest="target", metavar="MODULE:FUNCTION")
    return p


def source_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of the chosen kind's Source, or SinkConfigError naming the missing flag."""
    if args.kind == "kafka":
        if not args.bootstrap:
            raise SinkConfigError("--kind kafka needs --bootstrap host:port")
        return {
            "bootstrap": args.bootstrap,
            "topic": args.topic,
            "id_field": args.id_field,
            "start_at": args.start_at,
            "config": _key_values(args.kafka_config),
        }
    if args.kind == "http":
        if not args.url:
            raise SinkConfigError("--kind http needs --url")
        return {"url": args.url, "interval": args.interval}
    if args.kind == "amqp":
        if not args.url:
            raise SinkConfigError("--kind amqp needs --url amqp://host:port")
        return {
            "url": args.url,
            "exchange": args.exchange,
            "queue": args.queue,
            "binding_key": args.binding_key,
            "id_field": args.id_field,
        }
    if not args.target:
        raise SinkConfigError("--kind callable needs --callable module:function")
    return {"target": args.target}


def _key_values(items: list[str]) -> dict:
    pairs = [item.partition("=") for item in items]
    bad = [item for item, (_, eq, _) in zip(items, pairs) if not eq]
    if bad:
        raise SinkConfigError(f"--kafka-config '{bad[0]}' must look like key=value")
    return {key: value for key, _, value in pairs}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    stop = _stop_on_signals()
    try:
        source = open_source(args.kind, source_options(args))
    except SinkConfigError as exc:
        print(f"SinkConfigError: {exc}", file=sys.stderr)
        return ExitCode.INVALID_INPUT
    writer = LedgerWriter(ledger_dir(args.run_dir) / args.output)
    print(f"sink: reading {args.kind} into {writer.path}", file=sys.stderr, flush=True)
    # From here on nothing that comes out is missed (see sinks/kafka.py on start offsets).
    ready_path(args.run_dir, args.output).write_text(f"{os.getpid()}\n")
    parent = os.getppid()
    # An orphan (its starter was SIGKILLed) flushes and exits instead of reading forever.
    try:
        recorded = run(source, writer, lambda: stop["now"] or os.getppid() != parent)
    finally:
        writer.close()
    print(f"sink: stopped after {recorded} ids", file=sys.stderr, flush=True)
    return 0


def ready_path(run_dir: str | Path, output: str = f"{CONSUMED}.jsonl") -> Path:
    """The file a sink process creates once it is reading (holds its pid)."""
    return ledger_dir(run_dir) / f"{Path(output).stem}.ready"


def _stop_on_signals() -> dict:
    stop = {"now": False}

    def handler(signum: int, frame: FrameType | None) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


# ---- starting and stopping the process ---------------------------------------------


class SinkProcess:
    """A `python -m harness.load.sink` child; `stop()` sends SIGTERM and waits for the last flush.

    Started by harness.proc: its own session (a Ctrl-C meant for Locust must not cut the
    last flush short) and SIGTERM, its own clean stop, if its starter dies."""

    def __init__(self, run_dir: str | Path, argv: list[str], log: Path | None = None) -> None:
        log = log or ledger_dir(run_dir) / "sink.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self._ready = ready_path(run_dir)
        self._ready.unlink(missing_ok=True)
        command = [sys.executable, "-m", "harness.load.sink", "--run-dir", str(run_dir), *argv]
        with open(log, "ab") as out:
            self.child = Child.start(command, parent_death=signal.SIGTERM, stdout=out, stderr=out)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Block until the reader is reading, so events sent from now on are seen.

        Raises RuntimeError quoting the sink log if it exits or takes longer than `timeout`.
        """
        wait_until(lambda: self._ready.exists() or not self.child.running, timeout, interval=0.05)
        if not self._ready.exists():
            self.stop()
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"sink reader did not start (exit {self.child.returncode}); {self.log}:\n{tail}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` s; returns the exit code."""
        return self.child.stop(signal.SIGTERM, timeout)


def add_locust_arguments(parser: argparse.ArgumentParser) -> None:
    """Locust options that make a profile start a sink reader itself (plain `locust -f` runs).

    Each has a GAMEDAY_SINK_* environment variable. `--gameday-sink` empty (the
    default) starts nothing: in a game day the orchestrator runs the reader.
    """
    group = parser.add_argument_group("gameday sink reader")
    group.add_argument(
        "--gameday-sink",
        default="",
        choices=("", *KINDS),
        env_var="GAMEDAY_SINK",
        help="start a sink reader of this kind at test start, writing ledger/consumed.jsonl",
    )
    group.add_argument(
        "--gameday-sink-bootstrap",
        default="",
        env_var="GAMEDAY_SINK_BOOTSTRAP",
        help="kafka sink: host:port of a broker",
    )
    group.add_argument(
        "--gameday-sink-topic",
        default="scores",
        env_var="GAMEDAY_SINK_TOPIC",
        help="kafka sink: topic to read (default scores)",
    )
    group.add_argument(
        "--gameday-sink-id-field",
        default="event_id",
        env_var="GAMEDAY_SINK_ID_FIELD",
        help="kafka and amqp sinks: JSON field holding the event id (default event_id)",
    )
    group.add_argument(
        "--gameday-sink-url",
        default="",
        env_var="GAMEDAY_SINK_URL",
        help="http sink: URL to poll for ids; amqp sink: the broker's amqp:// URL",
    )
    group.add_argument(
        "--gameday-sink-exchange",
        default="",
        env_var="GAMEDAY_SINK_EXCHANGE",
        help="amqp sink: the pipeline's output exchange",
    )
    group.add_argument(
        "--gameday-sink-queue",
        default="",
        env_var="GAMEDAY_SINK_QUEUE",
        help="amqp sink: instead of an exchange, a stream queue",
    )
    group.add_argument(
        "--gameday-sink-callable",
        default="",
        env_var="GAMEDAY_SINK_CALLABLE",
        help="callable sink: module:function yielding ids",
    )
    group.add_argument(
        "--gameday-sink-drain",
        type=float,
        default=3.0,
        env_var="GAMEDAY_SINK_DRAIN",
        help="seconds the reader keeps reading after Locust quits (default 3)",
    )


def argv_from_locust_options(options: argparse.Namespace) -> list[str]:
    """The `python -m harness.load.sink` flags for the `--gameday-sink*` Locust options."""
    kind = options.gameday_sink
    if kind == "kafka":
        return [
            "--kind",
            "kafka",
            "--bootstrap",
            options.gameday_sink_bootstrap,
            "--topic",
            options.gameday_sink_topic,
            "--id-field",
            options.gameday_sink_id_field,
        ]
    if kind == "http":
        return ["--kind", "http", "--url", options.gameday_sink_url]
    if kind == "amqp":
        where = (
            ["--exchange", options.gameday_sink_exchange]
            if options.gameday_sink_exchange
            else ["--queue", options.gameday_sink_queue]
        )
        return [
            "--kind",
            "amqp",
            "--url",
            options.gameday_sink_url,
            *where,
            "--id-field",
            options.gameday_sink_id_field,
        ]
    return ["--kind", "callable", "--callable", options.gameday_sink_callable]


if __name__ == "__main__":
    sys.exit(main())
