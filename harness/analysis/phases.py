"""Phases of a run, from its timeline (docs/architecture.md, "Vocabulary" and "Deviations").

    warmup    load start .. load start + warmup (the `warmup-end` event)   left out of every SLI
    baseline  warmup end .. start of the first method activity (or load end without chaos)
    fault     per experiment: start of its first method *action* .. the fault's *removal*:
              the end of its last method action marked `removes_fault` (a heal or restore
              step, see harness.chaos.control), else the end of its last rollback activity,
              else of its last method activity when it has no rollbacks
    recovery  per fault: its removal .. the next experiment's first method activity, or load end
    run       warmup end .. load end

With several chaos blocks (a nightly run), `fault` and `recovery` are lists of
windows, one per experiment that injected a fault; an SLI over a phase aggregates
all of its windows. Every phase is a tuple of windows for that reason, even when
it holds one. Windows are clipped to the run window; empty ones are dropped.

Timeline events used (source, kind): harness `load-start`/`load-stop`/`warmup-end`
(falling back to `run-start`/`run-end` and the load plugin's `test-start`/`test-stop`),
and the chaos control's `experiment-start`, `activity-start`, `activity-end` with
`detail.phase` in hypothesis|method|rollback and `detail.type` in action|probe.
An experiment interrupted mid-fault (no rollback end recorded) ends its fault at
its `experiment-end`, an `abort`, or the load end, whichever comes first.

Windows are snapped to whole seconds, and a sample second belongs to a window
when the whole second lies inside it (start <= s and s + 1 <= end). Fault
windows grow outwards (floor of start, ceil of end) and every other window
shrinks inwards, so a second touched by a fault belongs to the fault: its
first errors are never charged to the baseline, nor its last ones to the
recovery, and they are never lost between two phases either.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.events import EventKind

WARMUP, BASELINE, FAULT, RECOVERY, RUN = "warmup", "baseline", "fault", "recovery", "run"
PHASE_NAMES = (WARMUP, BASELINE, FAULT, RECOVERY, RUN)

Event = Mapping[str, Any]


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC epoch seconds."""

    start: float
    end: float

    @property
    def length(self) -> float:
        return max(0.0, self.end - self.start)

    def seconds(self) -> range:
        """The integer sample seconds that lie wholly inside the window."""
        return range(math.ceil(self.start), math.floor(self.end))

    def contains(self, ts: float) -> bool:
        return self.start <= ts < self.end


Phases = dict[str, tuple[Window, ...]]


@dataclass(frozen=True)
class Fault:
    """One injected fault: `window` runs from its first action to its removal, exactly (not
    snapped to seconds); `recovery` is its recovery phase window (whole seconds), None when
    the load ended first."""

    window: Window
    recovery: Window | None

    @property
    def removal(self) -> float:
        return self.window.end


def phases(events: Iterable[Event], warmup: float = 0.0) -> Phases:
    """Every phase's windows (see the module docstring); `warmup` is used only without a `warmup-end` event.

    Phases that did not happen map to an empty tuple.
    """
    layout = _layout(events, warmup)
    if layout is None:
        return {name: () for name in PHASE_NAMES}
    load_start, warmup_end, run, blocks = layout
    faults = [_clip(Window(b[1], b[2]), run) for b in blocks if b[1] is not None]
    baseline_end = blocks[0][0] if blocks else run.end
    return {
        WARMUP: _keep([_outward(Window(load_start, warmup_end))]),
        BASELINE: _keep([_inward(_clip(Window(warmup_end, baseline_end), run))]),
        FAULT: _keep([_outward(w) for w in faults]),
        RECOVERY: _keep([_inward(w) for w in _recoveries(blocks, run)]),
        RUN: _keep([_inward(run)]),
    }


def faults(events: Iterable[Event], warmup: float = 0.0) -> tuple[Fault, ...]:
    """Each injected fault with its exact removal time and its recovery window, in order."""
    layout = _layout(events, warmup)
    if layout is None:
        return ()
    _, _, run, blocks = layout
    found = []
    recoveries = iter(_recoveries(blocks, run))
    for _, start, removal in blocks:
        if start is None:
            continue
        window, recovery = _clip(Window(start, removal), run), _inward(next(recoveries))
        found.append(Fault(window, recovery if recovery.length > 0 else None))
    return tuple(found)


def _layout(
    events: Iterable[Event], warmup: float
) -> tuple[float, float, Window, list[tuple[float, float | None, float]]] | None:
    """(load start, warmup end, run window, per-experiment bounds), or None without load."""
    events = sorted(events, key=lambda e: e.get("ts", 0.0))
    load_start, load_end = _load_bounds(events)
    if load_start is None or load_end is None or load_end <= load_start:
        return None
    warmup_end = min(_first(events, "harness", "warmup-end") or load_start + warmup, load_end)
    blocks = [b for b in (_block_bounds(block, load_end) for block in _experiments(events)) if b]
    return load_start, warmup_end, Window(warmup_end, load_end), blocks


