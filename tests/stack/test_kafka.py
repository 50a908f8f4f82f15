"""stack.kafka against a real Tansu broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from support import free_port
from tansu_support import running_broker

from stack import kafka
from stack.config import TOPIC_IN, TOPIC_OUT, TOPIC_PARTITIONS, StackConfig
from stack.errors import StackError

PROBE = Path(__file__).with_name("async_producer_probe.py")


@pytest.fixture(scope="module")
def bootstrap():
    with running_broker() as address:
        yield address


def _partitions(bootstrap: str) -> dict[str, int]:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=5)
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


def test_ensure_topics_creates_both_topics_with_the_configured_partitions(bootstrap):
    kafka.ensure_topics(bootstrap)
    partitions = _partitions(bootstrap)
    assert partitions[TOPIC_IN] == TOPIC_PARTITIONS
    assert partitions[TOPIC_OUT] == TOPIC_PARTITIONS


def test_ensure_topics_is_idempotent(bootstrap):
    kafka.ensure_topics(bootstrap, topics=("again",), partitions=2)
    kafka.ensure_topics(bootstrap, topics=("again",), partitions=2)
    assert _partitions(bootstrap)["again"] == 2


def test_ensure_topics_without_a_broker_raises_a_stack_error():
    with pytest.raises(StackError, match="is the broker up"):
        kafka.ensure_topics(f"127.0.0.1:{free_port()}", timeout=1.0)


def _probe(bootstrap: str, mode: str) -> dict:
    """Run AsyncProducer in a child without gevent (see async_producer_probe.py)."""
    done = subprocess.run(
        [sys.executable, str(PROBE), bootstrap, mode],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=PROBE.parents[2],
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_async_producer_send_returns_partition_and_increasing_offsets(bootstrap):
    kafka.ensure_topics(bootstrap)
    outcome = _probe(bootstrap, "offsets")
    partitions = {partition for partition, _ in outcome["results"]}
    offsets = [offset for _, offset in outcome["results"]]
    assert len(partitions) == 1 and 0 <= partitions.pop() < TOPIC_PARTITIONS
    assert offsets == sorted(offsets) and len(set(offsets)) == 3
    assert outcome["left"] == 0


def test_async_producer_acknowledges_100_concurrent_sends_without_batching_delay(bootstrap):
    kafka.ensure_topics(bootstrap)
    # confluent_kafka.aio.AIOProducer takes ~1 s here (buffer_timeout) in every round; ours must not.
    outcome = _probe(bootstrap, "latency")
    assert outcome["elapsed"] < 0.5, outcome["rounds"]


def test_async_producer_send_raises_delivery_error_when_the_broker_is_unreachable():
    outcome = _probe(f"127.0.0.1:{free_port()}", "unreachable")
    assert outcome["code"] == "_MSG_TIMED_OUT"
    assert "not acknowledged" in outcome["error"]
    assert outcome["elapsed"] < 5


def test_broker_command_binds_loopback_on_the_broker_port():
    config = StackConfig(base_port=20000)
    argv = kafka.broker_command(config)
    assert argv[1] == "broker"
    assert argv[argv.index("--listener-url") + 1] == "tcp://127.0.0.1:20003"
    assert argv[argv.index("--advertised-listener-url") + 1] == "tcp://127.0.0.1:20003"


def test_tansu_proxy_command_advertises_the_fault_hop_in_front_of_it():
    config = StackConfig(base_port=20000)
    argv = kafka.tansu_proxy_command(config, "scorer")
    assert argv[argv.index("--listener-url") + 1] == "tcp://127.0.0.1:20007"
    assert argv[argv.index("--advertised-listener-url") + 1] == "tcp://127.0.0.1:20006"
    assert argv[argv.index("--origin-url") + 1] == "tcp://127.0.0.1:20003"


def test_tansu_proxy_command_rejects_an_unknown_client_group():
    with pytest.raises(StackError, match="unknown kafka client group 'observer'"):
        kafka.tansu_proxy_command(StackConfig(), "observer")
