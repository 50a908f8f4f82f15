"""The game day a `gameday ui` session judges against, written as the gameday.yaml of every run.

    session_spec(gameday_path=None, profile=None, stack="default") -> SessionSpec

From a game day file: its target, profile, load, warmup, SLOs and guardrails. The load
is the game day's shape (`locust_args`: the `--gameday-*` options of the plugin's
GamedayShape, a Locust LoadTestShape), so Locust's form shows that shape in its custom
parameters and a test runs it, the open model at its rate, for its duration. The game
day's chaos blocks stay in the recorded spec, because its fault and recovery SLOs need
one, but nothing schedules them: experiments are started from the tab, and the analysis
finds the phases in the timeline.
From a profile alone: DEFAULT_SLOS, and the load set by hand in Locust's form (the
recorded spec says `shape: steady` for up to a day).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import SpecError
from harness.load.child import shape_argv
from harness.spec.loader import load_gameday
from harness.spec.models import GameDay, LoadSpec

DEFAULT_SLOS = (
    {"sli": "availability", "phase": "run", "objective": ">= 99%"},
    {"sli": "error_rate", "phase": "run", "objective": "< 1%"},
    {"sli": "latency.p99", "phase": "run", "objective": "< 250ms"},
)
# A profile alone: the load is whatever the user sets in Locust's form; this only makes the spec valid.
HAND_SET_LOAD = {"shape": "steady", "users": 1, "duration": "24h"}


@dataclass(frozen=True)
class SessionSpec:
    """The recorded spec (`document`), what it targets and runs, and notes for the user."""

    document: dict[str, Any]
    profile: Path
    target_kind: str
    base_url: str | None = None
    notes: tuple[str, ...] = ()
    locust_args: tuple[str, ...] = ()  # the game day's load shape, as Locust options

    @property
    def name(self) -> str:
        return self.document["name"]

    def write(self, path: Path) -> GameDay:
        """Write the spec as YAML to `path` and return it loaded (SpecError if it does not validate)."""
        path.write_text(yaml.safe_dump(self.document, sort_keys=False), encoding="utf-8")
        return load_gameday(path, check_experiments=False)


def session_spec(gameday_path: str | None = None, profile: str | None = None, stack: str = "default") -> SessionSpec:
    """The session's spec from a game day file or a profile (exactly one of them); SpecError otherwise."""
    if profile and not gameday_path:
        return _from_profile(Path(profile), stack)
    if gameday_path and not profile:
        return _from_gameday(load_gameday(gameday_path, check_experiments=False), stack)
    raise SpecError("give a game day file (gameday ui gamedays/x.yaml) or --profile loadprofiles/x.py, not both")


def _from_profile(profile: Path, stack: str) -> SessionSpec:
    if not profile.is_file():
        raise SpecError(f"--profile {profile}: no such file; pass a Locust file such as loadprofiles/inference.py")
    path = profile.resolve()
    document = {
        "name": f"{path.stem}-ui",
        "description": "ad hoc game day in the Locust web UI",
        "target": {"kind": "local", "stack": stack},
        "load": {"profile": str(path), **HAND_SET_LOAD},
        "slos": [dict(s) for s in DEFAULT_SLOS],
    }
    return SessionSpec(document, path, "local")


def _from_gameday(gameday: GameDay, stack: str) -> SessionSpec:
    raw = copy.deepcopy(_plain(gameday.raw))
    target = raw.get("target") or {"kind": "local"}
    kind = target.get("kind", "local")
    if kind == "kubernetes":
        raise SpecError(
            f"{gameday.path}: target kind 'kubernetes' is not supported by `gameday ui`; "
            "use `gameday run`, or a local or http game day"
        )
    profile = gameday.resolve(gameday.load.profile).resolve()
    slos = raw.get("slos") or []
    notes: tuple[str, ...] = (
        f"load: {describe_load(gameday.load)}, from Locust's form (Custom parameters, gameday_*)",
    )
    if raw.get("chaos") is not None:
        notes += ("the game day's own chaos blocks are not scheduled here; start experiments from the Game day tab",)
    # Locust's web UI runs one process here: `processes` and `where` do not apply
    load = {k: v for k, v in (raw.get("load") or {}).items() if k not in ("processes", "where", "workers")}
    document = {
        "name": f"{gameday.name}-ui",
        "description": f"ad hoc run of {gameday.name} in the Locust web UI",
        "target": {**target, "stack": stack} if kind == "local" else target,
        "load": {**load, "profile": str(profile)},
        "warmup": raw.get("warmup", 0),
        "slos": slos or [dict(s) for s in DEFAULT_SLOS],
    }
    if gameday.chaos:  # absolute paths: the recorded spec lives in the run directory
        document["chaos"] = [
            {"experiment": str(gameday.resolve(b.experiment).resolve()), "start_after": b.start_after}
            for b in gameday.chaos
        ]
    if raw.get("guardrails"):
        document["guardrails"] = raw["guardrails"]
    base_url = target.get("base_url") if kind == "http" else None
    return SessionSpec(document, profile, kind, base_url, notes, _locust_args(gameday.load))


def _locust_args(load: LoadSpec) -> tuple[str, ...]:
    args = shape_argv(load.shape, load.duration, load.params)
    for key, value in load.options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return tuple(args)


def describe_load(load: LoadSpec) -> str:
    """e.g. "constant_rate (rate 50) for 75s": the shape, its parameters and its duration."""
    params = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in load.params.items())
    return f"{load.shape}" + (f" ({params})" if params else "") + f" for {load.duration:g}s"


def _plain(value: Any) -> Any:
    """A read-only mapping tree as plain dicts and lists (for YAML and deepcopy)."""
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
