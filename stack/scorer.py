"""The scorer: a consumer-group member that turns transactions into scores.

    python -m stack.scorer --config <state_dir>/stack.json --index I [--bootstrap HOST:PORT]
    python -m stack.scorer --config stack.json --name $(POD_NAME) --ready-file F   # in Kubernetes

Member `scorer-I` of group SCORER_GROUP reads JSON events from TOPIC_IN,

    {"event_id": str, "features": [8 floats], "ts": epoch seconds}

scores them with the stable model and writes, keyed by event_id, to TOPIC_OUT

    {"event_id", "score", "model_version", "scorer": "scorer-I",
     "ts_in": the event's own ts, "ts_out": epoch seconds when the score was produced}

Delivery is at-least-once: a batch from `consume()` is scored, produced, and
only committed once the broker acknowledged every output. A crash before the
commit means the batch is read again (duplicates, never loss).

Defect `commit-before-produce`: the batch's offsets are committed first, then
it is scored and handed to the producer without waiting for the broker's
acknowledgement, with outputs batched for throughput (linger.ms=1000), as a
"fast" scorer is often written. Whatever sits in the producer's buffer when
the process is SIGKILLed (up to a second of output) is lost for good.

Defect `scorer-no-rejoin`: when the group session of a scorer times out (it was cut
off from the broker for longer than the session timeout, and librdkafka reports its
assignment *lost*), the scorer unsubscribes and idles instead of rejoining, as code
that "backs off until an operator looks" does. The process stays up, so supervisord
never restarts it; once every scorer was cut off, nobody consumes and the lag never drains.

Malformed input is logged and skipped (its offset is committed with its batch).
SIGTERM or SIGINT finishes the current batch, then closes the consumer so it
leaves the group and the others rebalance at once instead of after a session timeout.

With `--ready-file`, the scorer touches that file about once a second while it is a
member of the group (it got an assignment, even an empty one, and has not lost it)
and its loop turns; a readiness probe that checks the file is recent therefore
means "joined and not stuck" (deploy/stack/scorer.yaml).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import TypedDict

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from stack.config import SCORER_GROUP, TOPIC_IN, TOPIC_OUT, StackConfig
from stack.errors import StackError
from stack.kafka import consumer_config, ensure_topics, producer_config
from stack.model import load as load_model
from stack.model import validate_features

DEFECT_LINGER_MS = 1000  # the defective scorer batches outputs for a second and never waits for them

log = logging.getLogger("stack.scorer")

DEFAULT_BATCH = 500
READY_EVERY_S = 1.0  # how often the ready file is touched while joined
# Seconds to wait for a batch's acknowledgements before producing the
# unacknowledged part again; librdkafka's own retries run inside this.
ACK_WAIT_S = 1.0


class ScoreEvent(TypedDict):
    event_id: str
    features: list[float]
    ts: float


class ScoreRecord(TypedDict):
    event_id: str
    score: float
    model_version: str
    scorer: str
    ts_in: float
    ts_out: float


class MalformedEvent(StackError):
    """An input message that is not a valid ScoreEvent."""


def parse_event(value: bytes | None) -> ScoreEvent:
    """Decode one TOPIC_IN message, or raise MalformedEvent saying what is wrong."""
    try:
        data = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedEvent(f"not a JSON object: {data!r:.80}")
    event_id, features, ts = data.get("event_id"), data.get("features"), data.get("ts")
    if not isinstance(event_id, str) or not event_id:
        raise MalformedEvent(f"event_id {event_id!r:.80} is not a non-empty string")
    try:
        features = validate_features(features)
    except ValueError as exc:
        raise MalformedEvent(str(exc)) from None
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        raise MalformedEvent(f"ts {ts!r:.80} is not a number")
    return ScoreEvent(event_id=event_id, features=features, ts=float(ts))


def score_event(model, event: ScoreEvent, scorer: str) -> ScoreRecord:
    """The output record for one event."""
    return ScoreRecord(
        event_id=event["event_id"],
        score=model.score(event["features"]),
        model_version=model.version,
        scorer=scorer,
        ts_in=event["ts"],
        ts_out=time.time(),
    )


def next_offsets(messages: list[Message]) -> list[TopicPartition]:
    """The offsets to commit after `messages`: one past the last one per partition."""
    last: dict[tuple[str, int], int] = {}
    for msg in messages:
        key = (msg.topic(), msg.partition())
        last[key] = max(last.get(key, -1), msg.offset())
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]


class Scorer:
    """One group member: consume a batch, score, produce, commit (or the defect's order)."""

    def __init__(
        self,
        name: str,
        bootstrap: str,
        model,
        *,
        commit_first: bool = False,
        batch_size: int = DEFAULT_BATCH,
        consumer_overrides: dict | None = None,
        ready_file: str | None = None,
        no_rejoin: bool = False,
    ) -> None:
        self.name = name
        self.no_rejoin = no_rejoin
        self.parked = False  # scorer-no-rejoin: the session was lost and the scorer gave up
        self.unsubscribed = False
        self.ready_file = ready_file
        self.joined = False
        self._touched = 0.0
        self.model = model
        self.commit_first = commit_first
        self.batch_size = batch_size
        self.stopping = threading.Event()
        self.owned: set[int] = set()
        self.consumer = Consumer(
            {**consumer_config(bootstrap, SCORER_GROUP, client_id=name), **(consumer_overrides or {})}
        )
        producer_settings = {**producer_config(bootstrap), "client.id": name}
        if self.commit_first:
            producer_settings["linger.ms"] = DEFECT_LINGER_MS
        self.producer = Producer(producer_settings)

    def run(self) -> None:
        """Process batches until `stopping` is set, then leave the group."""
        self.consumer.subscribe([TOPIC_IN], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)
        try:
            while not self.stopping.is_set():
                if self.parked:
                    self._park()
                    continue
                batch = self.consumer.consume(num_messages=self.batch_size, timeout=0.1)
                if batch:
                    self.process(batch)
                self._mark_ready()
        finally:
            if self.ready_file:
                with contextlib.suppress(OSError):
                    os.unlink(self.ready_file)
            self.consumer.close()  # leaves the group: the others rebalance now
            self.producer.flush(5.0)
            log.info("%s: left group %s", self.name, SCORER_GROUP)

    def process(self, batch: list[Message]) -> None:
        """Handle one batch from consume() in the order the defect switch says."""
        messages = [msg for msg in batch if not self._is_error(msg)]
        if not messages:
            return
        if self.commit_first:
            # DEFECT commit-before-produce: the offsets are durable before the
            # outputs exist, and outputs are fire-and-forget; a crash loses the buffer.
            self._commit(messages)
            for record in self._score(messages):
                self._produce_one(record, [])
            self.producer.poll(0)
        else:
            if self._produce(self._score(messages)):
                self._commit(messages)

    def _score(self, messages: list[Message]) -> list[ScoreRecord]:
        records = []
        for msg in messages:
            try:
                records.append(score_event(self.model, parse_event(msg.value()), self.name))
            except (MalformedEvent, ValueError) as exc:
                log.warning(
                    "%s: skipping malformed event at %s[%d]@%d: %s",
                    self.name,
                    msg.topic(),
                    msg.partition(),
                    msg.offset(),
                    exc,
                )
        return records

    def _produce(self, records: list[ScoreRecord]) -> bool:
        """Produce `records` until all are acknowledged; False if stopped first (nothing is committed then)."""
        pending = records
        while pending:
            failed: list[ScoreRecord] = []
            for record in pending:
                self._produce_one(record, failed)
            self.producer.flush(ACK_WAIT_S + 10)  # returns when each has a delivery report
            if failed:
                log.warning(
                    "%s: %d of %d outputs not acknowledged; producing them again", self.name, len(failed), len(pending)
                )
                if self.stopping.wait(ACK_WAIT_S):
                    return False
            pending = failed
        return True

    def _produce_one(self, record: ScoreRecord, failed: list[ScoreRecord]) -> None:
        def on_delivery(err, _msg) -> None:
            if err is not None:
                failed.append(record)

        while True:
            try:
                self.producer.produce(
                    TOPIC_OUT,
                    key=record["event_id"].encode(),
                    value=json.dumps(record).encode(),
                    on_delivery=on_delivery,
                )
                return
            except BufferError:  # local queue full: let deliveries drain
                self.producer.poll(0.1)

    def _commit(self, messages: list[Message]) -> None:
        try:
            self.consumer.commit(offsets=next_offsets(messages), asynchronous=False)
            log.debug("%s: committed %d messages", self.name, len(messages))
        except KafkaException as exc:
            # Typically a rebalance took the partition away: its new owner
            # reads the batch again (a duplicate, which at-least-once allows).
            log.warning("%s: commit failed, batch will be re-read: %s", self.name, exc.args[0].str())

    def _is_error(self, msg: Message) -> bool:
        if msg.error() is None:
            return False
        log.warning("%s: consume error: %s", self.name, msg.error().str())
        return True

    # With cooperative-sticky these callbacks carry only the partitions that
    # change, so the member keeps its own view of what it owns.
    def _on_assign(self, _consumer, partitions) -> None:
        self.owned |= {p.partition for p in partitions}
        self.joined = True
        log.info("%s: owns %s", self.name, sorted(self.owned))

    def _on_revoke(self, _consumer, partitions) -> None:
        self.owned -= {p.partition for p in partitions}
        self.joined = False  # until the next assignment; a quick rebalance keeps the file fresh enough
        log.info("%s: owns %s", self.name, sorted(self.owned))

    def _on_lost(self, consumer, partitions) -> None:
        self._on_revoke(consumer, partitions)
        if self.no_rejoin and not self.parked:
            # DEFECT scorer-no-rejoin: give up on the group instead of rejoining (see the docstring).
            log.warning("%s: group session lost; not rejoining (defect scorer-no-rejoin)", self.name)
            self.parked = True

    def _park(self) -> None:
        """scorer-no-rejoin: out of the group for good; unsubscribe once (not inside the callback), then idle."""
        if not self.unsubscribed:
            self.consumer.unsubscribe()
            self.unsubscribed = True
        self.stopping.wait(0.2)

    def _mark_ready(self) -> None:
        """Touch the ready file (at most once a READY_EVERY_S) while a member of the group."""
        if not self.ready_file or not self.joined or time.monotonic() - self._touched < READY_EVERY_S:
            return
        try:
            with open(self.ready_file, "a"):
                os.utime(self.ready_file)
            self._touched = time.monotonic()
        except OSError as exc:
            log.warning("%s: cannot touch ready file %s: %s", self.name, self.ready_file, exc)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stack.scorer", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the stack.json that `gameday stack up` wrote")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--index", type=int, help="this scorer's number (its name is scorer-INDEX)")
    who.add_argument(
        "--name",
        help="this scorer's name (client id, `scorer` field of its outputs); in "
        "Kubernetes its pod's name, so every replica is told apart",
    )
    parser.add_argument("--bootstrap", help="HOST:PORT to use instead of the config's kafka_scorer hop")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="max messages per consume()")
    parser.add_argument(
        "--consumer-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one librdkafka consumer setting (tuning experiments); repeatable",
    )
    parser.add_argument(
        "--ready-file", help="touched about once a second while a member of the group (for a readiness probe)"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> Scorer:
    """A Scorer wired from the stack config and command-line overrides."""
    config = StackConfig.load(args.config)
    bootstrap = args.bootstrap or f"{config.host}:{config.port('kafka_scorer')}"
    ensure_topics(bootstrap)
    return Scorer(
        args.name or f"scorer-{args.index}",
        bootstrap,
        load_model("stable"),
        commit_first=config.has_defect("commit-before-produce"),
        batch_size=args.batch_size,
        consumer_overrides=_settings(args.consumer_setting),
        ready_file=args.ready_file,
        no_rejoin=config.has_defect("scorer-no-rejoin"),
    )


def _settings(pairs: list[str]) -> dict[str, str]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise StackError(f"--consumer-setting '{pair}' is not KEY=VALUE")
        settings[key] = value
    return settings


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    try:
        scorer = build(args)
    except StackError as exc:
        print(f"StackError: {exc}", file=sys.stderr)
        return 4
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: scorer.stopping.set())
    log.info("%s: started (commit-before-produce=%s)", scorer.name, scorer.commit_first)
    scorer.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
