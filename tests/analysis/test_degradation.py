import numpy as np
from rundir_factory import steady_rows, timeline, write_run

from harness.analysis import analyse
from harness.analysis.degradation import compare


def test_clearly_worse_fault_has_a_small_p_value_and_its_ratio():
    rng = np.random.default_rng(0)
    base, fault = rng.normal(0.02, 0.002, 30), rng.normal(0.06, 0.005, 15)
    result = compare("*", "latency.p99", base, fault)
    assert result["p_value"] < 0.001 and result["significant"]
    assert 2.5 < result["ratio"] < 3.5


def test_same_distribution_is_not_significant():
    rng = np.random.default_rng(1)
    result = compare("*", "latency.p99", rng.normal(0.02, 0.002, 30), rng.normal(0.02, 0.002, 30))
    assert result["p_value"] > 0.05 and not result["significant"]


def test_too_few_seconds_give_no_p_value():
    result = compare("*", "error_rate", np.array([0.0, 0.1]), np.array([0.5, 0.5, 0.6]))
    assert result["p_value"] is None and result["n_baseline"] == 2


def test_zero_baseline_gives_no_ratio_but_a_difference():
    result = compare("*", "error_rate", np.zeros(5), np.full(5, 0.2))
    assert result["ratio"] is None and result["difference"] == 0.2


def test_run_degradation_covers_each_endpoint_and_all(tmp_path):
    rows = steady_rows(0, 20) + steady_rows(20, 30, latency_ms=80) + steady_rows(30, 40)
    run = write_run(tmp_path, timeline(load_s=40, warmup_s=2, faults=[(20, 30)]), rows)
    entries = analyse(run).degradation
    p99 = [d for d in entries if d["metric"] == "latency.p99"]
    assert {d["endpoint"] for d in p99} == {"*", "POST /v1/score"}
    assert all(d["ratio"] > 3.5 and d["significant"] for d in p99)
