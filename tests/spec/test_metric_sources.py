"""The spec side of issue 17: variant_header, variant and compare SLOs, the metrics: block and
metric SLIs. A good spec loads into the models; each bad one names its file, YAML path and value,
every problem at once, and `gameday validate` exits 2 without a traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import load_gameday
from harness.spec.models import Compare, MetricSource

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
name: judge
target: {kind: local}
load: {profile: loadprofiles/inference.py, rate: 20, duration: 60s, variant_header: x-model-version}
chaos: {experiment: experiments/canary-step.json, start_after: 15s}
warmup: 5s
metrics:
  - {kind: scrape, target: lag-exporter}
  - {name: app, kind: scrape, url: "http://127.0.0.1:9100/metrics", interval: 2s, chart: ['queue{q="a"}']}
  - {name: prom, kind: prometheus, url: "http://localhost:9090"}
slos:
  - {sli: latency.p99, compare: {variant: canary, against: stable}, phase: fault, objective: "ratio < 1.2"}
  - {sli: correctness, compare: {variant: canary, against: stable}, phase: fault, objective: "difference > -1%"}
  - {sli: latency.p99, variant: canary, phase: fault, objective: "< 150ms"}
  - {sli: "metric:scorer_consumer_lag", source: lag-exporter, phase: recovery, within: 20s, objective: "< 100"}
  - {sli: "metric:sum(rate(handled_total[10s]))", source: prom, agg: min, phase: fault, objective: "> 5"}
  - {sli: "metric:queue", source: app, agg: p95, objective: "< 2000"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gamedays" / "x.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    for folder in ("loadprofiles", "experiments"):  # resolve the project's own files from the temp spec
        (tmp_path / folder).symlink_to(ROOT / folder)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_gameday(write(tmp_path, text), check_experiments=False)
    return caught.value.problems


def test_a_spec_with_variants_comparisons_and_metrics_loads_into_the_models(tmp_path):
    gameday = load_gameday(write(tmp_path, GOOD), check_experiments=False)
    assert gameday.load.variant_header == "x-model-version"
    assert gameday.metrics == (
        MetricSource("lag-exporter", "scrape", None, "lag-exporter", 1.0, ()),
        MetricSource("app", "scrape", "http://127.0.0.1:9100/metrics", None, 2.0, ('queue{q="a"}',)),
        MetricSource("prom", "prometheus", "http://localhost:9090", None, 1.0, ()),
    )
    latency, correctness, scoped, lag, rate, queue = gameday.slos
    assert latency.compare == Compare("canary", "stable", "ratio") and latency.objective.value == 1.2
    assert correctness.compare.measure == "difference" and correctness.objective.value == pytest.approx(-0.01)
    assert scoped.variant == "canary" and scoped.label == "latency.p99{canary}@fault < 150ms"
    assert (lag.within, lag.source, lag.agg) == (20.0, "lag-exporter", None)
    assert lag.label == "metric:scorer_consumer_lag@recovery < 100 within 20s"
    assert (rate.agg, queue.agg, queue.phase) == ("min", "p95", "run")


@pytest.mark.parametrize(
    ("change", "path", "says"),
    [
        ('variant_header: "x model"}', "load.variant_header", "not an HTTP header name"),
        ("metrics: [{kind: scrape, target: gatewayy}]", "metrics[0].target", "unknown endpoint 'gatewayy'"),
        ("metrics: [{kind: scrape}]", "metrics[0]", "exactly one of url"),
        ('metrics: [{kind: scrape, url: "http://10.9.9.9/metrics"}]', "metrics[0].url", "not loopback"),
        ("metrics: [{kind: prometheus, target: gateway}]", "metrics[0].target", "needs the server's url"),
        ('metrics: [{kind: statsd, url: "http://127.0.0.1/m"}]', "metrics[0].kind", "unknown metrics kind 'statsd'"),
        ("metrics: [{kind: scrape, target: gateway, interval: 10ms}]", "metrics[0].interval", "shorter than 0.2s"),
        ('metrics: [{kind: scrape, target: gateway, chart: ["rate(x[1m])"]}]', "metrics[0].chart[0]", "not a selector"),
    ],
)
def test_a_bad_load_or_metrics_block_names_its_yaml_path(tmp_path, change, path, says):
    head, rest = GOOD.split("metrics:\n")
    without_metrics = head + "slos:\n" + rest.split("slos:\n")[1]
    text = (
        GOOD.replace("variant_header: x-model-version}", change)
        if change.startswith("variant_header")
        else without_metrics.replace("slos:\n", f"{change}\nslos:\n", 1)
    )
    found = problems(tmp_path, text)
    assert any(f"x.yaml: {path}: " in p and says in p for p in found), found


@pytest.mark.parametrize(
    ("slo", "path", "says"),
    [
        (
            '{sli: latency.p99, compare: {variant: canary, against: canary}, objective: "ratio < 1.2"}',
            "slos[0].compare.against",
            "compares 'canary' with itself",
        ),
        (
            '{sli: throughput, compare: {variant: canary, against: stable}, objective: "ratio < 1.2"}',
            "slos[0].compare",
            "cannot be compared",
        ),
        (
            '{sli: latency.p99, compare: {variant: canary, against: stable}, objective: "< 1.2"}',
            "slos[0].objective",
            "a comparison is 'ratio",
        ),
        (
            '{sli: latency.p99, compare: {variant: canary, against: stable}, objective: "difference < 20"}',
            "slos[0].objective",
            "needs a time unit",
        ),
        (
            '{sli: correctness, compare: {variant: canary, against: stable}, objective: "difference > -5"}',
            "slos[0].objective",
            "did you mean",
        ),
        (
            '{sli: correctness, compare: {variant: canary, against: stable}, objective: "ratio == 1"}',
            "slos[0].objective",
            "cannot parse",
        ),
        ('{sli: events.lost, variant: canary, objective: "== 0"}', "slos[0].variant", "not measured per variant"),
        ('{sli: "metric:scorer_consumer_lag", source: lag-exporter, objective: "< 5"}', "slos[0].agg", "is required"),
        (
            '{sli: "metric:scorer_consumer_lag", source: lag-exporter, agg: median, objective: "< 5"}',
            "slos[0].agg",
            "unknown agg 'median'",
        ),
        ('{sli: "metric:scorer_consumer_lag", objective: "< 5", agg: max}', "slos[0].sli", "name one in 'source'"),
        ('{sli: "metric:x", source: nope, agg: max, objective: "< 5"}', "slos[0].source", "unknown metrics source"),
        ('{sli: "metric:rate(x[1m])", source: app, agg: max, objective: "< 5"}', "slos[0].sli", "not a selector"),
        (
            '{sli: "metric:x", source: app, within: 10s, phase: fault, objective: "< 5"}',
            "slos[0].phase",
            "within counts from the fault's removal",
        ),
        ('{sli: latency.p99, within: 10s, objective: "< 5ms"}', "slos[0].within", "only to metric SLIs"),
    ],
)
def test_a_bad_slo_names_its_yaml_path_and_value(tmp_path, slo, path, says):
    text = GOOD.split("slos:\n")[0] + f"slos:\n  - {slo}\n"
    found = problems(tmp_path, text)
    assert any(f"x.yaml: {path}: " in p and says in p for p in found), found


def test_comparisons_need_the_load_to_record_variants(tmp_path):
    found = problems(tmp_path, GOOD.replace(", variant_header: x-model-version", ""))
    assert sum("add load.variant_header" in p for p in found) == 3, found


def test_validate_lists_every_problem_and_exits_2_without_a_traceback(tmp_path):
    text = GOOD.replace('within: 20s, objective: "< 100"', 'within: 0s, objective: "< 100"').replace(
        "target: lag-exporter}", "target: lagexporter}"
    )
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "validate", "--no-chaos-validate", str(write(tmp_path, text))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "metrics[0].target" in done.stderr and "slos[3].within" in done.stderr
