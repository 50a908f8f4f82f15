"""The scorers' consumer-group lag as Prometheus metrics, read from the broker itself.

    python -m stack.lag_exporter --config <state_dir>/stack.json

Serves `GET /metrics` (Prometheus text format) on the stack's `lag_exporter` port:

    scorer_consumer_lag{group, topic, partition}     messages of `topic` not yet committed by `group`
    scorer_consumer_committed_offset{group, topic, partition}
    scorer_topic_high_watermark{topic, partition}
    lag_exporter_up                                  1 when the last reading is under STALE_S old

Like kafka_exporter or Burrow it is an observer beside the consumers, not inside them:
a scorer that is frozen, cut off or stuck cannot report its own lag, and that is
exactly when the lag matters. It talks to the broker's own port (no fault hop), and
looking up a group's committed offsets does not join the group. A thread reads the
offsets every READ_EVERY_S; a scrape returns the last reading, or only
`lag_exporter_up 0` when the broker has not answered for STALE_S (no stale lag is
ever served as if it were current).

Lag is in offsets. Tansu gives a whole record batch one offset, so a producer that
batches several records into one request is counted once per batch; the gateway sends
each event in a request of its own (linger.ms 0), so under a game day's rates an
offset is an event, and under heavy bursts lag may read low, never high.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stack.config import SCORER_GROUP, TOPIC_IN, StackConfig
from stack.errors import StackError

READ_EVERY_S = 0.5
STALE_S = 3.0
BROKER_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Reading:
    """Offsets of every partition at `at` (monotonic seconds): committed (-1: none yet) and high watermark."""

    at: float
    committed: dict[int, int]
    high: dict[int, int]
    low: dict[int, int]

    def lag(self, partition: int) -> int:
        done = self.committed[partition] if self.committed[partition] >= 0 else self.low[partition]
        return max(0, self.high[partition] - done)


class LagReader:
    """Reads one group's committed offsets and the topic's watermarks from the broker."""

    def __init__(self, bootstrap: str, group: str = SCORER_GROUP, topic: str = TOPIC_IN) -> None:
        from confluent_kafka import Consumer

        self.group, self.topic = group, topic
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": False,
                "socket.connection.setup.timeout.ms": 3000,
                "reconnect.backoff.max.ms": 1000,
            }
        )

    def read(self) -> Reading:
        """The offsets now; raises KafkaException (or KeyError for a missing topic) when the broker cannot tell."""
        from confluent_kafka import TopicPartition

        partitions = self.consumer.list_topics(self.topic, timeout=BROKER_TIMEOUT_S).topics[self.topic].partitions
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        committed = {tp.partition: tp.offset for tp in self.consumer.committed(tps, timeout=BROKER_TIMEOUT_S)}
        low, high = {}, {}
        for tp in tps:
            low[tp.partition], high[tp.partition] = self.consumer.get_watermark_offsets(tp, timeout=BROKER_TIMEOUT_S)
        return Reading(time.monotonic(), committed, high, low)

    def close(self) -> None:
        self.consumer.close()


class LagCollector(Collector):
    """A prometheus_client collector serving the newest fresh Reading (see the module docstring)."""

    def __init__(self, group: str, topic: str) -> None:
        self.group, self.topic = group, topic
        self.reading: Reading | None = None

    def collect(self):
        reading = self.reading
        fresh = reading is not None and time.monotonic() - reading.at < STALE_S
        up = GaugeMetricFamily("lag_exporter_up", "1 when the broker answered within the last few seconds")
        up.add_metric([], 1.0 if fresh else 0.0)
        yield up
        if not fresh:
            return
        lag = GaugeMetricFamily(
            "scorer_consumer_lag",
            "Messages not yet committed by the consumer group",
            labels=["group", "topic", "partition"],
        )
        committed = GaugeMetricFamily(
            "scorer_consumer_committed_offset",
            "The group's committed offset (negative: none yet)",
            labels=["group", "topic", "partition"],
        )
        high = GaugeMetricFamily(
            "scorer_topic_high_watermark", "The partition's high watermark", labels=["topic", "partition"]
        )
        for partition in sorted(reading.high):
            labels = [self.group, self.topic, str(partition)]
            lag.add_metric(labels, float(reading.lag(partition)))
            committed.add_metric(labels, float(reading.committed[partition]))
            high.add_metric([self.topic, str(partition)], float(reading.high[partition]))
        yield from (lag, committed, high)


def read_forever(reader: LagReader, collector: LagCollector, stopping: threading.Event) -> None:
    """Refresh `collector.reading` every READ_EVERY_S until `stopping` is set; a failed read keeps the old one
    (which goes stale, so the scrape says `lag_exporter_up 0`)."""
    while not stopping.is_set():
        try:
            collector.reading = reader.read()
        except Exception as exc:  # noqa: BLE001 - the broker is down or partitioned: say so, keep trying
            print(f"lag-exporter: cannot read offsets: {exc}", file=sys.stderr, flush=True)
        stopping.wait(READ_EVERY_S)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stack.lag_exporter", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the stack.json that `gameday stack up` wrote")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT. Exit 0 on a clean stop, 2 on a bad config, 4 if it cannot listen."""
    try:
        config = StackConfig.load(parse_args(argv).config)
    except StackError as exc:
        print(f"StackError: {exc}", file=sys.stderr)
        return 2
    registry = CollectorRegistry(auto_describe=False)
    collector = LagCollector(SCORER_GROUP, TOPIC_IN)
    registry.register(collector)
    port = config.port("lag_exporter")
    try:
        server, thread = start_http_server(port, addr=config.host, registry=registry)
    except OSError as exc:
        print(f"StackError: lag-exporter cannot listen on {config.host}:{port}: {exc}", file=sys.stderr)
        return 4
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    reader = LagReader(f"{config.host}:{config.port('broker')}")
    print(f"lag-exporter: serving http://{config.host}:{port}/metrics", file=sys.stderr, flush=True)
    try:
        read_forever(reader, collector, stopping)
    finally:
        server.shutdown()
        reader.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
