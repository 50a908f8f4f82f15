"""Open-model slot math: due times, offered counts and backlog, without sleeping."""

from __future__ import annotations

import itertools

import pytest

from harness.load.schedule import Schedule, slot_times
from harness.load.shapes import ramp, spike


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
