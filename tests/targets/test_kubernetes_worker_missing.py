"""A Locust worker pod that goes missing marks its seconds as generator-bound, not as target failures."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))

from rundir_factory import T0, generator_row, steady_rows, timeline, write_run

from harness.analysis.phases import phases
from harness.analysis.rundir import read_events, read_ledger, read_samples
from harness.analysis.slis import Request, per_second, phase_slis


def worker_rows(seconds: range, missing: range) -> list[dict]:
    """Two workers report each second, except the second worker during `missing`."""
    rows = []
    for s in seconds:
        rows.append(generator_row(T0 + s, 10))
        if s not in missing:
            rows.append(generator_row(T0 + s, 10))
    return rows


def run_table(tmp_path, rows):
    run = write_run(tmp_path, timeline(load_s=10, warmup_s=0), steady_rows(0, 10) + rows)
    samples = read_samples(run)
    return samples, phase_slis(samples, read_ledger(run), phases(read_events(run)), Request())


def test_seconds_with_a_worker_missing_are_generator_bound(tmp_path):
    _, table = run_table(tmp_path, worker_rows(range(10), missing=range(4, 7)))
    assert table["run"].generator_bound_seconds == 3 and table["run"].generator_bound


def test_all_workers_present_is_not_generator_bound(tmp_path):
    _, table = run_table(tmp_path, worker_rows(range(10), missing=range(0)))
    assert table["run"].generator_bound_seconds == 0


def test_per_second_series_marks_the_short_seconds(tmp_path):
    samples, _ = run_table(tmp_path, worker_rows(range(10), missing=range(4, 7)))
    frame = per_second(samples, Request())
    bound = frame[(frame["endpoint"] == "*") & frame["generator_bound"]]["ts"].tolist()
    assert bound == [T0 + 4, T0 + 5, T0 + 6]
