"""The gateway's Prometheus metrics, in a registry of their own (so tests can build many gateways)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from stack.gateway.breaker import STATES

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    """Counters, gauges and histograms; `render` refreshes the gauges that are read on scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("gateway_requests", "HTTP requests by route and status", ["route", "method", "status"], registry=r)
        self.latency = Histogram("gateway_request_duration_seconds", "HTTP request latency by route",
                                 ["route", "method"], buckets=LATENCY_BUCKETS, registry=r)
        self.breaker_state = Gauge("gateway_breaker_state", "Circuit breaker state per replica: 0 closed, 1 half_open, 2 open",
                                   ["replica"], registry=r)
        self.cache_hits = Counter("gateway_cache_hits", "Score cache hits", registry=r)
        self.cache_misses = Counter("gateway_cache_misses", "Score cache misses", registry=r)
        self.inflight = Gauge("gateway_inflight_requests", "Score requests being handled now", registry=r)
        self.rate_limited = Counter("gateway_rate_limited", "Requests refused with 429", registry=r)
        self.shed = Counter("gateway_shed", "Score requests shed with 503 because too many were in flight", registry=r)
        self.retries = Counter("gateway_retries", "Replica calls retried on another replica", registry=r)

    def render(self, breaker_states: dict[str, str]) -> bytes:
        """The exposition text, with breaker gauges set from `breaker_states` (replica -> state)."""
        for replica, state in breaker_states.items():
            self.breaker_state.labels(replica=replica).set(STATES.index(state))
        return generate_latest(self.registry)
