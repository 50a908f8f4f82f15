"""Kafka sink reader: ids read from the JSON messages of an output topic.

Where it starts reading (`start_at`):

- `start` (default): at each partition's end offset *as it was when the reader
  was created*, so everything that comes out afterwards is read, and nothing
  from before. This matters because a new consumer group only gets its
  partitions a few seconds after it joins (about half of `session.timeout.ms`,
  3 s here): a plain `latest` would silently skip whatever came out in that
  window and the ledger would call it lost. `earliest` avoids that but replays
  the topic's whole history, which on a long-lived cluster may be millions of
  messages (counted as `unexpected`). A partition the reader did not see at
  creation starts at its beginning, since all of it is new.
  Two Tansu quirks shape this. `offsets_for_times` answers wrongly (offset 0
  for a time past the last message), so it is not used. Its high watermark is
  the base offset of the last batch plus one, which can be a few messages short,
  so the reader also drops messages stamped before its creation (counted in
  `replayed`), until the first message of each partition stamped after it;
  from then on nothing is filtered, so a producer's clock skew can only matter
  at that boundary.
- `earliest` / `latest`: Kafka's own meanings, for a fresh group.

After a rebalance (e.g. a broker restart), the reader resumes each partition
right after the last message it read, so it neither skips nor re-reads. If the
broker lost its data meanwhile (Tansu keeps it in memory), the saved offset is
out of range and `auto.offset.reset=earliest` takes over, reading what is there.

The consumer group has a unique name per reader and never commits, so it never
steals partitions from the stack's own consumers nor leaves offsets behind.
"""

from __future__ import annotations

import json
import time
import uuid

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaException,
    Message,
    TopicPartition,
)

from harness.load.sinks import Seen, SinkConfigError

START_AT = ("start", "earliest", "latest")

# Tuned for Tansu and harmless on Apache Kafka (docs in stack/kafka.py): an idle
# fetch waits fetch.wait.max.ms, a new group waits about half a session timeout.
_CONSUMER = {
    "enable.auto.commit": False,
    "fetch.wait.max.ms": 10,
    "session.timeout.ms": 6_000,
    "heartbeat.interval.ms": 1_000,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 1_000,
}
_LOOKUP_TIMEOUT_S = 5.0


class KafkaSource:
    """Reads `topic` at `bootstrap`; each message's JSON field `id_field` is an event id.

    `config` adds or overrides librdkafka settings (e.g. security for a real cluster).
    Messages that are not JSON objects with that field are skipped and counted in `skipped`.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str = "scores",
        id_field: str = "event_id",
        start_at: str = "start",
        group: str | None = None,
        config: dict | None = None,
    ) -> None:
        if start_at not in START_AT:
            raise SinkConfigError(f"kafka sink: start_at '{start_at}' is not one of {', '.join(START_AT)}")
        self.topic, self.id_field, self.start_at = topic, id_field, start_at
        self.group = group or f"gameday-sink-{uuid.uuid4().hex[:12]}"
        self.skipped = 0
        self.replayed = 0
        self._consumer = Consumer(
            {
                **_CONSUMER,
                "bootstrap.servers": bootstrap,
                "group.id": self.group,
                "auto.offset.reset": "latest" if start_at == "latest" else "earliest",
                **(config or {}),
            }
        )
        self._next: dict[int, int] = {}  # partition -> offset after the last message read
        self._created_ms = int(time.time() * 1000)  # before the watermarks: see the module docstring
        self._start = self._end_offsets(bootstrap)
        self._filtering = set(self._start)  # partitions still before their first message after creation
        self._consumer.subscribe([topic], on_assign=self._on_assign)

    def poll(self, timeout: float) -> list[Seen]:
        """Messages that arrived within `timeout` s, as (id, now) pairs."""
        messages = self._consumer.consume(num_messages=1000, timeout=timeout)
        now = time.time()
        seen = []
        for message in messages:
            if message.error() is None and not self._is_replay(message):
                event_id = self._event_id(message.value())
                if event_id is not None:
                    seen.append((event_id, now))
        return seen

    def _is_replay(self, message: Message) -> bool:
        partition, offset = message.partition(), message.offset()
        assert partition is not None and offset is not None  # a consumed message (poll() left out errors)
        self._next[partition] = offset + 1
        if partition not in self._filtering:
            return False
        kind, stamp = message.timestamp()
        if kind != TIMESTAMP_NOT_AVAILABLE and stamp < self._created_ms:
            self.replayed += 1
            return True
        self._filtering.discard(partition)
        return False

    def _event_id(self, value: bytes | None) -> str | None:
        try:
            if value is None:  # a message without a value (a tombstone) carries no event
                raise ValueError("no value")
            return str(json.loads(value)[self.id_field])
        except (TypeError, ValueError, KeyError):
            self.skipped += 1
            return None

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.assign([TopicPartition(p.topic, p.partition, self._resume_at(p.partition)) for p in partitions])

    def _resume_at(self, partition: int) -> int:
        if partition in self._next:
            return self._next[partition]
        if self.start_at == "latest":
            return OFFSET_END
        return self._start.get(partition, OFFSET_BEGINNING)

    def _end_offsets(self, bootstrap: str) -> dict[int, int]:
        """Each partition's high watermark now; {} if the topic does not exist yet (then all of it is new)."""
        if self.start_at != "start":
            return {}
        try:
            topic = self._consumer.list_topics(self.topic, timeout=_LOOKUP_TIMEOUT_S).topics[self.topic]
            if topic.error is not None:
                return {}
            return {
                p: self._consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=_LOOKUP_TIMEOUT_S)[1]
                for p in topic.partitions
            }
        except KafkaException as exc:
            raise SinkConfigError(
                f"kafka sink: cannot read the end offsets of '{self.topic}' at {bootstrap}: "
                f"{exc.args[0].str()}; is the broker up?"
            ) from None

    def close(self) -> None:
        """Leave the group and close the consumer."""
        self._consumer.close()
