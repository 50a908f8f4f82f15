import pytest
from rundir_factory import T0, generator_row, request_row, steady_rows, timeline, write_run

from harness.analysis.phases import phases
from harness.analysis.rundir import read_ledger, read_samples
from harness.analysis.slis import Request, per_second, phase_slis


def table(run, request=Request(), **timeline_args):
    from harness.analysis.rundir import read_events

    return phase_slis(read_samples(run), read_ledger(run), phases(read_events(run)), request)


def test_availability_error_rate_and_rate_limited(tmp_path):
    rows = (
        steady_rows(0, 10, 9) + steady_rows(0, 10, 1, outcome="error") + steady_rows(0, 10, 2, outcome="rate_limited")
    )
    run = write_run(tmp_path, timeline(load_s=10, warmup_s=0), rows)
    slis = table(run)["run"].endpoints["*"]
    assert slis["availability"] == pytest.approx(9 / 12)  # every attempt counts, 429s too
    assert slis["availability.excluding_rate_limited"] == pytest.approx(0.9)
    assert slis["error_rate"] == pytest.approx(0.1)
    assert slis["rate_limited"] == pytest.approx(2 / 12)
    assert slis["throughput"] == pytest.approx(12.0)


def test_latency_percentiles_mean_max_per_endpoint_leave_out_429s(tmp_path):
    rows = [request_row(T0 + s, [10.0] * 98 + [100.0, 200.0]) for s in range(5)]
    rows += [request_row(T0 + s, [1.0] * 50, endpoint="GET /health") for s in range(5)]
    rows += [request_row(T0 + s, [0.1] * 100, outcome="rate_limited") for s in range(5)]
    run = write_run(tmp_path, timeline(load_s=5, warmup_s=0), rows)
    score = table(run)["run"].endpoints["POST /v1/score"]
    assert score["latency.p50"] == pytest.approx(0.010, rel=0.01)
    assert score["latency.p99"] == pytest.approx(0.100, rel=0.01)
    assert score["latency.max"] == pytest.approx(0.200)
    assert score["latency.mean"] == pytest.approx((98 * 10 + 300) / 100 / 1000)
    assert table(run)["run"].endpoints["GET /health"]["latency.p99"] == pytest.approx(0.001, rel=0.01)


def test_apdex_counts_tolerating_as_half_and_errors_as_frustrated(tmp_path):
    # T = 100ms: 6 satisfied, 2 tolerating (<= 400ms), 1 frustrated, 1 error
    rows = [request_row(T0, [50.0] * 6 + [300.0] * 2 + [900.0]), request_row(T0, [10.0], outcome="error")]
    run = write_run(tmp_path, timeline(load_s=1, warmup_s=0), rows)
    slis = table(run, Request(apdex_ts=(0.1,)))["run"].endpoints["*"]
    assert slis["apdex(100ms)"] == pytest.approx((6 + 2 / 2) / 10)


def test_correctness_is_none_without_checked_responses(tmp_path):
    run = write_run(tmp_path, timeline(load_s=2, warmup_s=0), steady_rows(0, 2))
    assert table(run)["run"].endpoints["*"]["correctness"] is None


def test_correctness_is_correct_over_checked(tmp_path):
    rows = [request_row(T0, [5.0] * 10, checked=10, correct=9), request_row(T0 + 1, [5.0] * 10, checked=10, correct=10)]
    run = write_run(tmp_path, timeline(load_s=2, warmup_s=0), rows)
    assert table(run)["run"].endpoints["*"]["correctness"] == pytest.approx(0.95)


def test_rows_sharing_a_key_from_two_workers_are_summed(tmp_path):
    rows = [request_row(T0, [10.0] * 10, worker="a"), request_row(T0, [30.0] * 10, worker="b")]
    run = write_run(tmp_path, timeline(load_s=1, warmup_s=0), rows)
    slis = table(run)["run"].endpoints["POST /v1/score"]
    assert slis["requests"] == 20 and slis["latency.p50"] == pytest.approx(0.010, rel=0.01)
    assert slis["latency.p90"] == pytest.approx(0.030, rel=0.01)


