"""The AMQP sink reader against a real RabbitMQ: exchange and stream reading, never taking the pipeline's
messages, reconnecting through a real network cut, and as the sink process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid

import pika
import pika.exceptions
import pytest
import requests
from rabbitmq_support import RabbitMQ
from support import free_port, wait_for_port

from harness.load.ledger import read_rows
from harness.load.sink import SinkProcess
from harness.load.sinks import SinkConfigError
from harness.load.sinks.amqp import AmqpSource

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory):
    broker = RabbitMQ(tmp_path_factory.mktemp("rabbit")).start()
    yield broker
    broker.stop()


def channel(url: str):
    connection = pika.BlockingConnection(pika.URLParameters(url))
    return connection, connection.channel()


def output_exchange(url: str) -> tuple[str, str]:
    """A fanout exchange with the pipeline's own durable queue bound to it: (exchange, queue)."""
    name = f"results-{uuid.uuid4().hex[:8]}"
    connection, ch = channel(url)
    ch.exchange_declare(name, "fanout", durable=True)
    ch.queue_declare(f"{name}-pipeline", durable=True)
    ch.queue_bind(f"{name}-pipeline", name)
    connection.close()
    return name, f"{name}-pipeline"


def publish(url: str, exchange: str, ids: list[str], routing_key: str = "", body=None) -> None:
    connection, ch = channel(url)
    ch.confirm_delivery()
    for event_id in ids:
        payload = body if body is not None else {"event_id": event_id, "score": 0.5}
        ch.basic_publish(exchange, routing_key, json.dumps(payload).encode(), pika.BasicProperties(delivery_mode=2))
    connection.close()


def poll_until(source: AmqpSource, count: int, timeout: float = 30) -> list[tuple[str, float]]:
    seen, deadline = [], time.monotonic() + timeout
    while len(seen) < count and time.monotonic() < deadline:
        seen += source.poll(0.2)
    return seen


def queue_depth(url: str, queue: str) -> int:
    connection, ch = channel(url)
    depth = ch.queue_declare(queue, passive=True).method.message_count
    connection.close()
    return depth


def test_reads_the_output_exchange_without_taking_the_pipelines_messages(rabbit):
    exchange, pipeline_queue = output_exchange(rabbit.url)
    source = AmqpSource(rabbit.url, exchange=exchange)
    try:
        ids = [f"e-{i}" for i in range(50)]
        publish(rabbit.url, exchange, ids)
        seen = poll_until(source, 50)
    finally:
        source.close()
    assert sorted(i for i, _ in seen) == sorted(ids)
    assert queue_depth(rabbit.url, pipeline_queue) == 50, "the reader took messages from the pipeline's queue"


def test_its_own_queue_is_gone_once_it_closes(rabbit):
    exchange, _ = output_exchange(rabbit.url)
    source = AmqpSource(rabbit.url, exchange=exchange)
    assert queue_depth(rabbit.url, source.own_queue) == 0
    source.close()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
        queue_depth(rabbit.url, source.own_queue)


def test_a_topic_exchange_is_read_through_the_binding_key(rabbit):
    name = f"out-{uuid.uuid4().hex[:8]}"
    connection, ch = channel(rabbit.url)
    ch.exchange_declare(name, "topic", durable=True)
    connection.close()
    source = AmqpSource(rabbit.url, exchange=name, binding_key="scores.*")
    try:
        publish(rabbit.url, name, ["kept-1", "kept-2"], routing_key="scores.eu")
        publish(rabbit.url, name, ["other"], routing_key="audit.eu")
        seen = poll_until(source, 2)
        seen += source.poll(0.5)
    finally:
        source.close()
    assert sorted(i for i, _ in seen) == ["kept-1", "kept-2"]


def test_reads_a_stream_from_the_next_message_and_leaves_it_whole(rabbit):
    stream = f"scores-{uuid.uuid4().hex[:8]}"
    connection, ch = channel(rabbit.url)
    ch.queue_declare(stream, durable=True, arguments={"x-queue-type": "stream"})
    connection.close()
    publish(rabbit.url, "", ["old-1", "old-2"], routing_key=stream)
    source = AmqpSource(rabbit.url, queue=stream)
    try:
        publish(rabbit.url, "", [f"new-{i}" for i in range(10)], routing_key=stream)
        seen = poll_until(source, 10)
        seen += source.poll(0.5)
    finally:
        source.close()
    assert sorted(i for i, _ in seen) == sorted(f"new-{i}" for i in range(10))
    assert len(read_stream_from_first(rabbit.url, stream, 12)) == 12, "the reader removed messages from the stream"


