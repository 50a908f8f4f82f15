"""`gameday compare`: a planted regression fails, two healthy runs pass."""

import lxml.html
import numpy as np
from report_runs import failed_run, healthy_run, with_experiment

from harness.report import load_analysis
from harness.report.compare import FAIL, MARGINAL, PASS, compare, judge_metric
from harness.report.html import render_comparison


def test_two_healthy_runs_with_different_noise_are_not_a_regression(tmp_path):
    a = load_analysis(healthy_run(tmp_path / "a", seed=1))
    b = load_analysis(healthy_run(tmp_path / "b", seed=7))
    result = compare(a, b)
    assert result.verdict == PASS and result.exit_code == 0 and result.score == 100.0


def test_a_slower_fault_phase_is_a_regression_on_fault_latency_only(tmp_path):
    a = load_analysis(healthy_run(tmp_path / "a", seed=1))
    b = load_analysis(healthy_run(tmp_path / "b", seed=2, fault_latency_ms=200))
    result = compare(a, b)
    failing = {(m.phase, m.metric) for m in result.metrics if m.score == FAIL}
    assert failing == {("fault", "latency.p50"), ("fault", "latency.p99")}
    assert result.verdict == FAIL and result.exit_code == 1


def test_an_slo_that_stopped_passing_is_a_regression(tmp_path):
    a = load_analysis(healthy_run(tmp_path / "a"))
    b = load_analysis(failed_run(tmp_path / "b"))
    changed = [s.slo for s in compare(a, b).slos if s.score == FAIL]
    assert changed == ["availability@fault >= 99%", "recovery_time@recovery < 10s", "events.lost@run == 0"]


def test_a_small_significant_worsening_is_marginal():
    rng = np.random.default_rng(3)
    a, b = rng.normal(100, 2, 60), rng.normal(115, 2, 60)
    assert judge_metric("fault", "latency.p99", a, b).score == MARGINAL


def test_a_change_under_the_floor_passes_however_significant():
    a, b = np.full(60, 2.0) + np.linspace(0, 0.1, 60), np.full(60, 5.0) + np.linspace(0, 0.1, 60)
    row = judge_metric("fault", "latency.p99", a, b)
    assert row.p_value < 1e-6 and row.score == PASS


def test_an_improvement_is_never_a_regression():
    rng = np.random.default_rng(4)
    assert judge_metric("fault", "latency.p99", rng.normal(200, 5, 30), rng.normal(50, 5, 30)).score == PASS


def test_comparison_page_lists_failing_rows(tmp_path):
    a = load_analysis(healthy_run(tmp_path / "a"))
    b = load_analysis(healthy_run(tmp_path / "b", seed=2, fault_latency_ms=200))
    doc = lxml.html.fromstring(render_comparison(a, b, compare(a, b)))
    assert doc.get_element_by_id("verdict").get("data-verdict") == "fail"
    rows = doc.xpath('//tr[@data-score="fail"]')
    assert {(r.get("data-phase"), r.get("data-metric")) for r in rows} == {
        ("fault", "latency.p50"),
        ("fault", "latency.p99"),
    }


def test_an_experiment_that_ran_in_a_but_not_in_b_is_a_regression(tmp_path):
    a = load_analysis(with_experiment(healthy_run(tmp_path / "a"), met_before=True))
    b = load_analysis(with_experiment(healthy_run(tmp_path / "b"), met_before=False))
    result = compare(a, b)
    changed = [(s.slo, s.state_a, s.state_b) for s in result.slos if s.score == FAIL]
    assert changed == [("experiment 1: experiments/trip-breaker.json", "pass", "fail")]
    assert result.verdict == FAIL and result.exit_code == 1