def test_events_lost_duplicated_and_e2e_latency_by_phase(tmp_path):
    produced = [(f"e{i}", T0 + i) for i in range(20)]
    consumed = [(f"e{i}", T0 + i + (2.0 if 10 <= i < 15 else 0.1)) for i in range(20) if i != 12]
    consumed += [("e3", T0 + 9)]
    run = write_run(
        tmp_path, timeline(load_s=20, warmup_s=0, faults=[(10, 15)]), steady_rows(0, 20), produced, consumed
    )
    result = table(run)
    fault = result["fault"].endpoints["*"]
    assert fault["events.produced"] == 5 and fault["events.lost"] == 1
    assert fault["events.e2e_latency.p99"] == pytest.approx(2.0)
    baseline = result["baseline"].endpoints["*"]
    assert baseline["events.duplicated"] == 1 and baseline["events.lost"] == 0
    assert baseline["events.e2e_latency.p50"] == pytest.approx(0.1)


def test_event_consumed_after_load_end_plus_grace_counts_as_lost(tmp_path):
    produced = [("a", T0 + 1), ("b", T0 + 2)]
    consumed = [("a", T0 + 1.1), ("b", T0 + 10 + 30)]
    run = write_run(tmp_path, timeline(load_s=10, warmup_s=0), steady_rows(0, 10), produced, consumed)
    assert table(run, Request(grace=10))["run"].endpoints["*"]["events.lost"] == 1


def test_events_slis_are_none_without_produced_events(tmp_path):
    run = write_run(tmp_path, timeline(load_s=5, warmup_s=0), steady_rows(0, 5))
    assert table(run)["run"].endpoints["*"]["events.lost"] is None


def test_offered_rate_and_generator_bound_seconds(tmp_path):
    gen = [generator_row(T0 + s, 20, behind=s < 2) for s in range(10)]
    run = write_run(tmp_path, timeline(load_s=10, warmup_s=0), steady_rows(0, 10) + gen)
    result = table(run)["run"]
    assert result.endpoints["*"]["offered_rate"] == pytest.approx(20.0)
    assert result.generator_bound_seconds == 2 and result.generator_bound


def test_warmup_seconds_are_left_out_of_run(tmp_path):
    rows = steady_rows(0, 5, outcome="error") + steady_rows(5, 10)
    run = write_run(tmp_path, timeline(load_s=10, warmup_s=5), rows)
    assert table(run)["run"].endpoints["*"]["availability"] == 1.0


def test_per_second_has_a_row_per_endpoint_second_and_an_all_row(tmp_path):
    rows = steady_rows(0, 3) + steady_rows(0, 3, endpoint="GET /x")
    run = write_run(tmp_path, timeline(load_s=3, warmup_s=0), rows)
    series = per_second(read_samples(run))
    assert len(series) == 9
    assert series[series.endpoint == "*"]["throughput"].tolist() == [20.0, 20.0, 20.0]


def test_an_event_in_flight_when_the_fault_starts_counts_in_the_fault(tmp_path):
    # produced in the baseline (second 15), delivered 8 s later, after the fault began at 20
    produced = [("early", T0 + 15.5), ("stuck", T0 + 19.8), ("quick", T0 + 12.0)]
    consumed = [("early", T0 + 23.5), ("stuck", T0 + 27.8), ("quick", T0 + 12.1)]
    run = write_run(
        tmp_path,
        timeline(load_s=60, warmup_s=5, faults=[(20, 30)]),
        steady_rows(0, 60),
        produced=produced,
        consumed=consumed,
    )
    slis = table(run)
    baseline, fault = slis["baseline"].endpoints["*"], slis["fault"].endpoints["*"]
    assert baseline["events.produced"] == 1 and baseline["events.e2e_latency.max"] == pytest.approx(0.1)
    assert fault["events.produced"] == 2 and fault["events.e2e_latency.max"] == pytest.approx(8.0)


def test_an_event_never_delivered_before_a_fault_is_lost_in_the_fault(tmp_path):
    run = write_run(
        tmp_path,
        timeline(load_s=60, warmup_s=5, faults=[(20, 30)]),
        steady_rows(0, 60),
        produced=[("gone", T0 + 10.0)],
        consumed=[],
    )
    slis = table(run)
    assert slis["baseline"].endpoints["*"]["events.produced"] is None
    assert slis["fault"].endpoints["*"]["events.lost"] == 1
