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

A method action that *removes* the fault (heals the partition, restores the weight)
carries `detail.removes_fault: true` on its activity-end: the recovery clock starts
there, not after the experiment's later pauses and rollbacks. Which actions remove the
fault is said by the experiment, in a standard Chaos Toolkit extension:

    "extensions": [{"name": "gameday", "removes_fault": ["heal-replicas"]}]

Without that extension, a method action whose name starts with one of REMOVAL_PREFIXES
(`heal-kafka`, `restore-weight`, `thaw-replica-2`, ...) removes it. With neither, the
fault is removed by the rollbacks (harness.analysis.phases).

It also keeps the experiment's secrets out of the run directory from inside the child
(harness.chaos.redact): given the secrets Chaos Toolkit resolved, it redacts every log
record on its way to chaos.log/chaos.out, every event it writes, and the journal in the
run engine's last hook, just before `chaos run` writes journal.json. So a secret stays
out even when `gameday run` is SIGKILLed and never gets to redact after the child exits.
Every redaction step is guarded: a failure to redact never fails an activity or a rollback.

A *method* probe's `tolerance` is checked here, with chaoslib's own `within_tolerance`:
Chaos Toolkit checks tolerances only in the steady-state hypothesis and records a method
probe as succeeded whatever it answered, so trip-breaker's "breaker-replica-1-open" would
verify nothing. Its activity-end carries `tolerance_met`, and
harness.analysis.experiment_checks fails the experiment when it is false.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from chaoslib import substitute
from chaoslib.hypothesis import within_tolerance

from harness import events
from harness.chaos import redact
from harness.events import Event, EventKind

RUN_DIR_ENV = "GAMEDAY_RUN_DIR"

REMOVAL_PREFIXES = ("heal", "restore", "thaw", "resume", "roll-back", "rollback", "undo", "uncordon", "unfreeze")

_lock = threading.Lock()
_state: dict[str, Any] = {
    "phase": "method",
    "registry_hooked": False,
    "secrets": [],
    "removals": None,
    "configuration": None,  # what Chaos Toolkit resolved, for a probe tolerance (within_tolerance)
    "resolved": None,
}


def removal_names(experiment: Any) -> frozenset[str] | None:
    """The action names the experiment's `gameday` extension marks as removing the fault, or None
    when it says nothing (then the name convention applies)."""
    extensions = experiment.get("extensions") if isinstance(experiment, dict) else None
    for extension in extensions if isinstance(extensions, list) else []:
        if isinstance(extension, dict) and extension.get("name") == "gameday" and "removes_fault" in extension:
            names = extension["removes_fault"]
            return frozenset(str(n) for n in names) if isinstance(names, list) else frozenset()
    return None


def removes_fault(activity: dict, explicit: frozenset[str] | None) -> bool:
    """Whether this method action removes the fault (module docstring)."""
    if activity.get("type") != "action":
        return False
    name = str(activity.get("name", ""))
    if explicit is not None:
        return name in explicit
    return name.lower().startswith(REMOVAL_PREFIXES)


def emit(kind: str, name: str, detail: dict[str, Any] | None = None, ts: float | None = None) -> Event | None:
    """Append one chaos event to the run's events.jsonl; None (and no write) without a run dir."""
    folder = os.environ.get(RUN_DIR_ENV)
    if not folder:
        return None
    name, detail = _redacted(name), _redacted(detail or {})
    event = Event(ts=time.time() if ts is None else ts, source="chaos", kind=kind, name=name, detail=detail)
    with _lock:
        events.append(folder, event)
    return event


def _redacted(value: Any) -> Any:
    """`value` with the run's secrets as `***` (an activity's output may echo one back)."""
    if not _state["secrets"]:
        return value
    try:
        return redact.redact_value(value, _state["secrets"])
    except Exception:  # noqa: BLE001 - never fail an activity over its timeline entry
        return "[redaction failed]" if isinstance(value, str) else {}