def _outward(window: Window) -> Window:
    return Window(float(math.floor(window.start)), float(math.ceil(window.end)))


def _inward(window: Window) -> Window:
    """Whole seconds inside `window`; a recovery starting mid-second starts at the next second."""
    return Window(float(math.ceil(window.start)), float(max(math.floor(window.end), math.ceil(window.start))))


def _load_bounds(events: list[Event]) -> tuple[float | None, float | None]:
    start = (
        _first(events, "harness", "load-start")
        or _first(events, "harness", "run-start")
        or _first(events, "load", EventKind.TEST_START)
    )
    end = (
        _last(events, "harness", "load-stop")
        or _last(events, "load", EventKind.TEST_STOP)
        or _last(events, "harness", "run-end")
    )
    if start is not None and end is None and events:
        end = events[-1].get("ts")
    return start, end


def _experiments(events: list[Event]) -> list[list[Event]]:
    """Chaos events split into one list per experiment (at each experiment-start)."""
    blocks: list[list[Event]] = []
    for event in events:
        if event.get("source") == "chaos" or event.get("kind") == "abort":
            if event.get("kind") == "experiment-start" or not blocks:
                blocks.append([])
            blocks[-1].append(event)
    return blocks


def _block_bounds(block: list[Event], load_end: float) -> tuple[float, float | None, float] | None:
    """(first method activity, fault start or None, fault end) of one experiment, or None without a method."""
    method = [e for e in block if _detail(e, "phase") == "method"]
    if not method:
        return None
    first_method = method[0]["ts"]
    actions = [e["ts"] for e in method if e.get("kind") == "activity-start" and _detail(e, "type") == "action"]
    if not actions:
        return first_method, None, first_method
    removal = _method_removal(method, actions)
    if removal is not None:
        return first_method, actions[0], max(removal, actions[0])
    ends = [e["ts"] for e in block if e.get("kind") == "activity-end" and _detail(e, "phase") == "rollback"]
    ends = ends or [e["ts"] for e in method if e.get("kind") == "activity-end"]
    end = max(ends) if ends else None
    if end is None or _interrupted(block, end):
        end = min([load_end, *[e["ts"] for e in block if e.get("kind") in ("experiment-end", "abort")]])
    return first_method, actions[0], max(end, actions[0])


def _method_removal(method: list[Event], action_starts: list[float]) -> float | None:
    """The end of the last method action that removes the fault, unless an action started after it
    (a fault injected again after a heal is removed by the rollbacks)."""
    ends = [e["ts"] for e in method if e.get("kind") == "activity-end" and _detail(e, "removes_fault")]
    if not ends or max(action_starts) > max(ends):
        return None
    return max(ends)


def _interrupted(block: list[Event], last_end: float) -> bool:
    """An activity started after the last recorded end and never ended (killed mid-activity)."""
    starts = [
        e["ts"] for e in block if e.get("kind") == "activity-start" and _detail(e, "phase") in ("method", "rollback")
    ]
    return bool(starts) and max(starts) > last_end


def _recoveries(blocks: list[tuple[float, float | None, float]], run: Window) -> list[Window]:
    windows = []
    for i, (_, fault_start, fault_end) in enumerate(blocks):
        if fault_start is None:
            continue
        until = blocks[i + 1][0] if i + 1 < len(blocks) else run.end
        windows.append(_clip(Window(fault_end, until), run))
    return windows


def _clip(window: Window, bounds: Window) -> Window:
    return Window(min(max(window.start, bounds.start), bounds.end), max(min(window.end, bounds.end), bounds.start))


def _keep(windows: Sequence[Window]) -> tuple[Window, ...]:
    return tuple(w for w in windows if w.length > 0)


def _detail(event: Event, key: str) -> Any:
    detail = event.get("detail")
    return detail.get(key) if isinstance(detail, dict) else None


def _first(events: list[Event], source: str, kind: str) -> float | None:
    return next((e["ts"] for e in events if e.get("source") == source and e.get("kind") == kind), None)


def _last(events: list[Event], source: str, kind: str) -> float | None:
    return next((e["ts"] for e in reversed(events) if e.get("source") == source and e.get("kind") == kind), None)


def second_mask(ts: np.ndarray, windows: Iterable[Window]) -> np.ndarray:
    """Boolean mask of integer sample seconds `ts` that lie wholly inside any of `windows`."""
    start = ts.astype(np.float64)
    mask = np.zeros(len(ts), dtype=bool)
    for window in windows:
        mask |= (start >= window.start) & (start + 1 <= window.end)
    return mask


def time_mask(ts: np.ndarray, windows: Iterable[Window]) -> np.ndarray:
    """Boolean mask of exact timestamps `ts` that fall in any of `windows`."""
    mask = np.zeros(len(ts), dtype=bool)
    for window in windows:
        mask |= (ts >= window.start) & (ts < window.end)
    return mask


def seconds_in(windows: Iterable[Window]) -> int:
    """How many sample seconds the windows hold."""
    return sum(len(w.seconds()) for w in windows)
