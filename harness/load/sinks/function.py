"""Callable sink reader: a user's Python function that yields event ids.

Named as `module:function` (the module must be importable from the working
directory or PYTHONPATH). It is called once with no arguments and must return
an iterable (typically a generator that blocks on the user's own client),
yielding either an id (a string; seen-at = when it was yielded) or an
`(id, ts)` pair with ts in epoch seconds. It runs on a thread of its own, so it
may block freely; if it raises, the next `poll` raises SinkSourceError with the cause.
"""

from __future__ import annotations

import importlib
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from harness.errors import TargetError
from harness.load.sinks import Seen, SinkConfigError


class SinkSourceError(TargetError):
    """The user's callable failed; the reader cannot go on."""


_END = object()


class CallableSource:
    """Drains the iterable returned by `target` (a `module:function` name, or the function itself)."""

    def __init__(self, target: str | Callable[[], Iterable]) -> None:
        self._function = resolve(target) if isinstance(target, str) else target
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="gameday-sink-callable", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            for item in self._function():
                self._queue.put(_seen(item))
        except BaseException as exc:  # handed to the reader loop, which reports it
            self._error = exc
        self._queue.put(_END)

    def poll(self, timeout: float) -> list[Seen]:
        """What the callable yielded since the last call, waiting up to `timeout` for the first item."""
        items = []
        try:
            items.append(self._queue.get(timeout=timeout))
            while True:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        if _END in items and self._error is not None:
            raise SinkSourceError(f"sink callable failed: {self._error!r}") from self._error
        return [item for item in items if item is not _END]

    def close(self) -> None:
        pass  # the drain thread is a daemon: it ends with the process


def resolve(target: str) -> Callable[[], Iterable]:
    """The function named by `module:function`, or SinkConfigError saying what is wrong."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise SinkConfigError(f"sink callable '{target}' must look like 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SinkConfigError(f"sink callable '{target}': cannot import '{module_name}': {exc}") from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise SinkConfigError(f"sink callable '{target}': '{module_name}' has no function '{attr}'")
    return function


def _seen(item: Any) -> Seen:
    if isinstance(item, tuple):
        return str(item[0]), float(item[1])
    return str(item), time.time()
