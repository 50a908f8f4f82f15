"""SLOs on the target's own metrics, judged from metrics/ files written as the scraper writes them.

Each test is a target that a weaker judge would let through: lag that never drains, lag
that dips under its bound for one scrape, scrapes that all failed, a selector that
matches nothing, a counter that reset."""

from __future__ import annotations

import json

import pytest
from rundir_factory import T0, steady_rows, timeline, write_run

from harness.analysis import analyse, result_document

SPEC = """
name: lag
load: {{profile: p.py, rate: 10, duration: 60s}}
chaos: {{experiment: e.json, start_after: 20s}}
warmup: 5s
metrics:
  - {{kind: scrape, url: "http://127.0.0.1:9/metrics", name: stack}}
slos:
{slos}
"""
FAULT = (20, 30)  # the fault is removed at T0 + 30


def _scrapes(lag_at, start=0, stop=60, every=1.0, extra=lambda t: []) -> list[dict]:
    """One scrape per `every` s; lag_at(t) -> value, or None for a failed scrape."""
    rows, t = [], float(start)
    while t < stop:
        value = lag_at(t)
        if value is None:
            rows.append({"ts": T0 + t + 0.3, "error": "URLError: timed out"})
        else:
            rows.append(
                {
                    "ts": T0 + t + 0.3,
                    "samples": [
                        ["scorer_consumer_lag", {"partition": "0"}, value / 2],
                        ["scorer_consumer_lag", {"partition": "1"}, value / 2],
                        *extra(t),
                    ],
                }
            )
        t += every
    return rows


def _run(tmp_path, slos: str, scrapes: list[dict]):
    run = write_run(
        tmp_path, timeline(load_s=60, warmup_s=5, faults=[FAULT]), steady_rows(0, 60), spec=SPEC.format(slos=slos)
    )
    (run / "metrics").mkdir()
    (run / "metrics" / "stack.jsonl").write_text("".join(json.dumps(r) + "\n" for r in scrapes))
    return run


def _verdicts(run) -> dict[str, dict]:
    doc = json.loads(json.dumps(result_document(analyse(run)), allow_nan=False))
    return {v["slo"]: v for v in doc["verdicts"]}


WITHIN = '  - {sli: "metric:scorer_consumer_lag", phase: recovery, within: 10s, objective: "< 50"}'
WITHIN_LABEL = "metric:scorer_consumer_lag@recovery < 50 within 10s"


def lag_draining(t: float) -> float:
    """Small, then growing through the fault, back under 50 at t = 36 (6 s after the removal)."""
    if t < 20:
        return 4
    if t < 30:
        return 20 * (t - 19)
    return max(2.0, 200 - 25 * (t - 30))


def test_lag_back_under_its_bound_within_the_limit_passes_with_the_time_it_took(tmp_path):
    judged = _verdicts(_run(tmp_path, WITHIN, _scrapes(lag_draining)))[WITHIN_LABEL]
    assert judged["state"] == "pass", judged
    assert judged["observed"] == pytest.approx(6.0, abs=1.0) and judged["observed_text"].endswith("s")


def test_lag_that_never_drains_fails_as_never(tmp_path):
    judged = _verdicts(_run(tmp_path, WITHIN, _scrapes(lambda t: 4 if t < 20 else 20 * (t - 19))))[WITHIN_LABEL]
    assert judged["state"] == "fail" and judged["observed"] is None and judged["observed_text"] == "never"


def test_one_scrape_under_the_bound_is_not_a_return(tmp_path):
    # the lag dips under 50 at t = 33 only (a rebalance's momentary reading), then stays high until 45
    def dipping(t: float) -> float:
        if 33 <= t < 34:
            return 10
        return 300 if 20 <= t < 45 else 4

    judged = _verdicts(_run(tmp_path, WITHIN, _scrapes(dipping)))[WITHIN_LABEL]
    assert judged["state"] == "fail" and judged["observed"] == pytest.approx(15.0, abs=1.0)


