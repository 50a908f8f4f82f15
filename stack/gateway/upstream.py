"""The model replicas behind the gateway: the pool, the choice of replica, and the call.

A score request goes to one replica picked round robin among those of the
chosen version whose breaker allows traffic (the other version if none does).
Each call is bounded by `timeout_s`. A failed call (timeout, connection error,
5xx, a body that is not a score) counts against that replica's breaker and,
unless retries are off, is retried once on a *different* replica.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypedDict

import aiohttp

from stack.config import StackConfig
from stack.errors import StackError
from stack.gateway.breaker import CircuitBreaker
from stack.gateway.split import CANARY, STABLE, Split


@dataclass(frozen=True)
class Replica:
    """One model replica as the gateway reaches it (through its proxy hop)."""

    name: str
    index: int
    version: str
    url: str


class LastError(TypedDict):
    message: str
    at: float  # UTC epoch seconds


class UpstreamError(StackError):
    """No replica produced a score; `status` is the HTTP status the gateway answers with."""

    status = 502


class NoReplicaAvailable(UpstreamError):
    status = 503


class AllReplicasFailed(UpstreamError):
    status = 502


class ReplicaCallError(StackError):
    """One call to one replica failed. `counts` is False for answers that say nothing about its health (4xx)."""

    def __init__(self, message: str, counts: bool = True) -> None:
        super().__init__(message)
        self.counts = counts


def replicas_from_config(config: StackConfig) -> list[Replica]:
    """Every replica of the stack, addressed through its gateway-replica-i proxy hop."""
    return [
        Replica(name, i, config.replica_version(i), config.url(f"replica_{i}"))
        for i, name in enumerate(config.replica_names, start=1)
    ]


class ReplicaPool:
    """Replicas with their breakers, last errors and a round-robin turn per version."""

    def __init__(self, replicas: Iterable[Replica], make_breaker: Callable[[], CircuitBreaker]) -> None:
        self.replicas = list(replicas)
        self.by_name = {r.name: r for r in self.replicas}
        self.breakers = {r.name: make_breaker() for r in self.replicas}
        self.last_error: dict[str, LastError | None] = {r.name: None for r in self.replicas}
        self._turn = {STABLE: itertools.count(), CANARY: itertools.count()}

    def of_version(self, version: str) -> list[Replica]:
        return [r for r in self.replicas if r.version == version]

    def pick(self, version: str, exclude: Iterable[str] = ()) -> Replica | None:
        """The next replica of `version` whose breaker allows a request, else one of the other version."""
        excluded = set(exclude)
        for candidate_version in (version, Split.other(version)):
            replica = self._pick_from(candidate_version, excluded)
            if replica is not None:
                return replica
        return None

    def _pick_from(self, version: str, excluded: set[str]) -> Replica | None:
        candidates = [r for r in self.of_version(version) if r.name not in excluded]
        if not candidates:
            return None
        start = next(self._turn[version])
        for offset in range(len(candidates)):
            replica = candidates[(start + offset) % len(candidates)]
            if self.breakers[replica.name].allow():
                return replica
        return None

    def record_success(self, replica: Replica) -> None:
        self.breakers[replica.name].record_success()

    def record_failure(self, replica: Replica, message: str) -> None:
        self.breakers[replica.name].record_failure()
        self.last_error[replica.name] = LastError(message=message, at=round(time.time(), 3))

    def any_allowed(self) -> bool:
        """True if at least one breaker is not open (healthz)."""
        return any(b.state != "open" for b in self.breakers.values())


@dataclass(frozen=True)
class Scored:
    """A replica's score response and who produced it; `attempts` is 1, or 2 after a retry."""

    body: dict
    replica: Replica
    attempts: int


class Upstream:
    """Calls replicas for scores with timeout, breaker bookkeeping and at most one retry."""

    def __init__(
        self,
        pool: ReplicaPool,
        session: aiohttp.ClientSession,
        timeout_s: float,
        *,
        retry: bool = True,
        on_retry: Callable[[], None] = lambda: None,
    ) -> None:
        self.pool = pool
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retry = retry
        self.on_retry = on_retry

    async def score(self, features: list[float], version: str) -> Scored:
        """A score from a replica of `version` (or the other version if none is available).

        Raises NoReplicaAvailable if no breaker allows a request, AllReplicasFailed
        if every attempt failed; both carry a message naming the replicas and errors.
        """
        tried: list[str] = []
        errors: list[str] = []
        for _ in range(2 if self.retry else 1):
            replica = self.pool.pick(version, exclude=tried)
            if replica is None:
                break
            if tried:
                self.on_retry()
            tried.append(replica.name)
            try:
                body = await self._call(replica, features)
            except ReplicaCallError as exc:
                errors.append(f"{replica.name}: {exc}")
                if not exc.counts:
                    break
                self.pool.record_failure(replica, str(exc))
                continue
            self.pool.record_success(replica)
            return Scored(body, replica, len(tried))
        raise _failure(tried, errors)

    async def _call(self, replica: Replica, features: list[float]) -> dict:
        try:
            async with self.session.post(
                f"{replica.url}/score", json={"features": features}, timeout=self.timeout
            ) as resp:
                if resp.status >= 500:
                    raise ReplicaCallError(f"HTTP {resp.status}")
                if resp.status != 200:
                    raise ReplicaCallError(f"HTTP {resp.status}: {(await resp.text())[:200]}", counts=False)
                body = await resp.json(content_type=None)
        except TimeoutError:
            raise ReplicaCallError(f"no answer within {self.timeout.total}s") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise ReplicaCallError(f"{type(exc).__name__}: {exc}") from None
        if not isinstance(body, dict) or "score" not in body:
            raise ReplicaCallError(f"answer is not a score: {str(body)[:200]}")
        return body


def _failure(tried: list[str], errors: list[str]) -> UpstreamError:
    if not tried:
        return NoReplicaAvailable("no replica is available: every circuit breaker is open")
    return AllReplicasFailed(f"all {len(tried)} replica attempt(s) failed: {'; '.join(errors)}")
