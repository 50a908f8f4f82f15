"""A game day whose metric SLOs come from a real Prometheus (Debian's) scraping a real stack.

The test starts the stack, then Prometheus on a free loopback port with a data directory
of its own and a scrape config pointing at the stack's gateway and lag exporter. The game
day partitions the scorers from Kafka; its SLOs ask PromQL for the lag and the gateway's
accuracy. The answers are kept in the run directory, so with Prometheus gone `gameday
report` rebuilds the same verdicts from the directory alone.
"""

from __future__ import annotations

import json

import pytest
from e2e_support import ROOT, gameday, result_of, verdicts, write_spec
from prometheus_support import Prometheus

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_promql_slos_judge_a_partition_and_the_report_needs_no_prometheus(healthy_stack, tmp_path):
    base = healthy_stack.base_port
    prometheus = Prometheus(tmp_path, [f"127.0.0.1:{base + 2}", f"127.0.0.1:{base + 9}"])  # gateway, lag exporter
    try:
        prometheus.wait_ready()
        prometheus.wait_for_samples("scorer_consumer_lag", 2)
        spec = write_spec(
            tmp_path / "promql.yaml",
            name="promql",
            target={"kind": "local", "stack": healthy_stack.name},
            load={
                "profile": "loadprofiles/inference.py",
                "rate": 30,
                "duration": "60s",
                "options": {"events-weight": 4},
            },
            chaos={"experiment": str(ROOT / "experiments" / "partition-kafka.json"), "start_after": "15s"},
            warmup="5s",
            metrics=[{"name": "prom", "kind": "prometheus", "url": prometheus.url, "interval": "1s"}],
            slos=[
                {"sli": "metric:sum(scorer_consumer_lag)", "agg": "max", "phase": "baseline", "objective": "< 100"},
                {"sli": "metric:sum(scorer_consumer_lag)", "agg": "max", "phase": "fault", "objective": "> 100"},
                {"sli": "metric:sum(scorer_consumer_lag)", "phase": "recovery", "within": "20s", "objective": "< 100"},
                {
                    "sli": 'metric:gateway_model_accuracy{version="stable"}',
                    "agg": "min",
                    "phase": "run",
                    "objective": ">= 99%",
                },
            ],
        )
        done = gameday(
            "run",
            str(spec),
            "--reports",
            str(tmp_path / "runs"),
            "--stack-name",
            healthy_stack.name,
            home=healthy_stack.home,
            timeout=600,
        )
    finally:
        prometheus.stop()
    run_dir, result = result_of(tmp_path / "runs")
    states = verdicts(result)
    assert done.returncode == 0, (states, done.stdout[-3000:] + done.stderr[-3000:])
    assert set(states.values()) == {"pass"}, states
    lines = [json.loads(line) for line in (run_dir / "metrics" / "prom.jsonl").read_text().splitlines()]
    assert {line["expr"] for line in lines} == {"sum(scorer_consumer_lag)", 'gateway_model_accuracy{version="stable"}'}
    assert all("result" in line for line in lines)
    within = next(v for v in result["verdicts"] if v["metric"]["within"])
    assert 0 < within["observed"] < 20
    peak = next(v for v in result["verdicts"] if v["phase"] == "fault")
    assert peak["observed"] > 100  # the partition really held the lag up

    (run_dir / "result.json").unlink()
    again = gameday("report", str(run_dir), home=healthy_stack.home, timeout=300)  # Prometheus is gone
    assert again.returncode == 0, again.stdout + again.stderr
    rebuilt = json.loads((run_dir / "result.json").read_text())
    assert [(v["slo"], v["state"], v["observed"]) for v in rebuilt["verdicts"]] == [
        (v["slo"], v["state"], v["observed"]) for v in result["verdicts"]
    ]
