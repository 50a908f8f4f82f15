"""The load shapes and their parameters: one table for the spec loader and the Locust plugin.

Each parameter has one name everywhere: the game day spec's `load:` key, and the Locust
option `--gameday-<name with dashes>` (so `rate_to` is `--gameday-rate-to`); `argument`
is the name of the shape function's parameter in harness.load.shapes. A `duration`
parameter takes the duration grammar (harness.durations), the others a plain number.

    shape           parameters (spec key -> function argument)                    model
    constant_rate   rate                                                          open
    ramp            rate -> start, rate_to -> end, over                           open
    step            rate -> start, rate_step -> step, every, rate_max -> maximum  open
    spike           rate -> base, rate_peak -> peak, at, length                   open
    diurnal         rate -> minimum, rate_max -> maximum, period                  open
    steady          users                                                         closed

OPTIONAL parameters apply to every shape. Nothing here imports Locust (the orchestrator's
process never does), nor anything of gameday's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    """One parameter of a shape: its spec key / option name, the shape function's argument."""

    key: str
    argument: str
    duration: bool = False


PARAMS: dict[str, tuple[Param, ...]] = {
    "constant_rate": (Param("rate", "rate"),),
    "ramp": (Param("rate", "start"), Param("rate_to", "end"), Param("over", "over", duration=True)),
    "step": (
        Param("rate", "start"),
        Param("rate_step", "step"),
        Param("every", "every", duration=True),
        Param("rate_max", "maximum"),
    ),
    "spike": (
        Param("rate", "base"),
        Param("rate_peak", "peak"),
        Param("at", "at", duration=True),
        Param("length", "length", duration=True),
    ),
    "diurnal": (Param("rate", "minimum"), Param("rate_max", "maximum"), Param("period", "period", duration=True)),
    "steady": (Param("users", "users"),),
}
USER_SHAPES = ("steady",)
RATE_SHAPES = tuple(shape for shape in PARAMS if shape not in USER_SHAPES)
SHAPES = tuple(PARAMS)
OPTIONAL = ("spawn_rate", "pool", "behind_ms")

# Every parameter's help text, for the `--gameday-*` options (and the web UI's form).
HELP = {
    "rate": "open model: req/s (constant_rate), or start/base/minimum rate",
    "rate_to": "ramp: end rate in req/s",
    "over": "ramp: duration of the ramp (e.g. 60s)",
    "rate_step": "step: req/s added each step",
    "every": "step: seconds between steps",
    "rate_max": "step/diurnal: maximum req/s",
    "rate_peak": "spike: peak req/s",
    "at": "spike: when the spike starts (e.g. 30s)",
    "length": "spike: how long it lasts (e.g. 10s)",
    "period": "diurnal: period of the sine (e.g. 10m)",
    "users": "steady: number of Locust users",
    "spawn_rate": "steady: users started per second (default: all at once)",
    "pool": "open model: Locust users in the pool (default max(50, peak rate x 1s))",
    "behind_ms": "open model: lag p99 (ms) above which a second is marked behind (default 200)",
}
KEYS = tuple(HELP)  # every shape parameter and optional one, each once
DURATION_KEYS = tuple(dict.fromkeys(p.key for params in PARAMS.values() for p in params if p.duration))


def keys(shape: str) -> tuple[str, ...]:
    """The spec keys `shape` requires, in order ("" for an unknown shape: none)."""
    return tuple(p.key for p in PARAMS.get(shape, ()))
