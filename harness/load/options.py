"""The plugin's Locust command-line options, each also readable from an environment variable.

Every option `--gameday-foo-bar` can also be set as GAMEDAY_FOO_BAR (Locust's
`env_var=`). The game day orchestrator passes them as command-line options. With a
shape asked for, the shape's options show in the web UI's form (`add_options`).
Names, parameters and help texts come from harness.shape_table; every number and
time goes through the one duration grammar (harness.durations), so `.5s` means the
same here as in a spec.

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
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from harness import shape_table
from harness.durations import parse_duration
from harness.load.shapes import ShapeSpec, default_pool


def add_options(parser: Any) -> None:
    """Register every --gameday-* option on Locust's argument parser.

    When a shape is asked for, its options (shape, duration and the shape's own
    parameters) show in the web UI's form as custom parameters, holding the values
    given: the form shows the shape a test will run, and an edit there applies to the
    next test (harness.load.locust_shape.refresh_spec)."""
    shown = web_ui_options(sys.argv, os.environ)
    group = parser.add_argument_group("gameday", "gameday harness: recording and load shapes")

    def option(name: str, text: str) -> None:
        action = group.add_argument(
            f"--gameday-{name.replace('_', '-')}", default="", env_var=f"GAMEDAY_{name.upper()}", help=text
        )
        # Locust shows an option in its form when the action carries this flag (an argument
        # group's add_argument does not set it as Locust's own parser does)
        action.include_in_web_ui = name in shown

    option("run_dir", "run directory to record into (default: reports/runs/<UTC>-adhoc)")
    option("shape", "load shape: " + " | ".join(shape_table.SHAPES))
    option("duration", "how long the shape runs, e.g. 120s (default: until stopped)")
    for name, text in shape_table.HELP.items():
        option(name, text)
    option(
        "variant_header",
        "response header naming the variant that answered (A/B test or canary), "
        "e.g. x-model-version; recorded per request",
    )


def web_ui_options(argv: Sequence[str], environ: Mapping[str, str]) -> set[str]:
    """The options shown in the web UI's form: with a shape asked for on the command line or in
    $GAMEDAY_SHAPE, `shape`, `duration` and that shape's parameters; none otherwise."""
    shape = environ.get("GAMEDAY_SHAPE", "")
    for i, arg in enumerate(argv):
        if arg == "--gameday-shape" and i + 1 < len(argv):
            shape = argv[i + 1]
        elif arg.startswith("--gameday-shape="):
            shape = arg.partition("=")[2]
    return {"shape", "duration", *shape_table.keys(shape.strip())} if shape.strip() else set()


def spec_from_options(options: argparse.Namespace) -> ShapeSpec | None:
    """The ShapeSpec the options ask for, None when --gameday-shape is empty.

    Raises ValueError listing every problem at once (unknown shape, missing or bad values).
    """
    kind = (getattr(options, "gameday_shape", "") or "").strip()
    if not kind:
        return None
    if kind not in shape_table.SHAPES:
        raise ValueError(f"unknown --gameday-shape {kind!r}; choose one of {', '.join(shape_table.SHAPES)}")
    problems: list[str] = []
    params = {p.argument: _number(options, p.key, problems) for p in shape_table.PARAMS[kind]}
    duration = _optional(options, "duration", problems)
    pool = _optional(options, "pool", problems)
    spawn_rate = _optional(options, "spawn_rate", problems)
    if problems:
        raise ValueError(f"--gameday-shape {kind}: " + "; ".join(problems))
    spec = ShapeSpec(kind, params, duration, int(pool), spawn_rate)
    if kind in shape_table.RATE_SHAPES and not pool:
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
        return parse_duration(text)
    except ValueError:
        problems.append(f"{flag} must be a number or a duration, got {text!r}")
        return 0.0


def _optional(options: argparse.Namespace, name: str, problems: list[str]) -> float:
    if getattr(options, "gameday_" + name, "") in ("", None):
        return 0.0
    return _number(options, name, problems)
