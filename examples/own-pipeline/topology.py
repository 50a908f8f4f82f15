"""The example pipeline's RabbitMQ topology and connection, shared by the ingest service and the worker.

    POST /events ─▶ ingest service ─▶ queue `ingest` ─▶ worker ─▶ exchange `results` (fanout)
                                                                    └─▶ queue `results` (downstream)

Everything is durable and every message persistent, and both sides publish with
publisher confirms: the ingest service answers 202 only once RabbitMQ has the event,
and the healthy worker acknowledges an input only once its result is confirmed.
"""

from __future__ import annotations

import pika

INGEST_QUEUE = "ingest"
RESULTS_EXCHANGE = "results"
RESULTS_QUEUE = "results"
RESULTS_KEEP = 100_000  # the downstream's queue keeps the newest results (nobody reads it in the example)
PERSISTENT = pika.BasicProperties(delivery_mode=2, content_type="application/json")


def connect(url: str) -> pika.adapters.blocking_connection.BlockingChannel:
    """A channel with publisher confirms on a new connection to `url`, the topology declared."""
    parameters = pika.URLParameters(url)
    parameters.connection_attempts, parameters.retry_delay = 1, 0
    channel = pika.BlockingConnection(parameters).channel()
    channel.confirm_delivery()
    channel.queue_declare(INGEST_QUEUE, durable=True)
    channel.exchange_declare(RESULTS_EXCHANGE, "fanout", durable=True)
    channel.queue_declare(
        RESULTS_QUEUE, durable=True, arguments={"x-max-length": RESULTS_KEEP, "x-overflow": "drop-head"}
    )
    channel.queue_bind(RESULTS_QUEUE, RESULTS_EXCHANGE)
    return channel
