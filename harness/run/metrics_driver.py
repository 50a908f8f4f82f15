"""The game day's metrics sources during a run (the `metrics:` block).

A `scrape` source gets a Scraper thread (harness.metrics.scrape) from just after the
target is up until just before it goes down, so the baseline, the fault and the
recovery are all covered. A `prometheus` source is asked when the run ends: every
expression its SLOs and charts name, as a range query over the run's span
(harness.metrics.promql). Both write metrics/<source>.jsonl in the run directory.

Failing to read metrics never fails the run: a scrape that fails is recorded as such,
a refused query too, and the SLIs on them are no-data (which fails their verdicts).
"""

from __future__ import annotations

import time
from pathlib import Path

from harness.metrics.promql import fetch
from harness.metrics.scrape import Scraper
from harness.metrics.store import PROMETHEUS, source_path
from harness.spec import catalogue
from harness.spec.models import GameDay, MetricSource


def expressions(gameday: GameDay, source: MetricSource) -> list[str]:
    """What the game day reads from `source`: its SLOs' metric expressions, then its charts."""
    only = len(gameday.metrics) == 1
    found = [
        catalogue.metric_expression(slo.sli)
        for slo in gameday.slos
        if slo.is_metric and (slo.source == source.name or (slo.source is None and only))
    ]
    return list(dict.fromkeys([*found, *source.chart]))


class MetricsDriver:
    """Scrapers for the scrape sources; PromQL fetches for the prometheus sources at `stop`."""

    def __init__(self, gameday: GameDay, run_dir: Path, urls: dict[str, str]) -> None:
        self.gameday, self.run_dir, self.urls = gameday, run_dir, urls
        self.scrapers: dict[str, Scraper] = {}
        self.started = 0.0

    def start(self) -> None:
        self.started = time.time()
        for source in self.gameday.metrics:
            if source.kind != PROMETHEUS:
                scraper = Scraper(self.urls[source.name], source_path(self.run_dir, source.name), source.interval)
                scraper.start()
                self.scrapers[source.name] = scraper

    def stop(self) -> dict[str, object]:
        """Stop the scrapers, run the range queries; what happened, for the timeline."""
        done: dict[str, object] = {}
        for name, scraper in self.scrapers.items():
            scraper.stop()
            done[name] = {"scrapes": scraper.scrapes, "failed": scraper.failures, "last_error": scraper.last_error}
        end = time.time()
        for source in self.gameday.metrics:
            if source.kind == PROMETHEUS:
                errors = fetch(
                    self.urls[source.name],
                    expressions(self.gameday, source),
                    self.started,
                    end,
                    source.interval,
                    source_path(self.run_dir, source.name),
                )
                done[source.name] = {"queries": len(expressions(self.gameday, source)), "errors": errors}
        return done

    def describe(self) -> str:
        return ", ".join(f"{name} {url}" for name, url in self.urls.items())
