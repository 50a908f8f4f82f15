import math

from rundir_factory import T0, steady_rows, timeline, write_run

from harness.analysis import analyse, exit_code, result_document

SPEC = """
name: r
load: {profile: p.py, rate: 10, duration: 60s}
chaos: {experiment: e.json, start_after: 20s}
warmup: 5s
slos:
  - {sli: latency.p99, phase: baseline, objective: "< 100ms"}
  - {sli: recovery_time, objective: "< 20s"}
"""


def run_with_slow_until(tmp_path, slow_until: int, spec: str = SPEC):
    """Latency 20 ms, except 500 ms from the fault start (20 s) until `slow_until`."""
    rows = steady_rows(0, 20) + steady_rows(20, slow_until, latency_ms=500) + steady_rows(slow_until, 60)
    return write_run(tmp_path, timeline(load_s=60, warmup_s=5, faults=[(20, 30)]), rows, spec=spec)


def test_recovery_time_is_seconds_from_fault_end_to_five_good_seconds(tmp_path):
    analysis = analyse(run_with_slow_until(tmp_path, 37))
    (recovery,) = analysis.recoveries
    assert recovery.seconds == 7
    assert (recovery.proof.start, recovery.proof.end) == (T0 + 37, T0 + 42)
    assert analysis.verdicts[1].state == "pass" and analysis.verdicts[1].observed == 7


def test_recovery_time_is_never_when_slis_stay_bad(tmp_path):
    analysis = analyse(run_with_slow_until(tmp_path, 58))
    assert analysis.recoveries[0].seconds is None
    verdict = analysis.verdicts[1]
    assert verdict.state == "fail" and math.isinf(verdict.observed)


def test_a_gap_without_requests_resets_the_streak(tmp_path):
    rows = steady_rows(0, 33) + steady_rows(34, 60)  # second 33 has no data
    run = write_run(tmp_path, timeline(load_s=60, warmup_s=5, faults=[(20, 30)]), rows, spec=SPEC)
    assert analyse(run).recoveries[0].seconds == 4


def test_without_baseline_slos_the_measured_baseline_is_the_reference(tmp_path):
    spec = SPEC.replace('  - {sli: latency.p99, phase: baseline, objective: "< 100ms"}\n', "")
    analysis = analyse(run_with_slow_until(tmp_path, 35, spec))
    assert analysis.recoveries[0].seconds == 5
    assert {c.sli for c in analysis.recoveries[0].criteria} == {"availability", "latency.p50"}


def test_recovery_time_is_no_data_without_a_fault(tmp_path):
    run = write_run(tmp_path, timeline(load_s=60, warmup_s=5), steady_rows(0, 60), spec=SPEC)
    assert analyse(run).verdicts[1].state == "no-data"


EVENT_SPEC = SPEC.replace(
    '  - {sli: latency.p99, phase: baseline, objective: "< 100ms"}\n',
    '  - {sli: latency.p99, phase: baseline, objective: "< 100ms"}\n'
    '  - {sli: events.e2e_latency.p99, phase: baseline, objective: "< 1s"}\n',
)


def ledger_with_backlog_until(drained_at: float):
    """2 events a second; those produced before `drained_at` come out at `drained_at`, later ones in 0.1 s."""
    produced, consumed = [], []
    for second in range(0, 60):
        for k in range(2):
            eid, ts = f"e{second}-{k}", T0 + second + 0.25 + k * 0.5
            produced.append((eid, ts))
            consumed.append((eid, max(ts + 0.1, T0 + drained_at) if second >= 20 else ts + 0.1))
    return produced, consumed


def test_a_data_flow_backlog_delays_recovery_even_when_requests_are_fine(tmp_path):
    produced, consumed = ledger_with_backlog_until(drained_at=38.5)
    run = write_run(
        tmp_path,
        timeline(load_s=60, warmup_s=5, faults=[(20, 30)]),
        steady_rows(0, 60),
        produced=produced,
        consumed=consumed,
        spec=EVENT_SPEC,
    )
    analysis = analyse(run)
    # events produced from second 38 on come out within 1 s; 38..42 is the first good streak
    assert analysis.recoveries[0].seconds == 8
    assert "events.e2e_latency.p99" in {c.sli for c in analysis.recoveries[0].criteria}


