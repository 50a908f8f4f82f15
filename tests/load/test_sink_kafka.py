"""The Kafka sink reader against a real Tansu broker: as a Source and as a process."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from harness.load.ledger import read_rows
from harness.load.sink import SinkProcess
from harness.load.sinks.kafka import KafkaSource
from stack.kafka import ensure_topics

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stack"))
from tansu_support import running_broker  # noqa: E402

GROUP_JOIN_S = 15  # a new group gets partitions after ~1 s here; leave room on a busy machine
# Tansu hands a new group its partitions after about half a session timeout: keep tests quick.
FAST_JOIN = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


@pytest.fixture(scope="module")
def bootstrap():
    with running_broker() as address:
        yield address


def new_topic(bootstrap: str) -> str:
    topic = f"scores-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, (topic,), partitions=4)
    return topic


def produce(bootstrap: str, topic: str, values: list[dict]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for i, value in enumerate(values):
        producer.produce(topic, json.dumps(value).encode(), key=str(i).encode())
    assert producer.flush(10) == 0


def poll_until(source: KafkaSource, count: int) -> list[tuple[str, float]]:
    seen, deadline = [], time.monotonic() + GROUP_JOIN_S
    while len(seen) < count and time.monotonic() < deadline:
        seen += source.poll(0.2)
    return seen


def test_reads_ids_produced_while_the_group_was_still_joining(bootstrap):
    topic = new_topic(bootstrap)
    source = KafkaSource(bootstrap, topic=topic, config=FAST_JOIN)
    try:
        produce(bootstrap, topic, [{"event_id": f"e-{i}", "score": 0.5} for i in range(20)])
        seen = poll_until(source, 20)
    finally:
        source.close()
    assert sorted(event_id for event_id, _ in seen) == sorted(f"e-{i}" for i in range(20))


def test_skips_messages_from_before_it_started(bootstrap):
    topic = new_topic(bootstrap)
    produce(bootstrap, topic, [{"event_id": f"old-{i}"} for i in range(5)])
    time.sleep(0.05)
    source = KafkaSource(bootstrap, topic=topic, config=FAST_JOIN)
    try:
        produce(bootstrap, topic, [{"event_id": "new"}])
        seen = poll_until(source, 1)
        seen += source.poll(0.5)
    finally:
        source.close()
    assert [event_id for event_id, _ in seen] == ["new"]


def test_counts_messages_without_the_id_field_as_skipped(bootstrap):
    topic = new_topic(bootstrap)
    source = KafkaSource(bootstrap, topic=topic, id_field="txn", config=FAST_JOIN)
    try:
        produce(bootstrap, topic, [{"event_id": "a"}, {"txn": "b"}])
        seen = poll_until(source, 1)
        deadline = time.monotonic() + 2
        while source.skipped < 1 and time.monotonic() < deadline:
            seen += source.poll(0.2)
    finally:
        source.close()
    assert [event_id for event_id, _ in seen] == ["b"]
    assert source.skipped == 1


def test_sink_process_writes_consumed_ids_and_flushes_on_sigterm(bootstrap, tmp_path):
    topic = new_topic(bootstrap)
    sink = SinkProcess(
        tmp_path,
        [
            "--kind",
            "kafka",
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
            *(f"--kafka-config={k}={v}" for k, v in FAST_JOIN.items()),
        ],
    )
    try:
        sink.wait_ready()
        produce(bootstrap, topic, [{"event_id": f"p-{i}"} for i in range(30)])
        consumed = tmp_path / "ledger" / "consumed.jsonl"
        deadline = time.monotonic() + GROUP_JOIN_S
        while time.monotonic() < deadline and len(read_rows([consumed]).rows if consumed.exists() else ()) < 30:
            time.sleep(0.2)
    finally:
        code = sink.stop()
    assert code == 0
    assert sorted(row["id"] for row in read_rows([consumed]).rows) == sorted(f"p-{i}" for i in range(30))
