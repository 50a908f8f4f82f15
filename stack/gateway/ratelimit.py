"""Per-client token buckets: `rps` tokens per second refill a bucket of `burst` tokens.

A request takes one token. With none left it is refused, and the caller learns
how long until the next token, which becomes the 429's Retry-After.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypedDict

Clock = Callable[[], float]

# Clients are keyed by header or peer IP, so the table is bounded: the least
# recently seen client's bucket is dropped first (it would be full by now anyway).
MAX_CLIENTS = 10_000


class RateLimitSettings(TypedDict):
    rps: float
    burst: float


class TokenBucket:
    """One client's bucket; starts full."""

    def __init__(self, burst: float, now: float) -> None:
        self.tokens = burst
        self.updated = now

    def take(self, rps: float, burst: float, now: float) -> float:
        """Take a token: 0.0 if granted, else seconds until one will be available."""
        self.tokens = min(burst, self.tokens + (now - self.updated) * rps)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / rps if rps > 0 else math.inf


class RateLimiter:
    """Token buckets for every client, sharing one `rps`/`burst` setting that can change at run time."""

    def __init__(
        self, rps: float, burst: float, *, clock: Clock = time.monotonic, max_clients: int = MAX_CLIENTS
    ) -> None:
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self.configure(rps, burst)

    def configure(self, rps: float, burst: float) -> None:
        """Set new limits (existing buckets keep their tokens, capped at the new burst).

        Raises ValueError unless rps >= 0 and burst >= 1.
        """
        if isinstance(rps, bool) or not isinstance(rps, (int, float)) or not 0 <= rps < math.inf:
            raise ValueError(f"rps must be a number >= 0, got {rps!r}")
        if isinstance(burst, bool) or not isinstance(burst, (int, float)) or not 1 <= burst < math.inf:
            raise ValueError(f"burst must be a number >= 1, got {burst!r}")
        self.rps, self.burst = float(rps), float(burst)

    @property
    def settings(self) -> RateLimitSettings:
        return RateLimitSettings(rps=self.rps, burst=self.burst)

    def check(self, client: str) -> float:
        """Spend one of `client`'s tokens: 0.0 if the request may go on, else seconds to wait."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = TokenBucket(self.burst, now)
            if len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
        return bucket.take(self.rps, self.burst, now)


def retry_after_header(wait_s: float) -> str:
    """Retry-After as whole seconds, at least 1 (HTTP allows no fractions)."""
    if not math.isfinite(wait_s):
        return "60"
    return str(max(1, math.ceil(wait_s)))
