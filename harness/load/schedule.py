"""The open-model schedule: send times from a rate function, counted and handed out in order.

Slot math (pure): slot 0 is due at `start` (or the first moment the rate, times
this process's share, is positive). While the rate is constant, slots are
anchor + n/r; when it varies, the next slot is where the integral of the rate since
the previous slot reaches one arrival (10 ms midpoint steps), so a ramp offers
its integral and a spike starts on time. A shape that knows how long its rate
holds (`steady_until`, see harness.load.shapes.ShapeSpec) spares the rate call per
slot: a constant stretch is laid out by arithmetic alone.

`Schedule` hands out each slot once, in order (`take_due` only once it is due),
counts offered slots per second, and tells how late the oldest slot not yet
handed out already is (`backlog`). A second's offered count is the slots handed out
in it plus the ones still waiting, and the waiting ones are counted by arithmetic
within a constant stretch, so a generator that is behind by seconds does not walk
its whole backlog once a second. Keeping the schedule with Locust users is
`harness.load.pool`.

Distributed runs: each worker process runs its own schedule at `share` = 1/N of the
rate (N = --processes, or the worker count the master broadcasts at test start).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator

RateFunction = Callable[[float], float]
SteadyUntil = Callable[[float], float]

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


class Slots:
    """A cursor over every slot's due time (epoch seconds), in order; `slot` is the current one.

    While the rate stays constant, slot n of the stretch is anchor + n / rate (no
    accumulated rounding, so 100 req/s gives exactly 100 slots per second); when it
    varies, the next slot is where the integral of the rate reaches one more arrival.
    Without `steady_until`, a stretch goes on while the rate one gap ahead is the same.
    """

    def __init__(
        self, rate_at: RateFunction, start: float, share: float = 1.0, steady_until: SteadyUntil | None = None
    ) -> None:
        self._rate_at, self._start, self._share, self._steady_until = rate_at, start, share, steady_until
        self._anchor(first_positive(rate_at, start, start, share))

    def _rate(self, t: float) -> float:
        return self._rate_at(t - self._start) * self._share

    def _anchor(self, slot: float) -> None:
        self.slot = self.anchor = slot
        self.n = 0
        self.rate = self._rate(slot)
        if self._steady_until is None or self.rate <= 0:
            self.until: float | None = None
        else:
            self.until = self._start + self._steady_until(slot - self._start)

    def advance(self) -> None:
        """Move to the next slot."""
        r = self.rate
        if self.until is not None:
            ahead = self.anchor + (self.n + 1) / r
            if ahead < self.until:
                self.n += 1
                self.slot = ahead
                return
        elif r > 0 and self._rate(self.slot + 1.0 / r) == r:
            self.n += 1
            self.slot = self.anchor + self.n / r
            return
        self._anchor(integrate_next(self._rate, self.slot))

    def count_before(self, end: float) -> int:
        """How many slots from the current one on are due before `end` (the cursor stays)."""
        if self.slot >= end:
            return 0
        if self.until is not None and end <= self.until:
            r, anchor = self.rate, self.anchor
            index = max(self.n, math.ceil((end - anchor) * r))  # first index at or after `end`,
            while index > self.n and anchor + (index - 1) / r >= end:  # exactly as `advance` computes it
                index -= 1
            while anchor + index / r < end:
                index += 1
            return index - self.n
        walker, count = copy.copy(self), 0
        while walker.slot < end:
            count += 1
            walker.advance()
        return count


def slot_times(
    rate_at: RateFunction, start: float, share: float = 1.0, steady_until: SteadyUntil | None = None
) -> Iterator[float]:
    """Every slot's due time (epoch seconds), in order, forever (see `Slots`)."""
    slots = Slots(rate_at, start, share, steady_until)
    while True:
        yield slots.slot
        slots.advance()


class Schedule:
    """One process's open-model schedule: hands out slots once, in order, and counts offered load."""

    def __init__(
        self, rate_at: RateFunction, start: float, share: float = 1.0, steady_until: SteadyUntil | None = None
    ) -> None:
        self.rate_at = rate_at
        self.start = start
        self.share = share
        self._slots = Slots(rate_at, start, share, steady_until)
        self._counted_until = -math.inf  # slots due before this were counted while still waiting
        self._handed: dict[int, int] = {}  # slots handed out (not yet counted) per second

    def next_due(self) -> float:
        """When the oldest slot not yet handed out is due."""
        return self._slots.slot

    def take_due(self, now: float) -> float | None:
        """The oldest slot not yet handed out if it is due at `now`, else None."""
        slot = self._slots.slot
        if slot > now:
            return None
        return self.claim()

    def claim(self) -> float:
        """The next slot not yet handed out, due or not; each slot is handed out once."""
        slot = self._slots.slot
        self._slots.advance()
        if slot >= self._counted_until:
            second = int(slot)
            self._handed[second] = self._handed.get(second, 0) + 1
        return slot

    def backlog(self, now: float) -> float:
        """Seconds by which the oldest slot not yet handed out is already overdue (0 if none)."""
        return max(0.0, now - self._slots.slot)

    def offered_until(self, end: float) -> int:
        """How many slots are due before `end` and were not counted by an earlier call.

        The ones handed out were counted per second as they went; the ones still waiting
        are counted now (and not again when they go).
        """
        seconds = [second for second in self._handed if second < end]
        count = sum(self._handed.pop(second) for second in seconds)
        if end > self._counted_until:
            count += self._slots.count_before(end) - self._slots.count_before(self._counted_until)
            self._counted_until = end
        return count
