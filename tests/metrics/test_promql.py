"""The PromQL source against a real Prometheus server scraping a real exporter over HTTP."""

from __future__ import annotations

import json
import time

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_support import Prometheus
from support import free_port

from harness.metrics.promql import QueryError, fetch, query_range
from harness.metrics.store import PROMETHEUS, series


@pytest.fixture
def exporter():
    """An exporter on a free port: a gauge per partition and a counter, set by the test."""
    registry = CollectorRegistry()
    lag = Gauge("queue_lag", "messages waiting", ["partition"], registry=registry)
    handled = Counter("handled", "messages handled", registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield port, lag, handled
    server.shutdown()
    thread.join(5)


@pytest.fixture
def prometheus(tmp_path, exporter):
    server = Prometheus(tmp_path, [f"127.0.0.1:{exporter[0]}"])
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_range_queries_are_kept_in_the_run_directory_and_read_back_as_series(prometheus, exporter, tmp_path):
    _, lag, handled = exporter
    lag.labels(partition="0").set(30)
    lag.labels(partition="1").set(12)
    handled.inc(5)
    start = time.time()
    prometheus.wait_for_samples('queue_lag{partition="1"}', 4)
    end = time.time()
    path = tmp_path / "run" / "metrics" / "prom.jsonl"
    errors = fetch(
        prometheus.url,
        ["queue_lag", 'queue_lag{partition="0"}', "sum(rate(handled_total[5s]))"],
        start - 5,
        end,
        1.0,
        path,
    )
    assert errors == []
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["expr"] for line in lines] == ["queue_lag", 'queue_lag{partition="0"}', "sum(rate(handled_total[5s]))"]
    both = series(tmp_path / "run", "prom", PROMETHEUS, "queue_lag")
    assert len(both.ts) >= 3 and set(both.values) == {42.0}  # the two partitions added up
    one = series(tmp_path / "run", "prom", PROMETHEUS, 'queue_lag{partition="0"}')
    assert set(one.values) == {30.0}


def test_a_refused_expression_is_recorded_with_prometheus_own_reason(prometheus, tmp_path):
    path = tmp_path / "metrics" / "prom.jsonl"
    errors = fetch(prometheus.url, ["sum(rate(handled_total[5s])"], time.time() - 30, time.time(), 1.0, path)
    assert len(errors) == 1 and "parse error" in errors[0]
    found = series(tmp_path, "prom", PROMETHEUS, "sum(rate(handled_total[5s])")
    assert found.empty and found.errors == 1 and "parse error" in found.note


def test_an_unreachable_server_is_a_query_error_saying_why():
    with pytest.raises(QueryError, match="Connection refused|URLError|timed out"):
        query_range(f"http://127.0.0.1:{free_port()}", "up", 0, 10, 1.0, timeout=5)
