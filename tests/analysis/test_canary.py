"""The canary judge's decision rule, from run directories written as the load plugin writes them.

Each test is a canary that a weaker rule would judge wrongly: a slower or wronger canary
that an aggregate hides, a canary unlucky for one second, a canary worse by less than the
margin, a canary that got no traffic, a canary that is better."""

from __future__ import annotations

import json
import random

from rundir_factory import T0, generator_row, request_row, timeline, write_run

from harness.analysis import analyse, result_document

SPEC = """
name: canary
load: {{profile: p.py, rate: 60, duration: 60s, variant_header: x-model-version}}
chaos: {{experiment: e.json, start_after: 15s}}
warmup: 5s
slos:
  - {{sli: latency.p99, phase: run, objective: "< 250ms"}}
  - {{sli: correctness, phase: run, objective: ">= 99%"}}
  - {{sli: latency.p99, compare: {{variant: canary, against: stable}}, phase: fault, objective: "{latency}"}}
  - {{sli: correctness, compare: {{variant: canary, against: stable}}, phase: fault, objective: "difference > -1%"}}
  - {{sli: latency.p99, variant: canary, phase: fault, objective: "< 100ms"}}
"""
FAULT = (15, 50)  # the canary serves from 15 s to 50 s


def _second(ts: int, variant: str, n: int, latency_ms: float, wrong: int = 0, rng: random.Random | None = None) -> dict:
    rng = rng or random.Random(ts)
    latencies = [latency_ms * rng.uniform(0.8, 1.2) for _ in range(n)]
    return {**request_row(T0 + ts, latencies, checked=n, correct=n - wrong), "variant": variant}


def _run(
    tmp_path,
    canary_ms=20.0,
    stable_ms=20.0,
    canary_wrong=lambda s: 0,
    canary_rate=10,
    spike: tuple[int, float] | None = None,
    latency="ratio < 1.2",
    seconds=FAULT,
):
    rng = random.Random(7)
    rows = []
    for s in range(0, 60):
        rows.append(_second(s, "stable", 40, stable_ms, rng=rng))
        rows.append(generator_row(T0 + s, 50))
        if seconds[0] <= s < seconds[1] and canary_rate:
            ms = spike[1] if spike and s == spike[0] else canary_ms
            rows.append(_second(s, "canary", canary_rate, ms, canary_wrong(s), rng=rng))
    return write_run(tmp_path, timeline(load_s=60, warmup_s=5, faults=[FAULT]), rows, spec=SPEC.format(latency=latency))


def _verdicts(run) -> dict[str, dict]:
    doc = json.loads(json.dumps(result_document(analyse(run)), allow_nan=False))
    return {v["slo"]: v for v in doc["verdicts"]}


LATENCY = "latency.p99{canary vs stable}@fault ratio < 1.2"
CORRECTNESS = "correctness{canary vs stable}@fault difference > -1%"


def test_a_canary_like_the_stable_version_passes(tmp_path):
    verdicts = _verdicts(_run(tmp_path))
    assert {v["state"] for v in verdicts.values()} == {"pass"}, verdicts
    assert verdicts[LATENCY]["compare"]["variant_seconds"] == 35


def test_a_canary_50ms_slower_fails_the_comparison_while_the_aggregate_p99_passes(tmp_path):
    verdicts = _verdicts(_run(tmp_path, canary_ms=70.0))
    assert verdicts["latency.p99@run < 250ms"]["state"] == "pass"
    judged = verdicts[LATENCY]
    assert judged["state"] == "fail" and judged["observed"] > 3
    assert judged["compare"]["p_value"] < 0.001 and judged["compare"]["significant"] is True
    assert judged["observed_text"].startswith("ratio 3.")


def test_a_canary_3_percent_wrong_fails_the_comparison_while_aggregate_correctness_passes(tmp_path):
    verdicts = _verdicts(_run(tmp_path, canary_wrong=lambda s: 1 if s % 3 == 0 else 0))  # ~3.3% of its answers
    assert verdicts["correctness@run >= 99%"]["state"] == "pass"
    judged = verdicts[CORRECTNESS]
    assert judged["state"] == "fail", judged
    assert -0.04 < judged["observed"] < -0.025


def test_one_slow_second_breaks_the_pooled_ratio_but_is_not_a_significant_regression(tmp_path):
    # the canary's pooled p99 is its one 400 ms second; every other second is like the stable version's
    verdicts = _verdicts(_run(tmp_path, spike=(30, 400.0)))
    judged = verdicts[LATENCY]
    assert judged["observed"] > 1.2, judged
    assert judged["state"] == "pass" and judged["compare"]["significant"] is False
    assert "not a significant regression" in judged["reason"]


def test_a_canary_worse_by_less_than_the_margin_passes_however_consistent(tmp_path):
    verdicts = _verdicts(_run(tmp_path, canary_ms=22.0, latency="ratio < 1.5"))
    judged = verdicts["latency.p99{canary vs stable}@fault ratio < 1.5"]
    assert judged["state"] == "pass" and 1.0 < judged["observed"] < 1.5


def test_a_canary_without_traffic_is_no_data_not_a_pass(tmp_path):
    verdicts = _verdicts(_run(tmp_path, seconds=(15, 18)))  # three seconds of canary
    judged = verdicts[LATENCY]
    assert judged["state"] == "no-data" and "at least 5" in judged["reason"]
    gone = _verdicts(_run(tmp_path / "none", canary_rate=0))
    assert gone[LATENCY]["state"] == "no-data" and "'canary'" in gone[LATENCY]["reason"]
    assert gone["latency.p99{canary}@fault < 100ms"]["state"] == "no-data"


def test_a_canary_better_than_the_stable_version_never_fails(tmp_path):
    verdicts = _verdicts(_run(tmp_path, canary_ms=5.0, stable_ms=60.0))
    assert verdicts[LATENCY]["state"] == "pass" and verdicts[LATENCY]["observed"] < 0.2


def test_variant_scoped_slis_are_the_variants_own_and_add_up_to_the_aggregate(tmp_path):
    run = _run(tmp_path, canary_ms=70.0)
    analysis = analyse(run)
    canary = analysis.variants["canary"].phases["fault"].endpoints["*"]
    stable = analysis.variants["stable"].phases["fault"].endpoints["*"]
    everything = analysis.slis["fault"].endpoints["*"]
    assert canary["requests"] + stable["requests"] == everything["requests"]
    assert canary["latency.p99"] > 0.05 > stable["latency.p99"]
    verdicts = {v.slo.label: v for v in analysis.verdicts}
    assert verdicts["latency.p99{canary}@fault < 100ms"].state == "pass"


def test_a_run_recorded_without_variants_reads_as_before(tmp_path):
    rows = [request_row(T0 + s, [20.0] * 10) for s in range(60)]
    run = write_run(
        tmp_path,
        timeline(load_s=60, warmup_s=5),
        rows,
        spec="name: old\nload: {profile: p.py, rate: 10, duration: 60s}\n"
        "slos: [{sli: latency.p99, objective: '< 100ms'}]\n",
    )
    doc = result_document(analyse(run))
    assert doc["variants"]["names"] == [] and doc["verdicts"][0]["state"] == "pass"
