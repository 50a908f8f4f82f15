"""The SLI catalogue: every SLI name a game day may use, and what it measures.

Shared by the spec validator (is this name known? does the objective's unit fit?)
and by the analysis (what to compute). Kinds and their units, everywhere in gameday:

    time   seconds          latency.*, events.e2e_latency.*, recovery_time
    ratio  fraction 0..1    availability, error_rate, rate_limited, apdex, correctness
    rate   per second       throughput, offered_rate
    count  integer          events.produced, events.lost, events.duplicated
    metric as the target says   metric:<selector or PromQL>, a number the target exports
                            (harness.metrics): gameday cannot know its unit

Percentile SLIs take any N in (0, 100]: `latency.p99`, `latency.p99.9`,
`events.e2e_latency.p95`. Apdex takes its T in the name, `apdex(0.3s)`, or in the
SLO's `T:` field with the bare name `apdex`.

Request SLIs can be scoped to a variant (`variant: canary`) when the load records one
(`load.variant_header`), and compared between two variants (`compare:`) when they can
be judged one second at a time (`comparable`).
"""

from __future__ import annotations

import re

from harness.durations import parse_duration

FIXED = {
    "availability": "ratio",
    "error_rate": "ratio",
    "rate_limited": "ratio",
    "correctness": "ratio",
    "throughput": "rate",
    "offered_rate": "rate",
    "latency.mean": "time",
    "latency.max": "time",
    "events.produced": "count",
    "events.lost": "count",
    "events.duplicated": "count",
    "events.e2e_latency.mean": "time",
    "events.e2e_latency.max": "time",
    "recovery_time": "time",
}
# SLIs that are measured per endpoint; the rest exist only for the whole run ("*").
PER_ENDPOINT = {"availability", "error_rate", "rate_limited", "correctness", "throughput", "apdex"}
# SLIs that can be judged one second at a time (recovery_time and guardrails use them).
PER_SECOND = {"availability", "error_rate", "rate_limited", "correctness", "throughput", "offered_rate", "apdex"}

_PERCENTILE = re.compile(r"^(latency|events\.e2e_latency)\.p(\d+(?:\.\d+)?)$")
_APDEX = re.compile(r"^apdex(?:\((?P<t>[^()]*)\))?$")


METRIC_PREFIX = "metric:"
METRIC_AGGS = ("max", "min", "avg", "first", "last", "increase", "rate")  # and pN, e.g. p95
PER_SECOND_AGGS = ("max", "min", "avg", "first", "last")  # a second's value is the sample


def is_metric(name: str) -> bool:
    """True for an SLI on one of the target's own metrics, 'metric:<expression>'."""
    return name.startswith(METRIC_PREFIX)


def metric_expression(name: str) -> str:
    """'scorer_consumer_lag{group="scorer"}' of 'metric:scorer_consumer_lag{group="scorer"}'."""
    return name[len(METRIC_PREFIX) :].strip()


def metric_agg_problem(agg: str) -> str | None:
    """Why `agg` is not an aggregation of a metric over a phase, or None."""
    if agg in METRIC_AGGS or (agg.startswith("p") and _percent(agg[1:]) is not None):
        return None
    return f"unknown agg {agg!r}; expected one of {', '.join(METRIC_AGGS)} or pN (e.g. p95)"


def _percent(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value <= 100 else None


def comparable(name: str) -> bool:
    """True when two variants can be compared on this SLI (a time or ratio judged per second)."""
    return kind_of(name) in ("time", "ratio") and per_second(name)


def percentile_of(name: str) -> tuple[str, float] | None:
    """('latency', 99.0) for 'latency.p99'; None for a name that is not a percentile SLI."""
    match = _PERCENTILE.match(name)
    if not match or not 0 < float(match.group(2)) <= 100:
        return None
    return match.group(1), float(match.group(2))


def apdex_t(name: str) -> float | None:
    """T in seconds of 'apdex(0.3s)'; None for bare 'apdex' or another name. ValueError on a bad T."""
    match = _APDEX.match(name)
    if not match or match.group("t") is None:
        return None
    return parse_duration(match.group("t"))


def kind_of(name: str) -> str | None:
    """time | ratio | rate | count | metric for a known SLI name, None for an unknown one."""
    if is_metric(name):
        return "metric" if metric_expression(name) else None
    if name in FIXED:
        return FIXED[name]
    if percentile_of(name):
        return "time"
    if _APDEX.match(name):
        return "ratio"
    return None


def base_name(name: str) -> str:
    """The family of an SLI name: 'latency.p99' -> 'latency', 'apdex(0.3s)' -> 'apdex'."""
    if _APDEX.match(name):
        return "apdex"
    family = percentile_of(name)
    if family:
        return family[0]
    return name.split(".")[0] if name.startswith("latency.") else name


def per_endpoint(name: str) -> bool:
    """True when the SLI can be asked for one endpoint."""
    return base_name(name) in PER_ENDPOINT or base_name(name) == "latency"


def per_second(name: str) -> bool:
    """True when the SLI has a meaningful value for a single second."""
    return base_name(name) in PER_SECOND or base_name(name) == "latency"


def known_names() -> str:
    """A short list for error messages."""
    return ", ".join([*FIXED, "latency.pN", "events.e2e_latency.pN", "apdex(T)", "metric:<name{labels}>"])
