"""A Chaos Toolkit control that writes the experiment's timeline to `<run>/events.jsonl`.

Declare it in an experiment (it does nothing unless $GAMEDAY_RUN_DIR is set,
so the experiment still runs on its own with `chaos run`):

    "controls": [{"name": "gameday", "provider": {"type": "python", "module": "harness.chaos.control"}}]

Each line is an `Event` `{ts, source: "chaos", kind, name, detail}` with `ts`
in UTC epoch seconds, appended and flushed as it happens. Kinds:
experiment-start/end, hypothesis-start/end, method-start/end,
rollback-start/end, activity-start/end. Activity times come from the run
engine's own event registry, which fires right where the journal takes its
`start` and `end` (after any `pauses.before`), so both agree to the millisecond;
without a registry the before/after activity hooks are used instead.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from typing import Any

from harness import events
from harness.events import Event

RUN_DIR_ENV = "GAMEDAY_RUN_DIR"

_lock = threading.Lock()
_state = {"phase": "method", "registry_hooked": False}


def emit(kind: str, name: str, detail: dict[str, Any] | None = None, ts: float | None = None) -> Event | None:
    """Append one chaos event to the run's events.jsonl; None (and no write) without a run dir."""
    folder = os.environ.get(RUN_DIR_ENV)
    if not folder:
        return None
    event = Event(ts=time.time() if ts is None else ts, source="chaos", kind=kind, name=name, detail=detail or {})
    with _lock:
        events.append(folder, event)
    return event


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def _activity_detail(activity: dict, run: dict | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"phase": _state["phase"], "type": activity.get("type")}
    provider = activity.get("provider") or {}
    if provider.get("type") == "python":
        detail["func"] = f"{provider.get('module')}.{provider.get('func')}"
    if run is not None:
        detail["status"] = run.get("status")
        detail["start"] = _epoch(run.get("start"))
        detail["duration"] = run.get("duration")
        if run.get("exception"):
            detail["error"] = "".join(run["exception"]).strip()[-500:]
        else:
            detail["output"] = repr(run.get("output"))[:200]
    return detail


class _Timeline:
    """An event handler registered with chaoslib's EventHandlerRegistry (duck-typed: the
    registry calls every hook on every handler and ignores what a handler lacks at its peril)."""

    def __getattr__(self, hook: str):
        return lambda *args, **kwargs: None     # hooks we do not record

    def start_activity(self, activity: dict) -> None:
        emit("activity-start", activity.get("name", "?"), _activity_detail(activity))

    def activity_completed(self, activity: dict, run: dict) -> None:
        emit("activity-end", activity.get("name", "?"), _activity_detail(activity, run), ts=_epoch(run.get("end")))

    def interrupted(self, experiment: dict, journal: dict) -> None:
        emit("experiment-interrupted", experiment.get("title", "?"))

    def signal_exit(self) -> None:
        emit("experiment-interrupted", "signal", {"reason": "signal"})


# ---- the control's hooks (names fixed by chaoslib) -------------------------------
def configure_control(event_registry: Any = None, **_: Any) -> None:
    _state.update(phase="method", registry_hooked=False)
    if event_registry is not None and os.environ.get(RUN_DIR_ENV):
        event_registry.register(_Timeline())
        _state["registry_hooked"] = True


def before_experiment_control(context: dict, **_: Any) -> None:
    emit("experiment-start", context.get("title", "?"))


def after_experiment_control(context: dict, state: dict | None = None, **_: Any) -> None:
    state = state or {}
    emit("experiment-end", context.get("title", "?"),
         {"status": state.get("status"), "deviated": state.get("deviated")})


def before_hypothesis_control(context: dict, **_: Any) -> None:
    _state["phase"] = "hypothesis"
    emit("hypothesis-start", context.get("title", "?"))


def after_hypothesis_control(context: dict, state: dict | None = None, **_: Any) -> None:
    emit("hypothesis-end", context.get("title", "?"), {"met": (state or {}).get("steady_state_met")})


def before_method_control(context: dict, **_: Any) -> None:
    _state["phase"] = "method"
    emit("method-start", context.get("title", "?"))


def after_method_control(context: dict, **_: Any) -> None:
    emit("method-end", context.get("title", "?"))


def before_rollback_control(context: dict, **_: Any) -> None:
    _state["phase"] = "rollback"
    emit("rollback-start", context.get("title", "?"))


def after_rollback_control(context: dict, **_: Any) -> None:
    emit("rollback-end", context.get("title", "?"))


def before_activity_control(context: dict, **_: Any) -> None:
    if not _state["registry_hooked"]:
        emit("activity-start", context.get("name", "?"), _activity_detail(context))


def after_activity_control(context: dict, state: dict | None = None, **_: Any) -> None:
    if not _state["registry_hooked"]:
        emit("activity-end", context.get("name", "?"), _activity_detail(context, state),
             ts=_epoch((state or {}).get("end")))
