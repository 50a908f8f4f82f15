"""Each load shape's tick() at many run times, without sleeping."""

from __future__ import annotations

import argparse
import math

import pytest

from harness.load.options import spec_from_options, web_ui_options
from harness.load.shapes import (
    ShapeSpec,
    constant_rate,
    default_pool,
    diurnal,
    ramp,
    shape_requested,
    spike,
    steady,
    step,
)

TIMES = [0, 0.5, 1, 9.99, 10, 29.9, 30, 59, 60, 61, 300]


def _options(**values: str) -> argparse.Namespace:
    names = [
        "shape",
        "duration",
        "rate",
        "rate_to",
        "over",
        "rate_step",
        "every",
        "rate_max",
        "rate_peak",
        "at",
        "length",
        "period",
        "users",
        "spawn_rate",
        "pool",
        "behind_ms",
    ]
    return argparse.Namespace(**{f"gameday_{n}": values.get(n, "") for n in names})


def test_constant_rate_is_flat():
    assert {constant_rate(t, 200) for t in TIMES} == {200.0}


def test_ramp_is_linear_then_holds():
    assert ramp(0, 10, 110, 100) == 10
    assert ramp(50, 10, 110, 100) == 60
    assert ramp(100, 10, 110, 100) == 110
    assert ramp(1000, 10, 110, 100) == 110


def test_ramp_down_works():
    assert ramp(25, 100, 0, 50) == 50


def test_step_adds_every_interval_up_to_maximum():
    assert [step(t, 10, 5, 10, 25) for t in (0, 9.9, 10, 20, 30, 40, 1000)] == [10, 10, 15, 20, 25, 25, 25]


def test_spike_is_peak_only_inside_its_window():
    assert [spike(t, 10, 100, 30, 10) for t in (29.9, 30, 35, 39.9, 40)] == [10, 100, 100, 100, 10]


def test_diurnal_starts_at_minimum_and_peaks_at_half_period():
    assert diurnal(0, 10, 50, 600) == pytest.approx(10)
    assert diurnal(300, 10, 50, 600) == pytest.approx(50)
    assert diurnal(150, 10, 50, 600) == pytest.approx(30)
    assert diurnal(600, 10, 50, 600) == pytest.approx(10)
    assert all(10 - 1e-9 <= diurnal(t, 10, 50, 600) <= 50 + 1e-9 for t in range(0, 1200, 7))


def test_steady_is_the_user_count():
    assert {steady(t, 25) for t in TIMES} == {25}


def test_open_shape_tick_returns_pool_until_duration_then_none():
    spec = ShapeSpec("constant_rate", {"rate": 300.0}, duration=60, pool=300)
    assert spec.tick(0) == (300, 300.0)
    assert spec.tick(59.9) == (300, 300.0)
    assert spec.tick(60) is None


def test_steady_tick_uses_spawn_rate():
    spec = ShapeSpec("steady", {"users": 40.0}, duration=0, spawn_rate=5)
    assert spec.tick(1000) == (40, 5)


def test_rate_at_dispatches_to_the_pure_function():
    spec = ShapeSpec("spike", {"base": 10.0, "peak": 90.0, "at": 5.0, "length": 2.0})
    assert [spec.rate_at(t) for t in (4, 5, 6.9, 7)] == [10, 90, 90, 10]
    assert spec.peak_rate() == 90


def test_default_pool_covers_one_second_of_peak_rate():
    assert default_pool(10) == 50
    assert default_pool(2000) == 2000
    assert default_pool(100.5) == 101


def test_spec_from_options_parses_durations_and_fills_pool():
    spec = spec_from_options(_options(shape="ramp", rate="10", rate_to="200", over="2m", duration="5m"))
    assert spec == ShapeSpec("ramp", {"start": 10, "end": 200, "over": 120}, duration=300, pool=200)


def test_spec_from_options_lists_every_missing_value():
    with pytest.raises(ValueError) as info:
        spec_from_options(_options(shape="spike", rate="10", at="soon"))
    message = str(info.value)
    assert "--gameday-rate-peak is required" in message
    assert "--gameday-at must be a number or a duration, got 'soon'" in message
    assert "--gameday-length is required" in message


def test_unknown_shape_names_the_choices():
    with pytest.raises(ValueError, match="unknown --gameday-shape 'sawtooth'.*constant_rate"):
        spec_from_options(_options(shape="sawtooth"))


def test_no_shape_means_plain_locust():
    assert spec_from_options(_options()) is None


@pytest.mark.parametrize(
    "text,seconds", [("90", 90), ("90s", 90), ("1.5m", 90), ("250ms", 0.25), ("1h", 3600), (".5s", 0.5)]
)
def test_shape_options_take_the_spec_duration_grammar(text, seconds):
    spec = spec_from_options(_options(shape="spike", rate="10", rate_peak="50", at=text, length="5s"))
    assert math.isclose(spec.params["at"], seconds)


def test_the_web_ui_form_shows_the_asked_shape_and_its_parameters_only():
    assert web_ui_options(["locust", "--gameday-shape", "constant_rate", "--gameday-rate", "50"], {}) == {
        "shape",
        "duration",
        "rate",
    }
    assert web_ui_options(["locust", "--gameday-shape=spike"], {}) == {
        "shape",
        "duration",
        "rate",
        "rate_peak",
        "at",
        "length",
    }
    assert web_ui_options(["locust"], {"GAMEDAY_SHAPE": "steady"}) == {"shape", "duration", "users"}
    assert web_ui_options(["locust", "-u", "5"], {}) == set()  # plain Locust keeps its own form


def test_shape_requested_reads_argv_and_env():
    assert shape_requested(["locust", "--gameday-shape", "steady"], {})
    assert shape_requested(["locust", "--gameday-shape=steady"], {})
    assert shape_requested(["locust"], {"GAMEDAY_SHAPE": "ramp"})
    assert not shape_requested(["locust", "-u", "5"], {})
