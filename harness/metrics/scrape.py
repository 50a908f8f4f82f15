"""Scraping Prometheus text from the target while a game day runs.

    scrape(url, timeout) -> list[[name, labels, value]]     one GET, parsed by prometheus_client
    Scraper(url, path, interval).start() / .stop()          a thread scraping on a fixed grid

The text is parsed with `prometheus_client.parser.text_string_to_metric_families`
(never a parser of our own); a counter's samples keep their exposed names
(`gateway_rate_limited_total`, `..._created`), which is what selectors match.

A Scraper runs on the orchestrator's side as a plain thread. It scrapes at start +
k x interval; a scrape that takes longer skips the ticks it overran rather than
bunching up. Each answer, or the reason there was none, is one line of
metrics/<source>.jsonl (harness.metrics.store), appended through JsonlAppender, so a
full disk or a crash never tears the file. The timeout is the interval (at most
5 s): a frozen endpoint costs gaps, never a backlog.
"""

from __future__ import annotations

import math
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from harness.files import JsonlAppender

MAX_BYTES = 8 * 1024 * 1024  # a bigger answer is not a metrics page this harness can keep each second
ACCEPT = "text/plain;version=0.0.4"


def scrape(url: str, timeout: float) -> list[list[Any]]:
    """The samples at `url` as [name, labels, value] (NaN as None); raises OSError or ValueError."""
    request = urllib.request.Request(url, headers={"Accept": ACCEPT, "User-Agent": "gameday"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise ValueError(f"the answer is over {MAX_BYTES // (1024 * 1024)} MiB")
    return [
        [s.name, dict(s.labels), None if math.isnan(s.value) else s.value]
        for family in text_string_to_metric_families(body.decode("utf-8", errors="replace"))
        for s in family.samples
    ]


class Scraper:
    """Scrapes `url` every `interval` seconds into `path` until stopped."""

    def __init__(self, url: str, path: Path, interval: float) -> None:
        self.url, self.interval = url, interval
        path.parent.mkdir(parents=True, exist_ok=True)
        self.appender = JsonlAppender(path)
        self.scrapes = self.failures = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gameday-scrape {url}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the scrape in flight (if any), and close the file."""
        self._stop.set()
        self._thread.join(timeout)
        self.appender.close()

    def _run(self) -> None:
        start = time.monotonic()
        tick = 0
        while not self._stop.is_set():
            self.scrape_once()
            tick = max(tick + 1, math.ceil((time.monotonic() - start) / self.interval))
            self._stop.wait(max(0.0, start + tick * self.interval - time.monotonic()))

    def scrape_once(self) -> None:
        """One scrape, recorded as a line (samples or the error)."""
        began = round(time.time(), 3)  # as Prometheus does: a scrape's samples are of when it began
        try:
            row: dict[str, Any] = {"ts": began, "samples": scrape(self.url, timeout=min(self.interval, 5.0))}
        except (OSError, ValueError, IndexError, KeyError, TypeError) as exc:  # refused, timed out, not metrics text
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            row = {"ts": began, "error": self.last_error}
        self.scrapes += 1
        self.appender.append([row])
