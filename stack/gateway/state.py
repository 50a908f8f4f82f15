"""Everything one gateway process holds, built from its StackConfig."""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp
from aiohttp import web

from stack.config import StackConfig
from stack.gateway.breaker import CircuitBreaker
from stack.gateway.cache import LRUCache
from stack.gateway.events import EventPublisher
from stack.gateway.metrics import GatewayMetrics
from stack.gateway.ratelimit import RateLimiter
from stack.gateway.split import Split
from stack.gateway.upstream import ReplicaPool, Upstream, replicas_from_config


class Gateway:
    """The gateway's components. `upstream` exists only between `start()` and `close()`."""

    def __init__(self, config: StackConfig, clock: Callable[[], float] = time.monotonic) -> None:
        tuning = config.gateway
        self.config = config
        self.pool = ReplicaPool(
            replicas_from_config(config),
            lambda: CircuitBreaker(
                tuning.breaker_failures,
                tuning.breaker_cooldown_s,
                recovers=not config.has_defect("breaker-never-recovers"),
                clock=clock,
            ),
        )
        self.limiter = RateLimiter(tuning.rate_limit_rps, tuning.rate_limit_burst, clock=clock)
        self.cache: LRUCache[dict] = LRUCache(tuning.cache_size)
        self.split = Split(tuning.canary_weight)
        self.metrics = GatewayMetrics()
        self.max_inflight = None if config.has_defect("unbounded-queue") else tuning.max_inflight
        self.inflight = 0
        self.events = EventPublisher(f"{config.host}:{config.port('kafka_gateway')}")
        self.upstream: Upstream | None = None

    async def start(self) -> None:
        # No per-host connection cap: the in-flight limit is the gateway's bound,
        # and a connector queue would hide overload behind replica timeouts.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.upstream = Upstream(
            self.pool,
            session,
            self.config.gateway.replica_timeout_s,
            retry=not self.config.has_defect("no-retry"),
            on_retry=self.metrics.retries.inc,
        )
        await self.events.start()

    async def close(self) -> None:
        if self.upstream is not None:
            await self.upstream.session.close()
        await self.events.close()

    # ---- load shedding --------------------------------------------------
    def admit(self) -> bool:
        """Take an in-flight slot; False when the gateway is full and the request must be shed."""
        if self.max_inflight is not None and self.inflight >= self.max_inflight:
            return False
        self.inflight += 1
        self.metrics.inflight.set(self.inflight)
        return True

    def release(self) -> None:
        self.inflight -= 1
        self.metrics.inflight.set(self.inflight)

    def breaker_states(self) -> dict[str, str]:
        return {name: breaker.state for name, breaker in self.pool.breakers.items()}


GATEWAY = web.AppKey("gateway", Gateway)