def _redact_journal(journal: Any) -> None:
    """Redact the journal in place: `chaos run` writes this very dict to journal.json next."""
    if _state["secrets"] and isinstance(journal, dict):
        with contextlib.suppress(Exception):  # gameday's pass after the child exits is the fallback
            redact.redact_in_place(journal, _state["secrets"])


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def _activity_detail(activity: dict, run: dict | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"phase": _state["phase"], "type": activity.get("type")}
    provider = activity.get("provider") or {}
    if provider.get("type") == "python":
        detail["func"] = f"{provider.get('module')}.{provider.get('func')}"
    if run is not None:
        # a heal that failed removed nothing: the rollbacks will
        if (
            _state["phase"] == "method"
            and run.get("status") == "succeeded"
            and removes_fault(activity, _state["removals"])
        ):
            detail["removes_fault"] = True
        if _state["phase"] == "method" and activity.get("type") == "probe" and "tolerance" in activity:
            # into the journal's own run entry as well, so the report's journal view shows it
            detail["tolerance_met"] = run["tolerance_met"] = _within_tolerance(activity["tolerance"], run)
        detail["status"] = run.get("status")
        detail["start"] = _epoch(run.get("start"))
        detail["duration"] = run.get("duration")
        if run.get("exception"):
            detail["error"] = "".join(run["exception"]).strip()[-500:]
        else:
            detail["output"] = repr(run.get("output"))[:200]
    return detail


def _within_tolerance(tolerance: Any, run: dict) -> bool | None:
    """Whether a method probe's answer is within its tolerance, checked as chaoslib checks a
    hypothesis probe's (a string tolerance substituted first; a probe tolerance run on a copy, so
    the experiment is not changed); None when the probe failed to answer (its status says so) or
    the tolerance gave no verdict (a type chaoslib does not know, an error)."""
    if run.get("status") != "succeeded":
        return None
    configuration, secrets = _state["configuration"], _state["resolved"]
    try:
        if isinstance(tolerance, str):
            tolerance = substitute(tolerance, configuration, secrets)
        checked = within_tolerance(copy.deepcopy(tolerance), run.get("output"), configuration, secrets)
    except Exception:  # noqa: BLE001 (a tolerance chaoslib cannot evaluate must not fail the activity)
        return None
    return checked if isinstance(checked, bool) else None


