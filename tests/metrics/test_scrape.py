"""Scraping Prometheus text over real HTTP into metrics/<source>.jsonl, and reading series back."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from support import free_port

from harness.metrics.scrape import Scraper, scrape
from harness.metrics.store import SCRAPE, series


@pytest.fixture
def exporter():
    registry = CollectorRegistry()
    lag = Gauge("scorer_consumer_lag", "lag", ["partition"], registry=registry)
    ratio = Gauge("hit_ratio", "ratio", registry=registry)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield f"http://127.0.0.1:{port}/metrics", lag, ratio
    server.shutdown()
    thread.join(5)


def _wait(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_scrape_parses_every_sample_with_its_labels_and_nan_as_none(exporter):
    url, lag, ratio = exporter
    lag.labels(partition="0").set(3)
    ratio.set(float("nan"))
    samples = {(name, tuple(sorted(labels.items()))): value for name, labels, value in scrape(url, 5)}
    assert samples[("scorer_consumer_lag", (("partition", "0"),))] == 3.0
    assert samples[("hit_ratio", ())] is None


def test_the_scraper_writes_one_line_per_scrape_and_a_failed_scrape_says_why(exporter, tmp_path):
    url, lag, _ = exporter
    lag.labels(partition="0").set(5)
    lag.labels(partition="1").set(7)
    path = tmp_path / "metrics" / "stack.jsonl"
    good, refused = (
        Scraper(url, path, 0.2),
        Scraper(f"http://127.0.0.1:{free_port()}/metrics", tmp_path / "metrics" / "gone.jsonl", 0.2),
    )
    for scraper in (good, refused):
        scraper.start()
    try:
        _wait(lambda: good.scrapes >= 3 and refused.scrapes >= 3)
    finally:
        good.stop()
        refused.stop()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == good.scrapes and all("samples" in row for row in rows)
    found = series(tmp_path, "stack", SCRAPE, "scorer_consumer_lag")
    assert set(found.values) == {12.0}  # partitions added up
    assert set(series(tmp_path, "stack", SCRAPE, 'scorer_consumer_lag{partition="1"}').values) == {7.0}
    gone = series(tmp_path, "gone", SCRAPE, "scorer_consumer_lag")
    assert gone.empty and gone.errors == gone.reads >= 3 and "failed" in gone.note
    assert "Connection refused" in refused.last_error


def test_a_page_that_is_not_metrics_text_is_a_failed_scrape(tmp_path):
    class Html(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html><body>login required</body></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scraper = Scraper(f"http://127.0.0.1:{server.server_port}/metrics", tmp_path / "metrics" / "web.jsonl", 1.0)
        scraper.scrape_once()
        scraper.appender.close()
    finally:
        server.shutdown()
    assert scraper.failures == 1 and scraper.last_error


def test_a_selector_that_matches_nothing_says_which_names_were_there(exporter, tmp_path):
    url, lag, _ = exporter
    lag.labels(partition="0").set(1)
    scraper = Scraper(url, tmp_path / "metrics" / "stack.jsonl", 1.0)
    scraper.scrape_once()
    scraper.appender.close()
    found = series(tmp_path, "stack", SCRAPE, "scorer_consumer_lagg")
    assert found.empty and "no sample matched" in found.note and "scorer_consumer_lag" in found.note
