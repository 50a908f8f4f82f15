import math

from harness.analysis import analyse
from rundir_factory import T0, steady_rows, timeline, write_run

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
    assert {c.sli for c in analysis.recoveries[0].criteria} == {"error_rate", "latency.p99"}


def test_recovery_time_is_no_data_without_a_fault(tmp_path):
    run = write_run(tmp_path, timeline(load_s=60, warmup_s=5), steady_rows(0, 60), spec=SPEC)
    assert analyse(run).verdicts[1].state == "no-data"
