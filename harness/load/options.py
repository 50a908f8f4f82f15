"""The plugin's Locust command-line options, each also readable from an environment variable.

Every option `--gameday-foo-bar` can also be set as GAMEDAY_FOO_BAR (Locust's
`env_var=`), and shows in the web UI's custom-parameters panel. The game day
orchestrator passes them as command-line options.

    --gameday-run-dir     where samples/, events.jsonl and live.json go (GAMEDAY_RUN_DIR)
    --gameday-shape       constant_rate | ramp | step | spike | diurnal | steady
    --gameday-duration    how long the shape runs ("90", "90s", "2m", "1h"; 0 = until stopped)
    --gameday-rate        constant_rate's rate; the starting/base/minimum rate of the others
    --gameday-rate-to     ramp: the end rate          --gameday-over    ramp: seconds to get there
    --gameday-rate-step   step: added every --gameday-every seconds, up to --gameday-rate-max
    --gameday-rate-peak   spike: the peak rate, from --gameday-at for --gameday-length seconds
    --gameday-rate-max    diurnal: the maximum rate, over a --gameday-period
    --gameday-users       steady: Locust users       --gameday-spawn-rate  users started per second
    --gameday-pool        open model: users in the pool (default max(50, peak rate x 1 s))
    --gameday-behind-ms   open model: schedule lag p99 above which a second is `behind` (200)
    --gameday-variant-header  record each response's value of this header (e.g. x-model-version)
                          as the request's variant, an extra dimension of the samples
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from harness.load.shapes import RATE_SHAPES, SHAPES, ShapeSpec, default_pool

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}

# (option suffix, help) for every numeric option; all default to "" (unset).
_NUMERIC = [
    ("rate", "open model: req/s (constant_rate), or start/base/minimum rate"),
    ("rate-to", "ramp: end rate in req/s"),
    ("over", "ramp: duration of the ramp (e.g. 60s)"),
    ("rate-step", "step: req/s added each step"),
    ("every", "step: seconds between steps"),
    ("rate-max", "step/diurnal: maximum req/s"),
    ("rate-peak", "spike: peak req/s"),
    ("at", "spike: when the spike starts (e.g. 30s)"),
    ("length", "spike: how long it lasts (e.g. 10s)"),
    ("period", "diurnal: period of the sine (e.g. 10m)"),
    ("users", "steady: number of Locust users"),
    ("spawn-rate", "steady: users started per second (default: all at once)"),
    ("pool", "open model: Locust users in the pool (default max(50, peak rate x 1s))"),
    ("behind-ms", "open model: lag p99 (ms) above which a second is marked behind (default 200)"),
]

# Which options each shape needs, mapped to the pure function's parameter names.
_PARAMS = {
    "constant_rate": {"rate": "rate"},
    "ramp": {"start": "rate", "end": "rate_to", "over": "over"},
    "step": {"start": "rate", "step": "rate_step", "every": "every", "maximum": "rate_max"},
    "spike": {"base": "rate", "peak": "rate_peak", "at": "at", "length": "length"},
    "diurnal": {"minimum": "rate", "maximum": "rate_max", "period": "period"},
    "steady": {"users": "users"},
}


def add_options(parser: Any) -> None:
    """Register every --gameday-* option on Locust's argument parser."""
    group = parser.add_argument_group("gameday", "gameday harness: recording and load shapes")
    group.add_argument("--gameday-run-dir", default="", env_var="GAMEDAY_RUN_DIR",
                       help="run directory to record into (default: reports/runs/<UTC>-adhoc)")
    group.add_argument("--gameday-shape", default="", env_var="GAMEDAY_SHAPE",
                       help="load shape: " + " | ".join(SHAPES))
    group.add_argument("--gameday-duration", default="", env_var="GAMEDAY_DURATION",
                       help="how long the shape runs, e.g. 120s (default: until stopped)")
    for suffix, text in _NUMERIC:
        env = "GAMEDAY_" + suffix.upper().replace("-", "_")
        group.add_argument(f"--gameday-{suffix}", default="", env_var=env, help=text)
    group.add_argument("--gameday-variant-header", default="", env_var="GAMEDAY_VARIANT_HEADER",
                       help="response header naming the variant that answered (A/B test or canary), "
                            "e.g. x-model-version; recorded per request")


def parse_seconds(text: str | float) -> float:
    """Seconds in `text` ("90", "90s", "1.5m", "250ms", "1h"); raises ValueError otherwise."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90, 90s, 2m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def spec_from_options(options: argparse.Namespace) -> ShapeSpec | None:
    """The ShapeSpec the options ask for, None when --gameday-shape is empty.

    Raises ValueError listing every problem at once (unknown shape, missing or bad values).
    """
    kind = (getattr(options, "gameday_shape", "") or "").strip()
    if not kind:
        return None
    if kind not in SHAPES:
        raise ValueError(f"unknown --gameday-shape {kind!r}; choose one of {', '.join(SHAPES)}")
    problems: list[str] = []
    params = {name: _number(options, opt, problems) for name, opt in _PARAMS[kind].items()}
    duration = _optional(options, "duration", problems)
    pool = _optional(options, "pool", problems)
    spawn_rate = _optional(options, "spawn_rate", problems)
    if problems:
        raise ValueError(f"--gameday-shape {kind}: " + "; ".join(problems))
    spec = ShapeSpec(kind, params, duration, int(pool), spawn_rate)
    if kind in RATE_SHAPES and not pool:
        spec = ShapeSpec(kind, params, duration, default_pool(spec.peak_rate()), spawn_rate)
    return spec


# A second is `behind` (and its verdicts generator-bound) when its schedule lag p99 or the
# backlog left at its end exceeds this. Below it, a stall is the scheduler's jitter on a
# busy machine (50-120 ms seen with four stacks on two cores), which the latency already
# counts from the intended send time: it can make a latency verdict worse, never better,
# and it does not change the load the target saw. A generator that cannot keep up falls
# behind by seconds, far above it.
DEFAULT_BEHIND_MS = 200.0


def variant_header(options: argparse.Namespace | None) -> str | None:
    """--gameday-variant-header, None when unset (then no header is ever read)."""
    text = getattr(options, "gameday_variant_header", "") if options is not None else ""
    return text.strip() or None


def behind_threshold_ms(options: argparse.Namespace | None) -> float:
    """--gameday-behind-ms, DEFAULT_BEHIND_MS when unset."""
    text = getattr(options, "gameday_behind_ms", "") if options is not None else ""
    return float(text) if text not in ("", None) else DEFAULT_BEHIND_MS


def _number(options: argparse.Namespace, name: str, problems: list[str]) -> float:
    text = getattr(options, "gameday_" + name, "")
    flag = "--gameday-" + name.replace("_", "-")
    if text in ("", None):
        problems.append(f"{flag} is required")
        return 0.0
    try:
        return parse_seconds(text)
    except ValueError:
        problems.append(f"{flag} must be a number or a duration, got {text!r}")
        return 0.0


def _optional(options: argparse.Namespace, name: str, problems: list[str]) -> float:
    if getattr(options, "gameday_" + name, "") in ("", None):
        return 0.0
    return _number(options, name, problems)
