"""harness.clock: the one deadline wait, on a clock that moves only when slept on."""

from __future__ import annotations

import pytest

from harness.clock import ManualClock, wait_until


def test_wait_until_returns_as_soon_as_the_predicate_holds():
    clock = ManualClock(start=1000.0)
    asked = []

    def third_time() -> bool:
        asked.append(clock.now())
        return len(asked) == 3

    assert wait_until(third_time, timeout=10, interval=0.5, clock=clock)
    assert asked == [1000.0, 1000.5, 1001.0]


def test_wait_until_gives_up_at_the_deadline_and_asks_once_more_there():
    clock = ManualClock(start=0.0)
    asked = []
    assert not wait_until(lambda: asked.append(clock.now()), timeout=1.0, interval=0.3, clock=clock)
    assert clock.now() == pytest.approx(1.0)
    assert asked[-1] == pytest.approx(1.0), "the last answer was not taken at the deadline"
    assert asked[-2] == pytest.approx(0.9), "the last sleep overshot the deadline"


def test_a_predicate_that_raises_ends_the_wait():
    def broken() -> bool:
        raise RuntimeError("the child exited")

    with pytest.raises(RuntimeError, match="the child exited"):
        wait_until(broken, timeout=10, clock=ManualClock())
