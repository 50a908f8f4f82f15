"""Test doubles for the orchestrator's seams (harness.run.seams), shipped with the library.

    fake_drivers(target, load, chaos, metrics=None) -> Drivers     hands out these fakes

Like httpx's MockTransport beside its real transports: the fakes live next to what they
stand in for, and mypy checks them against the same protocols as the real target, Locust
and `chaos run` drivers, so a change to a seam breaks the fakes where it is made and not
in a test that still passes. They run on the run's `Clock` (a ManualClock in a test), so a
game day of minutes is orchestrated in milliseconds. Real behaviour is tested against real
processes; these are for the orchestrator's own logic (step order, teardown, statuses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from harness.clock import SYSTEM, Clock
from harness.errors import TargetError
from harness.run.chaos_driver import RESIGNAL_AFTER_S
from harness.run.seams import ChaosRun, Drivers, LoadDriver, MetricsReader, RunContext, Say, TargetRun
from harness.spec.models import ChaosBlock


class FakeTarget:
    """A target that is always reachable; `fail_up` makes `up` fail. `calls` records up and down."""

    host = "http://127.0.0.1:1"

    def __init__(self, fail_up: bool = False) -> None:
        self.fail_up = fail_up
        self.calls: list[str] = []

    def up(self, say: Say) -> None:
        self.calls.append("up")
        if self.fail_up:
            raise TargetError("stack would not start")

    def down(self) -> None:
        self.calls.append("down")

    def env(self) -> dict[str, str]:
        return {}

    def sink_argv(self) -> list[str] | None:
        return None

    def describe(self) -> str:
        return "fake target"

    def detail(self) -> dict[str, Any]:
        return {}


class FakeLoad:
    """A load generator that runs for `duration` seconds from `start` and starts sending
    `starts_sending_after` seconds in; it exits early (code 1) after `dies_after` seconds when
    given. `live()` returns `live`. `stopped` tells whether the orchestrator stopped it."""

    pid = 4242

    def __init__(
        self,
        duration: float,
        live: Mapping[str, Any] | None = None,
        dies_after: float | None = None,
        starts_sending_after: float = 0.0,
    ) -> None:
        self.duration, self._live, self.dies_after = duration, live, dies_after
        self.starts_sending_after = starts_sending_after
        self.started: float | None = None
        self.stopped = False
        self.clock: Clock = SYSTEM  # fake_drivers sets the run's

    def start(self) -> None:
        self.started = self.clock.now()

    def _age(self) -> float | None:
        return None if self.started is None else self.clock.now() - self.started

    @property
    def running(self) -> bool:
        age = self._age()
        if age is None or self.stopped:
            return False
        return age < (self.dies_after if self.dies_after is not None else self.duration)

    @property
    def sending(self) -> bool:
        age = self._age()
        return age is not None and age >= self.starts_sending_after

    @property
    def returncode(self) -> int | None:
        return None if self.running else (1 if self.dies_after is not None else 0)

    def wait(self, timeout: float | None = None) -> int | None:
        return self.returncode

    def stop(self, timeout: float = 15.0) -> int | None:
        self.stopped = True
        return 0

    def live(self) -> Mapping[str, Any] | None:
        return self._live


class FakeChaos:
    """An experiment that runs for `duration` seconds from `start` (calling `on_start` then) unless
    interrupted; its journal says whether it was."""

    pid = 4343

    def __init__(self, duration: float, on_start: Callable[[], None] | None = None, deaf_to: int = 0) -> None:
        self.duration, self.on_start = duration, on_start
        self.started: float | None = None
        self.interrupted = False  # an interrupt took effect: the method stopped, the rollbacks ran
        self.deaf_to = deaf_to  # how many SIGINTs it misses (1: the lost abort seen once in the suite)
        self.asked_at: float | None = None  # when `interrupt` was first called
        self.resent = False
        self.killed = False
        self.clock: Clock = SYSTEM  # fake_drivers sets the run's

    @property
    def signalled(self) -> bool:
        return self.asked_at is not None

    def start(self) -> None:
        self.started = self.clock.now()
        if self.on_start is not None:
            self.on_start()

    @property
    def running(self) -> bool:
        if self.started is None or self.interrupted:
            return False
        return self.clock.now() - self.started < self.duration

    def wait(self, timeout: float | None = None) -> int | None:
        if self.running and self.asked_at is not None and timeout:
            self.clock.sleep(timeout)  # a real wait on a child that is still rolling back takes that long
        return 1 if self.interrupted else (None if self.running else 0)

    def interrupt(self) -> None:
        if self.asked_at is None:
            self.asked_at = self.clock.now()
            self._signal()

    def resend_unseen_interrupt(self, now: float) -> bool:
        if self.asked_at is None or self.resent or self.interrupted or now - self.asked_at < RESIGNAL_AFTER_S:
            return False
        self.resent = True
        self._signal()
        return True

    def _signal(self) -> None:
        if self.deaf_to > 0:
            self.deaf_to -= 1
        else:
            self.interrupted = True

    def kill(self) -> None:
        self.killed = self.interrupted = True

    def journal(self) -> dict[str, Any] | None:
        return {"status": "interrupted" if self.interrupted else "completed", "deviated": False}


class FakeMetrics:
    """A metrics reader that appends `metrics-start` and `metrics-stop` to `calls` (give it the
    target's to see the order) and reports three scrapes of source `stack`."""

    def __init__(self, calls: list[str] | None = None) -> None:
        self.calls = [] if calls is None else calls

    def start(self) -> None:
        self.calls.append("metrics-start")

    def stop(self) -> dict[str, object]:
        self.calls.append("metrics-stop")
        return {"stack": {"scrapes": 3, "failed": 0}}

    def describe(self) -> str:
        return "stack http://127.0.0.1:1/metrics"


def fake_drivers(target: FakeTarget, load: FakeLoad, chaos: FakeChaos, metrics: FakeMetrics | None = None) -> Drivers:
    """Drivers that hand out these fakes (`chaos` for every chaos block, no sink reader), the
    load and chaos set to the run's clock as they are handed out."""

    def make_target(ctx: RunContext) -> TargetRun:
        return target

    def make_load(ctx: RunContext, target: TargetRun) -> LoadDriver:
        load.clock = ctx.clock
        return load

    def make_chaos(ctx: RunContext, target: TargetRun, block: ChaosBlock) -> ChaosRun:
        chaos.clock = ctx.clock
        return chaos

    def make_metrics(ctx: RunContext, target: TargetRun) -> MetricsReader | None:
        return metrics

    return Drivers(
        target=make_target,
        load=make_load,
        sink=lambda ctx, target: None,
        chaos=make_chaos,
        metrics=make_metrics if metrics is not None else None,
    )
