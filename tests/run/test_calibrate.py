"""`gameday calibrate`: the search for the highest kept rate, and a real calibration of this machine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.run.calibrate import MAX_RATE, Judged, search

ROOT = Path(__file__).resolve().parents[2]


def machine(keeps_up_to: float):
    """A measure for `search`: every rate up to `keeps_up_to` is kept, the rest missed; remembers what it ran."""
    asked: list[float] = []

    def measure(rate: float) -> Judged:
        asked.append(rate)
        clean = rate <= keeps_up_to
        return Judged(
            rate=rate, seconds=7, behind=0 if clean else 3, lag_p99_ms=1.0 if clean else 50.0, worst_p99_ms=2.0
        )

    return measure, asked


def test_the_search_doubles_to_the_first_miss_then_bisects_between_the_last_kept_and_it():
    measure, asked = machine(keeps_up_to=5300)
    best = search(measure, steps=3, say=lambda line: None)
    assert asked == [1000, 2000, 4000, 8000, 6000, 5000, 5500]
    assert best is not None and best.rate == 5000


def test_the_bisection_stops_when_the_interval_is_under_100_req_s():
    measure, asked = machine(keeps_up_to=1000)
    search(measure, steps=10, say=lambda line: None)
    assert asked == [1000, 2000, 1500, 1250, 1125]  # the next midpoint, 1062, is within 100 of 1000


def test_a_machine_that_misses_the_first_rate_is_bisected_below_it():
    measure, asked = machine(keeps_up_to=700)
    best = search(measure, steps=3, say=lambda line: None)
    assert asked == [1000, 500, 750, 625]
    assert best is not None and best.rate == 625


def test_a_machine_that_keeps_no_rate_has_no_figure():
    measure, asked = machine(keeps_up_to=0)
    assert search(measure, steps=3, say=lambda line: None) is None
    assert asked == [1000, 500, 250, 125]


def test_the_doubling_stops_at_the_largest_pool_it_will_spawn():
    measure, asked = machine(keeps_up_to=10 * MAX_RATE)
    best = search(measure, steps=3, say=lambda line: None)
    assert max(asked) == MAX_RATE and best is not None and best.rate == MAX_RATE


def test_a_run_with_a_behind_second_or_a_lag_p99_of_10_ms_is_not_kept():
    kept = Judged(rate=1000, seconds=7, behind=0, lag_p99_ms=9.9, worst_p99_ms=12.0)
    assert kept.clean
    assert not Judged(rate=1000, seconds=7, behind=1, lag_p99_ms=1.0, worst_p99_ms=1.0).clean
    assert not Judged(rate=1000, seconds=7, behind=0, lag_p99_ms=10.0, worst_p99_ms=10.0).clean
    assert not Judged(rate=1000, seconds=0, behind=0, lag_p99_ms=0.0, worst_p99_ms=0.0).clean  # nothing measured


LINE = re.compile(r"^constant_rate +(\d+): behind (\d+)/(\d+) s, lag p99 +([\d.]+) ms .*: (keeps|misses) its schedule$")


@pytest.mark.slow
def test_calibrate_measures_this_machine_and_writes_the_highest_rate_it_kept(tmp_path):
    """A real calibration: the hello server and Locust's open model, judged from the runs' own files.

    The figure written must be the highest rate the printed runs kept (so it cannot be a constant),
    and the search must have reached a rate the generator missed (so the judging can fail). On a
    machine too busy to keep even the first rate, the command says so with exit 4 and writes nothing.
    """
    env = {**os.environ, "GAMEDAY_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "calibrate", "--seconds", "6", "--steps", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=900,
    )
    runs = [LINE.match(line) for line in done.stdout.splitlines() if line.startswith("constant_rate")]
    assert runs and all(runs), done.stdout
    judged = [(float(m[1]), int(m[2]), float(m[4]), m[5]) for m in runs if m]
    for rate, behind, lag_p99, verdict in judged:
        assert (verdict == "keeps") == (behind == 0 and lag_p99 < 10.0), (rate, behind, lag_p99, verdict)
    assert any(verdict == "misses" for *_, verdict in judged), "the search ends on a missed rate"
    written = tmp_path / "home" / "generator-capacity.json"
    kept = [rate for rate, *_, verdict in judged if verdict == "keeps"]
    if not kept:
        assert done.returncode == 4, done.stderr
        assert "kept none of the rates above on schedule here" in done.stderr
        assert not written.exists()
        return
    assert done.returncode == 0, done.stderr
    figure = json.loads(written.read_text())
    assert figure["one_process_rps"] == max(kept) // 100 * 100
    assert f"one Locust process keeps {figure['one_process_rps']} req/s on schedule here" in done.stdout
