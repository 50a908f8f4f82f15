"""The experiment section of the report, read from the Chaos Toolkit journal (`<run>/journal.json`).

    experiment_view(run_dir) -> ExperimentView | None    None when the run has no journal

Outputs and exceptions come from the target and are untrusted: they are cut to
OUTPUT_CHARS here and escaped by the template (jinja2 autoescape), never marked safe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.report.failures import encodable

JOURNAL_FILE = "journal.json"
OUTPUT_CHARS = 600


@dataclass(frozen=True)
class ActivityRun:
    name: str
    type: str
    status: str
    start: str
    end: str
    duration: float | None
    output: str
    error: str
    tolerance_met: bool | None

    @property
    def failed(self) -> bool:
        return self.status not in ("succeeded", "") or self.tolerance_met is False


@dataclass(frozen=True)
class Hypothesis:
    when: str  # before | after
    met: bool | None
    probes: tuple[ActivityRun, ...]


@dataclass(frozen=True)
class ExperimentView:
    title: str
    status: str
    deviated: bool
    start: str
    end: str
    hypotheses: tuple[Hypothesis, ...]
    method: tuple[ActivityRun, ...]
    rollbacks: tuple[ActivityRun, ...]

    @property
    def failed_activities(self) -> tuple[ActivityRun, ...]:
        return tuple(a for a in (*self.method, *self.rollbacks) if a.failed)


def journal_paths(run_dir: str | Path) -> list[Path]:
    """journal.json, then journal-2.json, journal-3.json... (one per chaos block, in run order)."""
    run_dir = Path(run_dir)
    extra = sorted(
        run_dir.glob("journal-*.json"), key=lambda p: int(p.stem.split("-")[1]) if p.stem.split("-")[1].isdigit() else 0
    )
    return [p for p in [run_dir / JOURNAL_FILE, *extra] if p.exists()]


def experiment_views(run_dir: str | Path) -> list[ExperimentView]:
    """Every experiment of the run as the report shows it, in run order."""
    views = [experiment_view(run_dir, path) for path in journal_paths(run_dir)]
    return [v for v in views if v is not None]


def experiment_view(run_dir: str | Path, path: Path | None = None) -> ExperimentView | None:
    """One journal (default journal.json) as the report shows it; an unreadable journal reads as absent."""
    path = path or Path(run_dir) / JOURNAL_FILE
    try:
        journal = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return None
    if not isinstance(journal, dict):
        return None
    states = journal.get("steady_states") or {}
    return ExperimentView(
        title=_text((journal.get("experiment") or {}).get("title")),
        status=_text(journal.get("status")),
        deviated=bool(journal.get("deviated")),
        start=_text(journal.get("start")),
        end=_text(journal.get("end")),
        hypotheses=tuple(
            _hypothesis(when, state) for when in ("before", "after") if isinstance(state := states.get(when), dict)
        ),
        method=tuple(_activity(r) for r in journal.get("run") or () if isinstance(r, dict)),
        rollbacks=tuple(_activity(r) for r in journal.get("rollbacks") or () if isinstance(r, dict)),
    )


def _hypothesis(when: str, state: dict) -> Hypothesis:
    met = state.get("steady_state_met")
    return Hypothesis(
        when,
        met if isinstance(met, bool) else None,
        tuple(_activity(r) for r in state.get("probes") or () if isinstance(r, dict)),
    )


def _activity(run: dict) -> ActivityRun:
    activity = run.get("activity") or {}
    exception = run.get("exception")
    error = "".join(map(_text, exception)) if isinstance(exception, list) else _text(exception)
    tolerance = run.get("tolerance_met")
    duration = run.get("duration")
    return ActivityRun(
        name=_text(activity.get("name")),
        type=_text(activity.get("type")),
        status=_text(run.get("status")),
        start=_text(run.get("start")),
        end=_text(run.get("end")),
        duration=float(duration) if isinstance(duration, (int, float)) else None,
        output=truncate(_show(run.get("output"))),
        error=truncate(error.strip()),
        tolerance_met=tolerance if isinstance(tolerance, bool) else None,
    )


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return encodable(value)
    try:
        return json.dumps(value, default=str)
    except ValueError:
        return repr(value)


def _text(value: Any) -> str:
    return "" if value is None else encodable(str(value))


def truncate(text: str, limit: int = OUTPUT_CHARS) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"