def read_stream_from_first(url: str, stream: str, count: int) -> list[bytes]:
    connection, ch = channel(url)
    ch.basic_qos(prefetch_count=100)
    bodies: list[bytes] = []

    def take(channel, method, properties, body):
        bodies.append(body)
        channel.basic_ack(method.delivery_tag)

    ch.basic_consume(stream, take, arguments={"x-stream-offset": "first"})
    deadline = time.monotonic() + 20
    while len(bodies) < count and time.monotonic() < deadline:
        connection.process_data_events(time_limit=0.2)
    connection.close()
    return bodies


def test_a_classic_queue_is_refused_because_reading_it_would_steal(rabbit):
    _, pipeline_queue = output_exchange(rabbit.url)
    publish(rabbit.url, "", ["x"], routing_key=pipeline_queue)
    with pytest.raises(SinkConfigError, match="not a stream queue; reading it would take the pipeline's messages"):
        AmqpSource(rabbit.url, queue=pipeline_queue)
    assert queue_depth(rabbit.url, pipeline_queue) == 1


@pytest.mark.parametrize("where", [{"exchange": "no-such-exchange"}, {"queue": "no-such-queue"}])
def test_a_missing_exchange_or_queue_is_refused_by_name(rabbit, where):
    with pytest.raises(SinkConfigError, match=f"'{next(iter(where.values()))}' does not exist"):
        AmqpSource(rabbit.url, **where)


def test_an_unreachable_broker_is_a_config_error():
    with pytest.raises(SinkConfigError, match="cannot connect"):
        AmqpSource(f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", exchange="x")


def test_messages_without_the_id_field_are_skipped_and_counted(rabbit):
    exchange, _ = output_exchange(rabbit.url)
    source = AmqpSource(rabbit.url, exchange=exchange, id_field="order")
    try:
        publish(rabbit.url, exchange, ["a"], body={"event_id": "a"})
        publish(rabbit.url, exchange, ["b"], body={"order": "b"})
        seen = poll_until(source, 1)
        deadline = time.monotonic() + 10
        while source.skipped < 1 and time.monotonic() < deadline:
            seen += source.poll(0.2)
    finally:
        source.close()
    assert [i for i, _ in seen] == ["b"]
    assert source.skipped == 1


def test_reads_what_came_out_while_a_network_cut_held_it_off(rabbit):
    """The reader reaches the broker through a real fault hop that is disabled (connections dropped) and
    re-enabled; what the pipeline put out meanwhile waits in the reader's own queue and is read after."""
    exchange, _ = output_exchange(rabbit.url)
    api, hop = free_port(), free_port()
    proxy = subprocess.Popen([sys.executable, "-m", "stack.proxy", "--port", str(api)], stderr=subprocess.DEVNULL)
    try:
        wait_for_port(api)
        base = f"http://127.0.0.1:{api}"
        requests.post(
            f"{base}/proxies",
            json={"name": "rabbit", "listen": f"127.0.0.1:{hop}", "upstream": f"127.0.0.1:{rabbit.port}"},
            timeout=5,
        ).raise_for_status()
        source = AmqpSource(f"amqp://guest:guest@127.0.0.1:{hop}/%2F", exchange=exchange, reconnect_s=0.5)
        publish(rabbit.url, exchange, ["before"])
        seen = poll_until(source, 1)
        requests.post(f"{base}/proxies/rabbit", json={"enabled": False}, timeout=5).raise_for_status()
        deadline = time.monotonic() + 20
        while source.disconnects == 0 and time.monotonic() < deadline:
            seen += source.poll(0.2)
        publish(rabbit.url, exchange, ["during-1", "during-2"])
        requests.post(f"{base}/proxies/rabbit", json={"enabled": True}, timeout=5).raise_for_status()
        seen += poll_until(source, 2)
        source.close()
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(10)
    assert source.disconnects >= 1
    assert sorted(i for i, _ in seen) == ["before", "during-1", "during-2"]


def test_sink_process_writes_consumed_ids_and_flushes_on_sigterm(rabbit, tmp_path):
    exchange, _ = output_exchange(rabbit.url)
    sink = SinkProcess(tmp_path, ["--kind", "amqp", "--url", rabbit.url, "--exchange", exchange])
    try:
        sink.wait_ready(60)
        publish(rabbit.url, exchange, [f"p-{i}" for i in range(20)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            path = tmp_path / "ledger" / "consumed.jsonl"
            if path.exists() and len(read_rows([path]).rows) >= 20:
                break
            time.sleep(0.2)
    finally:
        assert sink.stop() == 0
    rows = read_rows([tmp_path / "ledger" / "consumed.jsonl"]).rows
    assert sorted(r["id"] for r in rows) == sorted(f"p-{i}" for i in range(20))


def test_sink_process_without_exchange_or_queue_exits_2(tmp_path, rabbit):
    result = subprocess.run(
        [sys.executable, "-m", "harness.load.sink", "--run-dir", str(tmp_path), "--kind", "amqp", "--url", rabbit.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "exactly one of exchange" in result.stderr
