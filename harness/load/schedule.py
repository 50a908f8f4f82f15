"""The open-model schedule: send times from a rate function, kept by a fixed pool of users.

Slot math (pure): slot 0 is due at `start` (or the first moment the rate, times
this process's share, is positive). While the rate is constant, slots are
anchor + n/r; when it varies, the next slot is where the integral of the rate since
the previous slot reaches one arrival (10 ms midpoint steps), so a ramp offers
its integral and a spike starts on time.

Keeping it (in Locust): `make_open_model` turns Locust user classes into pool
members. A member claims the next unclaimed slot, sleeps until it is due, runs one
task, and claims again (Locust calls `wait_time()` after every task; the first
claim happens after `on_start`). The slot's time travels to the request listener
as `context["gameday.intended"]` on the task's *first* request only, and the
plugin measures that request's latency from the intended time (coordinated
omission correction). Later requests of the same task are timed as usual.

If every member is busy, due slots wait for the next free member: they run late,
the lag (actual start - intended) is recorded per second, and `backlog()` shows how
late the oldest unclaimed slot already is. The pool size is a Locust user count
set by `GamedayShape` (default max(50, peak rate x 1 s)); a pool costs one greenlet
per member and no greenlet per request, which is why it outruns the
one-greenlet-per-request design (see DESIGN.md, "Generator saturation").

Distributed runs: each worker process runs its own schedule at `share` = 1/N of the
rate (N = --processes, or the worker count the master broadcasts at test start).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent

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
    while True:
        yield slot
        r = rate(slot)
        if r > 0 and r == anchor_rate and rate(slot + 1.0 / r) == r:
            n += 1
            slot = anchor + n / r
        else:
            slot = integrate_next(rate, slot)
            anchor, anchor_rate, n = slot, rate(slot), 0


class Schedule:
    """One process's open-model schedule: hands out slots and counts offered load."""

    def __init__(self, rate_at: RateFunction, start: float, share: float = 1.0) -> None:
        self.rate_at = rate_at
        self.start = start
        self.share = share
        self._claims = slot_times(rate_at, start, share)
        self._next = next(self._claims)
        self._offered = slot_times(rate_at, start, share)
        self._offered_next = next(self._offered)

    def claim(self) -> float:
        """The next unclaimed slot's due time; each slot is handed out once."""
        slot = self._next
        self._next = next(self._claims)
        return slot

    def backlog(self, now: float) -> float:
        """Seconds by which the oldest unclaimed slot is already overdue (0 if none)."""
        return max(0.0, now - self._next)

    def offered_until(self, end: float) -> int:
        """How many slots are due before `end` and after the previous call's `end`."""
        count = 0
        while self._offered_next < end:
            count += 1
            self._offered_next = next(self._offered)
        return count


def make_open_model(user_classes: list[type], get_schedule: Callable[[Any], Schedule | None]) -> None:
    """Make every class in `user_classes` a pool member of the schedule `get_schedule(user)`.

    Replaces `wait_time`, and wraps `on_start` and `context` (see module docstring).
    Idempotent: a class already converted is left alone.
    """
    for cls in user_classes:
        if cls.__dict__.get("_gameday_open_model", False):
            continue
        _convert(cls, get_schedule)


def _convert(cls: type, get_schedule: Callable[[Any], Schedule | None]) -> None:
    original_on_start = cls.on_start
    original_context = cls.context

    def wait_time(self: Any) -> float:
        schedule = get_schedule(self)
        if schedule is None:
            return 1.0
        self._gameday_intended = schedule.claim()
        return max(0.0, self._gameday_intended - time.time())

    def on_start(self: Any) -> None:
        original_on_start(self)
        # A subclass of a converted class wraps an already-wrapped on_start: wait once.
        if not self.__dict__.get("_gameday_started"):
            self._gameday_started = True
            gevent.sleep(wait_time(self))

    def context(self: Any) -> dict:
        base = original_context(self)
        intended = self.__dict__.pop("_gameday_intended", None)
        if intended is None:
            return base
        return {**base, "gameday.intended": intended}

    cls.wait_time = wait_time
    cls.on_start = on_start
    cls.context = context
    cls._gameday_open_model = True
