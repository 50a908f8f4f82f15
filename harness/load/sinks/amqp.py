"""AMQP sink reader: ids read from the JSON messages a RabbitMQ pipeline puts out, without taking any.

Two ways to read, exactly one of which is given:

- `exchange` (the pipeline's output exchange): the reader declares a queue of its
  own, `gameday-sink-<random>`, binds it to the exchange with `binding_key` (default
  `#`: everything on a topic exchange; a fanout exchange ignores the key; a direct
  exchange needs the exact routing key) and consumes that. The pipeline's own queues
  get every message exactly as before. The queue is durable with `x-expires` (60 s
  unused), so a reconnect after a broker restart or a network cut finds what arrived
  meanwhile, and a reader that is killed leaves nothing behind for long; `close()`
  deletes it at once.
- `queue`: a *stream* queue (`x-queue-type: stream`), which every consumer reads
  without removing anything. Reading starts at the next message written after the
  reader started (`x-stream-offset: next`) and, after a reconnect, right after the
  last offset it read. A classic or quorum queue is refused (SinkConfigError):
  consuming it would take the messages from the pipeline's own consumer.

Each message body must be a JSON object whose `id_field` holds the event id; others
are skipped and counted in `skipped`. A message is acknowledged (to the reader's own
queue, or as stream credit) as soon as its id is taken.

Connection losses are expected during a game day; `poll` reports them on stderr and
reconnects every `reconnect_s`. Only the first connection must succeed: a broker that
cannot be reached, or an exchange or queue that does not exist, at start is a
SinkConfigError.

Client: pika's BlockingConnection. The reader is a plain process of its own (see
harness.load.sink) with a blocking `poll(timeout)`, which is exactly
`process_data_events(time_limit=timeout)`; an asyncio client would need a loop
thread for nothing.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

import pika
import pika.exceptions

from harness.load.sinks import Seen, SinkConfigError

QUEUE_EXPIRES_MS = 60_000
PREFETCH = 1000


class AmqpSource:
    """Reads the ids put out on `exchange` (through a queue of its own) or on the stream `queue` at `url`."""

    def __init__(
        self,
        url: str,
        exchange: str | None = None,
        queue: str | None = None,
        binding_key: str = "#",
        id_field: str = "event_id",
        reconnect_s: float = 1.0,
    ) -> None:
        if not url.startswith(("amqp://", "amqps://")):
            raise SinkConfigError(f"amqp sink: url '{url}' must start with amqp:// or amqps://")
        if bool(exchange) == bool(queue):
            raise SinkConfigError(
                "amqp sink: give exactly one of exchange (the pipeline's output exchange, read "
                "through a queue of the reader's own) or queue (a stream queue)"
            )
        self.url, self.exchange, self.stream, self.binding_key = url, exchange, queue, binding_key
        self.id_field, self.reconnect_s = id_field, reconnect_s
        self.own_queue = f"gameday-sink-{uuid.uuid4().hex[:12]}" if exchange else None
        self.skipped = 0
        self.disconnects = 0
        self._offset: int | str = "next"  # stream: where the next consumer starts
        self._seen: list[Seen] = []
        self._connection: pika.BlockingConnection | None = None
        self._channel = None
        self._retry_at = 0.0
        try:
            self._connect()
        except pika.exceptions.ChannelClosedByBroker as exc:
            self._drop()
            raise SinkConfigError(f"amqp sink: {self._refusal(exc)}") from None
        except pika.exceptions.AMQPError as exc:
            self._drop()
            raise SinkConfigError(f"amqp sink: cannot connect to {_safe(url)}: {exc!r}; is the broker up?") from None

    # ---- connecting ------------------------------------------------------------------
    def _connect(self) -> None:
        self._connection = pika.BlockingConnection(pika.URLParameters(self.url))
        channel = self._channel = self._connection.channel()
        channel.basic_qos(prefetch_count=PREFETCH)
        if self.exchange:
            channel.exchange_declare(self.exchange, passive=True)
            channel.queue_declare(self.own_queue, durable=True, arguments={"x-expires": QUEUE_EXPIRES_MS})
            channel.queue_bind(self.own_queue, self.exchange, routing_key=self.binding_key)
            channel.basic_consume(self.own_queue, self._on_message)
        else:
            channel.queue_declare(self.stream, passive=True)
            # Declaring it again as a stream is refused (406) unless it is one: nothing is created here.
            channel.queue_declare(self.stream, durable=True, arguments={"x-queue-type": "stream"})
            channel.basic_consume(self.stream, self._on_message, arguments={"x-stream-offset": self._offset})

    def _refusal(self, exc: pika.exceptions.ChannelClosedByBroker) -> str:
        if exc.reply_code == 404:
            what = f"exchange '{self.exchange}'" if self.exchange else f"queue '{self.stream}'"
            return f"{what} does not exist at {_safe(self.url)} ({exc.reply_text})"
        if exc.reply_code == 406 and self.stream:
            return (
                f"queue '{self.stream}' is not a stream queue; reading it would take the pipeline's messages. "
                "Give the exchange it is bound to instead (exchange: ...), and the reader binds a queue "
                f"of its own ({exc.reply_text})"
            )
        return f"the broker refused: {exc.reply_code} {exc.reply_text}"

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                pass

    # ---- reading ---------------------------------------------------------------------
    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        now = time.time()
        if self.stream:
            offset = (properties.headers or {}).get("x-stream-offset")
            if isinstance(offset, int):
                self._offset = offset + 1
        channel.basic_ack(method.delivery_tag)
        event_id = self._event_id(body)
        if event_id is not None:
            self._seen.append((event_id, now))

    def _event_id(self, body: bytes) -> str | None:
        try:
            return str(json.loads(body)[self.id_field])
        except (TypeError, ValueError, KeyError):
            self.skipped += 1
            return None

    def poll(self, timeout: float) -> list[Seen]:
        """Ids that came out within `timeout` s, as (id, seen-at) pairs; reconnects after a loss."""
        if self._connection is None:
            self._reconnect(timeout)
        else:
            try:
                self._connection.process_data_events(time_limit=timeout)
            except pika.exceptions.AMQPError as exc:
                self._lost(exc)
        seen, self._seen = self._seen, []
        return seen

    def _lost(self, exc: Exception) -> None:
        self.disconnects += 1
        print(
            f"amqp sink: connection lost ({exc!r}); reconnecting every {self.reconnect_s:g}s",
            file=sys.stderr,
            flush=True,
        )
        self._drop()
        self._retry_at = time.monotonic() + self.reconnect_s

    def _reconnect(self, timeout: float) -> None:
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            time.sleep(min(wait, timeout))
            return
        try:
            self._connect()
            print("amqp sink: reconnected", file=sys.stderr, flush=True)
        except pika.exceptions.AMQPError as exc:
            self._drop()
            self._retry_at = time.monotonic() + self.reconnect_s
            print(f"amqp sink: reconnect failed ({exc!r})", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Delete the reader's own queue (if any) and close the connection."""
        if self._channel is not None and self.own_queue:
            try:
                self._channel.queue_delete(self.own_queue)
            except pika.exceptions.AMQPError:
                pass  # x-expires removes it within a minute
        self._drop()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    parsed = pika.URLParameters(url)
    return f"{'amqps' if parsed.ssl_options else 'amqp'}://{parsed.host}:{parsed.port}"