class _Timeline:
    """An event handler registered with chaoslib's EventHandlerRegistry (duck-typed: the
    registry calls every hook on every handler and ignores what a handler lacks at its peril)."""

    def __getattr__(self, hook: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None  # hooks we do not record

    def start_activity(self, activity: dict) -> None:
        emit(EventKind.ACTIVITY_START, activity.get("name", "?"), _activity_detail(activity))

    def activity_completed(self, activity: dict, run: dict) -> None:
        emit(
            EventKind.ACTIVITY_END,
            activity.get("name", "?"),
            _activity_detail(activity, run),
            ts=_epoch(run.get("end")),
        )

    def interrupted(self, experiment: dict, journal: dict) -> None:
        emit(EventKind.EXPERIMENT_INTERRUPTED, experiment.get("title", "?"))

    def signal_exit(self) -> None:
        emit(EventKind.EXPERIMENT_INTERRUPTED, "signal", {"reason": "signal"})

    def finish(self, journal: dict) -> None:
        """The engine's last hook, after the rollbacks, on every path (interrupted too)."""
        _redact_journal(journal)


# ---- the control's hooks (names fixed by chaoslib) -------------------------------
def configure_control(
    event_registry: Any = None, secrets: Any = None, experiment: Any = None, configuration: Any = None, **_: Any
) -> None:
    _state.update(
        phase="method",
        registry_hooked=False,
        removals=removal_names(experiment),
        configuration=configuration,
        resolved=secrets,
    )
    _protect(secrets)
    if event_registry is not None and os.environ.get(RUN_DIR_ENV):
        event_registry.register(_Timeline())
        _state["registry_hooked"] = True


def _protect(secrets: Any) -> None:
    """Remember the resolved secrets and put a redacting filter on Chaos Toolkit's log handlers."""
    with contextlib.suppress(Exception):  # the control must still record the timeline
        _remember(redact.resolved_values(secrets))


def _remember(values: Iterable[str]) -> None:
    merged = sorted({*_state["secrets"], *values}, key=len, reverse=True)
    if merged != _state["secrets"]:
        _state["secrets"] = merged
        redact.install_log_redaction(merged)


def _protect_early() -> None:
    """At import, under `gameday run`: `chaos run` imports a --control-file control before it logs
    the experiment's title, which may hold a substituted secret, and long before configure_control.
    The experiment is its last argument (harness.run.chaos_driver.chaos_argv)."""
    path = sys.argv[-1] if len(sys.argv) > 1 else ""
    if not os.environ.get(RUN_DIR_ENV) or not path.endswith((".json", ".yaml", ".yml")):
        return
    with contextlib.suppress(Exception):  # configure_control protects again with the resolved values
        _remember(redact.secret_values(redact.read_experiment(path), os.environ))


def before_experiment_control(context: dict, **_: Any) -> None:
    emit(EventKind.EXPERIMENT_START, context.get("title", "?"))


def after_experiment_control(context: dict, state: dict | None = None, **_: Any) -> None:
    state = state or {}
    _redact_journal(state)  # without a registry this is the last look at the journal
    emit(
        EventKind.EXPERIMENT_END,
        context.get("title", "?"),
        {"status": state.get("status"), "deviated": state.get("deviated")},
    )


def before_hypothesis_control(context: dict, **_: Any) -> None:
    _state["phase"] = "hypothesis"
    emit(EventKind.HYPOTHESIS_START, context.get("title", "?"))


def after_hypothesis_control(context: dict, state: dict | None = None, **_: Any) -> None:
    """`met`, and the probes out of tolerance with what they answered (harness.analysis.experiment_checks
    names them when the hypothesis failed)."""
    state = state or {}
    unmet = [
        {"probe": (run.get("activity") or {}).get("name", "?"), "output": _answer(run)}
        for run in state.get("probes") or ()
        if isinstance(run, dict) and run.get("tolerance_met") is False
    ]
    emit(EventKind.HYPOTHESIS_END, context.get("title", "?"), {"met": state.get("steady_state_met"), "unmet": unmet})


def _answer(run: dict) -> str:
    """What a probe answered, or the last line of its error when it raised instead."""
    if run.get("status") == "failed" and run.get("exception"):
        lines = "".join(run["exception"]).strip().splitlines()
        return f"an error ({lines[-1][:200]})" if lines else "an error"
    return repr(run.get("output"))[:200]


def before_method_control(context: dict, **_: Any) -> None:
    _state["phase"] = "method"
    emit(EventKind.METHOD_START, context.get("title", "?"))


def after_method_control(context: dict, **_: Any) -> None:
    emit(EventKind.METHOD_END, context.get("title", "?"))


def before_rollback_control(context: dict, **_: Any) -> None:
    _state["phase"] = "rollback"
    emit(EventKind.ROLLBACK_START, context.get("title", "?"))


def after_rollback_control(context: dict, **_: Any) -> None:
    emit(EventKind.ROLLBACK_END, context.get("title", "?"))


def before_activity_control(context: dict, **_: Any) -> None:
    if not _state["registry_hooked"]:
        emit(EventKind.ACTIVITY_START, context.get("name", "?"), _activity_detail(context))


def after_activity_control(context: dict, state: dict | None = None, **_: Any) -> None:
    if not _state["registry_hooked"]:
        emit(
            EventKind.ACTIVITY_END,
            context.get("name", "?"),
            _activity_detail(context, state),
            ts=_epoch((state or {}).get("end")),
        )


_protect_early()
