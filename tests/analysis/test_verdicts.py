from rundir_factory import T0, event, generator_row, steady_rows, timeline, write_run

from harness.analysis import analyse, exit_code


def spec(*slos: str, chaos: bool = True) -> str:
    lines = ["name: v", "load: {profile: p.py, rate: 10, duration: 40s}", "warmup: 5s", "slos:"]
    if chaos:
        lines.insert(2, "chaos: {experiment: e.json, start_after: 20s}")
    return "\n".join(lines + [f"  - {s}" for s in slos]) + "\n"


def verdict(tmp_path, slo: str, rows=None, events=None, **ledger):
    events = events if events is not None else timeline(load_s=40, warmup_s=5, faults=[(20, 30)])
    rows = rows if rows is not None else steady_rows(0, 40)
    run = write_run(tmp_path, events, rows, spec=spec(slo), **ledger)
    return analyse(run).verdicts[0]


def test_pass_carries_observed_value_and_evidence_window(tmp_path):
    result = verdict(tmp_path, '{sli: latency.p99, phase: baseline, objective: "< 150ms"}')
    assert result.state == "pass" and abs(result.observed - 0.020) < 0.001
    assert (result.evidence.start, result.evidence.end) == (T0 + 5, T0 + 19)
    assert result.evidence.samples == 140 and result.evidence.seconds == 14


def test_fail_when_objective_does_not_hold(tmp_path):
    rows = steady_rows(0, 20) + steady_rows(20, 30, outcome="error") + steady_rows(30, 40)
    result = verdict(tmp_path, '{sli: availability, phase: fault, objective: ">= 99%"}', rows)
    assert result.state == "fail" and result.observed == 0.0


def test_no_data_for_an_endpoint_without_requests(tmp_path):
    result = verdict(tmp_path, '{sli: latency.p99, endpoint: "GET /x", objective: "< 1s"}')
    assert result.state == "no-data" and "no requests to 'GET /x'" in result.reason


def test_no_data_when_the_phase_did_not_happen(tmp_path):
    events = timeline(load_s=40, warmup_s=5)  # chaos never reached its method
    result = verdict(tmp_path, '{sli: availability, phase: fault, objective: ">= 99%"}', events=events)
    assert result.state == "no-data" and "did not happen" in result.reason


def test_no_data_for_correctness_without_checks(tmp_path):
    result = verdict(tmp_path, '{sli: correctness, objective: ">= 99%"}')
    assert result.state == "no-data" and "checked" in result.reason


def test_no_data_counts_as_failure_in_the_exit_code(tmp_path):
    run = write_run(
        tmp_path,
        timeline(load_s=40, warmup_s=5, faults=[(20, 30)]),
        steady_rows(0, 40),
        spec=spec('{sli: correctness, objective: ">= 99%"}'),
    )
    assert exit_code(analyse(run)) == 1


def test_generator_bound_window_is_flagged_in_evidence(tmp_path):
    rows = steady_rows(0, 40) + [generator_row(T0 + s, 10, cpu_warning=22 <= s < 25) for s in range(40)]
    result = verdict(tmp_path, '{sli: availability, phase: fault, objective: ">= 99%"}', rows)
    assert result.evidence.generator_bound_seconds == 3 and result.evidence.generator_bound


def test_events_lost_verdict_uses_the_ledger(tmp_path):
    produced = [(f"e{i}", T0 + i) for i in range(6, 40)]
    consumed = [(i, ts + 0.1) for i, ts in produced if i != "e22"]
    result = verdict(tmp_path, '{sli: events.lost, objective: "== 0"}', produced=produced, consumed=consumed)
    assert result.state == "fail" and result.observed == 1 and result.evidence.samples == 34


def test_exit_codes_follow_the_run_status(tmp_path):
    aborted = timeline(
        load_s=40,
        warmup_s=5,
        faults=[(20, 30)],
        extra=[event(T0 + 25, "abort", "guardrail", detail="error_rate > 50%")],
    )
    aborted = [e for e in aborted if e["kind"] != "run-end"] + [event(T0 + 41, "run-end", status="aborted")]
    run = write_run(tmp_path / "a", aborted, steady_rows(0, 40), spec=spec('{sli: availability, objective: ">= 0%"}'))
    assert exit_code(analyse(run)) == 3
    crashed = [e for e in timeline(load_s=40) if e["kind"] != "run-end"]
    run = write_run(tmp_path / "c", crashed, steady_rows(0, 40), spec=spec('{sli: availability, objective: ">= 0%"}'))
    assert analyse(run).status == "crashed" and exit_code(analyse(run)) == 4
    run = write_run(
        tmp_path / "p",
        timeline(load_s=40, faults=[(20, 30)]),
        steady_rows(0, 40),
        spec=spec('{sli: availability, objective: ">= 0%"}'),
    )
    assert exit_code(analyse(run)) == 0