def test_undelivered_events_count_as_infinitely_late_for_recovery(tmp_path):
    produced, consumed = ledger_with_backlog_until(drained_at=10_000)  # never drained before the end
    run = write_run(
        tmp_path,
        timeline(load_s=60, warmup_s=5, faults=[(20, 30)]),
        steady_rows(0, 60),
        produced=produced,
        consumed=[c for c in consumed if c[1] < T0 + 1000],
        spec=EVENT_SPEC,
    )
    assert analyse(run).recoveries[0].seconds is None


LATENCY_ONLY = """
name: r
load: {profile: p.py, rate: 10, duration: 60s}
chaos: {experiment: e.json, start_after: 20s}
warmup: 5s
slos:
  - {sli: latency.p99, phase: baseline, objective: "< 100ms"}
  - {sli: recovery_time, objective: "< 20s"}
"""


def test_a_target_failing_fast_after_the_fault_never_recovers_whatever_the_baseline_slos(tmp_path):
    # a breaker that never closes again: every answer from the fault on is a fast 503
    rows = steady_rows(0, 20) + steady_rows(20, 60, latency_ms=2.0, outcome="error")
    run = write_run(tmp_path, timeline(load_s=60, warmup_s=5, faults=[(20, 30)]), rows, spec=LATENCY_ONLY)
    analysis = analyse(run)
    assert analysis.recoveries[0].seconds is None and analysis.recoveries[0].outcome == "never"
    assert analysis.verdicts[1].state == "fail"
    assert exit_code(analysis) == 1


def test_429s_after_the_fault_are_not_a_recovery(tmp_path):
    rows = steady_rows(0, 20) + steady_rows(20, 60, latency_ms=1.0, outcome="rate_limited")
    run = write_run(tmp_path, timeline(load_s=60, warmup_s=5, faults=[(20, 30)]), rows, spec=LATENCY_ONLY)
    assert analyse(run).recoveries[0].outcome == "never"


def test_recovery_is_measured_from_the_heal_not_from_the_rollbacks(tmp_path):
    # healed at 30.0 inside the method; the experiment pauses 6 s before its rollback ends at 36.5;
    # errors go on until 32 (a breaker's cool-down), then the target is healthy again
    rows = steady_rows(0, 20) + steady_rows(20, 32, outcome="error") + steady_rows(32, 60)
    events = timeline(load_s=60, warmup_s=5, faults=[(20, 36.5, 30.0)])
    analysis = analyse(write_run(tmp_path, events, rows, spec=LATENCY_ONLY))
    (recovery,) = analysis.recoveries
    assert recovery.removal == T0 + 30.0
    assert recovery.seconds == 2.0 and recovery.outcome == "recovered"
    assert analysis.phases["fault"][0].end == T0 + 30  # the fault phase ends at the heal too


def test_without_the_heal_the_clock_would_have_started_after_the_recovery(tmp_path):
    # the same run without a heal marked: the clock starts at the rollback, after the errors ended
    rows = steady_rows(0, 20) + steady_rows(20, 32, outcome="error") + steady_rows(32, 60)
    events = timeline(load_s=60, warmup_s=5, faults=[(20, 36.5)])
    assert analyse(write_run(tmp_path, events, rows, spec=LATENCY_ONLY)).recoveries[0].seconds == 0.5


def test_impact_reports_time_to_detect_and_how_far_the_slis_fell(tmp_path):
    rows = steady_rows(0, 23) + steady_rows(23, 32, 5) + steady_rows(23, 32, 5, outcome="error") + steady_rows(32, 60)
    events = timeline(load_s=60, warmup_s=5, faults=[(20, 36.5, 30.0)])
    impact = analyse(write_run(tmp_path, events, rows, spec=LATENCY_ONLY)).recoveries[0].impact
    assert impact.observed and impact.first_bad == T0 + 23 and impact.time_to_detect == 3.0
    assert impact.bad_seconds == 9
    worst = {w.criterion.sli: w.value for w in impact.worst}
    assert worst["availability"] == 0.5


def test_a_fault_with_no_impact_is_labelled_so_not_a_recovery_of_zero(tmp_path):
    run = write_run(tmp_path, timeline(load_s=60, warmup_s=5, faults=[(20, 30)]), steady_rows(0, 60), spec=LATENCY_ONLY)
    analysis = analyse(run)
    assert analysis.recoveries[0].outcome == "no-impact" and not analysis.recoveries[0].impact.observed
    document = result_document(analysis)
    verdict = document["verdicts"][1]
    assert verdict["state"] == "pass" and verdict["observed_text"] == "no impact observed"
    assert document["recovery"][0]["outcome"] == "no-impact" and document["recovery"][0]["seconds"] is None
    assert document["recovery"][0]["never"] is False
