"""The worker: takes events from `ingest` in batches, scores each, publishes the results to `results`.

    python examples/own-pipeline/worker.py --amqp amqp://guest:guest@127.0.0.1:5673/%2F [--defect ack-before-process]

A batch is what arrived in BATCH_S; scoring an event takes WORK_S (a call to some
other service, simulated with a sleep so the example costs no CPU).

Healthy: an input is acknowledged only once its result is confirmed by RabbitMQ, so
a worker killed at any moment leaves its unacknowledged inputs to be delivered again
(at least once: some results may come out twice, none is lost).

Planted defect `ack-before-process` (also PIPELINE_DEFECT=ack-before-process): each
input is acknowledged the moment it arrives and only then batched and processed. A
worker killed in between loses its batch: RabbitMQ has forgotten those events and no
result ever comes out. The game day's `events.lost == 0` catches it.

A lost connection ends the worker (exit 1); whoever runs it starts it again
(examples/own-pipeline/pipeline.py does, after a second).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

import pika.exceptions
from topology import INGEST_QUEUE, PERSISTENT, RESULTS_EXCHANGE, connect

BATCH_S = 0.5
WORK_S = 0.02
DEFECTS = ("ack-before-process",)


def score(event_id: str) -> float:
    time.sleep(WORK_S)
    return int(hashlib.sha256(event_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


class Worker:
    def __init__(self, url: str, defect: str | None) -> None:
        self.channel = connect(url)
        self.ack_first = defect == "ack-before-process"
        self.batch: list[tuple[int, bytes]] = []
        self.batch_started = 0.0
        self.channel.basic_qos(prefetch_count=500)
        self.channel.basic_consume(INGEST_QUEUE, self.on_message)

    def on_message(self, channel, method, properties, body: bytes) -> None:
        if self.ack_first:
            channel.basic_ack(method.delivery_tag)  # the defect: RabbitMQ forgets it before it is done
        if not self.batch:
            self.batch_started = time.monotonic()
        self.batch.append((method.delivery_tag, body))

    def run_forever(self) -> None:
        while True:
            self.channel.connection.process_data_events(time_limit=0.05)
            if self.batch and time.monotonic() - self.batch_started >= BATCH_S:
                self.process(self.batch)
                self.batch = []

    def process(self, batch: list[tuple[int, bytes]]) -> None:
        for _, body in batch:
            event = json.loads(body)
            result = {"event_id": event["event_id"], "score": score(event["event_id"]), "processed_at": time.time()}
            # confirm_delivery: returns once RabbitMQ has the result
            self.channel.basic_publish(RESULTS_EXCHANGE, "", json.dumps(result).encode(), PERSISTENT)
        if not self.ack_first:
            self.channel.basic_ack(batch[-1][0], multiple=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--defect", choices=DEFECTS, default=os.environ.get("PIPELINE_DEFECT") or None)
    args = parser.parse_args(argv)
    try:
        worker = Worker(args.amqp, args.defect)
        print(
            f"worker: {INGEST_QUEUE} -> {RESULTS_EXCHANGE}" + (f" (defect: {args.defect})" if args.defect else ""),
            file=sys.stderr,
            flush=True,
        )
        worker.run_forever()
    except pika.exceptions.AMQPError as exc:
        print(f"worker: lost RabbitMQ ({exc!r}); exiting", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
