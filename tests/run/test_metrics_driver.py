"""The metrics sources during a run: read from just after the target is up to just before it goes
down (also when the run fails), and a source that cannot be read never fails the run."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server
from support import free_port
from test_orchestrator import drivers, events, gameday, kinds, run

from harness.run.fakes import FakeLoad, FakeMetrics
from harness.run.metrics_driver import MetricsDriver, expressions
from harness.spec.models import MetricSource, Slo
from harness.spec.slo_expr import parse_objective


def with_metrics(spec):
    source = MetricSource("stack", "scrape", "http://127.0.0.1:1/metrics")
    return dataclasses.replace(spec, metrics=(source,))


def test_metrics_are_read_from_after_target_up_to_before_target_down(tmp_path):
    d, made = drivers()
    calls = made.target.calls
    d = dataclasses.replace(d, metrics=lambda ctx, target: FakeMetrics(calls))
    assert run(with_metrics(gameday(tmp_path)), tmp_path, d) == "completed"
    assert calls == ["up", "metrics-start", "metrics-stop", "down"]
    order = kinds(tmp_path)
    assert order.index("up") < order.index("metrics-start") < order.index("load-start")
    assert order.index("load-stop") < order.index("metrics-stop") < order.index("down")
    stop = next(e for e in events(tmp_path) if e["kind"] == "metrics-stop")
    assert stop["detail"]["sources"]["stack"]["scrapes"] == 3


def test_metrics_stop_even_when_the_run_crashes_after_they_started(tmp_path):
    d, made = drivers(load=FakeLoad(1.2, dies_after=0.0, starts_sending_after=5.0))  # Locust dies at once
    calls = made.target.calls
    d = dataclasses.replace(d, metrics=lambda ctx, target: FakeMetrics(calls))
    assert run(with_metrics(gameday(tmp_path)), tmp_path, d) == "crashed"
    assert calls == ["up", "metrics-start", "metrics-stop", "down"]


def test_a_spec_without_metrics_starts_no_reader(tmp_path):
    d, _ = drivers()
    made = []
    d = dataclasses.replace(d, metrics=lambda ctx, target: made.append(1))
    run(gameday(tmp_path), tmp_path, d)
    assert made == [] and "metrics-start" not in kinds(tmp_path)


@pytest.fixture
def exporter():
    registry = CollectorRegistry()
    Gauge("scorer_consumer_lag", "lag", registry=registry).set(7)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield f"http://127.0.0.1:{port}/metrics"
    server.shutdown()
    thread.join(5)


def test_the_driver_scrapes_and_a_prometheus_it_cannot_reach_is_recorded_not_raised(tmp_path, exporter):
    spec = dataclasses.replace(
        gameday(tmp_path),
        metrics=(
            MetricSource("stack", "scrape", exporter, interval=0.2),
            MetricSource("prom", "prometheus", f"http://127.0.0.1:{free_port()}"),
        ),
        slos=(
            Slo("metric:scorer_consumer_lag", "run", parse_objective("< 10"), agg="max", source="stack"),
            Slo("metric:sum(up)", "run", parse_objective("> 0"), agg="min", source="prom"),
        ),
    )
    driver = MetricsDriver(spec, tmp_path, {"stack": exporter, "prom": spec.metrics[1].url})
    driver.start()
    time.sleep(1.0)  # a few scrapes at 0.2 s
    done = driver.stop()
    assert done["stack"]["scrapes"] >= 2 and done["stack"]["failed"] == 0
    assert len(done["prom"]["errors"]) == 1
    rows = [json.loads(line) for line in (tmp_path / "metrics" / "prom.jsonl").read_text().splitlines()]
    assert rows[0]["expr"] == "sum(up)" and "error" in rows[0]
    assert expressions(spec, spec.metrics[0]) == ["scorer_consumer_lag"]
