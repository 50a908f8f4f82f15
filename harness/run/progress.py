"""Progress of a running game day: a live status line on a terminal, plain lines in CI logs.

On a TTY the status line (phase, time left, rps, p99, error rate) is redrawn in
place about once a second. When the game day asks one Locust process for more than one
keeps on schedule (this machine's `gameday calibrate` figure, else the benchmark's; see
harness.generator_capacity), the line ends by suggesting `load.processes`. Elsewhere (CI)
the same status is printed as a plain line every `plain_every_s` seconds, so logs stay
readable.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from harness import generator_capacity

if TYPE_CHECKING:  # for annotations only: harness.run.seams holds a Progress in its RunContext
    from harness.run.seams import RunContext


class Progress:
    def __init__(
        self,
        stream: TextIO = sys.stdout,
        tty: bool | None = None,
        plain_every_s: float = 10.0,
        capacity: generator_capacity.Capacity | None = None,
    ):
        self.stream = stream
        self.capacity = capacity  # read once when the run starts (None: read when drawn)
        self.tty = stream.isatty() if tty is None else tty
        self.plain_every_s = plain_every_s
        self._last = 0.0
        self._drawn = False

    def line(self, message: str) -> None:
        """A message that stays in the log."""
        self._clear()
        print(message, file=self.stream, flush=True)

    def tick(self, ctx: RunContext) -> None:
        """Redraw (TTY) or print (CI) the status of `ctx` if it is time to."""
        now = ctx.clock.now()
        every = 1.0 if self.tty else self.plain_every_s
        if now - self._last < every:
            return
        self._last = now
        text = status_text(ctx, now, self.capacity)
        if self.tty:
            self.stream.write("\r\033[K" + text)
            self.stream.flush()
            self._drawn = True
        else:
            print(text, file=self.stream, flush=True)

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\033[K")
            self._drawn = False


def phase_name(ctx: RunContext, now: float) -> str:
    if not ctx.load_started:
        return "starting"
    if now < ctx.load_started + ctx.gameday.warmup:
        return "warmup"
    if ctx.chaos is not None:
        return "fault"
    started = [b for b in ctx.gameday.chaos if now >= ctx.load_started + b.start_after]
    return "recovery" if started else "baseline"


def status_text(ctx: RunContext, now: float, capacity: generator_capacity.Capacity | None = None) -> str:
    left = (
        max(0.0, ctx.load_started + ctx.gameday.load.duration - now) if ctx.load_started else ctx.gameday.load.duration
    )
    text = f"[{phase_name(ctx, now):<8}] {left:5.0f}s left"
    live = ctx.load.live() if ctx.load is not None else None
    overall = (((live or {}).get("windows") or {}).get("5s") or {}).get("overall") or {}
    if overall.get("requests"):
        p99 = overall.get("p99_ms")
        text += f" | {overall['throughput']:7.1f} rps | p99 {p99:7.1f} ms" if p99 is not None else ""
        text += f" | errors {overall['error_rate']:6.2%}"
    suggested = generator_capacity.suggestion(ctx.gameday.load, capacity)
    if suggested:
        text += f" | generator over one process's pace: {suggested}"
    return text
