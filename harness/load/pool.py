"""The pool of Locust users that keeps one process's open-model schedule.

`make_open_model` turns Locust user classes into pool members: a member asks the
`Pool` for a slot (in `on_start`, then from `wait_time()`, which Locust calls after
every task), runs one task when it gets one, and asks again. The slot's due time
travels to the request listener as `context["gameday.intended"]` on the task's
*first* request only, and the plugin measures that request's latency from it
(coordinated omission correction); later requests of the same task are timed as
usual.

How the pool keeps time (measured in benchmarks/open_model.py, which is why it is
built this way rather than with one `gevent.sleep` per slot):

- A member that asks while a slot is already due takes it without parking; a busy
  generator's members work through the due slots in order. It still gives the loop its
  turn with Locust's `gevent.sleep(0)` after the task: skipping that (its request yields
  on the socket anyway) was measured to cost the schedule, 10,000 req/s falling behind
  where it had been kept, as the member sent again ahead of the responses waiting in
  the loop.
- A member that asks early parks on a gevent `Waiter`. The pool keeps one libev
  timer, armed for the oldest slot not yet handed out, and only while a member is
  parked. When it fires (in the hub), it hands every due slot to a parked member,
  one switch each, newest parked first: the few members that a fast target keeps
  busy do all the work on their open connections, and the rest of the pool costs
  nothing until a slow target needs it (no connection is opened before a member
  is first used).
- A member that parked skips that `gevent.sleep(0)`: it already gave the loop its turn.

If every member is busy, due slots wait for the next member that frees up: they run
late, the plugin records the lag (actual start - intended) per second and counts the
late slot's latency from its intended time, and `Schedule.backlog()` shows how late
the oldest waiting slot already is. The pool size is a Locust user count set by
`GamedayShape` (default max(50, peak rate x 1 s), Little's law for 1 s latency).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
from gevent.hub import Waiter
from locust import User
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_WAITING

from harness.load.schedule import Schedule

# A slot older than this when it could be handed out is backlog: the generator, not
# the clock, is behind. See `_dispatch`.
LATE_S = 0.002
# At most one parked member joins the busy ones per this long while the generator is behind.
JOIN_EVERY_S = 0.005
# How long `begin` waits for the loop to go idle before it starts the schedule anyway.
SETTLE_MAX_S = 2.0


class Pool:
    """Hands the slots of the current schedule to members, in order, as they fall due."""

    def __init__(self) -> None:
        self.schedule: Schedule | None = None
        self._parked: dict[Waiter, None] = {}  # members waiting for a slot, most recently parked last
        self._busy = 0  # members holding a slot
        self._joined = 0.0  # when a parked member last joined a backlog
        self._timer: Any = None
        self._idle: Any = None
        self._begin_make: Callable[[float], Schedule] | None = None
        self._begin_idle: Any = None
        self._begin_timer: Any = None
        self.waited = False  # whether the member that got the last slot parked for it

    def use(self, schedule: Schedule | None) -> None:
        """Keep `schedule` from now on (None: hand out nothing); parked members wait for it."""
        self._cancel_begin()
        self.schedule = schedule
        self._stop_watchers()
        self._arm()

    def stop(self) -> None:
        """The test stopped: hand out nothing more, and forget members Locust killed mid-task."""
        self.use(None)
        self._busy = 0

    def begin(self, make: Callable[[float], Schedule]) -> None:
        """Keep the schedule `make(now)` from the first moment the loop is idle (SETTLE_MAX_S at most).

        Called at test start, before Locust spawns the pool: spawning 10,000 users and
        parking them holds the loop for a third of a second, and a schedule started at
        once would open the run with that much backlog (seconds to work off near the
        generator's limit). The loop's first idle moment is when every member has parked.
        Until then the current schedule, if any, stays in use.
        """
        self._cancel_begin()
        loop = gevent.get_hub().loop
        self._begin_make = make
        self._begin_idle, self._begin_timer = loop.idle(), loop.timer(SETTLE_MAX_S)
        self._begin_idle.start(self._begun)
        self._begin_timer.start(self._begun)

    def _begun(self) -> None:
        make = self._begin_make
        self._cancel_begin()
        if make is not None:
            self.use(make(time.time()))

    def _cancel_begin(self) -> None:
        for watcher in (self._begin_idle, self._begin_timer):
            if watcher is not None:
                watcher.close()
        self._begin_idle = self._begin_timer = self._begin_make = None

    def next_slot(self, first: bool = False) -> float:
        """Block the calling member until it gets a due slot; return the slot's due time.

        `first` (from on_start): the member always parks, so a pool spawned while
        slots are overdue does not put every member to work at once.
        """
        if not first:
            self._busy = max(0, self._busy - 1)  # `stop` zeroes it while members still run
            schedule = self.schedule
            if schedule is not None:
                slot = schedule.take_due(time.time())
                if slot is not None:
                    self._busy += 1
                    self.waited = False
                    return slot
        waiter: Waiter[float] = Waiter()
        self._parked[waiter] = None
        self._arm()
        try:
            slot = waiter.get()
        except BaseException:
            # Killed while parked (the test stops): never hand this member a slot.
            self._parked.pop(waiter, None)
            raise
        self._busy += 1
        self.waited = True
        return slot

    @property
    def parked(self) -> int:
        """Members waiting for a slot right now."""
        return len(self._parked)

    def _arm(self) -> None:
        """While a member is parked, keep one timer armed for the oldest slot not handed out."""
        if self._timer is not None or self._idle is not None or not self._parked or self.schedule is None:
            return
        loop = gevent.get_hub().loop
        loop.update_now()  # the delay counts from now, not from the loop's cached time
        self._timer = loop.timer(max(0.0, self.schedule.next_due() - time.time()))
        self._timer.start(self._dispatch, False)

    def _await_idle(self, now: float) -> None:
        """Backlog: dispatch again at the loop's next idle moment, JOIN_EVERY_S after the last join."""
        loop = gevent.get_hub().loop
        wait = self._joined + JOIN_EVERY_S - now
        if wait > 0:
            self._timer = loop.timer(wait)
            self._timer.start(self._dispatch, False)
        else:
            self._idle = loop.idle()
            self._idle.start(self._dispatch, True)

    def _stop_watchers(self) -> None:
        for watcher in (self._timer, self._idle):
            if watcher is not None:
                watcher.close()
        self._timer = self._idle = None

    def _dispatch(self, idle: bool) -> None:
        """Runs in the hub (timer or idle watcher): hand due slots to the most recently parked members.

        A slot handed out on time always gets a parked member: that is how the pool keeps
        sending while the target is slow or stalled. Backlog (a slot already LATE_S overdue
        while members are busy) means the generator is behind: the busy members take it as
        they come back, and a parked member joins them only when the loop is idle (libev's
        idle watcher), i.e. when the busy members are waiting on the target rather than on
        this process's CPU, and at most one every JOIN_EVERY_S. A saturated process thus keeps
        the concurrency it has instead of opening a connection per pool member, which would
        only make every request dearer (measured: a 10,000 req/s run that fell behind drew
        in 4,000-8,000 members within seconds, and each request then cost more CPU).
        """
        self._stop_watchers()
        schedule, parked = self.schedule, self._parked
        now = time.time()
        while parked and schedule is not None and schedule is self.schedule:
            due = schedule.next_due()
            if due > now:
                break
            if now - due > LATE_S and self._busy > 0:
                if not idle:
                    self._await_idle(now)
                    return
                idle, self._joined = False, now  # one member per idle moment
            slot = schedule.take_due(now)
            # Runs the member until it blocks (usually on its request's socket); the hub
            # then comes back here for the next due slot.
            parked.popitem()[0].switch(slot)
            now = time.time()
        self._arm()


def make_open_model(user_classes: list[type[User]], pool: Pool) -> None:
    """Make every class in `user_classes` a member of `pool` (see module docstring).

    Replaces `wait_time`, and wraps `on_start` and `context`. Idempotent: a class
    already converted is left alone.
    """
    for cls in user_classes:
        if cls.__dict__.get("_gameday_open_model", False):
            continue
        _convert(cls, pool)


def _convert(cls: type[User], pool: Pool) -> None:
    original_on_start = cls.on_start
    original_context = cls.context

    def wait_time(self: Any) -> float:
        self._gameday_intended = pool.next_slot()
        # Locust sleeps this long before the next task; -1 tells `after_task` the member
        # parked for its slot and so already gave the loop its turn.
        return -1.0 if pool.waited else 0.0

    def after_task(seconds: float) -> None:
        if seconds >= 0:
            gevent.sleep(seconds)

    def on_start(self: Any) -> None:
        original_on_start(self)
        # A subclass of a converted class wraps an already-wrapped on_start: wait once.
        if not self.__dict__.get("_gameday_started"):
            self._gameday_started = True
            # Replaces TaskSet._sleep (locust 2.47: TaskSet.wait calls
            # self._sleep(self.wait_time())) for the user's own task loop only.
            self._taskset_instance._sleep = after_task
            # Parked for its first slot, the member is waiting, not running a task: Locust's
            # stop kills a waiting user at once, but gives a running one --stop-timeout (5 s in
            # a game day) to finish, and most of a big pool never gets a first slot.
            self._state = LOCUST_STATE_WAITING
            self._gameday_intended = pool.next_slot(first=True)
            self._state = LOCUST_STATE_RUNNING

    def context(self: Any) -> dict:
        base = original_context(self)
        intended = self.__dict__.pop("_gameday_intended", None)
        if intended is None:
            return base
        return {**base, "gameday.intended": intended}

    # Converting the profile's own User class is the point (module docstring), so its methods
    # are replaced on the class, and the class is marked as done
    cls.wait_time = wait_time
    cls.on_start = on_start  # type: ignore[method-assign]
    cls.context = context  # type: ignore[method-assign]
    cls._gameday_open_model = True  # type: ignore[attr-defined]
