"""The cyclic garbage collector, paced by the plugin's one-second tick while a pool keeps a schedule.

Left to itself, CPython's collector runs whenever 700 more container objects are alive
than at its last run: at arbitrary moments, about a hundred times a second at a few
thousand requests per second, and now and then a full collection over every object of a
pool of thousands of Locust users and their HTTP sessions. Measured (Nov 2026, 5,000 and
8,000 req/s): 5-8% of the generator's CPU, full collections of 17-40 ms on a quiet core,
and together they freed 57 objects in 12 s (the request path frees by reference counting).
Each pause sends every slot due meanwhile late, which an open model must record as lag.
Collecting the young generations once a second instead was no better: they then hold
every request in flight (100k objects at 5,000 req/s against a slow target, 10-100 ms).

So, from test start (`hold`) no automatic collection, and once the pool is spawned
(`start`): `gc.freeze()` (the pool's objects move to a permanent generation that is never
scanned; Locust does the same before `--processes` forks). `tick` (once a second) runs a full
collection every FULL_EVERY_S, so a reference cycle a profile makes is freed at most that
late: one short pause a minute instead of a hundred a second. `stop` unfreezes the pool
(its users are gone with the test; a web UI run starts another) and turns automatic
collection back on.
"""

from __future__ import annotations

import gc

FULL_EVERY_S = 60.0


class PacedCollector:
    """Runs the cyclic collector on the tick instead of at allocation-count thresholds."""

    def __init__(self) -> None:
        self.active = False
        self._last_full = 0.0

    def hold(self) -> None:
        """At test start, before Locust spawns the pool: no automatic collection meanwhile.

        Spawning 10,000 users set off five full collections over the growing heap (220 ms
        in all, measured), while the schedule had already started: the run opened behind.
        """
        gc.disable()
        self.active = True

    def start(self, now: float) -> None:
        """Freeze what is alive now (the spawned pool); automatic collection stays off."""
        # No collection first (Locust does one before it freezes for --processes): over a
        # pool of 10,000 users that alone stopped the loop for 100-200 ms, every slot due
        # meanwhile opened the run behind; what garbage there is stays, once.
        gc.freeze()
        gc.disable()
        self.active = True
        self._last_full = now

    def tick(self, now: float) -> None:
        """Once a second: a full collection if the last one is FULL_EVERY_S old."""
        if self.active and now - self._last_full >= FULL_EVERY_S:
            gc.collect()
            self._last_full = now

    def stop(self) -> None:
        """Back to CPython's automatic collection, the pool's objects included."""
        if self.active:
            gc.unfreeze()
            gc.enable()
            self.active = False
