"""Load shapes: pure functions of run time (no Locust here: the spec loader and the UI read them too).

Each shape is a pure function of `t`, the seconds since the load started:

    constant_rate(t, rate)                     open model, `rate` req/s
    ramp(t, start, end, over)                  open model, linear from start to end over `over` s, then end
    step(t, start, step, every, maximum)       open model, +step req/s every `every` s, capped at maximum
    spike(t, base, peak, at, length)           open model, peak req/s during [at, at+length), else base
    diurnal(t, minimum, maximum, period)       open model, a sine from minimum (t=0) up to maximum and back
    steady(t, users)                           closed model, `users` Locust users looping on their tasks

Rate shapes give requests per second; the open-model schedule (`schedule.py`) turns
them into send times and a fixed pool of Locust users keeps them. `steady` gives a
user count for Locust's ordinary closed model.

`GamedayShape` (harness.load.locust_shape) is a Locust `LoadTestShape` whose `tick()` reads the `--gameday-*`
options (`options.py`) and calls these functions: for a rate shape it returns
(pool size, pool size) so the whole pool is up within a second, for `steady`
(users, spawn rate); after `--gameday-duration` it returns None, which ends the test.
Each test start parses the options again (`refresh_spec`), so in the web UI, where the
`--gameday-*` options are the form's custom parameters, the shape the form shows is
the one that runs. A locustfile exposes it only when a shape was asked for, so plain `locust -f` keeps
Locust's own -u/-r behaviour and web UI form:

    from harness.load.shapes import shape_requested
    if shape_requested():
        from harness.load.locust_shape import GamedayShape  # noqa: F401
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from harness.shape_table import RATE_SHAPES


def constant_rate(t: float, rate: float) -> float:
    """`rate` req/s at every t >= 0."""
    return float(rate)


def ramp(t: float, start: float, end: float, over: float) -> float:
    """Linear from `start` to `end` req/s over `over` seconds, then `end`."""
    if over <= 0 or t >= over:
        return float(end)
    return start + (end - start) * max(t, 0.0) / over


def step(t: float, start: float, step: float, every: float, maximum: float) -> float:
    """`start` req/s, plus `step` every `every` seconds, never above `maximum`."""
    steps = math.floor(max(t, 0.0) / every) if every > 0 else 0
    return float(min(start + steps * step, maximum))


def spike(t: float, base: float, peak: float, at: float, length: float) -> float:
    """`peak` req/s for t in [at, at + length), `base` otherwise."""
    return float(peak if at <= t < at + length else base)


def diurnal(t: float, minimum: float, maximum: float, period: float) -> float:
    """A sine between `minimum` (at t = 0, period, ...) and `maximum` (at period/2)."""
    phase = 2 * math.pi * t / period
    return minimum + (maximum - minimum) * (1 - math.cos(phase)) / 2


def steady(t: float, users: float) -> int:
    """`users` Locust users at every t >= 0 (closed model)."""
    return int(users)


@dataclass(frozen=True)
class ShapeSpec:
    """One chosen shape and its parameters; `duration` 0 means run until stopped."""

    kind: str
    params: dict[str, float] = field(default_factory=dict)
    duration: float = 0.0
    pool: int = 0
    spawn_rate: float = 0.0

    @property
    def is_open(self) -> bool:
        """True when the shape is a request rate (open model)."""
        return self.kind in RATE_SHAPES

    def rate_at(self, t: float) -> float:
        """Requests per second at run time `t` (open-model shapes only)."""
        return _RATE_FUNCTIONS[self.kind](t, **self.params)

    def steady_until(self, t: float) -> float:
        """The run time up to which the rate stays what it is at `t` (`t` itself while it varies).

        Lets the schedule lay out a constant stretch as anchor + n/rate without asking
        the rate at every slot (open-model shapes only).
        """
        return _STEADY_UNTIL[self.kind](t, **self.params)

    def users_at(self, t: float) -> int:
        """Locust users at run time `t`: the pool for open shapes, the count for steady."""
        return self.pool if self.is_open else steady(t, **self.params)

    def describe(self) -> str:
        """For people, e.g. "constant_rate (rate=50) for 75s, open model on a pool of 50 users"."""
        params = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        length = f"for {self.duration:g}s" if self.duration else "until stopped"
        model = f"open model on a pool of {self.pool} users" if self.is_open else "closed model"
        return f"{self.kind} ({params}) {length}, {model}"

    def peak_rate(self) -> float:
        """The highest rate the shape ever asks for."""
        p = self.params
        return {
            "constant_rate": lambda: p["rate"],
            "ramp": lambda: max(p["start"], p["end"]),
            "step": lambda: p["maximum"],
            "spike": lambda: max(p["base"], p["peak"]),
            "diurnal": lambda: max(p["minimum"], p["maximum"]),
        }[self.kind]()

    def tick(self, t: float) -> tuple[int, float] | None:
        """What `LoadTestShape.tick` returns at run time `t`."""
        if self.duration and t >= self.duration:
            return None
        users = self.users_at(t)
        return users, (self.spawn_rate or float(max(users, 1)))


def _step_steady_until(t: float, start: float, step: float, every: float, maximum: float) -> float:
    if every <= 0 or step == 0:
        return math.inf
    steps = math.floor(max(t, 0.0) / every)
    if step > 0 and start + steps * step >= maximum:
        return math.inf  # held at the maximum from here on
    return (steps + 1) * every


def _spike_steady_until(t: float, base: float, peak: float, at: float, length: float) -> float:
    if base == peak or length <= 0 or t >= at + length:
        return math.inf
    return at if t < at else at + length


# Each takes (t, **params) with the shape's own parameters (harness.shape_table), hence `...`.
_STEADY_UNTIL: dict[str, Callable[..., float]] = {
    "constant_rate": lambda t, rate: math.inf,
    "ramp": lambda t, start, end, over: math.inf if over <= 0 or t >= over or start == end else t,
    "step": _step_steady_until,
    "spike": _spike_steady_until,
    "diurnal": lambda t, minimum, maximum, period: math.inf if minimum == maximum else t,
}

_RATE_FUNCTIONS: dict[str, Callable[..., float]] = {
    "constant_rate": constant_rate,
    "ramp": ramp,
    "step": step,
    "spike": spike,
    "diurnal": diurnal,
}

# Default pool: enough users to keep the peak rate while each request takes up to
# POOL_SECONDS (Little's law: concurrency = rate x latency). Beyond that, slots run
# late and the seconds are marked `behind`.
POOL_SECONDS = 1.0
MIN_POOL = 50


def default_pool(peak_rate: float) -> int:
    """Pool size for a peak rate: max(50, ceil(peak_rate * 1 s))."""
    return max(MIN_POOL, math.ceil(peak_rate * POOL_SECONDS))


def shape_requested(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """True when `--gameday-shape` is on the command line or GAMEDAY_SHAPE is set.

    Locust imports locustfiles before it parses options, so a locustfile uses this to
    decide whether to expose `GamedayShape` (see the module docstring).
    """
    args = sys.argv if argv is None else argv
    env = os.environ if environ is None else environ
    on_command_line = any(a == "--gameday-shape" or a.startswith("--gameday-shape=") for a in args)
    return on_command_line or bool(env.get("GAMEDAY_SHAPE"))
