"""Open-model slot math: due times, offered counts and backlog, without sleeping."""

from __future__ import annotations

import itertools

import pytest

from harness.load.schedule import Schedule, Slots, slot_times
from harness.load.shapes import ShapeSpec, ramp, spike


def test_constant_rate_slots_are_evenly_spaced():
    slots = list(itertools.islice(slot_times(lambda t: 100.0, 1000.0), 1001))
    assert slots[0] == 1000.0
    assert slots[1000] == pytest.approx(1010.0, abs=1e-6)
    gaps = {round(b - a, 9) for a, b in zip(slots, slots[1:])}
    assert gaps == {0.01}


def test_share_divides_the_rate():
    slots = list(itertools.islice(slot_times(lambda t: 100.0, 0.0, share=0.25), 26))
    assert slots[25] == pytest.approx(1.0)


def test_zero_rate_waits_for_the_rate_to_become_positive():
    slots = list(itertools.islice(slot_times(lambda t: spike(t, 0, 10, 5, 1), 0.0), 11))
    assert slots[0] == pytest.approx(5.0, abs=0.051)
    assert all(5.0 - 0.051 <= s < 6.0 + 0.051 for s in slots[:10])
    assert slots[10] >= 6.0


def test_ramp_offers_the_integral_of_its_rate():
    # 0 -> 100 req/s over 10 s: 500 arrivals in the first 10 s (Euler walk, within 2%).
    schedule = Schedule(lambda t: ramp(t, 0, 100, 10), 0.0)
    assert schedule.offered_until(10.0) == pytest.approx(500, rel=0.02)


def test_offered_counts_each_slot_once_per_second():
    schedule = Schedule(lambda t: 50.0, 100.0)
    counts = [schedule.offered_until(100.0 + s) for s in range(1, 6)]
    assert counts == [50, 50, 50, 50, 50]


def test_claims_hand_out_each_slot_once_in_order():
    schedule = Schedule(lambda t: 10.0, 0.0)
    assert [schedule.claim() for _ in range(4)] == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_offered_is_independent_of_claims():
    schedule = Schedule(lambda t: 10.0, 0.0)
    for _ in range(3):
        schedule.claim()
    assert schedule.offered_until(1.0) == 10


def test_backlog_is_how_late_the_next_unclaimed_slot_is():
    schedule = Schedule(lambda t: 10.0, 0.0)
    schedule.claim()
    assert schedule.backlog(0.05) == 0.0
    assert schedule.backlog(0.35) == pytest.approx(0.25)


SHAPES = [
    ShapeSpec("constant_rate", {"rate": 70.0}),
    ShapeSpec("ramp", {"start": 10.0, "end": 90.0, "over": 3.0}),
    ShapeSpec("step", {"start": 20.0, "step": 15.0, "every": 1.5, "maximum": 60.0}),
    ShapeSpec("spike", {"base": 30.0, "peak": 120.0, "at": 1.25, "length": 2.0}),
    ShapeSpec("diurnal", {"minimum": 10.0, "maximum": 50.0, "period": 4.0}),
]


@pytest.mark.parametrize("spec", SHAPES, ids=lambda spec: spec.kind)
def test_a_shape_that_says_how_long_its_rate_holds_gets_the_same_slots(spec):
    """steady_until only spares rate calls: the slots are those of asking the rate at every slot."""
    asked = list(itertools.islice(slot_times(spec.rate_at, 500.0), 600))
    told = list(itertools.islice(slot_times(spec.rate_at, 500.0, steady_until=spec.steady_until), 600))
    assert told == pytest.approx(asked, abs=1e-9)


@pytest.mark.parametrize("spec", SHAPES, ids=lambda spec: spec.kind)
def test_waiting_slots_are_counted_as_if_walked_one_by_one(spec):
    slots = Slots(spec.rate_at, 500.0, steady_until=spec.steady_until)
    for _ in range(37):
        slots.advance()
    for end in (slots.slot, slots.slot + 0.013, 501.0, 501.26, 502.5, 503.0, 505.7):
        walked = sum(1 for slot in itertools.islice(slot_times(spec.rate_at, 500.0), 37, 5000) if slot < end)
        assert slots.count_before(end) == walked, end


def test_a_backlog_of_an_hour_is_counted_in_one_step():
    """Offered counts slots still waiting too: an hour behind at 10,000 req/s is 36 million of them."""
    schedule = Schedule(lambda t: 10_000.0, 0.0, steady_until=lambda t: float("inf"))
    assert schedule.offered_until(3600.0) == 36_000_000
    assert schedule.take_due(3600.0) == 0.0  # the oldest still goes first, counted once
    assert schedule.offered_until(3601.0) == 10_000


def test_slots_handed_out_and_slots_waiting_add_up_to_each_second_once():
    schedule = Schedule(lambda t: 50.0, 100.0, steady_until=lambda t: float("inf"))
    while schedule.take_due(100.5) is not None:  # half the first second handed out
        pass
    assert schedule.offered_until(101.0) == 50  # 26 handed out, 24 still waiting
    assert schedule.backlog(101.0) == pytest.approx(0.48)
    for _ in range(30):  # the 24 go out late, then 6 of the next second
        schedule.take_due(102.0)
    assert schedule.offered_until(102.0) == 50
