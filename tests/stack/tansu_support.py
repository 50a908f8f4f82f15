"""Helpers for tests that need a real Tansu broker and real scorer processes."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from support import free_port, wait_for_port

from stack import kafka
from stack.config import TOPIC_IN, TOPIC_OUT, TOPIC_PARTITIONS, StackConfig
from stack.model import example_features

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running_broker():
    """Start an in-memory Tansu broker on a free port; yield its bootstrap address; kill it after."""
    port = free_port()
    config = StackConfig(port_overrides={"broker": port})
    proc = subprocess.Popen(kafka.broker_command(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def write_config(tmp_path: Path, defects: tuple[str, ...] = ()) -> Path:
    """A stack.json for a scorer (its ports are unused: tests pass --bootstrap)."""
    path = tmp_path / "stack.json"
    path.write_text(StackConfig(defects=defects).to_json())
    return path


def start_scorer(config_path: Path, index: int, bootstrap: str, *extra: str) -> subprocess.Popen:
    """`python -m stack.scorer` as a child; stderr is a pipe the caller may read."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stack.scorer",
            "--config",
            str(config_path),
            "--index",
            str(index),
            "--bootstrap",
            bootstrap,
            *extra,
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_line(proc: subprocess.Popen, pattern: str, timeout: float = 20.0) -> str:
    """Read `proc`'s stderr until a line matches the regex `pattern`; return that line.

    Reads the raw pipe (no buffered reader), so a line is never stuck in a
    buffer while select() waits; lines after the match are kept for the next
    call. Raises AssertionError, with the lines seen, on timeout or exit.
    """
    state = _LINES.setdefault(proc.pid, {"lines": [], "partial": b"", "seen": []})
    deadline = time.monotonic() + timeout
    while True:
        while state["lines"]:
            line = state["lines"].pop(0)
            state["seen"].append(line)
            if re.search(pattern, line):
                return line
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not _read_more(proc.stderr.fileno(), state, remaining):
            tail = "\n".join(state["seen"][-20:])
            raise AssertionError(f"no line matching {pattern!r} within {timeout}s; scorer said:\n{tail}")


_LINES: dict[int, dict] = {}


def _read_more(fd: int, state: dict, timeout: float) -> bool:
    if not select.select([fd], [], [], timeout)[0]:
        return False
    chunk = os.read(fd, 65536)
    if not chunk:
        return False
    *lines, state["partial"] = (state["partial"] + chunk).split(b"\n")
    state["lines"] += [raw.decode(errors="replace") for raw in lines]
    return True


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it did not exit within `timeout`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def produce_events(bootstrap: str, n: int, prefix: str = "") -> list[str]:
    """Produce `n` valid events to TOPIC_IN and wait for their acks; return their ids."""
    producer = Producer(kafka.producer_config(bootstrap))
    prefix = prefix or uuid.uuid4().hex[:8]
    ids = [f"{prefix}-{i}" for i in range(n)]
    for i, event_id in enumerate(ids):
        event = {"event_id": event_id, "features": example_features(i), "ts": time.time()}
        producer.produce(TOPIC_IN, key=event_id.encode(), value=json.dumps(event).encode())
        producer.poll(0)
    assert producer.flush(10) == 0, "events were not acknowledged by the broker"
    return ids


def read_scores(
    bootstrap: str, expected: set[str], timeout: float, quiet: float = 1.0, require_all: bool = True
) -> list[dict]:
    """Every record in TOPIC_OUT, read from the start without a group.

    Returns once every id in `expected` was seen (any records at all, if not
    `require_all`) and nothing new arrived for `quiet` seconds (so duplicates
    are counted), or at `timeout`.
    """
    consumer = Consumer({**kafka.consumer_config(bootstrap, "unused"), "group.id": f"reader-{uuid.uuid4().hex}"})
    consumer.assign([TopicPartition(TOPIC_OUT, p, OFFSET_BEGINNING) for p in range(TOPIC_PARTITIONS)])
    records, last_new = [], time.monotonic()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = [m for m in consumer.consume(500, timeout=0.1) if m.error() is None]
            records += [json.loads(m.value()) for m in batch]
            last_new = time.monotonic() if batch else last_new
            seen = {r["event_id"] for r in records}
            complete = expected <= seen if require_all else bool(seen)
            if complete and time.monotonic() - last_new > quiet:
                break
    finally:
        consumer.close()
    return records
