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
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from harness.spec.models import LoadSpec

ONE_PROCESS_RPS = 6500

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


def processes_needed(peak: float, per_process: float = ONE_PROCESS_RPS) -> int:
    """Generator processes that keep `peak` req/s on schedule, at `per_process` each."""
    return max(1, math.ceil(peak / per_process))


def suggestion(load: LoadSpec) -> str | None:
    """`load.processes: N` (or `load.workers: N`) when the processes asked for keep less than the
    shape's peak rate, else None."""
    peak = peak_rate(load.shape, load.params)
    setting, count = _setting(load)
    if peak is None or peak / count <= ONE_PROCESS_RPS:
        return None
    return f"{setting}: {processes_needed(peak)}"


def advice(load: LoadSpec) -> str | None:
    """A sentence for `gameday validate` and the start of a run, or None (see `suggestion`)."""
    suggested = suggestion(load)
    if suggested is None:
        return None
    peak = peak_rate(load.shape, load.params) or 0.0
    return (
        f"load: {load.shape} asks for up to {peak:g} req/s, {peak / _setting(load)[1]:.0f} per Locust process; "
        f"one process kept {ONE_PROCESS_RPS} req/s on schedule in benchmarks/open_model.py: set {suggested} "
        f"(a core each), or expect seconds flagged behind"
    )


def _setting(load: LoadSpec) -> tuple[str, int]:
    if load.where == "cluster":
        return "load.workers", load.workers or 2
    return "load.processes", load.processes or 1
