"""`gameday calibrate`: the search for the highest kept rate, and a real calibration of this machine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.events import Event, EventKind, Source, append
from harness.histogram import Histogram
from harness.load.aggregate import Cell, GeneratorCell
from harness.run.calibrate import MAX_RATE, Judged, judge, middle_seconds, search, write_figure
from harness.samples import ERROR, OK, samples_path

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
    best = search(measure, steps=10, say=lambda line: None)
    assert asked == [1000, 2000, 1500, 1250, 1125]  # the next midpoint, 1062, is within 100 of 1000
    assert best is not None and best.rate == 1000


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


def recorded_run(
    run_dir: Path, lag_ms: dict[int, float], behind: set[int] = frozenset(), failed: dict[int, int] | None = None
) -> Path:
    """A run directory as the plugin leaves it: test start at 1000.2 and stop at 1010.5 (middle
    seconds 1002-1008), one generator row per second in `lag_ms` (every slot that late) and
    100 requests a second, `failed` of them errors."""
    run_dir.mkdir()
    append(
        run_dir,
        Event(ts=1000.2, source=Source.LOAD, kind=EventKind.TEST_START, name="test", detail={}),
        Event(ts=1010.5, source=Source.LOAD, kind=EventKind.TEST_STOP, name="test", detail={}),
    )
    rows = []
    for ts, lag in lag_ms.items():
        gen = GeneratorCell()
        gen.lag.record_many([int(lag * 1000)] * 100)
        rows.append(gen.to_row(ts, 200.0, None) | {"behind": ts in behind})
        bad = (failed or {}).get(ts, 0)
        for outcome, count in ((OK, 100 - bad), (ERROR, bad)):
            if count:
                cell = Cell()
                cell.count = count
                cell.hist = Histogram()
                rows.append(cell.to_row(ts, "GET /", outcome, None))
    samples_path(run_dir).parent.mkdir(exist_ok=True)
    samples_path(run_dir).write_text("".join(json.dumps(row) + "\n" for row in rows))
    return run_dir


EVERY = range(1000, 1011)


def test_the_middle_seconds_leave_out_the_first_two_and_the_last_one(tmp_path):
    assert middle_seconds(recorded_run(tmp_path / "run", {})) == (1002, 1009)


def test_a_run_whose_middle_seconds_were_all_on_time_keeps_its_schedule(tmp_path):
    judged = judge(4000, recorded_run(tmp_path / "run", dict.fromkeys(EVERY, 1.0), behind={1000, 1001, 1009, 1010}))
    assert judged.clean, judged.line()  # the start and stop seconds, behind, are not judged
    assert (judged.seconds, judged.behind, judged.missing, judged.failed) == (7, 0, 0, 0)
    assert 0.9 <= judged.lag_p99_ms <= 1.1


@pytest.mark.parametrize(
    "lag_ms, behind, failed, shows",
    [
        ({**dict.fromkeys(EVERY, 1.0), 1005: 1.0}, {1005}, None, "behind 1/7 s"),
        ({**dict.fromkeys(EVERY, 1.0), 1004: 30.0, 1005: 30.0}, set(), None, "lag p99    30."),
        ({ts: 1.0 for ts in EVERY if ts != 1006}, set(), None, "behind 0/6 s, 1 s not recorded"),
        (dict.fromkeys(EVERY, 1.0), set(), {1003: 5}, "5 requests failed"),
    ],
    ids=["a second behind", "lag p99 of 30 ms", "a second not recorded", "requests refused"],
)
def test_a_run_is_not_kept_when(tmp_path, lag_ms, behind, failed, shows):
    judged = judge(4000, recorded_run(tmp_path / "run", lag_ms, behind=behind, failed=failed))
    assert not judged.clean
    assert shows in judged.line() and judged.line().endswith("misses its schedule")


def test_the_figure_written_is_the_highest_kept_rate_rounded_down_to_100(tmp_path):
    best = Judged(rate=4371, seconds=7, behind=0, lag_p99_ms=3.0, worst_p99_ms=4.0)
    path = tmp_path / "home" / "generator-capacity.json"
    assert write_figure(best, path) == 4300
    written = json.loads(path.read_text())
    assert written["one_process_rps"] == 4300 and written["kept"]["rate"] == 4371


def test_bad_flags_exit_2_listing_every_problem_without_a_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "calibrate", "--seconds", "nan", "--steps", "-1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "GAMEDAY_HOME": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == 2
    assert "2 problem(s)" in done.stderr and "--seconds nan" in done.stderr and "--steps -1" in done.stderr
    assert "Traceback" not in done.stderr and not list(tmp_path.iterdir())


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
        if behind or lag_p99 >= 10.05:  # printed to 0.1 ms: 9.95-10.04 could be either
            assert verdict == "misses", (rate, behind, lag_p99)
        elif lag_p99 < 9.95:
            assert verdict == "keeps", (rate, behind, lag_p99)
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