def test_a_run_locust_recorded_alone_is_completed_once_locust_recorded_its_stop():
    from harness.analysis.status import run_status

    locust_alone = [{"ts": T0, "source": "load", "kind": "test_start"}]
    assert run_status(locust_alone) == "crashed"  # Locust killed before it stopped the test
    assert run_status([*locust_alone, {"ts": T0 + 40, "source": "load", "kind": "test_stop"}]) == "completed"
    harness_run = [
        {"ts": T0, "source": "harness", "kind": "run-start"},
        *locust_alone,
        {"ts": T0 + 40, "source": "load", "kind": "test_stop"},
    ]
    assert run_status(harness_run) == "crashed"  # the harness started it and never wrote run-end


def test_a_verdict_resting_on_generator_bound_seconds_is_inconclusive_and_fails_the_exit_code(tmp_path):
    rows = steady_rows(0, 40) + [generator_row(T0 + s, 10, behind=22 <= s < 25) for s in range(40)]
    run = write_run(
        tmp_path,
        timeline(load_s=40, warmup_s=5, faults=[(20, 30)]),
        rows,
        spec=spec('{sli: availability, phase: fault, objective: ">= 99%"}'),
    )
    analysis = analyse(run)
    (result,) = analysis.verdicts
    assert result.state == "inconclusive" and result.observed == 1.0
    assert "load generator, not the target" in result.reason and "load.processes" in result.reason
    assert exit_code(analysis) == 1


def test_allow_generator_bound_judges_such_a_verdict_as_usual(tmp_path):
    rows = steady_rows(0, 40) + [generator_row(T0 + s, 10, behind=22 <= s < 25) for s in range(40)]
    events = timeline(load_s=40, warmup_s=5, faults=[(20, 30)], run_start={"allow_generator_bound": True})
    run = write_run(tmp_path, events, rows, spec=spec('{sli: availability, phase: fault, objective: ">= 99%"}'))
    analysis = analyse(run)
    assert analysis.verdicts[0].state == "pass" and analysis.verdicts[0].evidence.generator_bound
    assert exit_code(analysis) == 0
    assert analyse(run, allow_generator_bound=False).verdicts[0].state == "inconclusive"


def test_one_generator_bound_second_in_ten_is_still_trusted(tmp_path):
    rows = steady_rows(0, 40) + [generator_row(T0 + s, 10, behind=s == 22) for s in range(40)]
    result = verdict(tmp_path, '{sli: availability, phase: fault, objective: ">= 99%"}', rows)
    assert result.state == "pass" and result.evidence.generator_bound_seconds == 1


def fault_of_429s(ok: int = 1, limited: int = 10) -> list[dict]:
    """Healthy outside the fault (20..30); inside it, 10 of 11 answers are 429s (91%)."""
    return (
        steady_rows(0, 20)
        + steady_rows(30, 40)
        + steady_rows(20, 30, ok)
        + steady_rows(20, 30, limited, outcome="rate_limited", latency_ms=1.0)
    )


def test_a_fault_phase_full_of_429s_fails_availability(tmp_path):
    result = verdict(tmp_path, '{sli: availability, phase: fault, objective: ">= 99%"}', fault_of_429s())
    assert result.state == "fail" and result.observed < 0.1


def test_count_rate_limited_false_keeps_429s_out_of_availability(tmp_path):
    run = write_run(
        tmp_path,
        timeline(load_s=40, warmup_s=5, faults=[(20, 30)]),
        fault_of_429s(),
        spec=spec('{sli: availability, phase: fault, objective: ">= 99%", count_rate_limited: false}'),
    )
    (result,) = analyse(run).verdicts
    assert result.state == "pass" and result.observed == 1.0
    from harness.analysis import result_document

    assert "429s left out" in result_document(analyse(run))["verdicts"][0]["meaning"]


def test_errors_in_a_generator_bound_window_still_fail_availability(tmp_path):
    # a hanging target exhausts the pool and puts the generator behind; its errors are its own
    rows = (
        steady_rows(0, 20)
        + steady_rows(20, 40, outcome="error")
        + [generator_row(T0 + s, 10, behind=s >= 20) for s in range(40)]
    )
    result = verdict(tmp_path, '{sli: availability, phase: fault, objective: ">= 99%"}', rows)
    assert result.state == "fail" and result.evidence.generator_bound


def test_a_latency_failure_in_a_generator_bound_window_is_inconclusive(tmp_path):
    rows = (
        steady_rows(0, 20)
        + steady_rows(20, 40, latency_ms=900.0)
        + [generator_row(T0 + s, 10, behind=s >= 20) for s in range(40)]
    )
    result = verdict(tmp_path, '{sli: latency.p99, phase: fault, objective: "< 150ms"}', rows)
    assert result.state == "inconclusive"
