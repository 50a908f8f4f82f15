"""A user's ingest endpoint for the record_event tests, with the pipeline's output on any of gameday's sinks.

    python tests/e2e/ingest_server.py PORT --out http|file|kafka|amqp [--file F] [--bootstrap B --topic T]
                                      [--amqp URL --exchange X] [--drop-every N] [--acked F]

`POST /events` `{"event_id": ...}` puts the id out and then answers 202:
    http    kept in memory; `GET /out?cursor=N` answers {"ids": [...], "next": M} (the http sink's contract)
    file    one line per id appended to --file (a callable sink tails it)
    kafka   a JSON message {"event_id": ...} on --topic, flushed before the answer
    amqp    a persistent JSON message on the fanout --exchange, confirmed before the answer
`--drop-every N` acknowledges every Nth event without putting it out (a pipeline that loses
events). `--acked F` appends every acknowledged id to F (what the client was told).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web


def output(args):
    """A blocking function id -> None that puts the id out (run on one thread: pika and files need it)."""
    if args.out == "http":
        return None
    if args.out == "file":
        handle = open(args.file, "a", buffering=1)
        return lambda event_id: handle.write(event_id + "\n")
    if args.out == "kafka":
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 0})

        def to_kafka(event_id: str) -> None:
            producer.produce(args.topic, json.dumps({"event_id": event_id}).encode())
            assert producer.flush(10) == 0

        return to_kafka
    import pika

    channel = pika.BlockingConnection(pika.URLParameters(args.amqp)).channel()
    channel.confirm_delivery()
    channel.exchange_declare(args.exchange, "fanout", durable=True)
    return lambda event_id: channel.basic_publish(
        args.exchange, "", json.dumps({"event_id": event_id}).encode(), pika.BasicProperties(delivery_mode=2)
    )


def make_app(args) -> web.Application:
    out_ids: list[str] = []
    one_thread = ThreadPoolExecutor(1)
    put_out = output(args) if args.out != "http" else out_ids.append
    acked = open(args.acked, "a", buffering=1) if args.acked else None
    count = {"n": 0}

    async def events(request: web.Request) -> web.Response:
        event_id = (await request.json())["event_id"]
        count["n"] += 1
        if not (args.drop_every and count["n"] % args.drop_every == 0):
            await asyncio.get_running_loop().run_in_executor(one_thread, put_out, event_id)
        if acked:
            acked.write(event_id + "\n")
        return web.json_response({"event_id": event_id}, status=202)

    async def out(request: web.Request) -> web.Response:
        cursor = int(request.query.get("cursor", 0))
        return web.json_response({"ids": out_ids[cursor:], "next": len(out_ids)})

    async def root(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/events", events)
    app.router.add_get("/out", out)
    app.router.add_get("/", root)
    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--out", required=True, choices=("http", "file", "kafka", "amqp"))
    p.add_argument("--file")
    p.add_argument("--bootstrap")
    p.add_argument("--topic", default="events-out")
    p.add_argument("--amqp")
    p.add_argument("--exchange", default="out")
    p.add_argument("--drop-every", type=int, default=0)
    p.add_argument("--acked")
    args = p.parse_args()
    web.run_app(make_app(args), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