def test_failed_scrapes_are_gaps_not_healthy_seconds(tmp_path):
    # the lag exporter is unreachable from the removal on: no reading is not a good reading
    judged = _verdicts(_run(tmp_path, WITHIN, _scrapes(lambda t: None if t >= 30 else lag_draining(t))))
    assert judged[WITHIN_LABEL]["state"] == "no-data"


def test_a_phase_aggregate_judges_the_samples_in_the_phase(tmp_path):
    slos = "\n".join(
        [
            '  - {sli: "metric:scorer_consumer_lag", agg: max, phase: baseline, objective: "< 10"}',
            '  - {sli: "metric:scorer_consumer_lag", agg: max, phase: fault, objective: "< 100"}',
            '  - {sli: "metric:scorer_consumer_lag{partition=\\"1\\"}", agg: last, phase: fault, objective: "== 100"}',
            '  - {sli: "metric:scorer_consumer_lag", agg: p50, phase: run, objective: "< 10"}',
        ]
    )
    verdicts = _verdicts(_run(tmp_path, slos, _scrapes(lag_draining)))
    assert [v["state"] for v in verdicts.values()] == ["pass", "fail", "pass", "pass"], verdicts
    assert verdicts["metric:scorer_consumer_lag max@fault < 100"]["observed"] == 200


def test_a_counter_increase_counts_a_reset_as_growth_and_rate_is_per_second(tmp_path):
    counter = {0: 10, 1: 14, 2: 20, 3: 3, 4: 9}  # reset between 2 and 3 (the process restarted)
    extra = lambda t: [["handled_total", {}, counter.get(int(t) - 20, 0)]]  # noqa: E731
    slos = "\n".join(
        [
            '  - {sli: "metric:handled_total", agg: increase, phase: fault, objective: "== 19"}',
            '  - {sli: "metric:handled_total", agg: rate, phase: fault, objective: "> 1/s"}',
        ]
    )
    verdicts = _verdicts(_run(tmp_path, slos, _scrapes(lag_draining, extra=extra)))
    increase = verdicts["metric:handled_total increase@fault == 19"]
    assert increase["state"] == "pass", increase  # 4 + 6 + 3 (after the reset) + 6, then 0s


def test_no_sample_is_no_data_saying_why(tmp_path):
    slos = "\n".join(
        [
            '  - {sli: "metric:scorer_consumer_lagg", agg: max, phase: run, objective: "< 10"}',
            '  - {sli: "metric:scorer_consumer_lag", agg: max, phase: run, objective: "< 10"}',
        ]
    )
    verdicts = _verdicts(_run(tmp_path, slos, _scrapes(lambda t: None)))
    typo, failed = verdicts.values()
    assert typo["state"] == failed["state"] == "no-data"
    assert "failed" in failed["reason"]


def test_a_baseline_metric_slo_is_a_recovery_criterion(tmp_path):
    slos = "\n".join(
        [
            '  - {sli: "metric:scorer_consumer_lag", agg: max, phase: baseline, objective: "< 10"}',
            '  - {sli: recovery_time, objective: "< 20s"}',
        ]
    )
    never = _verdicts(_run(tmp_path / "never", slos, _scrapes(lambda t: 4 if t < 20 else 500)))
    assert never["recovery_time@recovery < 20s"]["state"] == "fail"  # requests were fine all along
    drained = result_document(analyse(_run(tmp_path / "drained", slos, _scrapes(lag_draining))))
    recovery = drained["recovery"][0]
    assert ("metric:scorer_consumer_lag", "source:stack") in {(c["sli"], c["endpoint"]) for c in recovery["criteria"]}
    assert recovery["seconds"] == pytest.approx(9.0, abs=1.5)  # the lag is under 10 from t = 38.5
    assert drained["metrics"]["series"][0]["phases"]["fault"]["max"] == 200
