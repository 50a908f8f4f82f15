"""Measure how fast the scorer group rebalances on Tansu: kill, graceful leave, join.

    python kafka_rebalance.py [variant ...]      (variants: see VARIANTS)

For each variant: a producer sends RATE events/s; two scorers run; then
  kill  : SIGKILL scorer-2 -> time until scorer-1 owns all 4 partitions, and the
          longest output stall of any input partition (time between consecutive scores)
  join  : start scorer-2 again -> time until it owns partitions, longest stall
  leave : SIGTERM scorer-2 -> time until scorer-1 owns all, longest stall
and finally whether every produced event got a score (loss).
"""

from __future__ import annotations

import json
import re
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests/stack")]
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition  # noqa: E402
from tansu_support import running_broker, start_scorer, write_config  # noqa: E402

from stack import kafka  # noqa: E402
from stack.config import TOPIC_IN, TOPIC_OUT  # noqa: E402
from stack.model import example_features  # noqa: E402

RATE = 200
VARIANTS = {
    "defaults": {"session.timeout.ms": 3000},
    "s6000-h1000-range": {
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "partition.assignment.strategy": "range",
    },
    "s6000-h1000-coop": {
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "partition.assignment.strategy": "cooperative-sticky",
    },
    "s3000-h500-range": {
        "session.timeout.ms": 3000,
        "heartbeat.interval.ms": 500,
        "partition.assignment.strategy": "range",
    },
    "s2000-h500-range": {
        "session.timeout.ms": 2000,
        "heartbeat.interval.ms": 500,
        "partition.assignment.strategy": "range",
    },
    "s3000-h1000-coop": {
        "session.timeout.ms": 3000,
        "heartbeat.interval.ms": 1000,
        "partition.assignment.strategy": "cooperative-sticky",
    },
    "s10000-h3000-range": {
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 3000,
        "partition.assignment.strategy": "range",
    },
    "s45000-h3000-range": {
        "session.timeout.ms": 45000,
        "heartbeat.interval.ms": 3000,
        "partition.assignment.strategy": "range",
    },
}


class Traffic:
    """Produces RATE events/s and reads every score; records partition of each event and score times."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.partition_of: dict[str, int] = {}
        self.scores: dict[str, float] = {}  # event_id -> first time a score was read
        self.stop = threading.Event()
        self.stop_read = threading.Event()
        self.threads = [threading.Thread(target=self._produce), threading.Thread(target=self._read)]

    def start(self):
        for t in self.threads:
            t.start()

    def close(self):
        self.stop.set()
        self.threads[0].join()
        time.sleep(3)  # let the scorers drain
        self.stop_read.set()
        self.threads[1].join()

    def _produce(self):
        producer = Producer(kafka.producer_config(self.bootstrap))
        i, start = 0, time.monotonic()
        while not self.stop.is_set():
            event_id = f"e{i}"

            def done(err, msg, event_id=event_id):
                if err is None:
                    self.partition_of[event_id] = msg.partition()

            value = json.dumps({"event_id": event_id, "features": example_features(i), "ts": time.time()})
            producer.produce(TOPIC_IN, key=event_id.encode(), value=value.encode(), on_delivery=done)
            producer.poll(0)
            i += 1
            time.sleep(max(0.0, start + i / RATE - time.monotonic()))
        producer.flush(10)

    def _read(self):
        consumer = Consumer({**kafka.consumer_config(self.bootstrap, "reader")})
        consumer.assign([TopicPartition(TOPIC_OUT, p, OFFSET_BEGINNING) for p in range(4)])
        while not self.stop_read.is_set():
            for m in consumer.consume(500, timeout=0.05):
                if m.error() is None:
                    self.scores.setdefault(json.loads(m.value())["event_id"], time.time())
        consumer.close()

    def longest_stall(self, t0: float, t1: float) -> float:
        """Longest gap between consecutive first-scores of one input partition in [t0, t1]."""
        per_part: dict[int, list[float]] = {}
        for event_id, ts in self.scores.items():
            if t0 <= ts <= t1 and event_id in self.partition_of:
                per_part.setdefault(self.partition_of[event_id], []).append(ts)
        gaps = [0.0]
        for times in per_part.values():
            times.sort()
            gaps += [b - a for a, b in zip([t0] + times, times + [t1])]
        return max(gaps)


class Member:
    """A scorer child whose 'owns [...]' log lines are followed with wall-clock times."""

    def __init__(self, cfg: Path, index: int, bootstrap: str, settings: dict) -> None:
        extra = [a for k, v in settings.items() for a in ("--consumer-setting", f"{k}={v}")]
        self.proc = start_scorer(cfg, index, bootstrap, *extra)
        self.owns: list[tuple[float, set[int]]] = []
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace")
            found = re.search(r"owns \[([\d, ]*)\]", line)
            if found:
                parts = {int(x) for x in found.group(1).split(",") if x.strip()}
                self.owns.append((time.time(), parts))

    def first_time_owning(self, want, after: float, timeout: float) -> float | None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for ts, parts in self.owns:
                if ts >= after and want(parts):
                    return ts - after
            time.sleep(0.05)
        return None


def measure(name: str, settings: dict) -> dict:
    session = settings["session.timeout.ms"] / 1000
    with running_broker() as bs, tempfile.TemporaryDirectory() as tmp:
        kafka.ensure_topics(bs)
        cfg = write_config(Path(tmp))
        traffic = Traffic(bs)
        traffic.start()
        t_start = time.time()
        a = Member(cfg, 1, bs, settings)
        b = Member(cfg, 2, bs, settings)
        result = {"variant": name}

        def owns_some(parts):
            return len(parts) > 0

        def owns_all(parts):
            return parts == {0, 1, 2, 3}

        a.first_time_owning(owns_some, t_start, 60)
        b.first_time_owning(owns_some, t_start, 60)
        result["first_assignment_s"] = round(time.time() - t_start, 1)
        time.sleep(3)
        # kill
        t0 = time.time()
        b.proc.send_signal(signal.SIGKILL)
        took = a.first_time_owning(owns_all, t0, session * 2 + 20)
        result["kill_owns_all_s"] = took and round(took, 2)
        time.sleep(3)
        result["kill_stall_s"] = round(traffic.longest_stall(t0, time.time()), 2)
        # join
        t0 = time.time()
        b = Member(cfg, 2, bs, settings)
        took = b.first_time_owning(owns_some, t0, session * 2 + 20)
        result["join_owns_s"] = took and round(took, 2)
        time.sleep(3)
        result["join_stall_s"] = round(traffic.longest_stall(t0, time.time()), 2)
        # graceful leave
        t0 = time.time()
        b.proc.send_signal(signal.SIGTERM)
        took = a.first_time_owning(owns_all, t0, session * 2 + 20)
        result["leave_owns_all_s"] = took and round(took, 2)
        time.sleep(3)
        result["leave_stall_s"] = round(traffic.longest_stall(t0, time.time()), 2)
        time.sleep(2)
        traffic.close()
        time.sleep(1)
        lost = set(traffic.partition_of) - set(traffic.scores)
        result["produced"] = len(traffic.partition_of)
        result["lost_after_drain"] = len(lost)
        for m in (a, b):
            m.proc.kill()
            m.proc.wait()
        return result


if __name__ == "__main__":
    names = sys.argv[1:] or list(VARIANTS)
    for name in names:
        print(json.dumps(measure(name, VARIANTS[name])), flush=True)
