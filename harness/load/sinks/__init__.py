"""Sink readers: where a game day sees events come out of the pipeline.

A sink reader is a `Source`: `poll(timeout)` blocks for at most `timeout`
seconds and returns the (event id, seen-at epoch seconds) pairs that came out
since the last call; `close()` releases it. `harness.load.sink` runs one in a
loop and writes what it returns to `ledger/consumed.jsonl`.

Kinds (`open_source(kind, options)`):

    kafka     a Kafka topic (default `scores`) whose JSON messages carry the id
    http      a URL polled for ids (see `sinks/http.py` for the JSON it expects)
    callable  a user's `module:function` that yields ids (see `sinks/function.py`)
    amqp      a RabbitMQ output exchange (through a queue of the reader's own) or
              stream queue, read without taking the pipeline's messages (`sinks/amqp.py`)
"""

from __future__ import annotations

from typing import Protocol

from harness.errors import SpecError

Seen = tuple[str, float]


class Source(Protocol):
    def poll(self, timeout: float) -> list[Seen]:
        """Ids seen since the last call, each with the epoch second it was seen; waits at most `timeout`."""
        ...

    def close(self) -> None: ...


KINDS = ("kafka", "http", "callable", "amqp")


class SinkConfigError(SpecError):
    """A sink reader was asked for with missing or contradictory settings; the message says which."""


def open_source(kind: str, options: dict) -> Source:
    """A started Source of `kind`; `options` are the keyword arguments of that kind's class."""
    if kind == "kafka":
        from harness.load.sinks.kafka import KafkaSource

        return KafkaSource(**options)
    if kind == "http":
        from harness.load.sinks.http import HttpSource

        return HttpSource(**options)
    if kind == "callable":
        from harness.load.sinks.function import CallableSource

        return CallableSource(**options)
    if kind == "amqp":
        from harness.load.sinks.amqp import AmqpSource

        return AmqpSource(**options)
    raise SinkConfigError(f"unknown sink kind '{kind}' (known: {', '.join(KINDS)})")
