from harness.analysis import analyse, exit_code
from rundir_factory import T0, event, generator_row, steady_rows, timeline, write_run


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
    run = write_run(tmp_path, timeline(load_s=40, warmup_s=5, faults=[(20, 30)]), steady_rows(0, 40),
                    spec=spec('{sli: correctness, objective: ">= 99%"}'))
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
    aborted = timeline(load_s=40, warmup_s=5, faults=[(20, 30)],
                       extra=[event(T0 + 25, "abort", "guardrail", detail="error_rate > 50%")])
    aborted = [e for e in aborted if e["kind"] != "run-end"] + [event(T0 + 41, "run-end", status="aborted")]
    run = write_run(tmp_path / "a", aborted, steady_rows(0, 40), spec=spec('{sli: availability, objective: ">= 0%"}'))
    assert exit_code(analyse(run)) == 3
    crashed = [e for e in timeline(load_s=40) if e["kind"] != "run-end"]
    run = write_run(tmp_path / "c", crashed, steady_rows(0, 40), spec=spec('{sli: availability, objective: ">= 0%"}'))
    assert analyse(run).status == "crashed" and exit_code(analyse(run)) == 4
    run = write_run(tmp_path / "p", timeline(load_s=40, faults=[(20, 30)]), steady_rows(0, 40),
                    spec=spec('{sli: availability, objective: ">= 0%"}'))
    assert exit_code(analyse(run)) == 0


def test_a_run_locust_recorded_alone_is_completed_once_locust_recorded_its_stop():
    from harness.analysis.status import run_status

    locust_alone = [{"ts": T0, "source": "load", "kind": "test_start"}]
    assert run_status(locust_alone) == "crashed"          # Locust killed before it stopped the test
    assert run_status([*locust_alone, {"ts": T0 + 40, "source": "load", "kind": "test_stop"}]) == "completed"
    harness_run = [{"ts": T0, "source": "harness", "kind": "run-start"}, *locust_alone,
                   {"ts": T0 + 40, "source": "load", "kind": "test_stop"}]
    assert run_status(harness_run) == "crashed"           # the harness started it and never wrote run-end
