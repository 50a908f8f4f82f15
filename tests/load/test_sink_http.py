"""The HTTP sink reader against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from support import free_port

from harness.load.sinks import SinkConfigError
from harness.load.sinks.http import HttpSource


def serve(answers: list):
    """A server answering successive GETs with `answers` (then []); records each query string."""
    queries: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            queries.append(parse_qs(urlsplit(self.path).query))
            body = json.dumps(answers.pop(0) if answers else []).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, queries


@pytest.fixture
def server_factory():
    servers = []

    def start(answers):
        server, queries = serve(list(answers))
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/out", queries

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_reads_a_plain_list_of_ids(server_factory):
    url, _ = server_factory([["a", "b"]])
    source = HttpSource(url, interval=0.0)
    assert [event_id for event_id, _ in source.poll(1.0)] == ["a", "b"]


def test_keeps_the_seen_time_the_service_reports(server_factory):
    url, _ = server_factory([{"ids": [{"id": "a", "ts": 123.5}, "b"]}])
    seen = HttpSource(url, interval=0.0).poll(1.0)
    assert seen[0] == ("a", 123.5)
    assert seen[1][0] == "b" and seen[1][1] > 1e9


def test_sends_the_cursor_back_on_the_next_poll(server_factory):
    url, queries = server_factory([{"ids": ["a"], "next": "c-1"}, {"ids": ["b"], "next": "c-2"}])
    source = HttpSource(url, interval=0.0)
    source.poll(1.0)
    source.poll(1.0)
    assert queries == [{}, {"cursor": ["c-1"]}]


def test_waits_the_interval_between_polls(server_factory):
    url, queries = server_factory([["a"], ["b"]])
    source = HttpSource(url, interval=5.0)
    source.poll(0.05)
    assert source.poll(0.05) == []
    assert len(queries) == 1


def test_a_failed_poll_is_counted_and_not_raised():
    source = HttpSource(f"http://127.0.0.1:{free_port()}/out", interval=0.0, request_timeout=1.0)
    assert source.poll(0.1) == []
    assert source.failures == 1


def test_an_answer_of_the_wrong_shape_is_a_failed_poll(server_factory):
    url, _ = server_factory([{"ids": "a,b"}])
    source = HttpSource(url, interval=0.0)
    assert source.poll(1.0) == []
    assert source.failures == 1


def test_rejects_a_url_that_is_not_http():
    with pytest.raises(SinkConfigError, match="must start with http"):
        HttpSource("ftp://127.0.0.1/out")
