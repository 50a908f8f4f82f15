"""The open-model schedule: send times from a rate function, counted and handed out in order.

Slot math (pure): slot 0 is due at `start` (or the first moment the rate, times
this process's share, is positive). While the rate is constant, slots are
anchor + n/r; when it varies, the next slot is where the integral of the rate since
the previous slot reaches one arrival (10 ms midpoint steps), so a ramp offers
its integral and a spike starts on time.

`Schedule` hands out each slot once, in order (`take_due` only once it is due),
counts offered slots per second, and tells how late the oldest slot not yet
handed out already is (`backlog`). Slots are generated only as they are handed
out or counted, so a second's bookkeeping never walks slots ahead of the clock.
Keeping the schedule with Locust users is `harness.load.pool`.

Distributed runs: each worker process runs its own schedule at `share` = 1/N of the
rate (N = --processes, or the worker count the master broadcasts at test start).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

RateFunction = Callable[[float], float]

# Integration step for varying rates, and how far ahead to look for a positive rate.
_STEP_S = 0.01
_IDLE_STEP_S = 0.05
_HORIZON_S = 3600.0


def integrate_next(rate: Callable[[float], float], slot: float) -> float:
    """The time after `slot` at which one more arrival has accumulated (midpoint rule)."""
    t, need = slot, 1.0
    while t - slot < _HORIZON_S:
        r = rate(t + _STEP_S / 2)
        if r * _STEP_S >= need:
            return t + need / r
        need -= max(r, 0.0) * _STEP_S
        t += _STEP_S
    return t


def first_positive(rate_at: RateFunction, start: float, at: float, share: float = 1.0) -> float:
    """The first time >= `at` (in 50 ms steps) at which the rate is positive."""
    t = at
    while t - at < _HORIZON_S:
        if rate_at(t - start) * share > 0:
            return t
        t += _IDLE_STEP_S
    return t


def slot_times(rate_at: RateFunction, start: float, share: float = 1.0) -> Iterator[float]:
    """Every slot's due time (epoch seconds), in order, forever.

    While the rate stays constant, slot n of the segment is anchor + n / rate (no
    accumulated rounding, so 100 req/s gives exactly 100 slots per second); when it
    varies, the next slot is where the integral of the rate reaches one more arrival.
    """

    def rate(t: float) -> float:
        return rate_at(t - start) * share

    slot = first_positive(rate_at, start, start, share)
    anchor, anchor_rate, n = slot, rate(slot), 0
    r = anchor_rate
    while True:
        yield slot
        # The rate one gap ahead is the next slot's rate: one rate call per slot.
        ahead = rate(slot + 1.0 / r) if r > 0 else 0.0
        if r > 0 and r == anchor_rate and ahead == r:
            n += 1
            slot = anchor + n / r
        else:
            slot = integrate_next(rate, slot)
            anchor, anchor_rate, n = slot, rate(slot), 0
            ahead = anchor_rate
        r = ahead


class Schedule:
    """One process's open-model schedule: hands out slots once, in order, and counts offered load."""

    def __init__(self, rate_at: RateFunction, start: float, share: float = 1.0) -> None:
        self.rate_at = rate_at
        self.start = start
        self.share = share
        self._slots = slot_times(rate_at, start, share)
        self._next = next(self._slots)          # the first slot not yet counted
        self._counted: deque[float] = deque()   # counted (offered) but not yet handed out
        self._offered: dict[int, int] = {}      # counted slots per second, until reported

    def _count_next(self) -> float:
        slot = self._next
        second = int(slot)
        self._offered[second] = self._offered.get(second, 0) + 1
        self._next = next(self._slots)
        return slot

    def next_due(self) -> float:
        """When the oldest slot not yet handed out is due."""
        return self._counted[0] if self._counted else self._next

    def take_due(self, now: float) -> float | None:
        """The oldest slot not yet handed out if it is due at `now`, else None."""
        if self._counted:
            return self._counted.popleft() if self._counted[0] <= now else None
        if self._next > now:
            return None
        return self._count_next()

    def claim(self) -> float:
        """The next slot not yet handed out, due or not; each slot is handed out once."""
        if self._counted:
            return self._counted.popleft()
        return self._count_next()

    def backlog(self, now: float) -> float:
        """Seconds by which the oldest slot not yet handed out is already overdue (0 if none)."""
        return max(0.0, now - self.next_due())

    def offered_until(self, end: float) -> int:
        """How many slots are due before `end` and were not counted by an earlier call.

        Slots already handed out are counted; due ones still waiting for a free member
        are counted now and kept in order for `take_due`, so only the backlog is walked.
        """
        while self._next < end:
            self._counted.append(self._count_next())
        seconds = [second for second in self._offered if second < end]
        return sum(self._offered.pop(second) for second in seconds)
