"""The ingest service: `POST /events` with `{"event_id": ...}` puts the event on RabbitMQ's `ingest` queue.

    python examples/own-pipeline/ingest.py --port 8000 --amqp amqp://guest:guest@127.0.0.1:5672/%2F

Answers 202 `{"event_id": ...}` once RabbitMQ has confirmed the persistent message,
503 when it cannot (the broker is down or unreachable; the next request reconnects),
400 for a body without a string `event_id`. `GET /health` answers 200.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pika.exceptions
from topology import INGEST_QUEUE, PERSISTENT, connect


class Publisher:
    """One confirmed channel shared by the request threads (pika's channels are not thread-safe: a lock)."""

    def __init__(self, url: str) -> None:
        self.url, self.lock, self.channel = url, threading.Lock(), None

    def publish(self, body: bytes) -> None:
        with self.lock:
            try:
                if self.channel is None or self.channel.is_closed:
                    self.channel = connect(self.url)
                self.channel.basic_publish("", INGEST_QUEUE, body, PERSISTENT, mandatory=True)
            except pika.exceptions.AMQPError:
                self.channel = None
                raise


def handler(publisher: Publisher) -> type[BaseHTTPRequestHandler]:
    class Ingest(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.answer(200, {"ok": True}) if self.path == "/health" else self.answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path != "/events":
                return self.answer(404, {"error": "not found"})
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                event_id = json.loads(body)["event_id"]
                assert isinstance(event_id, str) and event_id
            except (ValueError, KeyError, TypeError, AssertionError):
                return self.answer(400, {"error": "expected a JSON object with a string event_id"})
            try:
                publisher.publish(body)
            except pika.exceptions.AMQPError as exc:
                return self.answer(503, {"error": f"the queue is unavailable: {exc!r}"})
            self.answer(202, {"event_id": event_id})

        def answer(self, status: int, doc: dict) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass  # one line per request would be most of the log

    return Ingest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), handler(Publisher(args.amqp)))
    server.daemon_threads = True
    print(f"ingest: http://{args.host}:{args.port}/events -> {INGEST_QUEUE}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
