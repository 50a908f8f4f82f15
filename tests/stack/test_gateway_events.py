"""`POST /v1/events` against a real Tansu broker (and without one)."""

from __future__ import annotations

import json
import subprocess

import pytest
from confluent_kafka import Consumer, TopicPartition
from support import free_base_port, free_port, wait_for_port
from test_gateway_service import GatewayStack, call

from stack.config import TOPIC_IN, StackConfig
from stack.kafka import broker_command, consumer_config, ensure_topics
from stack.model import example_features


@pytest.fixture(scope="module")
def broker_port():
    config = StackConfig(base_port=free_base_port())
    proc = subprocess.Popen(broker_command(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = config.port("broker")
        wait_for_port(port, timeout=20)
        ensure_topics(f"127.0.0.1:{port}", timeout=20)
        yield port
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, broker_port):
    stack = GatewayStack(
        tmp_path_factory.mktemp("events"), replicas=1, canary_replicas=0, ports={"kafka_gateway": broker_port}
    ).start()
    yield stack
    stack.close()


def read_message(port: int, partition: int, offset: int):
    consumer = Consumer(consumer_config(f"127.0.0.1:{port}", "gateway-events-test"))
    try:
        consumer.assign([TopicPartition(TOPIC_IN, partition, offset)])
        for _ in range(100):
            msg = consumer.poll(0.1)
            if msg is not None and not msg.error():
                return msg
        raise AssertionError(f"no message at {TOPIC_IN}[{partition}]@{offset}")
    finally:
        consumer.close()


def test_event_is_acknowledged_with_partition_and_offset(gateway):
    reply = call(gateway.port, "POST", "/v1/events", {"event_id": "evt-1", "features": example_features(1)})
    assert reply.status == 200, reply.body
    assert reply.body["event_id"] == "evt-1"
    assert reply.body["partition"] >= 0 and reply.body["offset"] >= 0


def test_event_lands_in_transactions_keyed_by_its_id(gateway, broker_port):
    features = example_features(2)
    reply = call(gateway.port, "POST", "/v1/events", {"event_id": "evt-2", "features": features}).body
    msg = read_message(broker_port, reply["partition"], reply["offset"])
    value = json.loads(msg.value())
    assert msg.key() == b"evt-2"
    assert (value["event_id"], value["features"]) == ("evt-2", features)
    assert value["ts"] > 1.7e9


def test_event_without_id_gets_a_uuid_hex(gateway):
    reply = call(gateway.port, "POST", "/v1/events", {"features": example_features(3)})
    assert reply.status == 200
    assert len(reply.body["event_id"]) == 32 and int(reply.body["event_id"], 16) >= 0


@pytest.mark.parametrize("body", [{"features": [1]}, {"event_id": 7, "features": example_features(4)}, b"{"])
def test_bad_event_body_is_a_400(gateway, body):
    reply = call(gateway.port, "POST", "/v1/events", body)
    assert reply.status == 400 and reply.body["error"]


@pytest.mark.slow
def test_event_without_kafka_is_a_503_while_scoring_works(tmp_path):
    stack = GatewayStack(tmp_path, replicas=1, canary_replicas=0, ports={"kafka_gateway": free_port()}).start()
    try:
        assert stack.score(example_features(5)).status == 200
        reply = call(stack.port, "POST", "/v1/events", {"features": example_features(5)}, timeout=30)
        assert reply.status == 503 and "kafka" in reply.body["error"]
    finally:
        stack.close()
