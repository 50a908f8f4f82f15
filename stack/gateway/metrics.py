"""The gateway's Prometheus metrics, in a registry of their own (so tests can build many gateways).

What the seed watches its platform by, beside the per-route request counts and latencies:

    gateway_breaker_state{replica}          0 closed, 1 half_open, 2 open
    gateway_cache_hit_ratio                 hits / lookups over the last WINDOW_S (NaN: no lookups)
    gateway_rate_limited_total              requests refused with 429
    gateway_canary_weight                   share of uncached score requests sent to the canary
    gateway_model_checked_total{version}    replica answers the gateway re-scored (version: stable | canary)
    gateway_model_correct_total{version}    ... whose score was the model's own
    gateway_model_accuracy{version}         correct / checked over the last WINDOW_S (NaN: none checked)

Ratios are over a sliding window, not since start: a cache flushed or a canary gone
wrong a minute ago must move the gauge now, not be averaged into an hour of history.
The counters are there too, for a Prometheus that computes its own rates.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from stack.gateway.breaker import STATES

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WINDOW_S = 10


class WindowedRatio:
    """hits / total over the last `window_s` whole seconds (and the current one), from per-second buckets."""

    def __init__(self, window_s: int = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._buckets: deque[list[int]] = deque()  # [second, hits, total]

    def add(self, hit: bool) -> None:
        second = int(self._clock())
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1 if hit else 0
        bucket[2] += 1
        self._expire(second)

    def ratio(self) -> float:
        """The share of hits in the window; NaN when nothing was added in it."""
        self._expire(int(self._clock()))
        total = sum(b[2] for b in self._buckets)
        return sum(b[1] for b in self._buckets) / total if total else math.nan

    def _expire(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] < second - self.window_s:
            self._buckets.popleft()


class GatewayMetrics:
    """Counters, gauges and histograms; `render` refreshes the gauges that are read on scrape."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "gateway_requests", "HTTP requests by route and status", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "gateway_request_duration_seconds",
            "HTTP request latency by route",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.breaker_state = Gauge(
            "gateway_breaker_state",
            "Circuit breaker state per replica: 0 closed, 1 half_open, 2 open",
            ["replica"],
            registry=r,
        )
        self.cache_hits = Counter("gateway_cache_hits", "Score cache hits", registry=r)
        self.cache_misses = Counter("gateway_cache_misses", "Score cache misses", registry=r)
        self.cache_hit_ratio = Gauge(
            "gateway_cache_hit_ratio", f"Score cache hits / lookups over the last {WINDOW_S} s", registry=r
        )
        self.inflight = Gauge("gateway_inflight_requests", "Score requests being handled now", registry=r)
        self.rate_limited = Counter("gateway_rate_limited", "Requests refused with 429", registry=r)
        self.shed = Counter("gateway_shed", "Score requests shed with 503 because too many were in flight", registry=r)
        self.retries = Counter("gateway_retries", "Replica calls retried on another replica", registry=r)
        self.canary_weight = Gauge(
            "gateway_canary_weight", "Share of uncached score requests sent to the canary", registry=r
        )
        self.model_checked = Counter(
            "gateway_model_checked", "Replica answers re-scored by the gateway", ["version"], registry=r
        )
        self.model_correct = Counter(
            "gateway_model_correct", "Re-scored answers that were the model's own score", ["version"], registry=r
        )
        self.model_accuracy = Gauge(
            "gateway_model_accuracy",
            f"Correct / checked replica answers over the last {WINDOW_S} s",
            ["version"],
            registry=r,
        )
        self._clock = clock
        self._cache = WindowedRatio(clock=clock)
        self._accuracy: dict[str, WindowedRatio] = {}

    def cache_lookup(self, hit: bool) -> None:
        (self.cache_hits if hit else self.cache_misses).inc()
        self._cache.add(hit)

    def model_check(self, version: str, correct: bool) -> None:
        """Count one re-scored replica answer of `version` (stable | canary)."""
        self.model_checked.labels(version=version).inc()
        if correct:
            self.model_correct.labels(version=version).inc()
        self._accuracy.setdefault(version, WindowedRatio(clock=self._clock)).add(correct)

    def render(self, breaker_states: dict[str, str], canary_weight: float) -> bytes:
        """The exposition text, with the gauges read on scrape set first."""
        for replica, state in breaker_states.items():
            self.breaker_state.labels(replica=replica).set(STATES.index(state))
        self.canary_weight.set(canary_weight)
        self.cache_hit_ratio.set(self._cache.ratio())
        for version, ratio in self._accuracy.items():
            self.model_accuracy.labels(version=version).set(ratio.ratio())
        return generate_latest(self.registry)
