"""Time for the harness: the wall clock, an injectable stand-in for tests, and the one deadline wait.

    clock = SYSTEM                     now() is UTC epoch seconds (the timeline's unit); sleep(s)
    wait_until(predicate, timeout, interval=0.1, clock=SYSTEM) -> bool

The orchestrator takes its `Clock` as a parameter, so its unit tests run a minute of game
day in milliseconds with a `ManualClock`, whose sleep only moves its own time on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """What the orchestrator needs of time."""

    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: `time.time()` and `time.sleep()`."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when slept on (or `advance`d): for tests of timed logic."""

    def __init__(self, start: float | None = None) -> None:
        self.time = time.time() if start is None else start

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.time += max(0.0, seconds)


SYSTEM: Clock = SystemClock()


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1, clock: Clock = SYSTEM) -> bool:
    """Call `predicate` every `interval` s until it is true or `timeout` s have passed; whether it held.

    The last sleep ends at the deadline and the predicate is asked there, so a condition met
    during that sleep is not reported as a timeout. It may raise to give up early."""
    deadline = clock.now() + timeout
    while not predicate():
        left = deadline - clock.now()
        if left <= 0:
            return False
        clock.sleep(min(interval, left))
    return True
