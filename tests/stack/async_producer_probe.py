"""Runs stack.kafka.AsyncProducer in a clean child process and prints the outcome as JSON.

pytest's conftest imports locust, whose gevent monkey-patching turns threads
into greenlets; AsyncProducer's poll thread blocks in C and would starve the
event loop there. Production code (the gateway) never imports locust, so the
tests drive the producer from this child instead.

    python async_producer_probe.py BOOTSTRAP MODE
    MODE: offsets | latency | unreachable
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from stack import kafka
from stack.config import TOPIC_IN


async def offsets(bootstrap: str) -> dict:
    producer = kafka.AsyncProducer(bootstrap)
    try:
        results = [await producer.send(TOPIC_IN, b"same-key", b"v%d" % i) for i in range(3)]
    finally:
        left = await producer.close()
    return {"results": results, "left": left}


async def latency(bootstrap: str) -> dict:
    producer = kafka.AsyncProducer(bootstrap)
    await producer.send(TOPIC_IN, b"k", b"warm-up")
    rounds = []
    for _ in range(3):  # a batching delay slows every round; a busy machine rarely all three
        start = time.monotonic()
        await asyncio.gather(*(producer.send(TOPIC_IN, b"k", b"v") for _ in range(100)))
        rounds.append(time.monotonic() - start)
    await producer.close()
    return {"elapsed": min(rounds), "rounds": rounds}


async def unreachable(bootstrap: str) -> dict:
    producer = kafka.AsyncProducer(bootstrap, extra={"message.timeout.ms": 500})
    start = time.monotonic()
    try:
        await producer.send(TOPIC_IN, b"k", b"v")
        return {"error": None}
    except kafka.DeliveryError as exc:
        return {"error": str(exc), "code": exc.code, "elapsed": time.monotonic() - start}
    finally:
        await producer.close(timeout=0)


if __name__ == "__main__":
    bootstrap, mode = sys.argv[1], sys.argv[2]
    print(json.dumps(asyncio.run(globals()[mode](bootstrap))))
