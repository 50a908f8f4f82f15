"""What one Locust process keeps on schedule, and the advice when a game day asks for more.

ONE_PROCESS_RPS is the highest constant_rate that one Locust process kept on schedule (no
second flagged `behind`, schedule lag p99 under 10 ms) in `benchmarks/open_model.py` on the
reference machine (2 cores: a "hello" target pinned to one, Locust to the other; figures in
benchmarks/README.md), taken from the worst of three runs (6,653, 9,269 and 9,617 req/s) and
rounded down: advice that holds only on a good day is not advice. A profile that does more
per request (bodies, checks, several requests per task) keeps less; a faster core keeps
more. Above it every second the generator falls behind is flagged `behind`, and verdicts
resting on those seconds are not trustworthy, so `gameday validate` and the run's progress
line suggest more processes: `load.processes` for Locust on this machine (one core each),
`load.workers` for Locust in the cluster. Nothing here imports Locust.

That constant is one machine's figure, and machines differ by more than the advice can
absorb: the same benchmark kept 10,776 req/s on one 2-core VM kind and 4,427 on another
(benchmarks/README.md), because what an idle core costs to wake differs. `gameday calibrate`
(harness.run.calibrate) measures the figure on the machine that runs the game day and writes
it to `$GAMEDAY_HOME/generator-capacity.json`; when that file exists the advice uses it and
says so, otherwise it uses ONE_PROCESS_RPS and says where that came from.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SpecError
from harness.files import gameday_home
from harness.spec.models import LoadSpec

ONE_PROCESS_RPS = 6500
CALIBRATION_FILE = "generator-capacity.json"


@dataclass(frozen=True)
class Capacity:
    """What one Locust process keeps on schedule (req/s), and where that figure was measured."""

    rps: float
    where: str  # completes "one process kept N req/s on schedule ..."


REFERENCE = Capacity(
    ONE_PROCESS_RPS, "in benchmarks/open_model.py on the reference machine (`gameday calibrate` measures this one)"
)
# Locust in the cluster runs on the cluster's nodes: this machine's calibration says nothing about them.
CLUSTER = Capacity(
    ONE_PROCESS_RPS, "in benchmarks/open_model.py on the reference machine (the cluster's nodes were not calibrated)"
)


def calibration_path() -> Path:
    """`$GAMEDAY_HOME/generator-capacity.json` (default ~/.gameday), beside the stacks' state."""
    return gameday_home() / CALIBRATION_FILE


def current(path: Path | None = None) -> Capacity:
    """This machine's calibration if `gameday calibrate` wrote one, else REFERENCE.

    A file that is there but unreadable is an error (exit 2), not silently the reference
    figure: the user ran calibrate to stop relying on it."""
    path = path or calibration_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return REFERENCE
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8
        raise SpecError(f"{path}: cannot read it ({exc}); run `gameday calibrate` again, or delete it") from exc
    again = "run `gameday calibrate` again, or delete the file"
    try:
        data = json.loads(text)
        raw, measured = data["one_process_rps"], str(data["measured"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SpecError(
            f"{path}: not a calibration written by `gameday calibrate` ({type(exc).__name__}: {exc}); {again}"
        ) from exc
    # bool is an int to Python, and json reads Infinity: neither is a rate
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw) or raw <= 0:
        raise SpecError(f"{path}: one_process_rps: {raw!r} is not a rate in req/s; {again}")
    rps = float(raw)
    return Capacity(rps, f"on this machine (`gameday calibrate`, {measured})")


# The spec keys (see harness.shape_table) whose largest value is the shape's peak rate.
_PEAK_KEYS = {
    "constant_rate": ("rate",),
    "ramp": ("rate", "rate_to"),
    "step": ("rate_max",),
    "spike": ("rate", "rate_peak"),
    "diurnal": ("rate", "rate_max"),
}


def peak_rate(shape: str, params: Mapping[str, float]) -> float | None:
    """The highest rate (req/s) an open-model shape asks for; None for a closed model."""
    keys = _PEAK_KEYS.get(shape)
    if keys is None:
        return None
    return max(float(params.get(key) or 0.0) for key in keys)


def processes_needed(peak: float, per_process: float) -> int:
    """Generator processes that keep `peak` req/s on schedule, at `per_process` each."""
    return max(1, math.ceil(peak / per_process))


def for_load(load: LoadSpec) -> Capacity:
    """The figure that applies to `load`: this machine's (`current`), or CLUSTER for Locust in a cluster."""
    return CLUSTER if load.where == "cluster" else current()


def suggestion(load: LoadSpec, capacity: Capacity | None = None) -> str | None:
    """`load.processes: N` (or `load.workers: N`) when the processes asked for keep less than the
    shape's peak rate at `capacity` each (default: `for_load(load)`), else None."""
    peak = peak_rate(load.shape, load.params)
    if peak is None:
        return None
    per_process = (capacity or for_load(load)).rps
    setting, count = _setting(load)
    if peak / count <= per_process:
        return None
    return f"{setting}: {processes_needed(peak, per_process)}"


def advice(load: LoadSpec, capacity: Capacity | None = None) -> str | None:
    """A sentence for `gameday validate` and the start of a run, or None (see `suggestion`)."""
    capacity = capacity or for_load(load)
    suggested = suggestion(load, capacity)
    if suggested is None:
        return None
    peak = peak_rate(load.shape, load.params) or 0.0
    return (
        f"load: {load.shape} asks for up to {peak:g} req/s, {peak / _setting(load)[1]:.0f} per Locust process; "
        f"one process kept {capacity.rps:.0f} req/s on schedule {capacity.where}: set {suggested} "
        f"(a core each), or expect seconds flagged behind"
    )


def _setting(load: LoadSpec) -> tuple[str, int]:
    if load.where == "cluster":
        return "load.workers", load.workers or 2
    return "load.processes", load.processes or 1
