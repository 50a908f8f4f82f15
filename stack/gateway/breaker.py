"""A circuit breaker per replica.

    closed ──`failures` consecutive failures──▶ open ──`cooldown_s`──▶ half_open
      ▲                                          ▲                        │
      └──────────────── trial succeeds ──────────┼────────────────────────┤
                                                 └──── trial fails ───────┘

Half-open lets exactly one trial request through. With `recovers=False` (the
`breaker-never-recovers` defect) an open breaker stays open until an operator
resets it. An operator can also pin a state for `ttl` seconds (`force`); when
the pin expires the breaker starts over, closed with a clean count, so a chaos
action that forgot to undo itself leaves nothing behind.

Time comes from an injected monotonic `clock`, so tests need no sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypedDict

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = (CLOSED, HALF_OPEN, OPEN)  # index = value of the Prometheus gauge

Clock = Callable[[], float]


class BreakerSnapshot(TypedDict):
    """One breaker as `/admin/breakers` shows it; `opened_at` is UTC epoch seconds or null."""

    state: str
    consecutive_failures: int
    opened_at: float | None
    forced: str | None
    forced_until: float | None


class CircuitBreaker:
    """Decides whether a replica may get traffic, from the outcomes of earlier calls."""

    def __init__(
        self, failures: int, cooldown_s: float, *, recovers: bool = True, clock: Clock = time.monotonic
    ) -> None:
        self.failures_to_open = max(1, failures)
        self.cooldown_s = cooldown_s
        self.recovers = recovers
        self._clock = clock
        self._reset()

    def _reset(self) -> None:
        self._state = CLOSED
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_started: float | None = None
        self._forced: str | None = None
        self._forced_until: float | None = None

    # ---- reading -------------------------------------------------------
    @property
    def state(self) -> str:
        """closed, open or half_open, after applying any transition that time has caused."""
        self._advance()
        return self._forced or self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def _advance(self) -> None:
        now = self._clock()
        if self._forced and now >= self._forced_until:
            self._reset()
        elif self._state == OPEN and self.recovers and now - self._opened_at >= self.cooldown_s:
            self._state = HALF_OPEN
            self._trial_started = None

    # ---- deciding ------------------------------------------------------
    def allow(self) -> bool:
        """True if a request may go to this replica now. In half-open this claims the one trial."""
        state = self.state
        if state != HALF_OPEN:
            return state == CLOSED
        now = self._clock()
        # A trial whose outcome never arrived (its request was cancelled) must not
        # block the replica forever: after one cooldown another trial may go.
        if self._trial_started is not None and now - self._trial_started < self.cooldown_s:
            return False
        self._trial_started = now
        return True

    def record_success(self) -> None:
        """A call to the replica succeeded: close (from half-open) and clear the count."""
        # A late success from a request sent before the breaker opened proves
        # little; only a half-open trial (or normal closed traffic) closes it.
        if self.state == OPEN:
            return
        self._failures = 0
        if self._forced:
            return
        self._state = CLOSED
        self._opened_at = None
        self._trial_started = None

    def record_failure(self) -> None:
        """A call failed (timeout, connection error, 5xx): count it, and open if it is one too many."""
        self._failures += 1
        if self._forced:
            return
        state = self.state
        if state == HALF_OPEN or (state == CLOSED and self._failures >= self.failures_to_open):
            self._open()

    def _open(self) -> None:
        self._state = OPEN
        self._opened_at = self._clock()
        self._trial_started = None

    # ---- operating -----------------------------------------------------
    def force(self, state: str, ttl_s: float) -> None:
        """Pin `state` (open or closed) for `ttl_s` seconds, ignoring call outcomes meanwhile."""
        if state not in (OPEN, CLOSED):
            raise ValueError(f"a breaker can be forced 'open' or 'closed', not {state!r}")
        if not ttl_s > 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl_s!r}")
        self._reset()
        self._forced = state
        self._forced_until = self._clock() + ttl_s
        if state == OPEN:
            self._opened_at = self._clock()

    def reset(self) -> None:
        """Back to closed with no failures and no pinned state."""
        self._reset()

    def snapshot(self) -> BreakerSnapshot:
        state = self.state
        return BreakerSnapshot(
            state=state,
            consecutive_failures=self._failures,
            opened_at=self._to_epoch(self._opened_at) if state != CLOSED else None,
            forced=self._forced,
            forced_until=self._to_epoch(self._forced_until),
        )

    def _to_epoch(self, monotonic: float | None) -> float | None:
        if monotonic is None:
            return None
        return round(time.time() - (self._clock() - monotonic), 3)
