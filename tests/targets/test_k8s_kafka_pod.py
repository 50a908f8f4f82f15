"""The Kafka pod's processes (harness.targets.k8s.kafka_pod) wired as in deploy/stack, on loopback:
real Tansu brokers and proxies, the real hops sidecar, a real librdkafka producer."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from support import eventually, free_base_port, free_port, wait_for_port
from test_k8s_hops import start, stop, wait_for_api

from stack.config import TOPIC_IN, TOPIC_OUT, StackConfig
from stack.kafka import ensure_topics, producer_config

ROOT = Path(__file__).resolve().parents[2]


def broker(port: int):
    return start(
        "-m",
        "harness.targets.k8s.kafka_pod",
        "broker",
        "--listen",
        f"127.0.0.1:{port}",
        "--advertise",
        f"127.0.0.1:{port}",
    )


@pytest.fixture
def procs():
    started = []
    yield started
    for proc in reversed(started):
        stop(proc)


@pytest.fixture
def pod_config(tmp_path):
    config = StackConfig.load(ROOT / "deploy" / "stack" / "stack.json")
    config = StackConfig.from_dict(
        {
            **config.__dict__,
            "gateway": config.gateway.__dict__,
            "base_port": free_base_port(),
            "state_root": str(tmp_path),
        }
    )
    path = tmp_path / "stack.json"
    path.write_text(config.to_json())
    return config, path


def delivered(producer: Producer, timeout: float = 15.0) -> bool:
    """Produce one message and wait for its report: True if the broker stored it."""
    result = {}
    producer.produce(TOPIC_IN, b"x", on_delivery=lambda err, _msg: result.setdefault("err", err))
    deadline = time.monotonic() + timeout
    while "err" not in result and time.monotonic() < deadline:
        producer.poll(0.1)
    return result.get("err", "no report") is None


def gateway_traffic_with_the_hop_disabled(procs, pod_config, hop_to_broker: bool = False) -> bool:
    """Run the broker, the gateway listener and the hops sidecar as the pods do, bootstrap a producer
    through the gateway-kafka hop, disable the hop, and say whether a message still gets through.

    `hop_to_broker` points the hop at the broker itself instead of the gateway listener.
    """
    config, path = pod_config
    broker_port, listener_port, api = free_port(), free_port(), free_port()
    procs.append(broker(broker_port))
    wait_for_port(broker_port, timeout=30)
    procs.append(
        start(
            "-m",
            "harness.targets.k8s.kafka_pod",
            "gateway-listener",
            "--config",
            str(path),
            "--listen",
            f"127.0.0.1:{listener_port}",
            "--origin",
            f"127.0.0.1:{broker_port}",
        )
    )
    wait_for_port(listener_port, timeout=30)
    target = f"127.0.0.1:{broker_port if hop_to_broker else listener_port}"
    procs.append(
        start(
            "-m",
            "harness.targets.k8s.hops",
            "--config",
            str(path),
            "--listen-port",
            str(free_port()),
            "--api-port",
            str(api),
            env={"KAFKA_SERVICE": target, "MODEL_SERVICE": "127.0.0.1:9"},
        )
    )
    wait_for_api(procs[-1], api)
    ensure_topics(f"127.0.0.1:{broker_port}", timeout=30)
    # what the gateway does: bootstrap to its hop (stack.gateway.state)
    producer = Producer({**producer_config(f"127.0.0.1:{config.port('kafka_gateway')}"), "message.timeout.ms": 4000})
    assert delivered(producer, 30), "nothing gets through even with the hop enabled"
    off = requests.post(f"http://127.0.0.1:{api}/proxies/gateway-kafka", json={"enabled": False, "ttl": 60}, timeout=10)
    assert off.status_code == 200, off.text
    return delivered(producer)


@pytest.mark.slow
def test_a_disabled_gateway_kafka_hop_cuts_all_the_gateways_kafka_traffic(procs, pod_config):
    """The gateway listener advertises the hop, so after bootstrap the producer still talks through it."""
    assert gateway_traffic_with_the_hop_disabled(procs, pod_config) is False


@pytest.mark.slow
def test_a_hop_to_a_broker_advertising_itself_would_miss_the_traffic(procs, pod_config):
    """The broken wiring the test above must catch (the broker advertised kafka:9092): the producer
    connects to the broker's own address after bootstrap, and a fault on the hop misses it."""
    assert gateway_traffic_with_the_hop_disabled(procs, pod_config, hop_to_broker=True) is True


@pytest.mark.slow
def test_topics_come_back_after_the_broker_restarts_empty(procs, tmp_path):
    port = free_port()
    ready = tmp_path / "topics.ready"

    def pod_broker():  # in the pod `kafka` is 127.0.0.1 (hostAliases); `localhost` plays it here
        return start(
            "-m",
            "harness.targets.k8s.kafka_pod",
            "broker",
            "--listen",
            f"127.0.0.1:{port}",
            "--advertise",
            f"localhost:{port}",
        )

    procs.append(pod_broker())
    wait_for_port(port, timeout=30)
    procs.append(
        start(
            "-m", "harness.targets.k8s.kafka_pod", "topics", "--origin", f"127.0.0.1:{port}", "--ready-file", str(ready)
        )
    )
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}"})

    def topics_exist() -> bool:
        try:
            return {TOPIC_IN, TOPIC_OUT} <= set(admin.list_topics(timeout=2).topics)
        except Exception:  # noqa: BLE001 - broker not answering yet
            return False

    eventually(lambda: ready.exists() and topics_exist(), 60, "topics and the ready file")
    stop(procs.pop(0))  # the broker dies: Tansu's topics go with it
    eventually(lambda: not ready.exists(), 60, "the ready file removed while the broker is gone")
    procs.insert(0, pod_broker())  # a new, empty broker on the same address
    wait_for_port(port, timeout=30)
    eventually(lambda: ready.exists() and topics_exist(), 60, "topics recreated on the new broker")


def check(bootstrap: str) -> bool:
    """The listeners' liveness probe (deploy/stack/kafka.yaml), run here."""
    return (
        subprocess.run(
            [sys.executable, "-m", "harness.targets.k8s.kafka_pod", "check", "--bootstrap", bootstrap],
            check=False,
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        ).returncode
        == 0
    )


@pytest.mark.slow
def test_a_listener_left_behind_by_a_broker_restart_fails_its_liveness_check(procs):
    """A Tansu proxy keeps failing after its broker restarted: the probe must see it (the kubelet
    then restarts the listener), and must pass again once the listener is restarted."""
    broker_port, listener_port = free_port(), free_port()
    procs.append(broker(broker_port))
    wait_for_port(broker_port, timeout=30)

    def listener():
        return start(
            "-m",
            "harness.targets.k8s.kafka_pod",
            "sink-listener",
            "--listen",
            f"127.0.0.1:{listener_port}",
            "--advertise",
            f"127.0.0.1:{listener_port}",
            "--origin",
            f"127.0.0.1:{broker_port}",
        )

    procs.append(listener())
    wait_for_port(listener_port, timeout=30)
    assert check(f"127.0.0.1:{listener_port}")
    stop(procs.pop(0))
    procs.insert(0, broker(broker_port))
    wait_for_port(broker_port, timeout=30)
    eventually(lambda: not check(f"127.0.0.1:{listener_port}"), 60, "the stale listener failing its check")
    stop(procs.pop())
    procs.append(listener())
    wait_for_port(listener_port, timeout=30)
    eventually(lambda: check(f"127.0.0.1:{listener_port}"), 60, "the restarted listener passing its check")
