"""harness.durations: the one grammar, for spec fields and the Locust plugin's options alike."""

from __future__ import annotations

import math

import pytest

from harness.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("90", 90),
        ("90s", 90),
        ("1.5m", 90),
        ("250ms", 0.25),
        ("1h", 3600),
        (".5s", 0.5),
        ("5.", 5),
        (" 2m ", 120),
        (12, 12),
        (0.25, 0.25),
    ],
)
def test_durations_in_every_unit(text, seconds):
    assert math.isclose(parse_duration(text), seconds)


@pytest.mark.parametrize("text", ["-1s", "1e3", "1.5.5s", "5 min", "s", "", "inf", True, None, float("nan"), -2])
def test_what_is_not_a_duration_is_refused_quoting_it(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration_reads_back():
    assert [format_duration(s) for s in (0.25, 1.5, 90)] == ["250ms", "1.5s", "90s"]
    assert parse_duration(format_duration(0.25)) == 0.25
