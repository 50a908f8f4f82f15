"""stack.lag_exporter against a real Tansu broker: the lag it serves is the group's real lag,
and when the broker stops answering it says so instead of serving the last reading."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from support import eventually, free_port, wait_for_port
from tansu_support import running_broker

from harness.metrics.scrape import scrape
from stack import kafka
from stack.config import SCORER_GROUP, TOPIC_IN, StackConfig

ROOT = Path(__file__).resolve().parents[2]


def lag_of(url: str) -> tuple[float | None, float | None]:
    """(lag summed over partitions or None when not served, lag_exporter_up)."""
    samples = scrape(url, 5)
    lags = [value for name, _, value in samples if name == "scorer_consumer_lag"]
    up = next((value for name, _, value in samples if name == "lag_exporter_up"), None)
    return (sum(lags) if lags else None), up


@pytest.fixture
def broker():
    with running_broker() as bootstrap:
        kafka.ensure_topics(bootstrap)
        yield bootstrap


@pytest.fixture
def exporter(tmp_path, broker):
    port = free_port()
    config = StackConfig(port_overrides={"broker": int(broker.rsplit(":", 1)[1]), "lag_exporter": port})
    path = tmp_path / "stack.json"
    path.write_text(config.to_json())
    proc = subprocess.Popen(
        [sys.executable, "-m", "stack.lag_exporter", "--config", str(path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        proc.terminate()
        proc.wait(10)


def produce(bootstrap: str, per_partition: dict[int, int]) -> None:
    """One message per produce request, as the gateway sends them (Tansu gives a batch of several
    records one offset, so messages batched together would count once)."""
    producer = Producer(kafka.producer_config(bootstrap))
    for partition, count in per_partition.items():
        for i in range(count):
            producer.produce(TOPIC_IN, value=b"{}", key=f"{partition}-{i}".encode(), partition=partition)
            assert producer.flush(15) == 0


def commit(bootstrap: str, offsets: dict[int, int]) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": SCORER_GROUP, "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(TOPIC_IN, p, o) for p, o in offsets.items()], asynchronous=False)
    finally:
        consumer.close()


def test_the_lag_served_is_what_the_group_has_not_committed(broker, exporter):
    produce(broker, {0: 6, 1: 4})
    eventually(lambda: lag_of(exporter)[0] == 10, what="a lag of the 10 messages produced")
    assert lag_of(exporter)[1] == 1.0
    commit(broker, {0: 5, 1: 4})
    eventually(lambda: lag_of(exporter)[0] == 1, what="the lag after committing 9 of them")


def test_a_broker_that_stops_answering_turns_the_lag_off_not_stale(tmp_path):
    with running_broker() as bootstrap:
        kafka.ensure_topics(bootstrap)
        port = free_port()
        path = tmp_path / "stack.json"
        path.write_text(
            StackConfig(port_overrides={"broker": int(bootstrap.rsplit(":", 1)[1]), "lag_exporter": port}).to_json()
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "stack.lag_exporter", "--config", str(path)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, timeout=30)
            url = f"http://127.0.0.1:{port}/metrics"
            produce(bootstrap, {2: 3})
            eventually(lambda: lag_of(url)[0] == 3, what="the lag while the broker answers")
        except BaseException:
            proc.kill()
            proc.wait(10)
            raise
    try:
        assert eventually(lambda: lag_of(url) == (None, 0.0), timeout=30, what="up 0 and no lag series")
    finally:
        proc.terminate()
        proc.wait(10)
