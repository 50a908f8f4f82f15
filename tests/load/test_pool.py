"""The open-model pool keeps the schedule with real gevent greenlets (no Locust, no network).

Each member stands in for a Locust user: it asks the pool for a slot, runs a "request"
(a gevent sleep, or a CPU burn that never yields to the loop), and asks again. The
checks are about who gets which slot, never about how fast the machine is.
"""

from __future__ import annotations

import time

import gevent
import gevent.event
import pytest

from harness.load.pool import Pool
from harness.load.schedule import Schedule


def _run(pool: Pool, members: int, seconds: float, request) -> list[tuple[float, float, int]]:
    """(slot, when it was handed out, member) for every slot the members got."""
    got: list[tuple[float, float, int]] = []

    def member(index: int) -> None:
        slot = pool.next_slot(first=True)
        while True:
            got.append((slot, time.time(), index))
            request()
            slot = pool.next_slot()

    greenlets = [gevent.spawn(member, i) for i in range(members)]
    gevent.sleep(seconds)
    gevent.killall(greenlets)
    return got


def _burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_slots_are_handed_out_once_in_order_and_never_before_they_are_due():
    pool = Pool()
    schedule = Schedule(lambda t: 200.0, time.time())
    pool.use(schedule)
    got = _run(pool, 20, 0.6, lambda: gevent.sleep(0.005))
    slots = [slot for slot, _, _ in got]
    assert len(slots) >= 60
    assert slots == sorted(slots) and len(set(slots)) == len(slots)
    assert all(handed >= slot for slot, handed, _ in got)
    first = schedule.start
    assert slots == pytest.approx([first + n / 200.0 for n in range(len(slots))])  # none skipped


def test_a_fast_target_keeps_a_few_members_busy_and_the_rest_parked():
    """Newest-parked-first: idle members open no connection; a pool that rotated would use all 50."""
    pool = Pool()
    pool.use(Schedule(lambda t: 200.0, time.time()))
    got = _run(pool, 50, 0.6, lambda: gevent.sleep(0))
    assert len(got) >= 60
    assert len({member for _, _, member in got}) <= 10


def test_a_stalled_target_draws_parked_members_in_so_slots_keep_going_out():
    """Each request hangs 0.3 s: at 100 req/s the schedule needs ~30 members in flight.

    A pool that only re-used returning members would send ~20 slots in 0.6 s; coordinated
    omission would then hide the stall."""
    pool = Pool()
    pool.use(Schedule(lambda t: 100.0, time.time()))
    got = _run(pool, 50, 0.6, lambda: gevent.sleep(0.3))
    assert len({member for _, _, member in got}) >= 20
    assert len(got) >= 40


def test_a_cpu_bound_generator_does_not_widen_its_concurrency():
    """Every request burns 2 ms of CPU without waiting on a target: 1000 req/s cannot be kept.

    The backlog is left to the busy member; drawing in parked members would only have
    opened more connections on a saturated core."""
    pool = Pool()
    schedule = Schedule(lambda t: 1000.0, time.time())
    pool.use(schedule)
    got = _run(pool, 50, 0.5, lambda: (_burn(0.002), gevent.sleep(0)))
    assert len({member for _, _, member in got}) <= 3
    assert schedule.backlog(time.time()) > 0.05  # the generator is behind, and says so
    slots = [slot for slot, _, _ in got]
    assert slots == sorted(slots)


def test_a_member_killed_while_parked_is_never_handed_a_slot():
    pool = Pool()
    pool.use(None)
    got: list[int] = []

    def member(index: int) -> None:
        pool.next_slot(first=True)
        got.append(index)
        gevent.sleep(10)

    greenlets = [gevent.spawn(member, i) for i in range(3)]
    gevent.sleep(0.01)
    assert pool.parked == 3
    greenlets[2].kill()  # parked last: it would be first in line
    assert pool.parked == 2
    pool.use(Schedule(lambda t: 1000.0, time.time()))
    gevent.sleep(0.05)
    gevent.killall(greenlets)
    assert sorted(got) == [0, 1]


def test_parked_members_wait_for_a_schedule_and_move_to_a_new_one():
    pool = Pool()
    got = []

    def member() -> None:
        slot = pool.next_slot(first=True)
        while True:
            got.append(slot)
            gevent.sleep(0.001)
            slot = pool.next_slot()

    greenlets = [gevent.spawn(member) for _ in range(5)]
    gevent.sleep(0.05)
    assert got == []  # no schedule yet: nothing to send
    start = time.time()
    pool.use(Schedule(lambda t: 100.0, start))
    gevent.sleep(0.2)
    restart = time.time()
    pool.use(Schedule(lambda t: 100.0, restart))  # e.g. the worker count changed the share
    gevent.sleep(0.2)
    gevent.killall(greenlets)
    assert got and all(slot >= start for slot in got)
    assert any(slot >= restart for slot in got)
    after = [slot for slot in got if slot >= restart]
    assert after == pytest.approx([restart + n / 100.0 for n in range(len(after))])


def test_a_schedule_begins_once_the_members_spawned_at_test_start_have_parked():
    """Spawning a big pool holds the loop; a clock started before it would open the run behind."""
    pool = Pool()
    begun: list[float] = []
    parked_at_begin: list[int] = []

    made = gevent.event.Event()

    def make(now: float) -> Schedule:
        begun.append(now)
        parked_at_begin.append(pool.parked)
        made.set()
        return Schedule(lambda t: 100.0, now)

    def member() -> None:
        _burn(0.001)  # a user's construction and on_start, before it asks for its first slot
        pool.next_slot(first=True)

    pool.begin(make)
    members = [gevent.spawn(member) for _ in range(200)]
    spawned = time.time()
    # Wait for the schedule itself, not a fixed time: on a loaded machine a 0.5 s sleep expired
    # before the members had parked, and libev runs an expired timer before an idle watcher.
    made.wait(timeout=60)
    gevent.killall(members)
    assert parked_at_begin == [200]
    assert begun[0] >= spawned + 0.19


def test_a_loop_that_never_idles_still_gets_its_schedule(monkeypatch):
    from harness.load import pool as pool_module

    monkeypatch.setattr(pool_module, "SETTLE_MAX_S", 0.1)
    pool = Pool()
    begun: list[float] = []
    started = time.time()
    pool.begin(lambda now: begun.append(now) or Schedule(lambda t: 100.0, now))

    def busy_loop() -> None:
        while True:
            _burn(0.0002)
            gevent.sleep(0)

    burner = gevent.spawn(busy_loop)
    gevent.sleep(0.3)
    burner.kill()
    assert len(begun) == 1 and begun[0] - started >= 0.1


def test_after_a_stop_the_next_test_starts_with_no_busy_members_left_over():
    """Locust kills members mid-request at test stop; the web UI then starts another test on the
    same pool. Its first slots, already late, must go out at once, even on a loop that never idles,
    not wait for the members of the last test that are gone."""
    pool = Pool()
    pool.use(Schedule(lambda t: 100.0, time.time()))
    _run(pool, 5, 0.2, lambda: gevent.sleep(10))  # all five killed mid-request
    pool.stop()
    pool.use(Schedule(lambda t: 100.0, time.time() - 0.05))

    def busy_loop() -> None:
        while True:
            _burn(0.0002)
            gevent.sleep(0)

    burner = gevent.spawn(busy_loop)
    try:
        got = _run(pool, 3, 0.2, lambda: gevent.sleep(10))
    finally:
        burner.kill()
    assert got
