"""Publishing `POST /v1/events` to Kafka: one acks=all message per event, keyed by event id."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, TypedDict

from stack.config import TOPIC_IN
from stack.errors import StackError
from stack.kafka import DELIVERY_TIMEOUT_MS, AsyncProducer
from stack.model import validate_features

log = logging.getLogger(__name__)

MAX_EVENT_ID = 200
# librdkafka reports a failed delivery after DELIVERY_TIMEOUT_MS; this outer
# bound only matters if that report never comes.
SEND_TIMEOUT_S = DELIVERY_TIMEOUT_MS / 1000 + 2


class TransactionEvent(TypedDict):
    """The value written to the `transactions` topic."""

    event_id: str
    features: list[float]
    ts: float  # UTC epoch seconds when the gateway accepted it


class PublishError(StackError):
    """The event was not acknowledged by Kafka; the message says why."""


def parse_event(body: dict[str, Any]) -> TransactionEvent:
    """The event in a request body; ValueError quoting the problem. Generates an id when absent."""
    features = validate_features(body)
    event_id = body.get("event_id")
    if event_id is None:
        event_id = uuid.uuid4().hex
    elif not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID:
        raise ValueError(
            f'"event_id" must be a non-empty string of at most {MAX_EVENT_ID} characters, got {event_id!r:.80}'
        )
    return TransactionEvent(event_id=event_id, features=features, ts=round(time.time(), 6))


class EventPublisher:
    """Owns the gateway's producer. Starting never fails: without Kafka, `publish` raises PublishError."""

    def __init__(self, bootstrap: str, topic: str = TOPIC_IN) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: AsyncProducer | None = None

    async def start(self) -> None:
        try:
            self._ensure_producer()
        except Exception as exc:  # events will retry creating it; scoring must still start
            log.warning("kafka producer for %s not created yet: %s", self.bootstrap, exc)

    def _ensure_producer(self) -> AsyncProducer:
        if self._producer is None:
            self._producer = AsyncProducer(self.bootstrap)
        return self._producer

    async def publish(self, event: TransactionEvent) -> tuple[int, int]:
        """(partition, offset) once the broker acknowledged `event` with acks=all."""
        try:
            producer = self._ensure_producer()
            send = producer.send(self.topic, event["event_id"].encode(), json.dumps(event).encode())
            return await asyncio.wait_for(send, SEND_TIMEOUT_S)
        except TimeoutError:
            raise PublishError(f"kafka at {self.bootstrap} did not acknowledge within {SEND_TIMEOUT_S}s") from None
        except Exception as exc:  # DeliveryError, KafkaException: all mean "not stored"
            raise PublishError(f"kafka at {self.bootstrap} did not store the event: {exc}") from None

    async def close(self) -> None:
        if self._producer is not None:
            left = await self._producer.close(timeout=2.0)
            if left:
                log.warning("%d event(s) were not delivered before shutdown", left)
